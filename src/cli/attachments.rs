//! `supportdesk attachments migrate --to URL`: copies every attachment file from the store in
//! force (`SUPPORTDESK_ATTACHMENTS`, by default the data directory) to another one, typically
//! object storage, with a progress bar. Each copy is verified: the destination's bytes are read
//! back and their SHA-256 compared with the source's. Running it again resumes: a file the
//! destination already holds with the same size and checksum is not copied again. Afterwards,
//! point `SUPPORTDESK_ATTACHMENTS` at the destination and restart the servers.

use anyhow::Context;
use clap::Subcommand;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::StoreConfig;
use crate::store::files::{BlobStore, StagedFile, is_missing};
use crate::store::{Db, objects};

#[derive(Subcommand)]
pub enum AttachmentsCommand {
    /// Copy every attachment file to another store (`s3://bucket/prefix` or `file:///dir`),
    /// verified by checksum; rerun to resume.
    Migrate {
        /// The destination store.
        #[arg(long)]
        to: String,
    },
}

pub async fn run(db: &Db, store: &StoreConfig, cmd: AttachmentsCommand) -> anyhow::Result<()> {
    let AttachmentsCommand::Migrate { to } = cmd;
    let source = objects::open(store.attachments.as_deref(), &store.attachments_dir())
        .context("cannot open the attachment store in force")?;
    let target = objects::open(Some(&to), &store.attachments_dir())
        .with_context(|| format!("cannot open the destination {to}"))?;
    let staging = store.data_dir.join("tmp");

    let files = crate::store::files::all_attachment_files(db).await?;
    let total: u64 = files
        .iter()
        .map(|(_, size)| u64::try_from(*size).unwrap_or(0))
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut copied, mut present, mut missing) = (0usize, 0usize, Vec::new());
    for (key, size) in &files {
        bar.set_message(key.clone());
        let source_sum = match checksum(source.as_ref(), key).await {
            Ok(sum) => sum,
            Err(err) if is_missing(&err) => {
                missing.push(key.clone());
                bar.inc(u64::try_from(*size).unwrap_or(0));
                continue;
            }
            Err(err) => return Err(err).with_context(|| format!("reading {key}")),
        };
        // Resuming: what an earlier run copied completely is left alone.
        let there = target
            .size(key)
            .await
            .with_context(|| format!("checking {key}"))?;
        if there == u64::try_from(*size).ok()
            && checksum(target.as_ref(), key).await.ok() == Some(source_sum)
        {
            present += 1;
            bar.inc(u64::try_from(*size).unwrap_or(0));
            continue;
        }
        copy(source.as_ref(), target.as_ref(), key, &staging).await?;
        let copied_sum = checksum(target.as_ref(), key)
            .await
            .with_context(|| format!("reading back {key}"))?;
        anyhow::ensure!(
            copied_sum == source_sum,
            "checksum mismatch for {key} after copying: the destination holds other bytes"
        );
        copied += 1;
        bar.inc(u64::try_from(*size).unwrap_or(0));
    }
    bar.finish_and_clear();
    println!(
        "{} attachment files: {copied} copied, {present} already there, {} missing at the source",
        files.len(),
        missing.len()
    );
    for key in &missing {
        eprintln!("missing at the source: {key}");
    }
    Ok(())
}

/// Copies one file through a staged file of its own (the stores' common way in).
async fn copy(
    source: &dyn BlobStore,
    target: &dyn BlobStore,
    key: &str,
    staging: &std::path::Path,
) -> anyhow::Result<()> {
    let (mut staged, mut file) = StagedFile::create(staging).await?;
    let mut reader = source.open(key).await?;
    tokio::io::copy(&mut reader, &mut file).await?;
    file.flush().await?;
    file.sync_all().await?;
    drop(file);
    target
        .put(key, &mut staged)
        .await
        .with_context(|| format!("storing {key}"))
}

/// SHA-256 of the bytes stored under `key`.
async fn checksum(store: &dyn BlobStore, key: &str) -> std::io::Result<[u8; 32]> {
    let mut reader: std::pin::Pin<Box<dyn AsyncRead + Send>> = store.open(key).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}
