//! Liveness and readiness probes for process supervisors and load balancers.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::ClientAddr;
use super::Json;
use crate::AppState;
use crate::error::AppError;
use crate::store::Backend;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The labels of a series: none for the server's total, `session` for one
/// room's share.
type SeriesLabels = Vec<(&'static str, String)>;

/// Metrics in the OpenMetrics text format (written by prometheus-client):
/// rooms, peer connections, forwarded and dropped packets, for the server
/// (no labels) and per room (`session`). Keep it off the public internet
/// (see deploy/nginx.conf).
async fn metrics(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    may_read_metrics(&state, address, &headers)?;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use std::sync::atomic::Ordering::Relaxed;

    let sfu = &state.sfu.metrics;
    let rooms = state.sfu.rooms().await;
    let mut registry = prometheus_client::registry::Registry::default();
    let live_rooms = Gauge::<i64>::default();
    live_rooms.set(i64::try_from(state.rooms.live_rooms()).unwrap_or(i64::MAX));
    registry.register("mediation_live_rooms", "Rooms with a running signaling task", live_rooms);
    let waiting = Gauge::<i64>::default();
    waiting.set(i64::try_from(state.rooms.pending_records()).unwrap_or(i64::MAX));
    registry.register(
        "mediation_room_records_waiting",
        "Room records (joins, leaves, session start and end) kept in the spool and not yet written to the database",
        waiting,
    );
    let retries = Counter::<u64>::default();
    retries.inc_by(state.rooms.record_retries());
    registry.register(
        "mediation_room_record_retries",
        "Attempts to write a room record that found the database away",
        retries,
    );
    let (password_peak, password_threads) = crate::auth::password_work_peak();
    let password = Family::<SeriesLabels, Gauge<i64>>::default();
    password.get_or_create(&vec![("of", "peak".to_owned())]).set(i64::try_from(password_peak).unwrap_or(i64::MAX));
    password
        .get_or_create(&vec![("of", "threads".to_owned())])
        .set(i64::try_from(password_threads).unwrap_or(i64::MAX));
    registry.register(
        "mediation_password_checks",
        "Password hashes at most running at once (of=peak) and the threads for them (of=threads)",
        password,
    );

    // The server's total first, then one series per room.
    let per_room = |total: u64, pick: fn(&crate::sfu::RoomFigures) -> u64| {
        let mut series: Vec<(SeriesLabels, u64)> = vec![(Vec::new(), total)];
        series.extend(rooms.iter().map(|room| (vec![("session", room.session_id.to_string())], pick(room))));
        series
    };
    let peers = Family::<SeriesLabels, Gauge<i64>>::default();
    for (labels, value) in per_room(sfu.peer_connections.load(Relaxed), |room| room.peer_connections) {
        peers.get_or_create(&labels).set(i64::try_from(value).unwrap_or(i64::MAX));
    }
    registry.register("mediation_peer_connections", "Live WebRTC peer connections", peers);
    for (name, help, total, pick) in [
        (
            "mediation_forwarded_packets",
            "RTP packets forwarded to subscribers",
            sfu.forwarded_packets.load(Relaxed),
            (|room| room.forwarded_packets) as fn(&crate::sfu::RoomFigures) -> u64,
        ),
        ("mediation_forwarded_bytes", "RTP payload bytes forwarded", sfu.forwarded_bytes.load(Relaxed), |room| {
            room.forwarded_bytes
        }),
        (
            "mediation_dropped_packets",
            "Packets dropped for subscribers that fell behind",
            sfu.dropped_packets.load(Relaxed),
            |room| room.dropped_packets,
        ),
    ] {
        let family = Family::<SeriesLabels, Counter>::default();
        for (labels, value) in per_room(total, pick) {
            family.get_or_create(&labels).inc_by(value);
        }
        registry.register(name, help, family);
    }
    register_subscriber_series(&mut registry, &rooms);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("writing to a string");
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], text))
}

/// /metrics names sessions and participants: with `--metrics-token` it
/// needs that token as a bearer token, without it a client on this machine.
fn may_read_metrics(
    state: &AppState,
    address: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
) -> Result<(), AppError> {
    let allowed = match &state.config.metrics_token {
        Some(token) => {
            let given = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or_default();
            // Compared without an early exit, so timing tells nothing.
            given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
        }
        None => address.is_loopback(),
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "metrics are for monitoring: send the metrics token, or ask from the server itself".into(),
        ))
    }
}

/// Per subscriber (labels `session` and `participant`): what was forwarded
/// to them, their NACKs, and the resends that answered them or were refused.
fn register_subscriber_series(registry: &mut prometheus_client::registry::Registry, rooms: &[crate::sfu::RoomFigures]) {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    type Pick = fn(&crate::sfu::SubscriberFigures) -> u64;
    let series: [(&str, &str, Pick); 8] = [
        ("mediation_subscriber_forwarded_packets", "RTP packets forwarded to one subscriber", |s| s.forwarded_packets),
        ("mediation_subscriber_forwarded_bytes", "RTP payload bytes forwarded to one subscriber", |s| {
            s.forwarded_bytes
        }),
        ("mediation_subscriber_nacks", "NACK packets received from one subscriber", |s| s.nacks),
        ("mediation_subscriber_resent_packets", "Packets resent to one subscriber (RTX or plain)", |s| {
            s.resent_packets
        }),
        ("mediation_subscriber_resent_bytes", "Payload bytes resent to one subscriber", |s| s.resent_bytes),
        (
            "mediation_subscriber_refused_resends",
            "Requested packets not resent: too old, resent within the round trip, gone, or over budget",
            |s| s.refused_resends,
        ),
        (
            "mediation_subscriber_probe_padding_bytes",
            "Padding bytes sent to one subscriber to probe whether their link carries a paused video",
            |s| s.probe_padding_bytes,
        ),
        (
            "mediation_subscriber_trickled_candidates",
            "ICE candidates the participant trickled that were added to its connections",
            |s| s.trickled_candidates,
        ),
    ];
    for (name, help, pick) in series {
        let family = Family::<SeriesLabels, Counter>::default();
        for room in rooms {
            for subscriber in &room.subscribers {
                let labels = vec![
                    ("session", room.session_id.to_string()),
                    ("participant", subscriber.participant_id.to_string()),
                ];
                family.get_or_create(&labels).inc_by(pick(subscriber));
            }
        }
        registry.register(name, help, family);
    }
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

/// The database answers within two seconds. Both answers carry the room
/// records waiting to be written (`room_records_waiting`): while the
/// database is away they wait in the spool.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "The database answers",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "the database cannot be reached: the API error, with the backlog", body = Readiness)
    )
)]
async fn readyz(State(state): State<AppState>) -> Response {
    let database = match state.store.backend() {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let room_records_waiting = state.rooms.pending_records();
    let problem = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => {
            return Json(Readiness { status: "ready", database, room_records_waiting, error: None, message: None })
                .into_response();
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            "the database is not reachable"
        }
        Err(_) => "the database did not answer in time",
    };
    let error = AppError::Unavailable { message: problem.into(), retry_after_secs: 5 };
    let body = Readiness {
        status: "unavailable",
        database,
        room_records_waiting,
        error: Some(error.code()),
        message: Some(problem),
    };
    (error.status(), [(axum::http::header::RETRY_AFTER, "5")], Json(body)).into_response()
}

/// What `/readyz` answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `ready`, or `unavailable` (status 503).
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// Room records kept in the spool, not yet written to the database.
    room_records_waiting: usize,
    /// With 503: `unavailable`, as in every API error.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    /// With 503: what is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

/// The OpenAPI description of this module's endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz), components(schemas(Readiness)))]
pub(super) struct Api;
