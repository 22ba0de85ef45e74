//! Attachments on S3-compatible object storage (`SUPPORTDESK_ATTACHMENTS=s3://bucket/prefix`),
//! through `object_store`, configured by the standard `AWS_*` variables (`AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`). Every
//! server process and machine sees the same files, so no shared volume is needed.

use std::io;
use std::path::Path as FsPath;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::files::{BlobStore, LocalDisk, StagedFile, StoredBlob, is_valid_key};

/// Opens the attachment store a setting names: `s3://bucket[/prefix]`, `file:///dir`, or
/// nothing (the `attachments` directory under the data directory).
pub fn open(setting: Option<&str>, default_dir: &FsPath) -> anyhow::Result<Arc<dyn BlobStore>> {
    let setting = setting.map(str::trim).filter(|s| !s.is_empty());
    match setting {
        None => Ok(Arc::new(LocalDisk::new(default_dir.to_owned())?)),
        Some(url) if url.starts_with("file://") => {
            let dir = url.trim_start_matches("file://");
            Ok(Arc::new(LocalDisk::new(dir.into())?))
        }
        Some(url) if url.starts_with("s3://") => Ok(Arc::new(ObjectBlobs::s3(url)?)),
        Some(other) => anyhow::bail!(
            "SUPPORTDESK_ATTACHMENTS must be s3://bucket/prefix or file:///dir, not {other:?}"
        ),
    }
}

/// Attachment files as objects under a prefix of a bucket.
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// Files being sent at once, at most: each is held in memory while it goes up (a file is at
    /// most 2 MiB), so this bounds that memory (32 MiB) however many uploads arrive together.
    sending: tokio::sync::Semaphore,
}

const SENDING_AT_ONCE: usize = 16;

impl ObjectBlobs {
    /// `s3://bucket/prefix`, with the rest of the configuration from the `AWS_*` variables.
    pub fn s3(url: &str) -> anyhow::Result<Self> {
        let rest = url.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        anyhow::ensure!(!bucket.is_empty(), "no bucket in {url:?}");
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            // An unreachable store must answer 503 in seconds, not after minutes of retries.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(5),
                ..RetryConfig::default()
            })
            // Set key by key: `with_client_options` would replace what `from_env` read
            // (`AWS_ALLOW_HTTP` among it).
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "2 seconds",
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                "30 seconds",
            )
            .build()?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::parse(prefix.trim_matches('/'))?,
            sending: tokio::sync::Semaphore::new(SENDING_AT_ONCE),
        })
    }

    fn location(&self, key: &str) -> io::Result<Path> {
        if !is_valid_key(key) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad storage key",
            ));
        }
        Ok(self.prefix.clone().join(&key[..2]).join(key))
    }
}

/// `NotFound` stays `NotFound` (a row whose object is missing answers 404); everything else
/// means the store is unreachable or failing.
fn to_io(err: object_store::Error) -> io::Error {
    match err {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, err),
        other => io::Error::other(other),
    }
}

impl BlobStore for ObjectBlobs {
    fn put<'a>(
        &'a self,
        key: &'a str,
        staged: &'a mut StagedFile,
    ) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let location = self.location(key)?;
            let _turn = self.sending.acquire().await.map_err(io::Error::other)?;
            // One file is at most the upload limit (2 MiB): it goes up in one request, read from
            // the staged file (the request body itself was streamed to disk, never held whole).
            let mut file = tokio::fs::File::open(staged.path()).await?;
            let mut bytes =
                Vec::with_capacity(usize::try_from(file.metadata().await?.len()).unwrap_or(0));
            file.read_to_end(&mut bytes).await?;
            self.store
                .put(&location, PutPayload::from(bytes))
                .await
                .map_err(to_io)?;
            Ok(())
        })
    }

    fn open<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, io::Result<Pin<Box<dyn AsyncRead + Send>>>> {
        Box::pin(async move {
            let found = self.store.get(&self.location(key)?).await.map_err(to_io)?;
            let stream = found.into_stream().map_err(to_io);
            Ok(Box::pin(tokio_util::io::StreamReader::new(stream))
                as Pin<Box<dyn AsyncRead + Send>>)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match self.store.delete(&self.location(key)?).await {
                Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                Err(err) => Err(to_io(err)),
            }
        })
    }

    fn size<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<u64>>> {
        Box::pin(async move {
            match self.store.head(&self.location(key)?).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(to_io(err)),
            }
        })
    }

    fn list(&self) -> BoxStream<'_, io::Result<StoredBlob>> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        self.store
            .list(prefix)
            .map_err(to_io)
            .try_filter_map(|meta| async move {
                let key = meta.location.filename().unwrap_or_default().to_owned();
                Ok(is_valid_key(&key).then(|| StoredBlob {
                    key,
                    modified: meta.last_modified.into(),
                }))
            })
            .boxed()
    }
}
