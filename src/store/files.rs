//! Attachment bytes. The database holds the metadata; the bytes live behind [`BlobStore`], a
//! contract small enough for another backend (object storage) to implement later.
//!
//! Uploads are first streamed into a [`StagedFile`] (a temporary file that deletes itself unless
//! kept), then handed to the store under a key the server generated. Nothing a client sends ever
//! becomes part of a path.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use futures_util::future::BoxFuture;
use tokio::io::AsyncRead;

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

fn is_valid_key(key: &str) -> bool {
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

/// Removes what a crash (or a process killed mid-request) left on the local disk: staged
/// uploads (`upload-*.part` in `staging`) and stored files in `attachments` that no attachment
/// row names. Only files last modified before `cutoff` are considered: several processes may
/// share these directories (PostgreSQL deployments), and a file another process is writing, or
/// has stored and is about to record, is newer than that. Answers how many files went.
pub async fn sweep_orphans(
    db: &super::Db,
    staging: &Path,
    attachments: &Path,
    cutoff: std::time::SystemTime,
) -> super::StoreResult<usize> {
    let (staging, attachments) = (staging.to_owned(), attachments.to_owned());
    let (stale_parts, candidates) = tokio::task::spawn_blocking(move || {
        let old = |path: &Path| {
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff)
        };
        let stale_parts: Vec<PathBuf> = std::fs::read_dir(&staging)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("upload-") && n.ends_with(".part"))
                    && old(p)
            })
            .collect();
        let mut candidates = Vec::new();
        for fan in std::fs::read_dir(&attachments)
            .into_iter()
            .flatten()
            .flatten()
        {
            for entry in std::fs::read_dir(fan.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = entry.path();
                let key = path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
                if let Some(key) = key
                    && is_valid_key(&key)
                    && old(&path)
                {
                    candidates.push((key, path));
                }
            }
        }
        (stale_parts, candidates)
    })
    .await
    .map_err(|e| super::StoreError::Other(sqlx::Error::Io(io::Error::other(e))))?;

    let mut removed = 0;
    for part in stale_parts {
        if std::fs::remove_file(&part).is_ok() {
            removed += 1;
        }
    }
    for batch in candidates.chunks(200) {
        let placeholders: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT storage_key FROM attachments WHERE storage_key IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (key, _) in batch {
            query = query.bind(key);
        }
        let recorded: std::collections::HashSet<String> = query
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|row| sqlx::Row::try_get::<String, _>(row, "storage_key"))
            .collect::<Result<_, _>>()?;
        for (key, path) in batch {
            if !recorded.contains(key) && std::fs::remove_file(path).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
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
