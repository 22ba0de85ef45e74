//! Liveness and readiness, for load balancers and orchestrators.

use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};
use crate::http::schema::HealthData;
use crate::http::schema::*;

/// The process is up; touches nothing else.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    summary = "The process is up",
    security(()),
    responses((status = 200, description = "Done", body = Envelope<HealthData>))
)]
pub async fn healthz() -> Response {
    ok(HealthData {
        status: "ok".to_owned(),
    })
}

/// The database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    summary = "The database answers and the process is not shutting down",
    security(()),
    responses((status = 200, description = "Done", body = Envelope<HealthData>))
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::Unavailable("shutting down".to_owned()));
    }
    state.db.ping().await?;
    Ok(ok(HealthData {
        status: "ready".to_owned(),
    }))
}
