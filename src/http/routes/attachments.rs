//! Endpoint 7: an attachment's bytes, for its ticket's author and for staff.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio_util::io::ReaderStream;

use crate::app::AppState;
use crate::domain::attachment::{content_disposition, served_content_type};
use crate::http::envelope::ApiError;
use crate::http::extract::Caller;
use crate::http::path::Id;
use crate::store::files::is_missing;
use crate::store::tickets;

#[utoipa::path(
    get,
    path = "/support/ticket/download/{attachment_id}",
    tag = "customer",
    operation_id = "download_attachment",
    summary = "An attachment's bytes",
    params(("attachment_id" = i64, Path)),
    responses((status = 200, description = "The file, served as an attachment", content_type = "application/octet-stream", body = Vec<u8>))
)]
pub async fn download(
    State(state): State<AppState>,
    Caller(person): Caller,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let Some(attachment) = tickets::attachment_for_download(&state.db, id).await? else {
        return Err(ApiError::not_found());
    };
    let is_author = attachment.ticket_author_id == person.id && !attachment.internal;
    if !is_author && !person.role.is_staff() {
        // Same answer as a missing id: nobody learns which ids exist.
        return Err(ApiError::not_found());
    }
    send_attachment(&state, id, &attachment).await
}

/// An attachment's bytes with the download's safe headers: always a download, never run or
/// shown inline by a browser. The console's attachment links answer through this too.
pub async fn send_attachment(
    state: &AppState,
    id: i64,
    attachment: &tickets::StoredAttachment,
) -> Result<Response, ApiError> {
    let reader = state
        .blobs
        .open(&attachment.storage_key)
        .await
        .map_err(|e| {
            if is_missing(&e) {
                // The row outlived its file (lost storage, a manual clean-up): nothing to serve.
                tracing::warn!(attachment = id, "attachment file missing from storage");
                ApiError::not_found()
            } else {
                tracing::warn!(attachment = id, error = %e, "attachment storage unreachable");
                ApiError::Unavailable(format!("attachment storage: {e}"))
            }
        })?;

    let mut response = Response::new(Body::from_stream(ReaderStream::new(reader)));
    let headers = response.headers_mut();
    let content_type = served_content_type(&attachment.content_type);
    let header_value = |text: &str| {
        HeaderValue::from_str(text).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))
    };
    headers.insert(header::CONTENT_TYPE, header_value(content_type)?);
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(attachment.size.max(0)),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(&attachment.filename))?,
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Should a browser open it anyway, it runs nothing and loads nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}
