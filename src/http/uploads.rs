//! Moving a request's uploads into the attachment store, and out again when the request is
//! refused after all.

use crate::app::AppState;
use crate::http::envelope::{ApiError, FieldErrors};
use crate::http::extract::{FormBody, Upload};
use crate::store::files::new_key;
use crate::store::tickets::NewAttachment;

/// Records the attachment problems found while reading the body.
pub fn check_attachments(errors: &mut FieldErrors, body: &FormBody) {
    for message in &body.attachment_errors {
        errors.add("attachment", *message);
    }
}

/// Moves the staged uploads into the attachment store. On any later failure the caller hands
/// the result to [`discard`], so no stored file outlives a refused request.
pub async fn put_uploads(
    state: &AppState,
    files: Vec<Upload>,
) -> Result<Vec<NewAttachment>, ApiError> {
    let mut stored = Vec::with_capacity(files.len());
    for mut upload in files {
        let key = new_key();
        if let Err(err) = state.blobs.put(&key, &mut upload.staged).await {
            discard(state, &stored).await;
            return Err(ApiError::internal(err));
        }
        stored.push(NewAttachment {
            filename: upload.filename,
            content_type: upload.content_type,
            size: i64::try_from(upload.size).unwrap_or(i64::MAX),
            storage_key: key,
        });
    }
    Ok(stored)
}

pub async fn discard(state: &AppState, stored: &[NewAttachment]) {
    for attachment in stored {
        if let Err(err) = state.blobs.delete(&attachment.storage_key).await {
            tracing::warn!(error = %err, "could not remove an attachment of a refused request");
        }
    }
}
