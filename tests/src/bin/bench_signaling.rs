//! Signaling benchmark: join latency and memory per idle connection with
//! 2,000 concurrent WebSocket connections in rooms of 4, against a bare
//! tokio-tungstenite echo server measured in the same run (the machine is
//! shared and noisy, so the ratio is the figure that counts).
//!
//! Run: `tests/bench-signaling.sh` (builds release binaries first).
//! Both servers run as child processes; their resident memory is read from
//! /proc before and after the connections open.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt, stream};
use mediation_tests::bench::{first_village, join_text, rss_kib, sessions_with_parties, sibling, start_server};
use serde_json::{Value, json};
use signaling_proto::ServerMessage;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROOMS: usize = 500;
const PER_ROOM: usize = 4;
const CONCURRENCY: usize = 32;
const PASSWORD: &str = "bench-password";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Measured {
    p50: Duration,
    p99: Duration,
    max: Duration,
    kib_per_connection: f64,
}

fn summarize(mut latencies: Vec<Duration>, rss_before: u64, rss_after: u64) -> Measured {
    latencies.sort();
    Measured {
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        max: *latencies.last().unwrap(),
        kib_per_connection: (rss_after.saturating_sub(rss_before)) as f64 / latencies.len() as f64,
    }
}

async fn connect(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url).await.expect("WebSocket connect").0
}

/// Sends one text frame and waits for the first text frame back.
async fn round_trip(socket: &mut Socket, text: String) -> (Duration, String) {
    let started = Instant::now();
    socket.send(Message::Text(text.into())).await.expect("send");
    loop {
        match socket.next().await.expect("a reply").expect("a frame") {
            Message::Text(reply) => return (started.elapsed(), reply.to_string()),
            _ => continue,
        }
    }
}

async fn baseline() -> Measured {
    let mut child = Command::new(sibling("echo_server")).stdout(Stdio::piped()).spawn().expect("echo server");
    let address = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let url = format!("ws://{address}/");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib(child.id());
    let join = json!({ "type": "join", "protocol_version": 1, "session_id": Uuid::nil() }).to_string();
    let results: Vec<(Duration, Socket)> = stream::iter(0..ROOMS * PER_ROOM)
        .map(|_| {
            let url = url.clone();
            let join = join.clone();
            async move {
                let mut socket = connect(&url).await;
                let (latency, _) = round_trip(&mut socket, join).await;
                (latency, socket)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(child.id());
    let measured = summarize(results.iter().map(|(latency, _)| *latency).collect(), before, after);
    drop(results);
    let _ = child.kill();
    let _ = child.wait();
    measured
}

struct Server {
    child: Child,
    base: String,
}

fn start(data_dir: &std::path::Path) -> Server {
    let (child, base) =
        start_server(data_dir, PASSWORD, &["--ws-messages-per-second", "100", "--login-max-failures", "1000"]);
    Server { child, base }
}

async fn mediation() -> (Measured, Measured) {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path());
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({ "username": "mediator1", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let village = first_village(&client, &server.base, &token).await;
    // 500 cases, each with a video session for the mediator and three parties.
    let rooms = sessions_with_parties(&client, &server.base, &token, &village, ROOMS, PER_ROOM - 1).await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(server.child.id());
    let ws = server.base.replacen("http://", "ws://", 1);
    let join = join_text;

    // Mediators first (they open the rooms), then the parties into the lobbies.
    let mut connections: Vec<Socket> = Vec::new();
    let mut latencies = Vec::new();
    let hosts: Vec<(Duration, Socket)> = stream::iter(rooms.iter().map(|(session_id, _)| *session_id))
        .map(|session_id| {
            let url = format!("{ws}/api/v1/rtc?access_token={token}");
            let join = join(session_id);
            async move {
                let mut socket = connect(&url).await;
                let (latency, reply) = round_trip(&mut socket, join).await;
                assert!(matches!(serde_json::from_str(&reply).unwrap(), ServerMessage::Joined { .. }), "{reply}");
                (latency, socket)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (latency, socket) in hosts {
        latencies.push(latency);
        connections.push(socket);
    }
    let parties: Vec<(Duration, Socket)> =
        stream::iter(rooms.iter().flat_map(|(id, tokens)| tokens.iter().map(move |t| (*id, t.clone()))))
            .map(|(session_id, party_token)| {
                let url = format!("{ws}/api/v1/rtc?access_token={party_token}");
                let join = join(session_id);
                async move {
                    let mut socket = connect(&url).await;
                    let (latency, reply) = round_trip(&mut socket, join).await;
                    assert!(matches!(serde_json::from_str(&reply).unwrap(), ServerMessage::Waiting { .. }), "{reply}");
                    (latency, socket)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    for (latency, socket) in parties {
        latencies.push(latency);
        connections.push(socket);
    }
    assert_eq!(connections.len(), ROOMS * PER_ROOM);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(server.child.id());
    let measured = summarize(latencies, before, after);
    drop(connections);
    let mut child = server.child;
    let _ = child.kill();
    let _ = child.wait();
    (measured, baseline().await)
}

#[tokio::main]
async fn main() {
    let (ours, echo) = mediation().await;
    let report = format!(
        "| | join p50 | join p99 | max | memory per idle connection |\n\
         |---|---|---|---|---|\n\
         | mediation server (join → joined/waiting) | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} KiB |\n\
         | bare tokio-tungstenite echo (same JSON, echoed) | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} KiB |\n\
         | ratio | {:.1}× | {:.1}× | | {:.1}× |\n",
        ms(ours.p50),
        ms(ours.p99),
        ms(ours.max),
        ours.kib_per_connection,
        ms(echo.p50),
        ms(echo.p99),
        ms(echo.max),
        echo.kib_per_connection,
        ms(ours.p50) / ms(echo.p50),
        ms(ours.p99) / ms(echo.p99),
        ours.kib_per_connection / echo.kib_per_connection.max(0.1),
    );
    println!("{} connections in rooms of {PER_ROOM}, {CONCURRENCY} joins in flight\n\n{report}", ROOMS * PER_ROOM);
}
