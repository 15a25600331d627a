//! Forwarding benchmark: rooms of 4, each participant publishing about
//! 1.2 Mbit/s of VP8 at 30 fps and Opus at 50 packets/s through the real
//! server (webrtc-rs clients, real signaling, SRTP), next to a raw UDP relay
//! doing the same fan-out with AES-128-GCM per packet, measured in the same
//! run. Reports forwarded packets per second, server CPU time per forwarded
//! packet, loss and one-way delay, and the ratios.
//!
//! Run: `tests/bench-forwarding.sh`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes128Gcm, Nonce};
use mediation_tests::bench::{login, post, start_server};
use mediation_tests::media::{MediaDriver, MediaPeer, epoch};
use mediation_tests::signal::SignalClient;
use serde_json::{Value, json};
use signaling_proto::{ClientMessage, ServerMessage};
use uuid::Uuid;

const ROOMS: usize = 4;
const PER_ROOM: usize = 4;
const VIDEO_FRAME_BYTES: usize = 5_000; // 1.2 Mbit/s at 30 frames/s
const AUDIO_BYTES: usize = 100; // 40 kbit/s at 50 packets/s
const MTU_PAYLOAD: usize = 1_100;
const WARMUP: Duration = Duration::from_secs(3);
const WINDOW: Duration = Duration::from_secs(10);
const PASSWORD: &str = "bench-password";

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime in clock ticks, from a /proc stat file.
fn cpu_ticks(stat_path: &str) -> u64 {
    let stat = std::fs::read_to_string(stat_path).expect("a stat file");
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[derive(Debug, Default)]
struct Measured {
    forwarded_per_second: f64,
    cpu_us_per_packet: f64,
    loss_percent: f64,
    delay_p50_ms: f64,
    delay_p99_ms: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

// ── The mediation server ─────────────────────────────────────────────────

async fn metric(base: &str, name: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

async fn sfu() -> Measured {
    let data = tempfile::tempdir().unwrap();
    let (mut child, base) = start_server(data.path(), PASSWORD, &[]);
    let client = reqwest::Client::new();
    let mediator = login(&client, &base, "mediator1", PASSWORD).await;
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
    let start = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();

    let mut drivers: Vec<MediaDriver> = Vec::new();
    let mut sent = Vec::new();
    for room in 0..ROOMS {
        let case = post(
            &client,
            &mediator,
            format!("{base}/api/v1/cases"),
            json!({ "village_id": village, "category": "neighbour", "source": "party_application",
                    "summary": format!("转发基准 {room}"), "public_session": false,
                    "parties": [{ "name": "甲", "side": "applicant" }, { "name": "乙", "side": "respondent" }, { "name": "丙", "side": "third_party" }] }),
        )
        .await;
        let parties: Vec<&str> =
            case["parties"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        let session = post(
            &client,
            &mediator,
            format!("{base}/api/v1/cases/{}/sessions", case["case"]["id"].as_str().unwrap()),
            json!({ "planned_start": start, "planned_minutes": 60, "mode": "video", "party_ids": parties }),
        )
        .await;
        let session_id: Uuid = session["id"].as_str().unwrap().parse().unwrap();
        let mut tokens = vec![mediator.clone()];
        tokens.extend(
            session["participants"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["invitation"]["link"].as_str())
                .map(|link| link.split("#t=").nth(1).unwrap().to_owned()),
        );
        // Each party consents to mediating online through their invitation.
        let notice: Value =
            client.get(format!("{base}/api/v1/consent-notice")).send().await.unwrap().json().await.unwrap();
        let consent = json!({ "decision": "consent", "publicity": "non_public", "notice_version": notice["version"] });
        for token in &tokens[1..] {
            post(&client, token, format!("{base}/api/v1/invitation/consent"), consent.clone()).await;
        }
        let mut clients = Vec::new();
        for token in &tokens {
            let mut signal = SignalClient::connect(&base, token).await;
            signal.join(session_id, None).await;
            let id = match signal
                .expect("join", |m| matches!(m, ServerMessage::Joined { .. } | ServerMessage::Waiting { .. }))
                .await
            {
                ServerMessage::Joined { participant_id, .. } | ServerMessage::Waiting { participant_id, .. } => {
                    participant_id
                }
                _ => unreachable!(),
            };
            clients.push((id, signal));
        }
        let ids: Vec<Uuid> = clients.iter().map(|(id, _)| *id).collect();
        // Parties are admitted once the mediator has checked their ID cards.
        for party in &parties {
            let request_id = format!("check-{party}");
            let check =
                ClientMessage::CheckIdentity { request_id: Some(request_id.clone()), party_id: party.parse().unwrap() };
            clients[0].1.send(&check).await;
            let acked = |m: &ServerMessage| matches!(m, ServerMessage::Ack { request_id: Some(r) } if *r == request_id);
            clients[0].1.expect("the identity check recorded", acked).await;
        }
        for id in &ids[1..] {
            clients[0].1.send(&ClientMessage::Admit { request_id: None, participant_id: *id }).await;
        }
        for (_, signal) in clients.iter_mut().skip(1) {
            signal.expect("admitted", |m| matches!(m, ServerMessage::Joined { .. })).await;
        }
        for (id, signal) in clients {
            let mut peer = MediaPeer::new(id).await;
            peer.sizes = (VIDEO_FRAME_BYTES, AUDIO_BYTES);
            sent.push(peer.sent.clone());
            drivers.push(MediaDriver::start(signal, peer).await);
        }
    }

    tokio::time::sleep(WARMUP).await;
    let stat = format!("/proc/{}/stat", child.id());
    let frames = |drivers: &[MediaDriver]| -> u64 {
        drivers.iter().map(|d| d.received.lock().unwrap().values().map(|f| f.packets).sum::<u64>()).sum()
    };
    let sent_now = |sent: &[Arc<AtomicU64>]| -> u64 { sent.iter().map(|s| s.load(Ordering::Relaxed)).sum() };
    for driver in &drivers {
        driver.delays.lock().unwrap().clear();
    }
    let (cpu0, fwd0, sent0, recv0) =
        (cpu_ticks(&stat), metric(&base, "mediation_forwarded_packets_total").await, sent_now(&sent), frames(&drivers));
    tokio::time::sleep(WINDOW).await;
    let (cpu1, fwd1, sent1, recv1) =
        (cpu_ticks(&stat), metric(&base, "mediation_forwarded_packets_total").await, sent_now(&sent), frames(&drivers));
    let mut delays: Vec<u64> = drivers.iter().flat_map(|d| d.delays.lock().unwrap().clone()).collect();
    delays.sort_unstable();

    let forwarded = (fwd1 - fwd0) as f64;
    let expected = ((sent1 - sent0) * (PER_ROOM as u64 - 1)) as f64;
    let received = (recv1 - recv0) as f64;
    let measured = Measured {
        forwarded_per_second: forwarded / WINDOW.as_secs_f64(),
        cpu_us_per_packet: (cpu1 - cpu0) as f64 / clock_ticks_per_second() * 1e6 / forwarded,
        loss_percent: ((expected - received) / expected * 100.0).max(0.0),
        delay_p50_ms: percentile(&delays, 0.5),
        delay_p99_ms: percentile(&delays, 0.99),
    };
    for driver in drivers {
        driver.stop().await;
    }
    let _ = child.kill();
    let _ = child.wait();
    measured
}

// ── The raw relay ────────────────────────────────────────────────────────

/// Header in clear: room, sender, first-fragment flag; then nonce and the
/// sealed payload (sequence, send time, media bytes).
const HEADER: usize = 3;

fn relay_thread(
    socket: std::net::UdpSocket,
    key: [u8; 16],
    measuring: Arc<AtomicBool>,
    result: Arc<Mutex<(u64, u64)>>,
) {
    let cipher = Aes128Gcm::new_from_slice(&key).unwrap();
    let mut members: HashMap<(u8, u8), SocketAddr> = HashMap::new();
    let mut buffer = [0u8; 2048];
    let mut forwarded = 0u64;
    let mut window_start: Option<(u64, u64)> = None;
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    loop {
        if measuring.load(Ordering::Relaxed) && window_start.is_none() {
            window_start = Some((cpu_ticks("/proc/thread-self/stat"), forwarded));
        }
        if !measuring.load(Ordering::Relaxed)
            && let Some((cpu0, forwarded0)) = window_start
        {
            *result.lock().unwrap() = (cpu_ticks("/proc/thread-self/stat") - cpu0, forwarded - forwarded0);
            return;
        }
        let Ok((length, from)) = socket.recv_from(&mut buffer) else { continue };
        let packet = &buffer[..length];
        let (room, sender) = (packet[0], packet[1]);
        members.insert((room, sender), from);
        let nonce: [u8; 12] = packet[HEADER..HEADER + 12].try_into().unwrap();
        let Ok(plain) = cipher.decrypt(&Nonce::from(nonce), &packet[HEADER + 12..]) else { continue };
        for (&(other_room, other), address) in &members {
            if other_room != room || other == sender {
                continue;
            }
            let nonce = Aes128Gcm::generate_nonce(&mut OsRng);
            let sealed = cipher.encrypt(&nonce, plain.as_slice()).unwrap();
            let mut out = packet[..HEADER].to_vec();
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
            let _ = socket.send_to(&out, address);
            forwarded += 1;
        }
    }
}

async fn relay() -> Measured {
    let key = [7u8; 16];
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_address = socket.local_addr().unwrap();
    let measuring = Arc::new(AtomicBool::new(false));
    let result = Arc::new(Mutex::new((0u64, 0u64)));
    let thread = {
        let (measuring, result) = (measuring.clone(), result.clone());
        std::thread::spawn(move || relay_thread(socket, key, measuring, result))
    };
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let delays: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for room in 0..ROOMS as u8 {
        for sender in 0..PER_ROOM as u8 {
            let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let cipher = Arc::new(Aes128Gcm::new_from_slice(&key).unwrap());
            // Receiver: open, count first fragments, measure delay.
            let (rx_socket, rx_cipher, rx_count, rx_delays, rx_stop) =
                (socket.clone(), cipher.clone(), received.clone(), delays.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut buffer = [0u8; 2048];
                while !rx_stop.load(Ordering::Relaxed) {
                    let Ok(Ok(length)) =
                        tokio::time::timeout(Duration::from_millis(200), rx_socket.recv(&mut buffer)).await
                    else {
                        continue;
                    };
                    let nonce: [u8; 12] = buffer[HEADER..HEADER + 12].try_into().unwrap();
                    let Ok(plain) = rx_cipher.decrypt(&Nonce::from(nonce), &buffer[HEADER + 12..length]) else {
                        continue;
                    };
                    if buffer[2] == 1 {
                        rx_count.fetch_add(1, Ordering::Relaxed);
                        let sent_us = u64::from_be_bytes(plain[4..12].try_into().unwrap());
                        rx_delays.lock().unwrap().push((epoch().elapsed().as_micros() as u64).saturating_sub(sent_us));
                    }
                }
            }));
            // Senders: VP8-sized frames every 33 ms in fragments, audio every 20 ms.
            for (interval, size) in [(33u64, VIDEO_FRAME_BYTES), (20, AUDIO_BYTES)] {
                let (tx_socket, tx_cipher, tx_sent, tx_stop) =
                    (socket.clone(), cipher.clone(), sent.clone(), stop.clone());
                tasks.push(tokio::spawn(async move {
                    let mut ticker = tokio::time::interval(Duration::from_millis(interval));
                    let mut seq = 0u32;
                    while !tx_stop.load(Ordering::Relaxed) {
                        ticker.tick().await;
                        seq += 1;
                        let mut remaining = size;
                        let mut first = true;
                        while remaining > 0 {
                            let chunk = remaining.min(MTU_PAYLOAD);
                            remaining -= chunk;
                            let mut plain = seq.to_be_bytes().to_vec();
                            plain.extend_from_slice(&(epoch().elapsed().as_micros() as u64).to_be_bytes());
                            plain.resize(chunk.max(12), 0x5a);
                            let nonce = Aes128Gcm::generate_nonce(&mut OsRng);
                            let mut out = vec![room, sender, u8::from(first)];
                            out.extend_from_slice(&nonce);
                            out.extend_from_slice(&tx_cipher.encrypt(&nonce, plain.as_slice()).unwrap());
                            let _ = tx_socket.send_to(&out, relay_address).await;
                            first = false;
                        }
                        tx_sent.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
        }
    }
    tokio::time::sleep(WARMUP).await;
    delays.lock().unwrap().clear();
    let (sent0, received0) = (sent.load(Ordering::Relaxed), received.load(Ordering::Relaxed));
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(WINDOW).await;
    measuring.store(false, Ordering::Relaxed);
    let (sent1, received1) = (sent.load(Ordering::Relaxed), received.load(Ordering::Relaxed));
    stop.store(true, Ordering::Relaxed);
    let _ = thread.join();
    for task in tasks {
        task.abort();
    }
    let (cpu, forwarded) = *result.lock().unwrap();
    let mut delays = delays.lock().unwrap().clone();
    delays.sort_unstable();
    let expected = ((sent1 - sent0) * (PER_ROOM as u64 - 1)) as f64;
    Measured {
        forwarded_per_second: forwarded as f64 / WINDOW.as_secs_f64(),
        cpu_us_per_packet: cpu as f64 / clock_ticks_per_second() * 1e6 / forwarded as f64,
        loss_percent: ((expected - (received1 - received0) as f64) / expected * 100.0).max(0.0),
        delay_p50_ms: percentile(&delays, 0.5),
        delay_p99_ms: percentile(&delays, 0.99),
    }
}

#[tokio::main]
async fn main() {
    let ours = sfu().await;
    let raw = relay().await;
    println!(
        "{ROOMS} rooms of {PER_ROOM}; each participant sends VP8 {VIDEO_FRAME_BYTES} B × 30 fps (1.2 Mbit/s) and Opus {AUDIO_BYTES} B × 50/s; {}-s window after {}-s warm-up\n",
        WINDOW.as_secs(),
        WARMUP.as_secs()
    );
    println!("| | forwarded packets/s | CPU per forwarded packet | loss (frames) | one-way delay p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    for (name, m) in
        [("mediation server (webrtc-rs SFU, SRTP)", &ours), ("raw UDP relay, AES-128-GCM per packet", &raw)]
    {
        println!(
            "| {name} | {:.0} | {:.1} µs | {:.2} % | {:.2} ms | {:.2} ms |",
            m.forwarded_per_second, m.cpu_us_per_packet, m.loss_percent, m.delay_p50_ms, m.delay_p99_ms
        );
    }
    println!(
        "| server − relay | | {:.1}× | | {:+.2} ms | {:+.2} ms |",
        ours.cpu_us_per_packet / raw.cpu_us_per_packet,
        ours.delay_p50_ms - raw.delay_p50_ms,
        ours.delay_p99_ms - raw.delay_p99_ms
    );
}
