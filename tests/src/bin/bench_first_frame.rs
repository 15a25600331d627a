//! First-picture benchmark: how long a participant joining a room of three
//! publishers waits, from sending `join` to the first video packet of the
//! first publisher (and of all three), through the real server (release
//! binary, real signaling, webrtc-rs clients). Video reaches a subscriber
//! only from a keyframe on, so the first packet starts a decodable frame.
//! The floor, measured in the same run: two webrtc-rs peers connected
//! directly (offer, answer, ICE, DTLS) until the first video packet.
//!
//! Then the same again through a TURN relay: a throwaway coturn started by
//! `tests/e2e/coturn.mjs`, the server handing out its credentials, and the
//! joiner (and both floor peers) using relay candidates only.
//!
//! Run: `tests/bench-first-frame.sh`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mediation_server::sfu::turn::TurnConfig;
use mediation_tests::bench::{post, start_server};
use mediation_tests::media::{MediaDriver, MediaPeer, Transport};
use mediation_tests::signal::SignalClient;
use serde_json::{Value, json};
use signaling_proto::{ClientMessage, IceServer, MediaKind, PeerTarget, ServerMessage};
use uuid::Uuid;

/// Joins per table (`JOINS` in the environment overrides it, for a quick look).
fn joins() -> usize {
    std::env::var("JOINS").ok().and_then(|joins| joins.parse().ok()).unwrap_or(50)
}
const PASSWORD: &str = "bench-password";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

async fn login(client: &reqwest::Client, base: &str, username: &str) -> String {
    mediation_tests::bench::login(client, base, username, PASSWORD).await
}

async fn joined(signal: &mut SignalClient) -> Uuid {
    joined_with_servers(signal).await.0
}

/// The participant id, and the ICE servers when admitted at once.
async fn joined_with_servers(signal: &mut SignalClient) -> (Uuid, Vec<IceServer>) {
    match signal.expect("join", |m| matches!(m, ServerMessage::Joined { .. } | ServerMessage::Waiting { .. })).await {
        ServerMessage::Joined { participant_id, ice_servers, .. } => (participant_id, ice_servers),
        ServerMessage::Waiting { participant_id, .. } => (participant_id, Vec::new()),
        _ => unreachable!(),
    }
}

/// A throwaway coturn (tests/e2e/coturn.mjs); stops when dropped.
struct Coturn {
    child: Child,
    port: u16,
    secret: String,
}

impl Coturn {
    fn start() -> Coturn {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/coturn.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node, to start coturn");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("coturn's port");
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("coturn did not start: {line}"));
        Coturn {
            child,
            port: started["port"].as_u64().unwrap() as u16,
            secret: started["secret"].as_str().unwrap().to_owned(),
        }
    }

    fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// Credentials for the floor's peers, made as the server makes them.
    fn ice_servers(&self) -> Vec<IceServer> {
        let turn = TurnConfig { urls: vec![self.url()], secret: self.secret.clone(), ttl_secs: 3600 };
        vec![turn.ice_server(Uuid::new_v4(), chrono::Utc::now().timestamp())]
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Waits until `driver` has video from `count` of `from`; the time it took.
async fn first_video(driver: &MediaDriver, from: &[Uuid], count: usize, started: Instant) -> Duration {
    loop {
        let arrived = from.iter().filter(|id| driver.flow(**id, MediaKind::Video).packets > 0).count();
        if arrived >= count {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no video after 30 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Joins through the server `joins()` times, through `coturn` when given;
/// (first publisher, all three).
async fn through_the_server(coturn: Option<&Coturn>) -> (Vec<Duration>, Vec<Duration>) {
    let data = tempfile::tempdir().unwrap();
    // `--flag=value`: a secret may start with '-'.
    let turn_args =
        coturn.map(|turn| [format!("--turn-urls={}", turn.url()), format!("--turn-secret={}", turn.secret)]);
    let args: Vec<&str> = turn_args.iter().flatten().map(String::as_str).collect();
    let (mut child, base) = start_server(data.path(), PASSWORD, &args);
    let client = reqwest::Client::new();
    let mediator = login(&client, &base, "mediator1").await;
    let villages: Value = client
        .get(format!("{base}/api/v1/villages"))
        .bearer_auth(&mediator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let village = villages[0]["id"].as_str().unwrap().to_owned();
    let mediators: Value = client
        .get(format!("{base}/api/v1/accounts?role=mediator"))
        .bearer_auth(&mediator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mediator_ids: Vec<&str> = mediators.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    let case = post(
        &client,
        &mediator,
        format!("{base}/api/v1/cases"),
        json!({ "village_id": village, "category": "neighbour", "source": "party_application", "summary": "首帧基准",
                "public_session": false,
                "parties": [{ "name": "甲", "side": "applicant" }, { "name": "乙", "side": "respondent" }] }),
    )
    .await;
    let parties: Vec<&str> = case["parties"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    let start = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    let session = post(
        &client,
        &mediator,
        format!("{base}/api/v1/cases/{}/sessions", case["case"]["id"].as_str().unwrap()),
        json!({ "planned_start": start, "planned_minutes": 60, "mode": "video", "party_ids": parties,
                "mediator_ids": mediator_ids }),
    )
    .await;
    let session_id: Uuid = session["id"].as_str().unwrap().parse().unwrap();
    let party_tokens: Vec<String> = session["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["invitation"]["link"].as_str())
        .map(|link| link.split("#t=").nth(1).unwrap().to_owned())
        .collect();

    // The three publishers: the mediator and the two parties.
    let mut host = SignalClient::connect(&base, &mediator).await;
    host.join(session_id, None).await;
    let host_id = joined(&mut host).await;
    let mut publishers = vec![(host_id, host)];
    for token in &party_tokens {
        let mut signal = SignalClient::connect(&base, token).await;
        signal.join(session_id, None).await;
        publishers.push((joined(&mut signal).await, signal));
    }
    let waiting: Vec<Uuid> = publishers[1..].iter().map(|(id, _)| *id).collect();
    for id in waiting {
        publishers[0].1.send(&ClientMessage::Admit { request_id: None, participant_id: id }).await;
    }
    for (_, signal) in publishers.iter_mut().skip(1) {
        signal.expect("admitted", |m| matches!(m, ServerMessage::Joined { .. })).await;
    }
    let ids: Vec<Uuid> = publishers.iter().map(|(id, _)| *id).collect();
    let mut drivers = Vec::new();
    for (id, signal) in publishers {
        drivers.push(MediaDriver::start(signal, MediaPeer::new(id).await).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The second mediator joins (admitted at once), waits for pictures, leaves.
    let joiner = login(&client, &base, "mediator2").await;
    let (mut first, mut all) = (Vec::new(), Vec::new());
    for _ in 0..joins() {
        let started = Instant::now();
        let mut signal = SignalClient::connect(&base, &joiner).await;
        signal.join(session_id, None).await;
        let (id, ice_servers) = joined_with_servers(&mut signal).await;
        let transport = match coturn {
            Some(_) => Transport::Relay(ice_servers),
            None => Transport::Udp,
        };
        let driver = MediaDriver::start(signal, MediaPeer::over(id, transport).await).await;
        first.push(first_video(&driver, &ids, 1, started).await);
        all.push(first_video(&driver, &ids, 3, started).await);
        driver.send(ClientMessage::Leave { request_id: None }).await;
        driver.stop().await;
    }
    for driver in drivers {
        driver.stop().await;
    }
    let _ = child.kill();
    let _ = child.wait();
    (first, all)
}

/// Two webrtc-rs peers connected directly (or through `coturn`), `joins()`
/// times: from creating them to the first video packet.
async fn bare_connections(coturn: Option<&Coturn>) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..joins() {
        let started = Instant::now();
        let transport = match coturn {
            Some(turn) => Transport::Relay(turn.ice_servers()),
            None => Transport::Udp,
        };
        let (sender_id, receiver_id) = (Uuid::new_v4(), Uuid::new_v4());
        let mut sender = MediaPeer::over(sender_id, transport.clone()).await;
        let mut receiver = MediaPeer::over(receiver_id, transport).await;
        // The sender's publish offer is the receiver's "subscribe" offer.
        let Some(ClientMessage::Sdp { description, .. }) = sender.offer().await.into_iter().next() else {
            unreachable!()
        };
        let answer = receiver.on_sdp(PeerTarget::Subscribe, description).await;
        let Some(ClientMessage::Sdp { description, .. }) = answer.into_iter().next() else { unreachable!() };
        sender.on_sdp(PeerTarget::Publish, description).await;
        loop {
            if receiver.flow(sender_id, MediaKind::Video).packets > 0 {
                times.push(started.elapsed());
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no video after 30 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sender.close().await;
        receiver.close().await;
    }
    times
}

/// Prints one table: direct, or through `coturn`.
async fn measure(coturn: Option<&Coturn>) {
    let mut floor = bare_connections(coturn).await;
    floor.sort();
    let (mut first, mut all) = through_the_server(coturn).await;
    first.sort();
    all.sort();
    let path = if coturn.is_some() { "through TURN" } else { "direct" };
    println!("\n| {} joins, webrtc-rs, loopback, {path} | p50 | p99 |", joins());
    println!("|---|---|---|");
    let row = |label: &str, times: &[Duration]| {
        println!("| {label} | {:.0} ms | {:.0} ms |", percentile(times, 0.5), percentile(times, 0.99));
    };
    row("join → first video (first of 3 publishers)", &first);
    row("join → video from all 3 publishers", &all);
    row(&format!("floor: two peers connected {path}, first video"), &floor);
    println!(
        "\nratio to the floor (p50): first {:.2}×, all three {:.2}×",
        percentile(&first, 0.5) / percentile(&floor, 0.5),
        percentile(&all, 0.5) / percentile(&floor, 0.5)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    measure(None).await;
    let coturn = Coturn::start();
    measure(Some(&coturn)).await;
}
