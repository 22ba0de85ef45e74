//! Moving a request's uploads into the attachment store, and out again when the request is
//! refused after all, or never finishes.
//!
//! Two things keep a stored file from outliving a request that did not record it:
//! - [`StoredUploads`] deletes the files it holds when it is dropped without [`StoredUploads::keep`]
//!   (called once the transaction that records them committed);
//! - [`run_to_completion`] runs a multipart request (the only kind that carries files) in a task
//!   of its own, so a client that disconnects cannot cancel it between storing the files and
//!   committing their rows, where nobody could tell whether the commit happened.
//!
//! What a crash leaves behind is removed by `store::files::sweep_orphans` at the next start.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;
use crate::http::envelope::{ApiError, internal_error_response};
use crate::http::extract::Upload;
use crate::store::files::{BlobStore, new_key};
use crate::store::tickets::NewAttachment;

/// Files moved into the attachment store for one request: deleted again when dropped, unless
/// the transaction that records them committed and [`keep`](Self::keep) was called.
pub struct StoredUploads {
    blobs: Arc<dyn BlobStore>,
    list: Vec<NewAttachment>,
    kept: bool,
}

impl StoredUploads {
    /// The attachments to record.
    pub fn list(&self) -> &[NewAttachment] {
        &self.list
    }

    /// The rows are committed: the files are attachments now.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for StoredUploads {
    fn drop(&mut self) {
        if self.kept || self.list.is_empty() {
            return;
        }
        let keys: Vec<String> = self.list.drain(..).map(|a| a.storage_key).collect();
        let blobs = Arc::clone(&self.blobs);
        let remove = async move {
            for key in keys {
                if let Err(err) = blobs.delete(&key).await {
                    tracing::warn!(error = %err, "could not remove an attachment of a refused request");
                }
            }
        };
        // Drop cannot await: the removal runs on its own (the start-up sweep catches the rest
        // should the process stop first).
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(remove);
            }
            Err(_) => tracing::warn!("no runtime to remove the files of a refused request"),
        }
    }
}

/// Moves the staged uploads into the attachment store. The answer deletes them again unless
/// the caller keeps it after committing the rows that reference them.
pub async fn put_uploads(state: &AppState, files: Vec<Upload>) -> Result<StoredUploads, ApiError> {
    let mut stored = StoredUploads {
        blobs: Arc::clone(&state.blobs),
        list: Vec::with_capacity(files.len()),
        kept: false,
    };
    for mut upload in files {
        let key = new_key();
        // Dropping `stored` on the error removes the files moved so far.
        state
            .blobs
            .put(&key, &mut upload.staged)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "attachment storage refused a file");
                ApiError::Unavailable(format!("attachment storage: {e}"))
            })?;
        stored.list.push(NewAttachment {
            filename: upload.filename,
            content_type: upload.content_type,
            size: i64::try_from(upload.size).unwrap_or(i64::MAX),
            storage_key: key,
        });
    }
    Ok(stored)
}

/// Runs a multipart request to its end in a task of its own, whether or not its client is still
/// there to read the answer: hyper drops a request's future when the connection closes, and a
/// future dropped between storing files and committing their rows leaves files no row names
/// (or, were the files removed then, rows whose commit had gone through without their files).
/// Other requests carry no files and stay cancellable.
pub async fn run_to_completion(req: Request, next: Next) -> Response {
    if !carries_files(&req) {
        return next.run(req).await;
    }
    match tokio::spawn(next.run(req)).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "a request with uploads failed");
            internal_error_response()
        }
    }
}

/// Whether a request may carry files: a multipart body.
pub fn carries_files(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
}
