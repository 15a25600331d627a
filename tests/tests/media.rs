//! The media plane with real WebRTC peers: webrtc-rs participants publish
//! synthetic Opus and VP8 through the real signaling to the server's SFU on
//! loopback, and count what they receive from whom.

use std::sync::atomic::Ordering;
use std::time::Duration;

use mediation_tests::fixtures::{Demo, video_session};
use mediation_tests::media::{MediaDriver, MediaPeer, Transport};
use mediation_tests::signal::SignalClient;
use mediation_tests::{Db, TestServer};
use signaling_proto::{ClientMessage, ErrorCode, MediaKind, PeerTarget, ServerMessage, SessionDescription};
use uuid::Uuid;

struct Call {
    server: TestServer,
    session_id: Uuid,
    people: Vec<(Uuid, MediaDriver)>,
    /// Each person's resume token, in the order of `people`.
    resume_tokens: Vec<String>,
}

async fn joined(client: &mut SignalClient) -> Uuid {
    joined_with_token(client).await.0
}

async fn joined_with_token(client: &mut SignalClient) -> (Uuid, String) {
    match client
        .expect("joined or waiting", |m| matches!(m, ServerMessage::Joined { .. } | ServerMessage::Waiting { .. }))
        .await
    {
        ServerMessage::Joined { participant_id, resume_token, .. }
        | ServerMessage::Waiting { participant_id, resume_token, .. } => (participant_id, resume_token),
        _ => unreachable!(),
    }
}

/// The mediator, the 东平 station and the adviser, admitted and publishing.
async fn call() -> Call {
    call_with(&[], 3).await
}

/// The first `count` of mediator, station and adviser, on a server with `args`.
async fn call_with(args: &[&str], count: usize) -> Call {
    call_over(args, &vec![Transport::Udp; count]).await
}

/// Mediator, station and adviser (as many as `transports` has), each
/// reaching the server the way given.
async fn call_over(args: &[&str], transports: &[Transport]) -> Call {
    let who = ["mediator1", "station-dongping", "adviser1"];
    call_of(args, &who[..transports.len()], transports).await
}

/// `who` (account names, or `observer` for someone the mediator invites by
/// link), the first the mediator, each reaching the server the way given.
async fn call_of(args: &[&str], who: &[&str], transports: &[Transport]) -> Call {
    let mut all_args = vec!["--ws-heartbeat-ms", "1000"];
    all_args.extend_from_slice(args);
    let server = TestServer::start(Db::Sqlite, &all_args).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let session = video_session(&mediator, &demo).await;
    let session_id: Uuid = session.session_id.parse().unwrap();
    let mut clients = Vec::new();
    let mut resume_tokens = Vec::new();
    for who in who {
        let token = if *who == "observer" {
            let path = format!("/api/v1/sessions/{session_id}/observers");
            let invited = mediator.post(&path, &serde_json::json!({ "name": "孙村长", "relation": "村老" })).await;
            let observer = invited.body["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "observer");
            observer.unwrap()["invitation"]["link"].as_str().unwrap().split("#t=").nth(1).unwrap().to_owned()
        } else {
            server.login(who).await.token().unwrap().to_owned()
        };
        let mut client = SignalClient::connect(&server.base_url, &token).await;
        client.join(session_id, None).await;
        let (id, resume_token) = joined_with_token(&mut client).await;
        clients.push((id, client));
        resume_tokens.push(resume_token);
    }
    let ids: Vec<Uuid> = clients.iter().map(|(id, _)| *id).collect();
    for id in &ids[1..] {
        clients[0].1.send(&ClientMessage::Admit { request_id: None, participant_id: *id }).await;
    }
    for (_, client) in clients.iter_mut().skip(1) {
        client.expect("admitted", |m| matches!(m, ServerMessage::Joined { .. })).await;
    }
    let mut people = Vec::new();
    for ((id, client), transport) in clients.into_iter().zip(transports) {
        let peer = MediaPeer::over(id, transport.clone()).await;
        people.push((id, MediaDriver::start(client, peer).await));
    }
    Call { server, session_id, people, resume_tokens }
}

impl Call {
    fn id(&self, index: usize) -> Uuid {
        self.people[index].0
    }

    fn flow(&self, at: usize, from: usize, kind: MediaKind) -> mediation_tests::media::Flow {
        self.people[at].1.flow(self.id(from), kind)
    }

    fn packets(&self, at: usize, from: usize, kind: MediaKind) -> u64 {
        self.people[at].1.flow(self.id(from), kind).packets
    }

    /// Waits until `at` has received at least `audio`/`video` packets from `from`.
    async fn wait_for(&self, at: usize, from: usize, audio: u64, video: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.packets(at, from, MediaKind::Audio) < audio || self.packets(at, from, MediaKind::Video) < video {
            assert!(
                tokio::time::Instant::now() < deadline,
                "participant {at} got {} audio and {} video packets from {from}",
                self.packets(at, from, MediaKind::Audio),
                self.packets(at, from, MediaKind::Video)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Audio packets `at` receives from `from` in 1.5 s.
    async fn audio_rate(&self, at: usize, from: usize) -> u64 {
        let before = self.packets(at, from, MediaKind::Audio);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.packets(at, from, MediaKind::Audio) - before
    }

    async fn everyone_hears_everyone(&self) {
        self.everyone_hears_everyone_of(3).await;
    }

    /// The same, for a call of the first `count` people.
    async fn everyone_hears_everyone_of(&self, count: usize) {
        for at in 0..count {
            for from in (0..count).filter(|from| *from != at) {
                let (audio, video) =
                    (self.packets(at, from, MediaKind::Audio), self.packets(at, from, MediaKind::Video));
                self.wait_for(at, from, audio + 10, video + 5).await;
            }
        }
    }

    async fn stop(self) {
        for (_, driver) in self.people {
            driver.stop().await;
        }
        drop(self.server);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_receive_each_others_audio_and_video_in_order() {
    let call = call().await;
    call.everyone_hears_everyone().await;
    for at in 0..3 {
        for from in (0..3).filter(|from| *from != at) {
            for kind in [MediaKind::Audio, MediaKind::Video] {
                let flow = call.people[at].1.flow(call.id(from), kind);
                assert_eq!(flow.out_of_order, 0, "{at} from {from} {kind:?}: markers in order");
            }
        }
    }
    assert_eq!(call.server.state.sfu.live_peer_connections(), 6, "two peer connections per participant");

    let metrics = reqwest::get(format!("{}/metrics", call.server.base_url)).await.unwrap().text().await.unwrap();
    let value = |line_start: &str| -> u64 {
        metrics
            .lines()
            .find(|line| line.starts_with(line_start))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line_start} in {metrics}"))
    };
    assert_eq!(value("mediation_peer_connections "), 6);
    assert!(value("mediation_forwarded_packets_total ") > 100);
    assert!(value("mediation_forwarded_bytes_total ") > 1000);
    assert!(metrics.contains("mediation_peer_connections{session="), "per-room lines");
    // What each subscriber has received, counted before the server's
    // figures are read, so the server has forwarded at least that much.
    let received: Vec<u64> = (0..3)
        .map(|at| {
            (0..3)
                .filter(|from| *from != at)
                .map(|from| call.packets(at, from, MediaKind::Audio) + call.packets(at, from, MediaKind::Video))
                .sum()
        })
        .collect();
    let now = reqwest::get(format!("{}/metrics", call.server.base_url)).await.unwrap().text().await.unwrap();
    for (at, (subscriber, _)) in call.people.iter().enumerate() {
        let labels = format!("{{session=\"{}\",participant=\"{subscriber}\"}} ", call.session_id);
        let series = |name: &str| -> Option<u64> {
            let start = format!("{name}{labels}");
            now.lines().find_map(|line| line.strip_prefix(start.as_str())).and_then(|v| v.parse().ok())
        };
        let forwarded =
            series("mediation_subscriber_forwarded_packets_total").expect("a forwarded series per subscriber");
        assert!(forwarded >= received[at] && forwarded > 100, "{forwarded} forwarded for {} received", received[at]);
        assert!(series("mediation_subscriber_nacks_total").is_some(), "a NACK series per subscriber");
    }
    assert_eq!(value("mediation_live_rooms "), 1);
    call.stop().await;
}

/// Waits until participant `at` is told that participant `speaker` speaks.
async fn speaker_told(call: &mut Call, at: usize, speaker: usize) {
    let speaker = call.id(speaker);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let event = tokio::time::timeout_at(deadline, call.people[at].1.events.recv()).await;
        match event {
            Ok(Some(ServerMessage::Speaker { participant_id })) if participant_id == Some(speaker) => return,
            Ok(Some(_)) => {}
            _ => panic!("participant {at} was not told that {speaker} speaks"),
        }
    }
}

/// The speaker is whoever's microphone is loud (the level each audio packet
/// carries), told to everyone in their space; a caucus has its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_is_told_who_speaks_in_their_space() {
    let mut call = call().await;
    call.everyone_hears_everyone().await;
    let (host, station, adviser) = (0, 1, 2);
    let speak = |call: &Call, who: usize, level: u8| call.people[who].1.voice_level.store(level, Ordering::Relaxed);
    speak(&call, station, 30);
    for at in [host, station, adviser] {
        speaker_told(&mut call, at, station).await;
    }
    // The station falls silent and the adviser talks: the adviser takes over.
    speak(&call, station, 127);
    speak(&call, adviser, 35);
    for at in [host, station, adviser] {
        speaker_told(&mut call, at, adviser).await;
    }
    // In a caucus with the mediator, the station speaks: the two hear it as
    // their speaker, while the adviser outside still hears themself.
    call.people[host]
        .1
        .send(ClientMessage::OpenCaucus { request_id: None, participant_ids: vec![call.id(station)] })
        .await;
    speak(&call, station, 30);
    for at in [host, station] {
        speaker_told(&mut call, at, station).await;
    }
    let told_outside: Vec<Option<Uuid>> = std::iter::from_fn(|| call.people[adviser].1.events.try_recv().ok())
        .filter_map(|m| match m {
            ServerMessage::Speaker { participant_id } => Some(participant_id),
            _ => None,
        })
        .collect();
    assert!(told_outside.iter().all(|s| *s == Some(call.id(adviser))), "outside the caucus: {told_outside:?}");
    call.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caucus_and_mute_stop_forwarding_and_it_resumes() {
    let mut call = call().await;
    call.everyone_hears_everyone().await;
    let (host, station, adviser) = (0, 1, 2);

    // The mediator takes the station into a caucus: the adviser outside
    // receives nothing from either, and sends nothing in.
    call.people[host]
        .1
        .send(ClientMessage::OpenCaucus { request_id: None, participant_ids: vec![call.id(station)] })
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let outside_before: Vec<u64> = [(adviser, station), (adviser, host), (station, adviser), (host, adviser)]
        .iter()
        .flat_map(|(at, from)| [call.packets(*at, *from, MediaKind::Audio), call.packets(*at, *from, MediaKind::Video)])
        .collect();
    let inside_before = call.packets(station, host, MediaKind::Audio);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let outside_after: Vec<u64> = [(adviser, station), (adviser, host), (station, adviser), (host, adviser)]
        .iter()
        .flat_map(|(at, from)| [call.packets(*at, *from, MediaKind::Audio), call.packets(*at, *from, MediaKind::Video)])
        .collect();
    assert_eq!(outside_before, outside_after, "no packet crosses the caucus boundary");
    assert!(call.packets(station, host, MediaKind::Audio) >= inside_before + 30, "inside, the talk goes on");

    let caucus_id = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), call.people[host].1.events.recv()).await;
        if let Ok(Some(ServerMessage::CaucusOpened { caucus_id, .. })) = event {
            break caucus_id;
        }
        assert!(event.is_ok(), "the caucus opened");
    };
    call.people[host].1.send(ClientMessage::CloseCaucus { request_id: None, caucus_id }).await;
    call.everyone_hears_everyone().await;

    // Muting the station's microphone stops its audio, not its video.
    call.people[host]
        .1
        .send(ClientMessage::Mute { request_id: None, participant_id: call.id(station), kind: MediaKind::Audio })
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let audio = call.packets(adviser, station, MediaKind::Audio);
    let video = call.packets(adviser, station, MediaKind::Video);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(call.packets(adviser, station, MediaKind::Audio), audio, "muted audio is not forwarded");
    assert!(call.packets(adviser, station, MediaKind::Video) >= video + 15, "video goes on");
    call.stop().await;
}

/// An observer (Art 20) receives the room but is forwarded to nobody until
/// the mediator lets them speak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_is_heard_and_seen_only_once_let_speak() {
    let call = call_of(&[], &["mediator1", "station-dongping", "observer"], &vec![Transport::Udp; 3]).await;
    let (host, station, observer) = (0, 1, 2);
    call.wait_for(observer, host, 30, 10).await;
    call.wait_for(observer, station, 30, 10).await;
    call.wait_for(station, host, 30, 10).await;
    // The observer has been publishing all along (the others' media reached
    // it for as long): none of it was forwarded.
    for at in [host, station] {
        for kind in [MediaKind::Audio, MediaKind::Video] {
            assert_eq!(
                call.packets(at, observer, kind),
                0,
                "{kind:?} from the silent observer reached participant {at}"
            );
        }
    }
    call.people[host]
        .1
        .send(ClientMessage::AllowSpeaking { request_id: None, participant_id: call.id(observer), allowed: true })
        .await;
    call.wait_for(host, observer, 30, 10).await;
    call.wait_for(station, observer, 30, 10).await;
    call.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_only_and_removal_change_what_flows() {
    let call = call().await;
    call.everyone_hears_everyone().await;
    let (host, station, adviser) = (0, 1, 2);

    // The station switches itself to audio only: it stops receiving video,
    // nobody else does.
    call.people[station]
        .1
        .send(ClientMessage::SetAudioOnly { request_id: None, participant_id: None, audio_only: true })
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let station_video = call.packets(station, host, MediaKind::Video);
    let station_audio = call.packets(station, host, MediaKind::Audio);
    let adviser_video = call.packets(adviser, host, MediaKind::Video);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(call.packets(station, host, MediaKind::Video), station_video, "no video to an audio-only subscriber");
    assert!(call.packets(station, host, MediaKind::Audio) >= station_audio + 30, "audio goes on");
    assert!(call.packets(adviser, host, MediaKind::Video) >= adviser_video + 15, "others still get video");
    call.people[station]
        .1
        .send(ClientMessage::SetAudioOnly { request_id: None, participant_id: None, audio_only: false })
        .await;
    let video = call.packets(station, host, MediaKind::Video);
    call.wait_for(station, host, 0, video + 10).await;

    // Removing the adviser stops forwarding to and from them.
    call.people[host]
        .1
        .send(ClientMessage::Remove { request_id: None, participant_id: call.id(adviser), reason: None })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from_adviser = call.packets(host, adviser, MediaKind::Audio);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(call.packets(host, adviser, MediaKind::Audio), from_adviser, "nothing from a removed participant");
    assert_eq!(call.server.state.sfu.live_peer_connections(), 4, "the removed participant's connections are closed");
    call.stop().await;
}

/// A free-looking range of UDP ports for one test (by process id, so that
/// parallel test binaries do not share one).
fn port_range(size: u16) -> (u16, String) {
    let first = 40_000 + (std::process::id() % 500) as u16 * 40;
    (first, format!("{first}-{}", first + size - 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_media_ports_give_the_client_an_error_code() {
    let (_, range) = port_range(2);
    let mut call = call_with(&["--rtc-udp-ports", &range], 2).await;
    // The mediator took both ports; the station's offer finds none.
    let station = &mut call.people[1].1;
    let error = loop {
        match tokio::time::timeout(Duration::from_secs(10), station.events.recv()).await {
            Ok(Some(ServerMessage::Error { code, .. })) => break code,
            Ok(Some(_)) => continue,
            other => panic!("expected an error, got {other:?}"),
        }
    };
    assert_eq!(error, signaling_proto::ErrorCode::MediaPortsExhausted);
    assert_eq!(call.server.state.sfu.ports_in_use(), 2);
    call.stop().await;
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|dir| dir.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_join_leave_cycles_return_connections_tasks_sockets_and_ports() {
    let (_, range) = port_range(16);
    let call = call_with(&["--rtc-udp-ports", &range], 2).await;
    call.wait_for(1, 0, 10, 5).await;
    call.wait_for(0, 1, 10, 5).await;
    let sfu = call.server.state.sfu.clone();
    let session_id = call.server.state.rooms.live_rooms();
    assert_eq!(session_id, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = (sfu.live_peer_connections(), sfu.ports_in_use(), open_descriptors());
    let tasks_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    assert_eq!((baseline.0, baseline.1), (4, 4));

    let demo_session: Uuid = {
        let mediator = call.server.login("mediator1").await;
        let sessions = mediator.get("/api/v1/sessions").await.body;
        sessions[0]["id"].as_str().unwrap().parse().unwrap()
    };
    let adviser_token = call.server.login("adviser1").await.token().unwrap().to_owned();
    // Past the once-a-second limit on keyframe requests from the first subscriptions.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let requests_before = call.people[0].1.keyframe_requests.load(std::sync::atomic::Ordering::Relaxed);
    for cycle in 0..50 {
        let mut client = SignalClient::connect(&call.server.base_url, &adviser_token).await;
        client.join(demo_session, None).await;
        let id = joined(&mut client).await;
        call.people[0].1.send(ClientMessage::Admit { request_id: None, participant_id: id }).await;
        client.expect("admitted", |m| matches!(m, ServerMessage::Joined { .. })).await;
        let started = std::time::Instant::now();
        let driver = MediaDriver::start(client, MediaPeer::new(id).await).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while driver.flow(call.id(0), MediaKind::Video).packets == 0
            || driver.flow(call.id(1), MediaKind::Audio).packets == 0
        {
            assert!(tokio::time::Instant::now() < deadline, "cycle {cycle}: the late joiner received nothing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if cycle == 0 {
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "a late joiner receives everyone within 2 s (took {took:?})");
            let requests = call.people[0].1.keyframe_requests.load(std::sync::atomic::Ordering::Relaxed);
            assert!(requests > requests_before, "the late joiner's subscription asked the publisher for a keyframe");
        }
        driver.send(ClientMessage::Leave { request_id: None }).await;
        driver.stop().await;
    }

    // Everything the fifty visits took is given back: waited for, with a
    // bound that a busy machine closing the last visit's connections stays
    // inside (a full run with both cores busy once needed more than 10 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = (sfu.live_peer_connections(), sfu.ports_in_use(), open_descriptors());
        let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        if now.0 == baseline.0 && now.1 == baseline.1 && now.2 <= baseline.2 + 4 && tasks <= tasks_before + 8 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "leak after 50 cycles: connections/ports/descriptors {now:?} vs {baseline:?}, tasks {tasks} vs {tasks_before}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    call.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_does_not_slow_the_others() {
    let call = call().await;
    call.everyone_hears_everyone().await;
    let (host, station, adviser) = (0, 1, 2);
    let normal = call.audio_rate(station, host).await;
    call.people[adviser].1.paused.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stuck_before = call.packets(adviser, host, MediaKind::Audio);
    let while_stuck = call.audio_rate(station, host).await;
    assert!(call.packets(adviser, host, MediaKind::Audio) <= stuck_before + 1, "the adviser really stopped reading");
    assert!(
        while_stuck * 10 >= normal * 8,
        "the station got {while_stuck} audio packets in 1.5 s while the adviser was stuck, {normal} before"
    );
    call.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_keyframe_requests_are_coalesced_not_dropped() {
    let call = call().await;
    call.everyone_hears_everyone().await;
    let (host, adviser) = (0, 2);
    let requests = |index: usize| call.people[index].1.keyframe_requests.load(std::sync::atomic::Ordering::Relaxed);
    // Let the requests of the start pass (answers, first frames).
    let mut settled = requests(host);
    loop {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        if requests(host) == settled {
            break;
        }
        settled = requests(host);
    }
    // A burst from one subscriber: one request reaches the publisher at
    // once, and one more when the interval (0.5 s) ends, for those asking
    // meanwhile; none is lost, none repeated.
    let started = tokio::time::Instant::now();
    for _ in 0..10 {
        call.people[adviser].1.request_keyframes().await;
    }
    let deadline = started + Duration::from_secs(3);
    while requests(host) < settled + 2 {
        assert!(tokio::time::Instant::now() < deadline, "got {} of 2 requests", requests(host) - settled);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(400), "the second waited for the interval");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(requests(host), settled + 2, "a burst is two requests: now and at the interval's end");
    call.stop().await;
}

/// Every pause in forwarding (a caucus, a mute, audio only) leaves the
/// subscriber's stream continuous: no sequence number is skipped, so a
/// receiver has nothing to wait for or NACK, and video comes back fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pauses_leave_no_gap_and_video_comes_back_at_once() {
    let mut call = call().await;
    call.everyone_hears_everyone().await;
    let (host, station, adviser) = (0, 1, 2);

    // A 4 s caucus of the mediator and the station; the adviser waits outside.
    call.people[host]
        .1
        .send(ClientMessage::OpenCaucus { request_id: None, participant_ids: vec![call.id(station)] })
        .await;
    let caucus_id = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), call.people[host].1.events.recv()).await;
        if let Ok(Some(ServerMessage::CaucusOpened { caucus_id, .. })) = event {
            break caucus_id;
        }
        assert!(event.is_ok(), "the caucus opened");
    };
    tokio::time::sleep(Duration::from_secs(4)).await;
    let video_before = call.flow(adviser, host, MediaKind::Video).packets;
    let audio_before = call.flow(adviser, host, MediaKind::Audio).packets;
    let closed_at = tokio::time::Instant::now();
    call.people[host].1.send(ClientMessage::CloseCaucus { request_id: None, caucus_id }).await;
    call.wait_for(adviser, host, 0, video_before + 1).await;
    let first_video = closed_at.elapsed();
    call.wait_for(adviser, host, audio_before + 25, video_before + 15).await;
    for kind in [MediaKind::Audio, MediaKind::Video] {
        assert_eq!(call.flow(adviser, host, kind).rtp_gaps, 0, "{kind:?} from the mediator after the caucus");
        assert_eq!(call.flow(adviser, station, kind).rtp_gaps, 0, "{kind:?} from the station after the caucus");
    }
    println!("first video packet {} ms after the caucus closed", first_video.as_millis());
    assert!(first_video < Duration::from_secs(1), "video came back after {first_video:?}");

    // The station is muted for 2 s, then unmutes itself.
    call.people[host]
        .1
        .send(ClientMessage::Mute { request_id: None, participant_id: call.id(station), kind: MediaKind::Audio })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let audio_before = call.flow(adviser, station, MediaKind::Audio).packets;
    call.people[station]
        .1
        .send(ClientMessage::SetMedia { request_id: None, kind: MediaKind::Audio, enabled: true })
        .await;
    call.wait_for(adviser, station, audio_before + 25, 0).await;
    assert_eq!(call.flow(adviser, station, MediaKind::Audio).rtp_gaps, 0, "audio after the mute");

    // The adviser takes audio only for 2 s, then video again.
    let audio_only = |on| ClientMessage::SetAudioOnly { request_id: None, participant_id: None, audio_only: on };
    call.people[adviser].1.send(audio_only(true)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let video_before = call.flow(adviser, host, MediaKind::Video).packets;
    call.people[adviser].1.send(audio_only(false)).await;
    call.wait_for(adviser, host, 0, video_before + 15).await;
    assert_eq!(call.flow(adviser, host, MediaKind::Video).rtp_gaps, 0, "video after audio only");
    call.stop().await;
}

/// A subscriber whose NACKs for the same packets pile up within one round
/// trip gets each packet once more, not once per request: what a lossy
/// village link's receiver sees on the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_asked_for_again_within_a_round_trip_is_resent_once() {
    let call = call().await;
    call.everyone_hears_everyone().await;
    let (host, adviser) = (0, 2);
    let flow = call.flow(adviser, host, MediaKind::Video);
    let asked: Vec<u16> = (0..3).map(|back| flow.last_rtp_seq.wrapping_sub(back)).collect();
    call.people[adviser].1.nack(flow.ssrc, &asked, 10).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while asked.iter().any(|seq| call.flow(adviser, host, MediaKind::Video).arrivals_of(*seq) < 2) {
        assert!(tokio::time::Instant::now() < deadline, "the asked-for packets were not resent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything else the requests would make the server send has arrived by
    // the time 20 later packets have.
    let packets = call.flow(adviser, host, MediaKind::Video).packets;
    call.wait_for(adviser, host, 0, packets + 20).await;
    let flow = call.flow(adviser, host, MediaKind::Video);
    for seq in &asked {
        assert_eq!(flow.arrivals_of(*seq), 2, "packet {seq}: sent, then resent once for ten requests");
    }
    assert_eq!(flow.repeats, 3, "three packets resent in all");
    call.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_without_udp_takes_part_over_ice_tcp_on_the_one_port() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port().to_string()
    };
    let call = call_over(&["--rtc-tcp-port", &port], &[Transport::Udp, Transport::TcpOnly, Transport::Udp]).await;
    call.everyone_hears_everyone().await;
    let mux = call.server.state.sfu.ice_tcp.clone().expect("ICE over TCP configured");
    assert_eq!(mux.port().to_string(), port);
    assert_eq!(mux.routes(), 6, "every peer connection is reachable through the one port");
    for from in [0, 2] {
        let flow = call.people[1].1.flow(call.id(from), MediaKind::Video);
        assert_eq!(flow.out_of_order, 0, "the TCP-only station gets video in order from {from}");
    }
    call.stop().await;
}

/// A publish offer with only G.711 audio, or only H.264 High video, is
/// refused with `unsupported_codec`, not answered with a codec nobody else
/// could receive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_without_an_accepted_codec_get_the_documented_refusal() {
    let server = TestServer::start(Db::Sqlite, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let session = video_session(&mediator, &demo).await;
    let mut client = SignalClient::connect(&server.base_url, mediator.token().unwrap()).await;
    client.join(session.session_id.parse().unwrap(), None).await;
    joined(&mut client).await;
    let head = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n";
    let g711 = format!(
        "{head}m=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    );
    let h264_high = format!(
        "{head}m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n\
         a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=640c1f\r\n"
    );
    for (sdp, kind) in [(g711, "audio"), (h264_high, "video")] {
        let description = SessionDescription { kind: "offer".into(), sdp };
        client.send(&ClientMessage::Sdp { request_id: None, target: PeerTarget::Publish, description }).await;
        let refusal = client
            .expect("unsupported_codec", |m| {
                matches!(m, ServerMessage::Error { code: ErrorCode::UnsupportedCodec, .. })
            })
            .await;
        let ServerMessage::Error { message, .. } = refusal else { unreachable!() };
        assert!(message.contains(kind) && message.contains("Opus") && message.contains("VP8"), "{message}");
    }
    client.assert_none_before_pong("an answer to a refused offer", |m| matches!(m, ServerMessage::Sdp { .. })).await;
}

/// The station presses F5: its page comes back with new peer connections
/// and the resume token it kept, is back in the room without waiting in the
/// lobby, and media flows both ways again within 3 s; the server closed the
/// old connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_page_is_back_in_the_room_with_new_peer_connections() {
    let mut call = call().await;
    call.everyone_hears_everyone().await;
    let (host, station) = (0, 1);
    let (station_id, page) = call.people.remove(station);
    page.stop().await;

    let reloaded_at = tokio::time::Instant::now();
    let token = call.server.login("station-dongping").await.token().unwrap().to_owned();
    let mut client = SignalClient::connect(&call.server.base_url, &token).await;
    client
        .send(&ClientMessage::Join {
            request_id: Some("join".into()),
            protocol_version: signaling_proto::PROTOCOL_VERSION,
            session_id: call.session_id,
            resume_token: Some(call.resume_tokens[station].clone()),
            new_peer_connections: true,
        })
        .await;
    let back = client
        .expect("joined or waiting", |m| matches!(m, ServerMessage::Joined { .. } | ServerMessage::Waiting { .. }))
        .await;
    assert!(matches!(back, ServerMessage::Joined { participant_id, .. } if participant_id == station_id), "{back:?}");
    let driver = MediaDriver::start(client, MediaPeer::new(station_id).await).await;
    call.people.insert(station, (station_id, driver));
    let from_station = call.packets(host, station, MediaKind::Video);
    call.wait_for(station, host, 25, 15).await;
    call.wait_for(host, station, 0, from_station + 15).await;
    let back_after = reloaded_at.elapsed();
    println!("media both ways {} ms after the reload", back_after.as_millis());
    assert!(back_after < Duration::from_secs(3), "media both ways took {back_after:?}");
    assert_eq!(call.server.state.sfu.live_peer_connections(), 6, "the old connections were closed");
    call.stop().await;
}

/// A client that trickles its candidates (descriptions without them, then
/// `ice_candidate` messages) connects both ways like one that waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_candidates_connects() {
    let mut call = call_with(&[], 2).await;
    call.everyone_hears_everyone_of(2).await;
    let (host, station) = (0, 1);
    let (station_id, page) = call.people.remove(station);
    page.stop().await;
    let token = call.server.login("station-dongping").await.token().unwrap().to_owned();
    let mut client = SignalClient::connect(&call.server.base_url, &token).await;
    client
        .send(&ClientMessage::Join {
            request_id: Some("join".into()),
            protocol_version: signaling_proto::PROTOCOL_VERSION,
            session_id: call.session_id,
            resume_token: Some(call.resume_tokens[station].clone()),
            new_peer_connections: true,
        })
        .await;
    joined(&mut client).await;
    let mut peer = MediaPeer::new(station_id).await;
    peer.trickle = true;
    call.people.insert(station, (station_id, MediaDriver::start(client, peer).await));
    let before = call.packets(host, station, MediaKind::Audio);
    call.wait_for(station, host, 25, 15).await;
    call.wait_for(host, station, before + 25, 0).await;
    let figures = call.server.state.sfu.rooms().await;
    let station_figures = figures[0].subscribers.iter().find(|s| s.participant_id == station_id).unwrap();
    assert!(station_figures.trickled_candidates >= 2, "candidates of both connections were added: {station_figures:?}");
    call.stop().await;
}
