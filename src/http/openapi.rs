//! The OpenAPI 3.1 description, generated from the handlers' `#[utoipa::path]` annotations (the
//! route list in `routes/mod.rs` collects them) and the answer types, then completed here with
//! what holds for every route alike, so no annotation repeats it: the trailing slash of every
//! API path, the credentials (`apikey` and a bearer token unless an annotation says otherwise),
//! the three body encodings (an annotation names the JSON schema, and the multipart one only
//! where it differs), the error answers of the shared extractors and layers, the sample-code
//! aliases and the configured base path; and the offline docs page that shows it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::envelope::ApiError;
use super::path::OriginalPath;
use super::schema::ErrorEnvelope;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "supportdesk",
        description = "The support-ticket API: the customer endpoints of the published \
                       document, sign-in, and the staff side. Every JSON answer is the envelope \
                       `{status_code, errors, data}`.",
        license(name = "MIT")
    ),
    components(schemas(ErrorEnvelope))
)]
struct ApiDoc;

/// What the document says before any route is added: its title and the shared schemas.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Sample-code paths served by the same handlers (contract section 1).
pub const ALIASES: &[(&str, &str)] = &[
    (
        "/support/get/category-list/",
        "/get/support-ticket/catogory-list/",
    ),
    ("/support/create/ticket/", "/creat/support/ticket/"),
    ("/support/get/ticket/history/", "/get/ticket/history/"),
    ("/support/get/ticket/tags/", "/get/ticket/tags/"),
    ("/support/update/ticket/", "/update/support/ticket/"),
];

const OPERATIONAL: &[&str] = &["/healthz", "/readyz"];

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    })
}

/// Adds the answers every route of a kind can give, from the shared extractors and layers.
fn add_common_errors(path: &str, method: &str, operation: &mut Value) {
    let has_params = operation.get("parameters").is_some();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error(description));
    };
    if OPERATIONAL.contains(&path) {
        if path == "/readyz" {
            add("503", "The database does not answer.");
        }
        return;
    }
    let has_body =
        method == "post" || method == "patch" || path == "/support/ticket/detailed-view/";
    add(
        "401",
        "A missing or invalid API key or access token (or, on create, reopen and comment, the open-ticket limit).",
    );
    add(
        "429",
        "Over a rate limit or sign-in throttle; see Retry-After.",
    );
    add(
        "503",
        "The database is unavailable for now; see Retry-After.",
    );
    if has_body || has_params {
        add("400", "Field errors, all of them; or a malformed body.");
    }
    if has_body {
        add("413", "The body is over 1 MiB (multipart: 11 MiB).");
        add(
            "408",
            "The body did not arrive within the body timeout (SUPPORTDESK_BODY_TIMEOUT).",
        );
        add(
            "415",
            "The body's media type is not multipart, urlencoded or JSON.",
        );
    }
    if path.starts_with("/agent/") || path.starts_with("/admin/") || path == "/auth/register/" {
        add(
            "403",
            "The role or the API key's scope does not allow this route.",
        );
    }
    if path.contains('{') {
        add("404", "No such object (or not the caller's).");
    }
    if path == "/support/get/ticket/history/" || path == "/support/ticket/detailed-view/" {
        // Answers carry an ETag; a client that sends it back in If-None-Match may get 304.
        responses.entry("304".to_owned()).or_insert_with(
            || json!({"description": "Not modified since the ETag sent in If-None-Match."}),
        );
    }
}

/// The encodings every body may come in (contract section 2), in the document's order.
const ENCODINGS: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// Completes one API operation with what every route shares: both credentials unless the
/// annotation names its own, and each body encoding (the JSON schema, unless the annotation
/// gave multipart its own).
fn add_shared(operation: &mut Value) {
    let Some(operation) = operation.as_object_mut() else {
        return;
    };
    if !operation.contains_key("security") {
        operation.insert("security".to_owned(), json!([{"apikey": [], "bearer": []}]));
    }
    if let Some(content) = operation
        .get_mut("requestBody")
        .and_then(|b| b.get_mut("content"))
        .and_then(Value::as_object_mut)
        && let Some(json_body) = content.get("application/json").cloned()
    {
        let mut all = serde_json::Map::new();
        for encoding in ENCODINGS {
            let body = content.get(encoding).cloned();
            all.insert(
                encoding.to_owned(),
                body.unwrap_or_else(|| json_body.clone()),
            );
        }
        *content = all;
    }
}

/// The description as served under `base` (`/api/v1`), from the API routes' document and the
/// operational routes' one.
pub fn document(
    mut api: utoipa::openapi::OpenApi,
    operational: utoipa::openapi::OpenApi,
    base: &str,
) -> Value {
    if let Some(shared) = operational.components {
        api.components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(shared.schemas);
    }
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    // The router's paths have no trailing slash (the normaliser removes it from every
    // request); the document writes them as the contract does, with it.
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        let api_paths = std::mem::take(paths);
        for (path, mut item) in api_paths {
            if let Some(item) = item.as_object_mut() {
                item.values_mut().for_each(add_shared);
            }
            paths.insert(format!("{path}/"), item);
        }
        let operational = serde_json::to_value(operational.paths).unwrap_or_else(|_| json!({}));
        for (path, item) in operational.as_object().into_iter().flatten() {
            paths.insert(path.clone(), item.clone());
        }
    }
    doc["servers"] = json!([{"url": if base.is_empty() { "/" } else { base }}]);
    doc["components"]["securitySchemes"] = json!({
        "apikey": {"type": "apiKey", "in": "header", "name": "apikey",
                   "description": "Identifies the client application."},
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "Identifies the person: a token from sign-in, or a host platform's JWT."}
    });
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            if OPERATIONAL.contains(&path.as_str()) {
                item["servers"] = json!([{"url": "/"}]);
            }
            if let Some(item) = item.as_object_mut() {
                for (method, operation) in item.iter_mut() {
                    add_common_errors(path, method, operation);
                }
            }
        }
        // Links for clients and stateful testers: what to do with a new ticket.
        let id = "$response.body#/data/ticket/id";
        if let Some(ok) = paths
            .get_mut("/support/create/ticket/")
            .and_then(|i| i.pointer_mut("/post/responses/200"))
        {
            ok["links"] = json!({
                "GetTicket": {"operationId": "ticket_detail", "parameters": {"ticket_id": id}},
                "UpdateTicket": {"operationId": "update_ticket", "requestBody": {"ticket_id": id}},
                "AddConversation": {"operationId": "add_conversation", "requestBody": {"ticket": id, "comment": "More details"}},
                "CloseTicket": {"operationId": "change_status", "requestBody": {"ticket": id, "status": "3"}},
            });
        }
        for (canonical, alias) in ALIASES {
            if let Some(mut item) = paths.get(*canonical).cloned() {
                if let Some(item) = item.as_object_mut() {
                    for operation in item.values_mut() {
                        if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                            operation["operationId"] = json!(format!("{id}_sample_path"));
                        }
                        operation["description"] = json!(format!(
                            "The sample code's path for `{canonical}`, served by the same handler."
                        ));
                        if let Some(responses) = operation.get_mut("responses") {
                            strip_links(responses);
                        }
                    }
                }
                paths.insert((*alias).to_owned(), item);
            }
        }
    }
    doc
}

fn strip_links(responses: &mut Value) {
    if let Some(responses) = responses.as_object_mut() {
        for response in responses.values_mut() {
            if let Some(response) = response.as_object_mut() {
                response.remove("links");
            }
        }
    }
}

/// `GET {base}/openapi.json`.
pub async fn serve_document(document: Arc<Value>) -> Response {
    let mut response = (StatusCode::OK, document.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET {base}/docs/`: the page's assets are relative to it, so it must be reached with its
/// trailing slash.
pub async fn serve_docs_index(
    config: Arc<utoipa_swagger_ui::Config<'static>>,
    original: Option<Extension<OriginalPath>>,
) -> Response {
    if let Some(Extension(OriginalPath(path))) = original
        && !path.ends_with('/')
    {
        let target = format!("{path}/");
        let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
        if let Ok(location) = HeaderValue::from_str(&target) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    serve_docs(config, None).await
}

/// The docs page and its assets, all served from the binary (no CDN).
pub async fn serve_docs(
    config: Arc<utoipa_swagger_ui::Config<'static>>,
    file: Option<Path<String>>,
) -> Response {
    let file = file
        .map(|Path(f)| f)
        .unwrap_or_else(|| "index.html".to_owned());
    match utoipa_swagger_ui::serve(&file, config) {
        Ok(Some(found)) => {
            let mut response = Response::new(Body::from(found.bytes.into_owned()));
            if let Ok(value) = HeaderValue::from_str(&found.content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            // The page runs its own scripts and styles, from this origin only.
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                     script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                ),
            );
            response
        }
        Ok(None) => ApiError::not_found().into_response(),
        Err(err) => ApiError::internal(anyhow::anyhow!("docs page: {err}")).into_response(),
    }
}
