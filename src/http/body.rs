//! Request bodies in any of the three encodings (multipart, urlencoded, JSON), read into
//! fields and staged files within the contract's limits; every rejection answers in the
//! envelope. Only an operation's input type (`http::inputs`) reads the fields.

use std::path::Path;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value as Json;
use tokio::io::AsyncWriteExt;

use super::envelope::ApiError;
use crate::app::AppState;
use crate::domain::attachment::{clean_content_type, clean_filename};
use crate::domain::fields::{
    ATTACHMENT_MAX_BYTES, ATTACHMENT_MAX_FILES, EMPTY_FILE, FILE_TOO_BIG, Fields, NOT_A_FILE, Raw,
    TOO_MANY_FILES,
};
use crate::store::files::StagedFile;

/// Largest non-multipart body, and largest total of a multipart body's text parts.
pub const BODY_MAX_BYTES: usize = 1024 * 1024;
/// Largest multipart body: five files at the limit plus fields.
pub const MULTIPART_MAX_BYTES: u64 = 11 * 1024 * 1024;

/// One uploaded file, already on disk in the staging area.
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub staged: StagedFile,
}

/// The fields of a request body, whatever its encoding. Only an operation's input type
/// (`http::inputs`) reads them.
#[derive(Default)]
pub struct FormBody {
    pub fields: Fields,
    /// Files sent as `attachment`, in order.
    pub files: Vec<Upload>,
    /// Problems with the `attachment` field found while reading (not a file, empty, too many).
    pub attachment_errors: Vec<&'static str>,
}

impl FormBody {
    fn push(&mut self, name: String, value: Raw) {
        if name == "attachment" {
            // Only a file can be an attachment; an empty value is an empty file input.
            let empty = match &value {
                Raw::Text(s) | Raw::Json(Json::String(s)) => s.is_empty(),
                Raw::Json(Json::Null) => true,
                Raw::Json(_) => false,
            };
            if !empty {
                self.attachment_error(NOT_A_FILE);
            }
            return;
        }
        self.fields.push(name, value);
    }

    fn attachment_error(&mut self, message: &'static str) {
        if !self.attachment_errors.contains(&message) {
            self.attachment_errors.push(message);
        }
    }
}

fn malformed() -> ApiError {
    ApiError::detail(StatusCode::BAD_REQUEST, "Malformed request body.")
}

fn too_large() -> ApiError {
    ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.")
}

fn file_too_big() -> ApiError {
    ApiError::field("attachment", FILE_TOO_BIG)
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl FromRequest<AppState> for FormBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body_in_time(req, state).await
    }
}

/// [`read_body`] within the body timeout (`SUPPORTDESK_BODY_TIMEOUT`), shorter than the whole
/// request's: a client trickling its body cannot hold a connection and a staged file for the
/// whole request timeout. Past it: 408, and whatever was staged is removed.
pub async fn read_body_in_time(req: Request, state: &AppState) -> Result<FormBody, ApiError> {
    match tokio::time::timeout(state.body_timeout, read_body(req, &state.staging_dir)).await {
        Ok(body) => body,
        Err(_) => Err(ApiError::detail(
            StatusCode::REQUEST_TIMEOUT,
            "Request body was not received in time.",
        )),
    }
}

/// Reads a body of any of the three encodings into fields and staged files.
pub async fn read_body(req: Request, staging_dir: &Path) -> Result<FormBody, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let length = declared_length(req.headers());

    if essence == "multipart/form-data" {
        if length.is_some_and(|n| n > MULTIPART_MAX_BYTES) {
            return Err(file_too_big());
        }
        let boundary = multer::parse_boundary(content_type.as_deref().unwrap_or(""))
            .map_err(|_| malformed())?;
        // A multipart body with no parts (the sample code's `formData: {}`) is just the closing
        // delimiter, or nothing at all; multer calls either incomplete, the contract calls it
        // valid. Such a body is tiny, so small bodies are looked at whole first.
        if length.is_some_and(|n| n <= 512) {
            let bytes = req
                .into_body()
                .collect()
                .await
                .map_err(|_| malformed())?
                .to_bytes();
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim();
            if text.is_empty() || text == format!("--{boundary}--") {
                return Ok(FormBody::default());
            }
            return read_multipart(Body::from(bytes), boundary, staging_dir).await;
        }
        return read_multipart(req.into_body(), boundary, staging_dir).await;
    }

    if length.is_some_and(|n| n > BODY_MAX_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = http_body_util::Limited::new(req.into_body(), BODY_MAX_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                malformed()
            }
        })?
        .to_bytes();
    let mut body = FormBody::default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // An empty body carries no fields, whatever it claims to be.
        return Ok(body);
    }
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            for (name, value) in form_urlencoded::parse(&bytes) {
                body.push(name.into_owned(), Raw::Text(value.into_owned()));
            }
        }
        "application/json" => {
            let value: Json = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
            let Json::Object(map) = value else {
                return Err(malformed());
            };
            for (name, value) in map {
                body.push(name, Raw::Json(value));
            }
        }
        other => {
            return Err(ApiError::detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported media type \"{other}\" in request."),
            ));
        }
    }
    Ok(body)
}

async fn read_multipart(
    body: Body,
    boundary: String,
    staging_dir: &Path,
) -> Result<FormBody, ApiError> {
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(MULTIPART_MAX_BYTES));
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut form = FormBody::default();
    let mut text_bytes = 0usize;
    // Non-empty files sent as `attachment`, staged or not.
    let mut attachments = 0usize;
    let multer_error = |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } => file_too_big(),
        _ => malformed(),
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multer_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(filename) if name == "attachment" => {
                let declared_type = field.content_type().map(ToString::to_string);
                // Once the attachment field is known to be refused (a part that is not a file,
                // an empty file, too many files), the request can only answer 400: the files
                // staged so far are removed and the rest are read past, never written to disk.
                if !form.attachment_errors.is_empty() {
                    form.files.clear();
                }
                let stage = form.attachment_errors.is_empty() && attachments < ATTACHMENT_MAX_FILES;
                let mut staged = if stage {
                    Some(
                        StagedFile::create(staging_dir)
                            .await
                            .map_err(ApiError::internal)?,
                    )
                } else {
                    None
                };
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(multer_error)? {
                    size += chunk.len() as u64;
                    if size > ATTACHMENT_MAX_BYTES {
                        return Err(file_too_big());
                    }
                    if let Some((_, file)) = staged.as_mut() {
                        file.write_all(&chunk).await.map_err(ApiError::internal)?;
                    }
                }
                if size == 0 {
                    // A browser sends an empty part with an empty name for "no file chosen".
                    if !filename.is_empty() {
                        form.attachment_error(EMPTY_FILE);
                        form.files.clear();
                    }
                    continue;
                }
                attachments += 1;
                if attachments > ATTACHMENT_MAX_FILES {
                    form.attachment_error(TOO_MANY_FILES);
                    form.files.clear();
                }
                if let Some((staged, file)) = staged
                    && form.attachment_errors.is_empty()
                {
                    file.sync_all().await.map_err(ApiError::internal)?;
                    form.files.push(Upload {
                        filename: clean_filename(&filename),
                        content_type: clean_content_type(declared_type.as_deref()),
                        size,
                        staged,
                    });
                }
            }
            Some(_) => {
                // A file under another name is ignored; the stream limit still bounds it.
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(multer_error)? {
                    size += chunk.len() as u64;
                    if size > ATTACHMENT_MAX_BYTES {
                        return Err(file_too_big());
                    }
                }
            }
            None => {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multer_error)? {
                    text_bytes += chunk.len();
                    if text_bytes > BODY_MAX_BYTES {
                        return Err(too_large());
                    }
                    value.extend_from_slice(&chunk);
                }
                form.push(
                    name,
                    Raw::Text(String::from_utf8_lossy(&value).into_owned()),
                );
            }
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request as HttpRequest;
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    use proptest::prelude::*;

    use super::*;

    /// Decodes one body and checks the property: a value, or an answer in the envelope.
    fn decode(
        content_type: Option<String>,
        body: Vec<u8>,
        dir: &Path,
    ) -> Result<(), TestCaseError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runtime.block_on(async {
            let mut builder = HttpRequest::builder().method("POST").uri("/x");
            if let Some(ct) = content_type {
                builder = builder.header(header::CONTENT_TYPE, ct);
            }
            let req = builder
                .body(Body::from(body))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            match read_body(req, dir).await {
                Ok(form) => {
                    // Whatever was decoded, the field rules accept or refuse it with a message.
                    use crate::domain::fields;
                    for name in ["subject", "priority", "category", "ticket", "tags"] {
                        let raw = form.fields.get(name);
                        let _ = fields::text(raw, 500);
                        let _ = fields::choice::<crate::domain::ticket::Priority>(raw);
                        let _ = fields::pk(raw);
                        let _ = fields::pk_list(form.fields.all(name));
                    }
                    Ok(())
                }
                Err(err) => {
                    let response = err.into_response();
                    let status = response.status().as_u16();
                    prop_assert!(status < 500, "a client's body answered {status}");
                    let bytes = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?
                        .to_bytes();
                    let envelope: serde_json::Value = serde_json::from_slice(&bytes)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(&envelope["status_code"], &serde_json::json!(status));
                    prop_assert!(
                        envelope["errors"]
                            .as_object()
                            .is_some_and(|e| !e.is_empty())
                    );
                    prop_assert_eq!(&envelope["data"], &serde_json::json!({}));
                    Ok(())
                }
            }
        })
    }

    fn content_types() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("application/json".to_owned())),
            Just(Some("application/json; charset=utf-8".to_owned())),
            Just(Some("application/x-www-form-urlencoded".to_owned())),
            Just(Some("multipart/form-data; boundary=XYZ".to_owned())),
            Just(Some("multipart/form-data".to_owned())),
            "[ -~]{0,40}".prop_map(Some),
        ]
    }

    /// Bodies that look like each encoding, with arbitrary bytes mixed in.
    fn bodies() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            "[a-z_]{1,8}=[^&]{0,20}(&[a-z_]{1,8}=[^&]{0,20}){0,4}".prop_map(String::into_bytes),
            "\\{(\"[a-z]{1,8}\": ?(\"[^\"]{0,10}\"|-?[0-9]{1,25}|true|null|\\[[0-9, ]{0,10}\\]|\\{\\}|1\\.5),? ?){0,4}\\}?"
                .prop_map(String::into_bytes),
            ("[a-z]{1,8}", "[^\r\n]{0,30}", any::<bool>()).prop_map(|(name, value, file)| {
                let disposition = if file {
                    format!("form-data; name=\"{name}\"; filename=\"{value}\"")
                } else {
                    format!("form-data; name=\"{name}\"")
                };
                format!("--XYZ\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n--XYZ--\r\n")
                    .into_bytes()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn any_body_decodes_or_answers_in_the_envelope(ct in content_types(), body in bodies()) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            decode(ct, body, dir.path())?;
            // Nothing is left behind in the staging area.
            let left = std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0);
            prop_assert_eq!(left, 0);
        }
    }
}
