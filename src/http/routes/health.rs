//! Liveness and readiness, for load balancers and orchestrators.

use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};
use crate::http::schema::HealthData;

/// The process is up; touches nothing else.
pub async fn healthz() -> Response {
    ok(HealthData {
        status: "ok".to_owned(),
    })
}

/// The database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.db.ping().await?;
    Ok(ok(HealthData {
        status: "ready".to_owned(),
    }))
}
