//! Liveness and readiness probes for process supervisors and load balancers.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::Json;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::store::Backend;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// The process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    summary = "The process is up",
    responses((status = 200, body = Object), (status = "4XX", description = "the API error", body = crate::error::ErrorBody))
)]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers within two seconds.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "The database answers",
    responses((status = 200, body = Object), (status = "4XX", description = "the API error", body = crate::error::ErrorBody))
)]
async fn readyz(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let backend = match state.store.backend() {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready", "database": backend }))),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            Err(AppError::Unavailable("the database is not reachable".into()))
        }
        Err(_) => Err(AppError::Unavailable("the database did not answer in time".into())),
    }
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz))]
pub(super) struct Api;
