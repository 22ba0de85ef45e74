//! The routes, one file per area; handlers stay thin.

pub mod admin;
pub mod agent;
pub mod attachments;
pub mod auth;
pub mod catalog;
pub mod health;
pub mod tickets;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};

use super::envelope::ApiError;
use crate::app::AppState;

/// Every route under `base` (`/api/v1`), canonical and sample-code paths alike (contract
/// section 1: the sample paths are served by the same handlers, not redirected).
pub fn api(base: &str) -> Router<AppState> {
    let customer: &[(&[&str], axum::routing::MethodRouter<AppState>)] = &[
        (
            &[
                "support/get/category-list",
                "get/support-ticket/catogory-list",
            ],
            get(catalog::categories),
        ),
        (
            &["support/create/ticket", "creat/support/ticket"],
            post(tickets::create),
        ),
        (
            &["support/get/ticket/history", "get/ticket/history"],
            get(tickets::history),
        ),
        (
            &["support/get/ticket/tags", "get/ticket/tags"],
            get(catalog::tags),
        ),
        (
            &["support/update/ticket", "update/support/ticket"],
            post(tickets::update),
        ),
        (&["support/ticket/detailed-view"], get(tickets::detail)),
        (
            &["support/ticket/download/{attachment_id}"],
            get(attachments::download),
        ),
        (
            &["support/ticket/conversation"],
            post(tickets::conversation),
        ),
        (&["support/ticket/status"], post(tickets::status)),
        (&["auth/token"], post(auth::sign_in)),
        (&["auth/refresh"], post(auth::refresh)),
        (&["auth/revoke"], post(auth::revoke)),
        (&["auth/register"], post(auth::register)),
    ];
    let mut router = Router::new();
    for (paths, handler) in customer {
        for path in *paths {
            router = router.route(&format!("{base}/{path}"), handler.clone());
        }
    }
    router.merge(staff(base))
}

/// The staff side: `agent/…` for agents and administrators, `admin/…` for administrators.
fn staff(base: &str) -> Router<AppState> {
    let routes: Vec<(&str, axum::routing::MethodRouter<AppState>)> = vec![
        ("agent/tickets", get(agent::queue)),
        ("agent/tickets/{id}", get(agent::ticket)),
        ("agent/tickets/{id}/reply", post(agent::reply)),
        ("agent/tickets/{id}/note", post(agent::note)),
        ("agent/tickets/{id}/update", post(agent::update)),
        (
            "admin/categories",
            get(admin::categories).post(admin::create_category),
        ),
        ("admin/categories/{id}", post(admin::update_category)),
        ("admin/tags", get(admin::tags).post(admin::create_tag)),
        ("admin/tags/{id}", post(admin::update_tag)),
        ("admin/users", get(admin::users).post(admin::create_person)),
        ("admin/users/{id}", post(admin::update_person)),
        (
            "admin/apikeys",
            get(admin::api_keys).post(admin::create_key),
        ),
        ("admin/apikeys/{id}/revoke", post(admin::revoke_key)),
        (
            "admin/settings",
            get(admin::get_settings).post(admin::update_settings),
        ),
    ];
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(&format!("{base}/{path}"), handler)
        })
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
