//! Liveness and readiness, for load balancers and orchestrators.

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};

/// The process is up; touches nothing else.
pub async fn healthz() -> Response {
    ok(json!({"status": "ok"}))
}

/// The database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.db.ping().await?;
    Ok(ok(json!({"status": "ready"})))
}
