//! The routes, one file per area; handlers stay thin. One table lists every API route with the
//! path the OpenAPI document gives it, so a test can hold the two together.

pub mod admin;
pub mod agent;
pub mod attachments;
pub mod auth;
pub mod catalog;
pub mod health;
pub mod tickets;

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodRouter, get, post};

use super::envelope::ApiError;
use super::openapi::{self, ALIASES};
use crate::app::AppState;

/// Every API route: method, documented path (relative to the base, trailing slash as the
/// document writes it), handler.
fn table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    use Method as M;
    vec![
        (
            M::GET,
            "/support/get/category-list/",
            get(catalog::categories),
        ),
        (M::POST, "/support/create/ticket/", post(tickets::create)),
        (
            M::GET,
            "/support/get/ticket/history/",
            get(tickets::history),
        ),
        (M::GET, "/support/get/ticket/tags/", get(catalog::tags)),
        (M::POST, "/support/update/ticket/", post(tickets::update)),
        (
            M::GET,
            "/support/ticket/detailed-view/",
            get(tickets::detail),
        ),
        (
            M::GET,
            "/support/ticket/download/{attachment_id}/",
            get(attachments::download),
        ),
        (
            M::POST,
            "/support/ticket/conversation/",
            post(tickets::conversation),
        ),
        (M::POST, "/support/ticket/status/", post(tickets::status)),
        (M::POST, "/auth/token/", post(auth::sign_in)),
        (M::POST, "/auth/refresh/", post(auth::refresh)),
        (M::POST, "/auth/revoke/", post(auth::revoke)),
        (M::POST, "/auth/register/", post(auth::register)),
        (M::GET, "/agent/tickets/", get(agent::queue)),
        (M::GET, "/agent/tickets/{id}/", get(agent::ticket)),
        (M::POST, "/agent/tickets/{id}/reply/", post(agent::reply)),
        (M::POST, "/agent/tickets/{id}/note/", post(agent::note)),
        (M::POST, "/agent/tickets/{id}/update/", post(agent::update)),
        (M::GET, "/admin/categories/", get(admin::categories)),
        (M::POST, "/admin/categories/", post(admin::create_category)),
        (
            M::POST,
            "/admin/categories/{id}/",
            post(admin::update_category),
        ),
        (M::GET, "/admin/tags/", get(admin::tags)),
        (M::POST, "/admin/tags/", post(admin::create_tag)),
        (M::POST, "/admin/tags/{id}/", post(admin::update_tag)),
        (M::GET, "/admin/users/", get(admin::users)),
        (M::POST, "/admin/users/", post(admin::create_person)),
        (M::POST, "/admin/users/{id}/", post(admin::update_person)),
        (M::GET, "/admin/apikeys/", get(admin::api_keys)),
        (M::POST, "/admin/apikeys/", post(admin::create_key)),
        (
            M::POST,
            "/admin/apikeys/{id}/revoke/",
            post(admin::revoke_key),
        ),
        (M::GET, "/admin/settings/", get(admin::get_settings)),
        (M::POST, "/admin/settings/", post(admin::update_settings)),
    ]
}

/// The router path of a documented path: under the base, without the trailing slash (the
/// path normaliser removes it from every request).
fn router_path(base: &str, path: &str) -> String {
    format!("{base}{}", path.trim_end_matches('/'))
}

/// Every route under `base` (`/api/v1`), canonical and sample-code paths alike (contract
/// section 1: the sample paths are served by the same handlers, not redirected), plus the
/// OpenAPI description and its docs page.
pub fn api(base: &str) -> Router<AppState> {
    let mut routes: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    for (_, path, handler) in table() {
        for (canonical, alias) in ALIASES {
            if *canonical == path {
                routes.push((router_path(base, alias), handler.clone()));
            }
        }
        routes.push((router_path(base, path), handler));
    }
    // Routes sharing a path (GET and POST of the admin lists) merge into one method router.
    let mut router = Router::new();
    let mut merged: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    for (path, handler) in routes {
        match merged.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(handler),
            None => merged.push((path, handler)),
        }
    }
    for (path, handler) in merged {
        router = router.route(&path, handler);
    }

    let document = Arc::new(openapi::document(base));
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
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_served_route_is_documented_and_every_documented_route_is_served() {
        let document = openapi::document("/api/v1");
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flat_map(|o| o.keys()) {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let mut served = BTreeSet::new();
        for (method, path, _) in table() {
            served.insert((method.to_string(), path.to_owned()));
            for (canonical, alias) in ALIASES {
                if *canonical == path {
                    served.insert((method.to_string(), (*alias).to_owned()));
                }
            }
        }
        served.insert(("GET".to_owned(), "/healthz".to_owned()));
        served.insert(("GET".to_owned(), "/readyz".to_owned()));
        assert_eq!(served, documented);
    }
}
