//! PostgreSQL goes away during a live session: the REST API and new
//! WebSocket connections say "unavailable, retry" (never a bad token), and
//! nothing the room did is lost: the records wait in the spool and reach
//! the database when it is back, also across a restart of the server. The
//! cluster is the test's own (`PgCluster`), so the shared one keeps serving
//! the other tests.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mediation_tests::fixtures::{Demo, video_session};
use mediation_tests::pg_cluster::PgCluster;
use mediation_tests::signal::{Ending, SignalClient};
use mediation_tests::{Api, TestServer};
use serde_json::Value;
use signaling_proto::{ClientMessage, ErrorCode, ServerMessage};
use tokio::net::TcpListener;
use uuid::Uuid;

/// How long an answer may take while the database is away.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

async fn server_at(database_url: String, data_dir: tempfile::TempDir) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    TestServer::start_at(listener, database_url, data_dir, &[]).await
}

async fn wait_until_written(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.state.rooms.pending_records() > 0 {
        assert!(Instant::now() < deadline, "{} room records still waiting", server.state.rooms.pending_records());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// When the database went away and came back (wall clock).
struct Outage {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// The actions of the audit events about `session_id`, in chain order,
/// that happened during `outage` and were written after it (their
/// `occurred_at` inside it, their `at` after it).
async fn written_late(admin: &Api, session_id: &str, outage: &Outage) -> Vec<String> {
    let time =
        |value: &Value| value.as_str().map(|text| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc));
    let events = admin.get("/api/v1/audit?limit=1000").await.body;
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["object_id"] == session_id)
        .filter(|event| {
            let (occurred_at, at) = (time(&event["occurred_at"]), time(&event["at"]).unwrap());
            occurred_at.is_some_and(|occurred_at| occurred_at >= outage.from && occurred_at < outage.to)
                && at >= outage.to
        })
        .map(|event| event["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn joined_id(client: &mut SignalClient, what: &str) -> Uuid {
    match client.expect(what, |m| matches!(m, ServerMessage::Joined { .. } | ServerMessage::Waiting { .. })).await {
        ServerMessage::Joined { participant_id, .. } | ServerMessage::Waiting { participant_id, .. } => participant_id,
        _ => unreachable!(),
    }
}

/// While the database is away: REST answers 503 `unavailable` with
/// Retry-After, and a WebSocket join with a valid token gets `unavailable`
/// and close 4503, each within two seconds.
async fn outage_is_told_as_an_outage(server: &TestServer, mediator: &Api, adviser_token: &str, session_id: Uuid) {
    let started = Instant::now();
    let reply = mediator.get("/api/v1/cases").await;
    let took = started.elapsed();
    reply.assert_error(503, "unavailable");
    assert!(reply.headers.contains_key("retry-after"), "503 says when to retry");
    assert!(took < ANSWER_WITHIN, "the REST answer took {took:?}");

    let started = Instant::now();
    let mut adviser = SignalClient::connect(&server.base_url, adviser_token).await;
    adviser.join(session_id, None).await;
    let refused = adviser.expect("unavailable", |m| matches!(m, ServerMessage::Error { .. })).await;
    let ServerMessage::Error { code, .. } = refused else { unreachable!() };
    assert_eq!(code, ErrorCode::Unavailable, "a valid token during an outage is not refused as a bad one");
    assert_eq!(adviser.ending().await, Ending::Closed(4503));
    let took = started.elapsed();
    assert!(took < ANSWER_WITHIN, "the WebSocket answer took {took:?}");

    let ready = server.anonymous().get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["error"], "unavailable");
    assert!(ready.body["room_records_waiting"].as_u64().unwrap() >= 2, "/readyz shows the backlog: {}", ready.body);
    let metrics = reqwest::get(format!("{}/metrics", server.base_url)).await.unwrap().text().await.unwrap();
    let waiting = metrics
        .lines()
        .find_map(|line| line.strip_prefix("mediation_room_records_waiting "))
        .and_then(|value| value.trim().parse::<u64>().ok());
    assert!(waiting.is_some_and(|waiting| waiting >= 2), "/metrics shows the backlog: {waiting:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_records_survive_a_database_outage_and_a_restart() {
    let Some(cluster) = PgCluster::start().await else {
        eprintln!("skipped: PostgreSQL's server binaries are not installed");
        return;
    };
    let server = server_at(cluster.url(), tempfile::tempdir().unwrap()).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let admin = server.login("admin").await;
    let adviser_token = server.login("adviser1").await.token().unwrap().to_owned();
    let station_token = server.login("station-dongping").await.token().unwrap().to_owned();
    let session = video_session(&mediator, &demo).await;
    let session_id: Uuid = session.session_id.parse().unwrap();

    let mut host = SignalClient::connect(&server.base_url, mediator.token().unwrap()).await;
    host.join(session_id, None).await;
    joined_id(&mut host, "the mediator joined").await;
    let mut station = SignalClient::connect(&server.base_url, &station_token).await;
    station.join(session_id, None).await;
    let station_id = joined_id(&mut station, "the station waits").await;
    wait_until_written(&server).await;

    // The database goes away; the room goes on: the station is let in and leaves.
    let from = Utc::now();
    cluster.stop().await;
    host.send(&ClientMessage::Admit { request_id: None, participant_id: station_id }).await;
    station.expect("admitted", |m| matches!(m, ServerMessage::Joined { .. })).await;
    station.send(&ClientMessage::Leave { request_id: Some("bye".into()) }).await;
    station.expect("ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    outage_is_told_as_an_outage(&server, &mediator, &adviser_token, session_id).await;

    // Back: the records are written in order, with the time they happened.
    let outage = Outage { from, to: Utc::now() };
    cluster.resume().await;
    wait_until_written(&server).await;
    let attendance = mediator.get(&format!("/api/v1/sessions/{session_id}")).await.body["attendance"].clone();
    let station_row = attendance
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["participant_id"] == station_id.to_string())
        .cloned()
        .unwrap_or_else(|| panic!("the station's attendance was not written: {attendance}"));
    assert!(station_row["joined_at"].is_string() && station_row["left_at"].is_string(), "{station_row}");
    let late = written_late(&admin, &session.session_id, &outage).await;
    assert_eq!(
        late,
        ["session.join", "session.admit", "session.leave"],
        "the station's admission, join and leave, in order"
    );

    // Away again; the mediator ends the session; the server is restarted
    // before the database is back, and writes what the room did then.
    let from = Utc::now();
    cluster.stop().await;
    host.send(&ClientMessage::EndSession { request_id: None }).await;
    host.expect("ended", |m| matches!(m, ServerMessage::SessionEnded { .. })).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.state.rooms.pending_records() < 3 {
        assert!(Instant::now() < deadline, "the end was not recorded in the spool");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (database_url, data_dir) = server.stop_keeping_data().await;
    let spool = std::fs::read_to_string(data_dir.path().join("room-records.spool")).unwrap();
    assert!(spool.contains("session.end"), "the end waits in the spool across the restart");
    let outage = Outage { from, to: Utc::now() };
    cluster.resume().await;
    let server = server_at(database_url, data_dir).await;
    wait_until_written(&server).await;
    let mediator = server.login("mediator1").await;
    let written: Value = mediator.get(&format!("/api/v1/sessions/{session_id}")).await.body;
    assert_eq!(written["state"], "ended", "the session's end, made during the outage, is recorded");
    assert!(written["attendance"].as_array().unwrap().iter().all(|row| row["left_at"].is_string()));
    let late = written_late(&server.login("admin").await, &session.session_id, &outage).await;
    assert_eq!(
        late,
        ["session.end_requested", "session.end", "session.state", "session.leave"],
        "the end and the mediator's leave, written after the restart with the time they happened"
    );
    let verify = server.login("admin").await.get("/api/v1/audit/verify").await;
    assert_eq!(verify.body["ok"], true, "the audit chain holds: {}", verify.body);
    server.stop().await;
}
