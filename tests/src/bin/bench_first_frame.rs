//! First-picture benchmark: how long a participant joining a room of three
//! publishers waits, from sending `join` to the first video packet of the
//! first publisher (and of all three), through the real server (release
//! binary, real signaling, webrtc-rs clients). Video reaches a subscriber
//! only from a keyframe on, so the first packet starts a decodable frame.
//! The floor, measured in the same run: two webrtc-rs peers connected
//! directly (offer, answer, ICE, DTLS) until the first video packet.
//!
//! Run: `tests/bench-first-frame.sh`.

use std::time::{Duration, Instant};

use mediation_tests::bench::{post, start_server};
use mediation_tests::media::{MediaDriver, MediaPeer};
use mediation_tests::signal::SignalClient;
use serde_json::{Value, json};
use signaling_proto::{ClientMessage, MediaKind, PeerTarget, ServerMessage};
use uuid::Uuid;

const JOINS: usize = 50;
const PASSWORD: &str = "bench-password";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

async fn login(client: &reqwest::Client, base: &str, username: &str) -> String {
    mediation_tests::bench::login(client, base, username, PASSWORD).await
}

async fn joined(signal: &mut SignalClient) -> Uuid {
    match signal.expect("join", |m| matches!(m, ServerMessage::Joined { .. } | ServerMessage::Waiting { .. })).await {
        ServerMessage::Joined { participant_id, .. } | ServerMessage::Waiting { participant_id, .. } => participant_id,
        _ => unreachable!(),
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

/// Joins through the server `JOINS` times; (first publisher, all three).
async fn through_the_server() -> (Vec<Duration>, Vec<Duration>) {
    let data = tempfile::tempdir().unwrap();
    let (mut child, base) = start_server(data.path(), PASSWORD, &[]);
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
    for _ in 0..JOINS {
        let started = Instant::now();
        let mut signal = SignalClient::connect(&base, &joiner).await;
        signal.join(session_id, None).await;
        let id = joined(&mut signal).await;
        let driver = MediaDriver::start(signal, MediaPeer::new(id).await).await;
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

/// Two webrtc-rs peers connected directly, `JOINS` times: from creating
/// them to the first video packet.
async fn bare_connections() -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..JOINS {
        let started = Instant::now();
        let (sender_id, receiver_id) = (Uuid::new_v4(), Uuid::new_v4());
        let mut sender = MediaPeer::new(sender_id).await;
        let mut receiver = MediaPeer::new(receiver_id).await;
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let floor = {
        let mut times = bare_connections().await;
        times.sort();
        times
    };
    let (mut first, mut all) = through_the_server().await;
    first.sort();
    all.sort();
    println!("| {JOINS} joins, webrtc-rs, loopback | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| join → first video (first of 3 publishers) | {:.0} ms | {:.0} ms |",
        percentile(&first, 0.5),
        percentile(&first, 0.99)
    );
    println!(
        "| join → video from all 3 publishers | {:.0} ms | {:.0} ms |",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    println!(
        "| floor: two peers connected directly, first video | {:.0} ms | {:.0} ms |",
        percentile(&floor, 0.5),
        percentile(&floor, 0.99)
    );
    println!(
        "\nratio to the floor (p50): first {:.2}×, all three {:.2}×",
        percentile(&first, 0.5) / percentile(&floor, 0.5),
        percentile(&all, 0.5) / percentile(&floor, 0.5)
    );
}
