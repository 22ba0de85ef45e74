//! The routes, one file per area; handlers stay thin. Each route is written once: its
//! handler's `#[utoipa::path]` annotation names method and path, and the one list below feeds
//! both the router and the OpenAPI document (utoipa-axum's `routes!`). Adding an endpoint is
//! one line here next to its annotated handler.

pub mod admin;
pub mod agent;
pub mod attachments;
pub mod auth;
pub mod catalog;
pub mod health;
pub mod inbound;
pub mod search;
pub mod tickets;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::envelope::ApiError;
use super::openapi::{self, ALIASES};
use crate::app::AppState;

/// Every API route, relative to the base (`/api/v1`), as the router serves it (without the
/// trailing slash, which the path normaliser removes from every request).
fn api_routes() -> OpenApiRouter<AppState> {
    [
        routes!(catalog::categories),
        routes!(tickets::create),
        routes!(tickets::history),
        routes!(catalog::tags),
        routes!(tickets::update),
        routes!(tickets::detail),
        routes!(attachments::download),
        routes!(tickets::conversation),
        routes!(tickets::status),
        routes!(auth::sign_in),
        routes!(auth::refresh),
        routes!(auth::revoke),
        routes!(auth::register),
        routes!(agent::queue),
        routes!(agent::ticket),
        routes!(agent::reply),
        routes!(agent::note),
        routes!(agent::update),
        routes!(search::agent),
        routes!(search::customer),
        routes!(admin::categories, admin::create_category),
        routes!(admin::update_category),
        routes!(admin::tags, admin::create_tag),
        routes!(admin::update_tag),
        routes!(admin::users, admin::create_person),
        routes!(admin::update_person),
        routes!(admin::api_keys, admin::create_key),
        routes!(admin::revoke_key),
        routes!(admin::get_settings, admin::update_settings),
        routes!(webhooks::list, webhooks::create),
        routes!(webhooks::show, webhooks::update, webhooks::delete),
        routes!(webhooks::rotate_secret),
        routes!(webhooks::list_deliveries),
        routes!(webhooks::redeliver),
        routes!(inbound::email),
        routes!(inbound::quarantine),
        routes!(inbound::retry),
        routes!(inbound::delete),
    ]
    .into_iter()
    .fold(OpenApiRouter::with_openapi(openapi::base()), with_alias)
}

/// The routes outside the API prefix, without credentials.
fn operational_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
}

/// Adds a route, and serves its handler at the sample code's path too where the contract has
/// one (section 1: served by the same handler, not redirected). The document lists the aliases
/// itself (`openapi::document`).
fn with_alias(
    router: OpenApiRouter<AppState>,
    route: UtoipaMethodRouter<AppState>,
) -> OpenApiRouter<AppState> {
    let (schemas, paths, method_router) = route;
    let mut router = router;
    for (canonical, alias) in ALIASES {
        if paths.paths.contains_key(canonical.trim_end_matches('/')) {
            router = router.route(alias.trim_end_matches('/'), method_router.clone());
        }
    }
    router.routes((schemas, paths, method_router))
}

/// Every route under `base` (`/api/v1`), canonical and sample-code paths alike, plus the
/// OpenAPI description and its docs page.
pub fn api(base: &str) -> Router<AppState> {
    let (routes, api_doc) = api_routes().split_for_parts();
    let document = Arc::new(openapi::document(
        api_doc,
        operational_routes().into_openapi(),
        base,
    ));
    let router = if base.is_empty() {
        routes
    } else {
        Router::new().nest(base, routes)
    };
    let docs_config = Arc::new(utoipa_swagger_ui::Config::new([format!(
        "{base}/openapi.json"
    )]));
    let index_config = Arc::clone(&docs_config);
    router
        .route(
            &format!("{base}/openapi.json"),
            get(move || openapi::serve_document(Arc::clone(&document))),
        )
        .route(
            &format!("{base}/docs"),
            get(move |original| openapi::serve_docs_index(Arc::clone(&index_config), original)),
        )
        .route(
            &format!("{base}/docs/{{file}}"),
            get(move |file: Path<String>| {
                openapi::serve_docs(Arc::clone(&docs_config), Some(file))
            }),
        )
}

/// Outside the API prefix and without credentials.
pub fn operational() -> Router<AppState> {
    operational_routes().split_for_parts().0
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::detail(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method \"{method}\" not allowed."),
    )
}
