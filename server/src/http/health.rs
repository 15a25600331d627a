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
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// Prometheus text format: rooms, peer connections, forwarded and dropped
/// packets, for the server and per room. Keep it off the public internet
/// (see deploy/nginx.conf).
async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let sfu = &state.sfu.metrics;
    let mut text = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, u64)>| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in lines {
            let _ = writeln!(text, "{name}{labels} {value}");
        }
    };
    let rooms = state.sfu.rooms().await;
    // The server's total first, then one line per room.
    let series = |total: u64, pick: fn(&crate::sfu::RoomFigures) -> u64| {
        let mut lines = vec![(String::new(), total)];
        lines.extend(rooms.iter().map(|room| (format!("{{session=\"{}\"}}", room.session_id), pick(room))));
        lines
    };
    let live_rooms = vec![(String::new(), state.rooms.live_rooms() as u64)];
    metric("mediation_live_rooms", "gauge", "Rooms with a running signaling task.", live_rooms);
    metric(
        "mediation_peer_connections",
        "gauge",
        "Live WebRTC peer connections.",
        series(sfu.peer_connections.load(Relaxed), |room| room.peer_connections),
    );
    metric(
        "mediation_forwarded_packets_total",
        "counter",
        "RTP packets forwarded to subscribers.",
        series(sfu.forwarded_packets.load(Relaxed), |room| room.forwarded_packets),
    );
    metric(
        "mediation_forwarded_bytes_total",
        "counter",
        "RTP payload bytes forwarded.",
        series(sfu.forwarded_bytes.load(Relaxed), |room| room.forwarded_bytes),
    );
    metric(
        "mediation_dropped_packets_total",
        "counter",
        "Packets dropped for subscribers that fell behind.",
        series(sfu.dropped_packets.load(Relaxed), |room| room.dropped_packets),
    );
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
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
