//! Attachment bytes. The database holds the metadata; the bytes live behind [`BlobStore`], a
//! contract small enough for several backends: [`LocalDisk`] here, S3-compatible object storage
//! in `store::objects`.
//!
//! Uploads are first streamed into a [`StagedFile`] (a temporary file that deletes itself unless
//! kept), then handed to the store under a key the server generated. Nothing a client sends ever
//! becomes part of a path.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::io::AsyncRead;

/// One stored file, as listed by [`BlobStore::list`].
pub struct StoredBlob {
    pub key: String,
    pub modified: std::time::SystemTime,
}

/// Where attachment bytes are kept.
pub trait BlobStore: Send + Sync {
    /// Moves a staged file into the store under `key`, durably.
    fn put<'a>(&'a self, key: &'a str, staged: &'a mut StagedFile)
    -> BoxFuture<'a, io::Result<()>>;
    /// Opens the bytes stored under `key`.
    fn open<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, io::Result<Pin<Box<dyn AsyncRead + Send>>>>;
    /// Removes the bytes under `key`; a missing key is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// The size of what is stored under `key`; `None` when nothing is.
    fn size<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<u64>>>;
    /// Every stored file (for the sweep of orphans and for migrations).
    fn list(&self) -> BoxStream<'_, io::Result<StoredBlob>>;
}

/// Errors of a store: `NotFound` for a missing file; anything else means the store could not
/// be reached or read, which the API answers 503 (try again), never 500.
pub fn is_missing(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound
}

/// Creates `dir` if needed and proves that this process can create and remove a file in it, so
/// that a directory the desk cannot write is found at start, named with its path and the cause
/// ("Permission denied", "Read-only file system"), not at the first upload as a bare 500.
/// `what` names the directory's role in the message ("data directory", …).
pub fn ensure_writable_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    let fail = |err: io::Error| anyhow::anyhow!("{what} {} is not writable: {err}", dir.display());
    std::fs::create_dir_all(dir)
        .map_err(|err| anyhow::anyhow!("cannot create {what} {}: {err}", dir.display()))?;
    let probe = dir.join(format!(".write-probe-{}", new_key()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

/// A new random storage key: 128 bits in hex.
pub fn new_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub fn is_valid_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Files under a directory on the local disk, fanned out by the key's first two characters.
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn path_of(&self, key: &str) -> io::Result<PathBuf> {
        if !is_valid_key(key) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad storage key",
            ));
        }
        Ok(self.root.join(&key[..2]).join(key))
    }
}

impl BlobStore for LocalDisk {
    fn put<'a>(
        &'a self,
        key: &'a str,
        staged: &'a mut StagedFile,
    ) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let target = self.path_of(key)?;
            if let Some(dir) = target.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::rename(staged.path(), &target).await?;
            staged.kept();
            Ok(())
        })
    }

    fn open<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, io::Result<Pin<Box<dyn AsyncRead + Send>>>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(self.path_of(key)?).await?;
            Ok(Box::pin(file) as Pin<Box<dyn AsyncRead + Send>>)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path_of(key)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn size<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<u64>>> {
        Box::pin(async move {
            match tokio::fs::metadata(self.path_of(key)?).await {
                Ok(meta) => Ok(Some(meta.len())),
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn list(&self) -> BoxStream<'_, io::Result<StoredBlob>> {
        let root = self.root.clone();
        let listing = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for fan in std::fs::read_dir(&root)?.flatten() {
                for entry in std::fs::read_dir(fan.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let key = entry.file_name().to_string_lossy().into_owned();
                    if !is_valid_key(&key) {
                        continue;
                    }
                    let meta = entry.metadata()?;
                    found.push(Ok(StoredBlob {
                        key,
                        modified: meta.modified()?,
                    }));
                }
            }
            Ok::<_, io::Error>(found)
        });
        stream::once(listing)
            .flat_map(|joined| {
                let items = match joined.map_err(io::Error::other).and_then(|r| r) {
                    Ok(items) => items,
                    Err(err) => vec![Err(err)],
                };
                stream::iter(items)
            })
            .boxed()
    }
}

/// A temporary file holding one upload; removed on drop unless the store took it.
pub struct StagedFile {
    path: PathBuf,
    keep: bool,
}

impl StagedFile {
    /// Creates an empty staged file in `dir`.
    pub async fn create(dir: &Path) -> io::Result<(Self, tokio::fs::File)> {
        tokio::fs::create_dir_all(dir).await?;
        let path = dir.join(format!("upload-{}.part", new_key()));
        // Opened on this thread, not on tokio's blocking pool: a future dropped while the pool
        // was still creating the file would leave it with no guard to remove it. Creating an
        // empty file is one short system call.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((Self { path, keep: false }, tokio::fs::File::from_std(file)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn kept(&mut self) {
        self.keep = true;
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: a leftover is only a stray temporary file, never a visible record.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes what a crash (or a process killed mid-request) left behind: staged uploads
/// (`upload-*.part` in `staging`) and stored files that no attachment row names, in whichever
/// store holds them (local disk or object storage). Only files last modified before `cutoff`
/// are considered: several processes may share the store (PostgreSQL deployments), and a file
/// another process is writing, or has stored and is about to record, is newer than that.
/// Answers how many files went.
pub async fn sweep_orphans(
    db: &super::Db,
    staging: &Path,
    blobs: &dyn BlobStore,
    cutoff: std::time::SystemTime,
) -> super::StoreResult<usize> {
    let staging = staging.to_owned();
    let stale_parts = tokio::task::spawn_blocking(move || {
        std::fs::read_dir(&staging)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("upload-") && n.ends_with(".part"))
                    && std::fs::metadata(p)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t < cutoff)
            })
            .collect::<Vec<PathBuf>>()
    })
    .await
    .map_err(|e| super::StoreError::Other(sqlx::Error::Io(io::Error::other(e))))?;
    let mut removed = 0;
    for part in stale_parts {
        if std::fs::remove_file(&part).is_ok() {
            removed += 1;
        }
    }

    let io_error = |e: io::Error| super::StoreError::Other(sqlx::Error::Io(e));
    let mut listing = blobs.list();
    let mut batch = Vec::new();
    loop {
        let next = listing.next().await.transpose().map_err(io_error)?;
        if let Some(blob) = &next
            && blob.modified < cutoff
        {
            batch.push(blob.key.clone());
        }
        if batch.len() >= 200 || (next.is_none() && !batch.is_empty()) {
            let recorded = recorded_keys(db, &batch).await?;
            for key in batch.drain(..) {
                if !recorded.contains(&key) && blobs.delete(&key).await.is_ok() {
                    removed += 1;
                }
            }
        }
        if next.is_none() {
            break;
        }
    }
    Ok(removed)
}

/// Every attachment's storage key and size, oldest first (for `attachments migrate`).
pub async fn all_attachment_files(db: &super::Db) -> super::StoreResult<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as::<_, (String, i64)>("SELECT storage_key, size FROM attachments ORDER BY id")
            .fetch_all(&mut db.read().await?)
            .await?,
    )
}

/// Which of `keys` an attachment row names.
async fn recorded_keys(
    db: &super::Db,
    keys: &[String],
) -> super::StoreResult<std::collections::HashSet<String>> {
    let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT storage_key FROM attachments WHERE storage_key IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for key in keys {
        query = query.bind(key);
    }
    Ok(query
        .fetch_all(&mut db.read().await?)
        .await?
        .iter()
        .map(|row| sqlx::Row::try_get::<String, _>(row, "storage_key"))
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn staged_files_move_into_the_store_and_vanish_when_dropped() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = LocalDisk::new(dir.path().join("blobs"))?;
        let (mut staged, mut file) = StagedFile::create(&dir.path().join("tmp")).await?;
        file.write_all(b"hello").await?;
        file.sync_all().await?;
        let key = new_key();
        store.put(&key, &mut staged).await?;
        drop(staged);
        let mut read = String::new();
        store.open(&key).await?.read_to_string(&mut read).await?;
        assert_eq!(read, "hello");

        let (dropped, _file) = StagedFile::create(&dir.path().join("tmp")).await?;
        let path = dropped.path().to_owned();
        drop(dropped);
        assert!(!path.exists());

        assert!(store.open("../../etc/passwd").await.is_err());
        store.delete(&key).await?;
        assert!(store.open(&key).await.is_err());
        Ok(())
    }
}
