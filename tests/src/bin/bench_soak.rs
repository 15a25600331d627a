//! Soak benchmark: the release server holds 2,000 signaling connections
//! (500 rooms: a mediator and three parties waiting in the lobby) and 8
//! media rooms (a mediator and two parties on webrtc-rs, each publishing
//! audio and video to the other two) for ten minutes, while a churn of
//! joins and leaves goes on in 20 more rooms. Every connection answers the
//! server's heartbeat. Counted as errors: a connection the server closed or
//! dropped, a join not answered as expected, a minute in which a media
//! flow did not grow. The server's resident memory is sampled every 10 s;
//! the slope after the first minute is the figure (flat is the aim).
//!
//! Run: `tests/bench-soak.sh` (`SOAK_SECS` overrides the ten minutes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use mediation_tests::bench::{first_village, join_text, login, rss_kib, sessions_with_parties, start_server};
use mediation_tests::media::{MediaDriver, MediaPeer};
use mediation_tests::signal::SignalClient;
use signaling_proto::{ClientMessage, MediaKind, ServerMessage};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const PASSWORD: &str = "bench-password";
const IDLE_ROOMS: usize = 500;
const MEDIA_ROOMS: usize = 8;
const CHURN_ROOMS: usize = 20;

#[derive(Default)]
struct Counts {
    unexpected_closes: AtomicU64,
    failed_joins: AtomicU64,
    churn_cycles: AtomicU64,
    stalled_flows: AtomicU64,
}

/// Joins and then holds one connection, answering the heartbeat, until the end.
async fn hold(url: String, join: String, expect_waiting: bool, counts: Arc<Counts>, until: Instant) {
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await else {
        counts.failed_joins.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = socket.send(Message::Text(join.into())).await;
    let mut answered = false;
    loop {
        let frame = tokio::time::timeout(until.saturating_duration_since(Instant::now()), socket.next()).await;
        match frame {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(text)))) if !answered => {
                answered = true;
                let reply: Result<ServerMessage, _> = serde_json::from_str(&text);
                let expected = matches!(
                    (&reply, expect_waiting),
                    (Ok(ServerMessage::Waiting { .. }), true) | (Ok(ServerMessage::Joined { .. }), false)
                );
                if !expected {
                    counts.failed_joins.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => {
                counts.unexpected_closes.fetch_add(1, Ordering::Relaxed);
                break;
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Joins and leaves over and over with the parties of the churn rooms.
async fn churn(ws: String, rooms: Vec<(Uuid, Vec<String>)>, counts: Arc<Counts>, until: Instant) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let places: Vec<(Uuid, String)> =
        rooms.iter().flat_map(|(id, tokens)| tokens.iter().map(move |token| (*id, token.clone()))).collect();
    let mut next = 0;
    while Instant::now() < until {
        let (session_id, token) = &places[next % places.len()];
        next += 1;
        let started = Instant::now();
        let mut client = SignalClient::connect(&ws.replacen("ws://", "http://", 1), token).await;
        client.join(*session_id, None).await;
        match client.next(Duration::from_secs(10)).await {
            Some(ServerMessage::Waiting { .. }) => latencies.push(started.elapsed()),
            _ => {
                counts.failed_joins.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        client.send(&ClientMessage::Leave { request_id: None }).await;
        drop(client);
        counts.churn_cycles.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    latencies
}

/// A media room: the mediator and the two parties, admitted, publishing.
async fn media_room(
    base: &str,
    staff_token: &str,
    session_id: Uuid,
    party_tokens: &[String],
) -> Vec<(Uuid, MediaDriver)> {
    let mut host = SignalClient::connect(base, staff_token).await;
    host.join(session_id, None).await;
    let host_id = match host.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await {
        ServerMessage::Joined { participant_id, .. } => participant_id,
        _ => unreachable!(),
    };
    let mut people = vec![(host_id, host)];
    for token in party_tokens {
        let mut party = SignalClient::connect(base, token).await;
        party.join(session_id, None).await;
        let id = match party.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await {
            ServerMessage::Waiting { participant_id, .. } => participant_id,
            _ => unreachable!(),
        };
        people[0].1.send(&ClientMessage::Admit { request_id: None, participant_id: id }).await;
        party.expect("admitted", |m| matches!(m, ServerMessage::Joined { .. })).await;
        people.push((id, party));
    }
    let mut drivers = Vec::new();
    for (id, client) in people {
        drivers.push((id, MediaDriver::start(client, MediaPeer::new(id).await).await));
    }
    drivers
}

/// Every flow of every media room (each person from each other, audio and video).
fn flows(rooms: &[Vec<(Uuid, MediaDriver)>]) -> Vec<u64> {
    let mut packets = Vec::new();
    for room in rooms {
        for (at, driver) in room {
            for (from, _) in room.iter().filter(|(from, _)| from != at) {
                for kind in [MediaKind::Audio, MediaKind::Video] {
                    packets.push(driver.flow(*from, kind).packets);
                }
            }
        }
    }
    packets
}

/// Least-squares slope of (seconds, KiB) samples, in KiB per minute.
fn slope_kib_per_minute(samples: &[(f64, f64)]) -> f64 {
    let n = samples.len() as f64;
    let (mean_x, mean_y) = (samples.iter().map(|s| s.0).sum::<f64>() / n, samples.iter().map(|s| s.1).sum::<f64>() / n);
    let covariance: f64 = samples.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let variance: f64 = samples.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    covariance / variance * 60.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let soak = Duration::from_secs(std::env::var("SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600));
    let data = tempfile::tempdir().unwrap();
    let (mut child, base) = start_server(data.path(), PASSWORD, &["--login-max-failures", "100000"]);
    let client = reqwest::Client::new();
    let token = login(&client, &base, "mediator1", PASSWORD).await;
    let village = first_village(&client, &base, &token).await;
    let idle = sessions_with_parties(&client, &base, &token, &village, IDLE_ROOMS, 3).await;
    let media = sessions_with_parties(&client, &base, &token, &village, MEDIA_ROOMS, 2).await;
    let churning = sessions_with_parties(&client, &base, &token, &village, CHURN_ROOMS, 3).await;
    let ws = base.replacen("http://", "ws://", 1);
    let counts = Arc::new(Counts::default());

    let mut media_rooms = Vec::new();
    for (session_id, tokens) in &media {
        media_rooms.push(media_room(&base, &token, *session_id, tokens).await);
    }
    let started = Instant::now();
    let until = started + soak;
    let mut holders = Vec::new();
    let connections: Vec<(String, String, bool)> = idle
        .iter()
        .flat_map(|(id, tokens)| {
            std::iter::once((token.clone(), join_text(*id), false))
                .chain(tokens.iter().map(move |party| (party.clone(), join_text(*id), true)))
        })
        .collect();
    let opened = connections.len();
    for (access, join, waiting) in connections {
        let url = format!("{ws}/api/v1/rtc?access_token={access}");
        holders.push(tokio::spawn(hold(url, join, waiting, counts.clone(), until)));
    }
    let churner = tokio::spawn(churn(ws.clone(), churning, counts.clone(), until));

    let pid = child.id();
    let mut samples = Vec::new();
    let mut last_flows = flows(&media_rooms);
    let mut last_check = Instant::now();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(10)).await;
        samples.push((started.elapsed().as_secs_f64(), rss_kib(pid) as f64));
        if last_check.elapsed() >= Duration::from_secs(60) {
            let now = flows(&media_rooms);
            let stalled = now.iter().zip(&last_flows).filter(|(now, before)| now <= before).count();
            counts.stalled_flows.fetch_add(stalled as u64, Ordering::Relaxed);
            last_flows = now;
            last_check = Instant::now();
        }
    }
    let mut latencies = churner.await.unwrap();
    for holder in holders {
        let _ = holder.await;
    }
    latencies.sort();
    let after_warmup: Vec<(f64, f64)> = samples.iter().copied().filter(|(t, _)| *t >= 60.0).collect();
    let slope = slope_kib_per_minute(&after_warmup);
    let (first, last) = (after_warmup.first().map_or(0.0, |s| s.1), samples.last().map_or(0.0, |s| s.1));
    let pick = |p: f64| {
        latencies.get(((latencies.len().max(1) - 1) as f64 * p) as usize).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("| soak, {} s | value |", soak.as_secs());
    println!("|---|---|");
    println!("| signaling connections held | {opened} |");
    println!("| media rooms (3 publishers each) | {MEDIA_ROOMS} |");
    println!("| join/leave cycles (churn) | {} |", counts.churn_cycles.load(Ordering::Relaxed));
    println!("| churn join → waiting p50 / p99 | {:.1} ms / {:.1} ms |", pick(0.5), pick(0.99));
    println!("| connections closed or dropped by the server | {} |", counts.unexpected_closes.load(Ordering::Relaxed));
    println!("| joins not answered as expected | {} |", counts.failed_joins.load(Ordering::Relaxed));
    println!("| media flows that stalled for a minute | {} |", counts.stalled_flows.load(Ordering::Relaxed));
    println!("| server memory after 1 min → at the end | {:.1} MiB → {:.1} MiB |", first / 1024.0, last / 1024.0);
    println!("| memory slope after the first minute | {slope:.1} KiB/min |");
    for room in media_rooms {
        for (_, driver) in room {
            driver.stop().await;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
