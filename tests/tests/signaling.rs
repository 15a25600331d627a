//! Live session signaling over real WebSockets against a running server:
//! lobby, admission, refusal, caucus isolation, mute, removal, lock,
//! reconnect, dead connections, refused tokens, bad input, floods, room size,
//! and what is recorded.

use std::time::Duration;

use mediation_tests::fixtures::{Demo, video_session};
use mediation_tests::scene::{is_error, room_with, scene, view, waiting_id};
use mediation_tests::signal::{Ending, SignalClient};
use mediation_tests::{Db, on_both_databases};
use serde_json::json;
use signaling_proto::{ClientMessage, ErrorCode, MediaKind, Role, ServerMessage};
use uuid::Uuid;

on_both_databases!(
    lobby_admit_and_joint_session,
    refused_people_are_told_and_disconnected,
    caucus_isolates_presence_chat_and_media,
    mute_and_remove,
    lock_keeps_newcomers_out,
    reconnect_within_grace_keeps_the_place,
    reconnect_after_grace_starts_over_and_others_are_told,
    dead_connection_is_found_by_heartbeat,
    refused_tokens,
    bad_input_gets_errors_and_the_connection_survives,
    flood_closes_with_1008,
    room_size_limit,
    joins_leaves_and_moderation_are_recorded,
    heartbeat_pongs_before_join_do_not_count_as_the_first_message,
    revoked_invitations_and_deactivated_accounts_are_expelled_at_once,
    ending_through_the_api_closes_the_room,
    agreement_pushed_to_the_room_and_confirmed_there,
    a_party_corrected_after_the_push_makes_room_confirmations_stale,
    stations_name_present_parties_and_audio_only_is_per_subscriber,
    ice_servers_include_stun_and_time_limited_turn,
    a_fuzzing_mediator_never_breaks_the_room,
);

async fn lobby_admit_and_joint_session(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, host_id) = scene.host().await;

    let mut station = scene.connect("station-dongping").await;
    let ServerMessage::Waiting { participant_id: station_id, .. } =
        station.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await
    else {
        unreachable!()
    };
    let lobby = view(
        host.expect("lobby update", |m| matches!(m, ServerMessage::Room { room } if !room.lobby.is_empty())).await,
    );
    assert_eq!(lobby.lobby.len(), 1);
    assert_eq!(lobby.lobby[0].display_name, "东平村说事拉理室");
    assert_eq!(lobby.lobby[0].role, Role::Station);
    station
        .assert_none_before_pong("anything but waiting while in the lobby", |m| matches!(m, ServerMessage::Room { .. }))
        .await;

    host.send(&ClientMessage::Admit { request_id: Some("a".into()), participant_id: station_id }).await;
    let joined = view(station.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await);
    let names: Vec<&str> = joined.participants.iter().map(|p| p.display_name.as_str()).collect();
    assert_eq!(names, ["张敏（调解员）", "东平村说事拉理室"]);
    assert!(joined.lobby.is_empty(), "the lobby is shown to mediators only");
    let after = view(
        host.expect(
            "two in the room",
            |m| matches!(m, ServerMessage::Room { room } if room.participants.len() == 2 && room.lobby.is_empty()),
        )
        .await,
    );
    assert_eq!(after.participants[1].participant_id, station_id);

    // The adviser waits; the station is not told of the lobby.
    let mut adviser = scene.connect("adviser1").await;
    adviser.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await;
    host.expect("adviser in lobby", |m| matches!(m, ServerMessage::Room { room } if room.lobby.len() == 1)).await;
    station
        .assert_none_before_pong(
            "lobby details",
            |m| matches!(m, ServerMessage::Room { room } if !room.lobby.is_empty()),
        )
        .await;
    // Someone in the lobby may not act yet.
    adviser.send(&ClientMessage::Chat { request_id: None, to: None, text: "你好".into() }).await;
    adviser.expect("not admitted", is_error(ErrorCode::NotAdmitted)).await;
    let _ = host_id;
}

async fn refused_people_are_told_and_disconnected(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    let mut party = scene.connect("party").await;
    let participant_id = waiting_id(&mut party).await;
    host.send(&ClientMessage::Refuse {
        request_id: None, participant_id, reason: Some("请到村说事拉理室参加".into())
    })
    .await;
    let refused = party.expect("refused", |m| matches!(m, ServerMessage::Refused { .. })).await;
    assert_eq!(refused, ServerMessage::Refused { reason: Some("请到村说事拉理室参加".into()) });
    assert_eq!(party.ending().await, Ending::Closed(1000));
    host.expect("lobby empty again", |m| matches!(m, ServerMessage::Room { room } if room.lobby.is_empty())).await;
}

async fn caucus_isolates_presence_chat_and_media(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, host_id) = scene.host().await;
    let (mut station, station_id, _) = scene.admitted("station-dongping", &mut host).await;
    let (mut adviser, adviser_id, _) = scene.admitted("adviser1", &mut host).await;
    let (mut party, party_id, _) = scene.admitted("party", &mut host).await;
    host.expect("four in the room", room_with(4)).await;
    let rules = scene.server.state.rooms.media_rules(scene.session_id).expect("a live room");
    assert!(rules.borrow().may_flow(station_id, party_id, MediaKind::Audio));

    host.send(&ClientMessage::OpenCaucus {
        request_id: Some("c".into()),
        participant_ids: vec![station_id, adviser_id],
    })
    .await;
    let ServerMessage::CaucusOpened { caucus_id, participant_ids, .. } =
        host.expect("caucus opened", |m| matches!(m, ServerMessage::CaucusOpened { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(participant_ids.len(), 3);
    station.expect("caucus opened", |m| matches!(m, ServerMessage::CaucusOpened { .. })).await;
    adviser.expect("caucus opened", |m| matches!(m, ServerMessage::CaucusOpened { .. })).await;

    // The party outside sees only that a private session is under way.
    let outside = view(
        party
            .expect("private session", |m| matches!(m, ServerMessage::Room { room } if room.private_session_underway))
            .await,
    );
    assert_eq!(outside.participants.iter().map(|p| p.participant_id).collect::<Vec<_>>(), vec![party_id]);
    assert_eq!(outside.caucus_id, None);
    let inside = view(
        station.expect("caucus view", |m| matches!(m, ServerMessage::Room { room } if room.caucus_id.is_some())).await,
    );
    assert_eq!(inside.caucus_id, Some(caucus_id));
    assert_eq!(inside.participants.len(), 3);
    assert!(!inside.participants.iter().any(|p| p.participant_id == party_id));

    // Media follows: inside to inside only.
    tokio::time::sleep(Duration::from_millis(50)).await;
    {
        let rules = rules.borrow();
        assert!(rules.may_flow(station_id, adviser_id, MediaKind::Video));
        assert!(rules.may_flow(host_id, station_id, MediaKind::Audio));
        for (from, to) in [(station_id, party_id), (party_id, station_id), (host_id, party_id), (party_id, adviser_id)]
        {
            assert!(!rules.may_flow(from, to, MediaKind::Audio) && !rules.may_flow(from, to, MediaKind::Video));
        }
    }

    // Chat inside stays inside, and the other way round.
    station.send(&ClientMessage::Chat { request_id: None, to: None, text: "我们愿意让一步".into() }).await;
    station.expect("own echo", |m| matches!(m, ServerMessage::Chat { text, .. } if text == "我们愿意让一步")).await;
    adviser.expect("caucus chat", |m| matches!(m, ServerMessage::Chat { text, .. } if text == "我们愿意让一步")).await;
    host.expect("caucus chat", |m| matches!(m, ServerMessage::Chat { text, .. } if text == "我们愿意让一步")).await;
    party.assert_none_before_pong("caucus chat", |m| matches!(m, ServerMessage::Chat { .. })).await;
    party.send(&ClientMessage::Chat { request_id: None, to: None, text: "还要等多久？".into() }).await;
    party.expect("own echo", |m| matches!(m, ServerMessage::Chat { .. })).await;
    party.send(&ClientMessage::SetMedia { request_id: None, kind: MediaKind::Video, enabled: false }).await;
    party.send(&ClientMessage::Chat { request_id: None, to: Some(station_id), text: "悄悄话".into() }).await;
    party.expect("cannot reach inside", is_error(ErrorCode::NotFound)).await;
    for inside in [&mut host, &mut station, &mut adviser] {
        inside
            .assert_none_before_pong("outside chat or presence", |m| {
                matches!(m, ServerMessage::Chat { .. }) || matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.participant_id == party_id))
            })
            .await;
    }

    // Closing returns everybody to the joint session.
    host.send(&ClientMessage::CloseCaucus { request_id: Some("close".into()), caucus_id }).await;
    station.expect("caucus closed", |m| matches!(m, ServerMessage::CaucusClosed { .. })).await;
    let joint = view(party.expect("everyone back", room_with(4)).await);
    assert!(!joint.private_session_underway);
    host.expect("everyone back", room_with(4)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rules.borrow().may_flow(station_id, party_id, MediaKind::Audio));
    assert!(!rules.borrow().may_flow(party_id, station_id, MediaKind::Video), "the party's camera is off");
    station.send(&ClientMessage::Chat { request_id: None, to: None, text: "好的".into() }).await;
    party.expect("joint chat", |m| matches!(m, ServerMessage::Chat { text, .. } if text == "好的")).await;
}

async fn mute_and_remove(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    let (mut station, station_id, _) = scene.admitted("station-dongping", &mut host).await;
    let (mut adviser, adviser_id, _) = scene.admitted("adviser1", &mut host).await;

    host.send(&ClientMessage::Mute {
        request_id: Some("m".into()),
        participant_id: station_id,
        kind: MediaKind::Audio,
    })
    .await;
    let muted = station.expect("told of the mute", |m| matches!(m, ServerMessage::MutedBy { .. })).await;
    assert_eq!(muted, ServerMessage::MutedBy { kind: MediaKind::Audio, by: "张敏（调解员）".into() });
    adviser
        .expect("station shown muted", |m| matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.participant_id == station_id && !p.audio_enabled)))
        .await;
    let rules = scene.server.state.rooms.media_rules(scene.session_id).unwrap();
    assert!(!rules.borrow().may_flow(station_id, adviser_id, MediaKind::Audio));
    assert!(rules.borrow().may_flow(station_id, adviser_id, MediaKind::Video));

    // A station may not mute or remove.
    station
        .send(&ClientMessage::Remove { request_id: Some("r".into()), participant_id: adviser_id, reason: None })
        .await;
    station.expect("forbidden", is_error(ErrorCode::Forbidden)).await;

    host.send(&ClientMessage::Remove {
        request_id: Some("r".into()),
        participant_id: adviser_id,
        reason: Some("已咨询完毕".into()),
    })
    .await;
    adviser.expect("removed", |m| matches!(m, ServerMessage::Removed { .. })).await;
    assert_eq!(adviser.ending().await, Ending::Closed(1000));
    station.expect("adviser gone", room_with(2)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!rules.borrow().spaces.contains_key(&adviser_id), "removal stops forwarding to and from them");
}

async fn lock_keeps_newcomers_out(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    host.send(&ClientMessage::Lock { request_id: Some("l".into()), locked: true }).await;
    host.expect("locked", |m| matches!(m, ServerMessage::Room { room } if room.locked)).await;
    let mut party = scene.connect("party").await;
    party.expect("room locked", is_error(ErrorCode::RoomLocked)).await;
    assert_eq!(party.ending().await, Ending::Closed(4409));
    host.send(&ClientMessage::Lock { request_id: Some("u".into()), locked: false }).await;
    host.expect("unlocked", |m| matches!(m, ServerMessage::Room { room } if !room.locked)).await;
    let mut party = scene.connect("party").await;
    party.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await;
}

async fn reconnect_within_grace_keeps_the_place(db: Db) {
    let scene = scene(db, &["--reconnect-grace-secs", "5"]).await;
    let (mut host, _) = scene.host().await;
    let (station, station_id, resume) = scene.admitted("station-dongping", &mut host).await;
    host.send(&ClientMessage::OpenCaucus { request_id: None, participant_ids: vec![station_id] }).await;
    let ServerMessage::CaucusOpened { caucus_id, .. } =
        host.expect("caucus", |m| matches!(m, ServerMessage::CaucusOpened { .. })).await
    else {
        unreachable!()
    };
    station.drop_link();
    host.expect("station reconnecting", |m| matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.participant_id == station_id && p.reconnecting))).await;

    let mut back = SignalClient::connect(&scene.server.base_url, scene.token("station-dongping")).await;
    back.join(scene.session_id, Some(resume)).await;
    let room = view(
        back.expect("joined without the lobby", |m| {
            matches!(m, ServerMessage::Joined { .. } | ServerMessage::Waiting { .. })
        })
        .await,
    );
    assert_eq!(room.caucus_id, Some(caucus_id), "still in the caucus");
    host.expect("station back", |m| matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.participant_id == station_id && !p.reconnecting))).await;
}

async fn reconnect_after_grace_starts_over_and_others_are_told(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    let (station, _, resume) = scene.admitted("station-dongping", &mut host).await;
    host.expect("two", room_with(2)).await;
    station.drop_link();
    host.expect(
        "station reconnecting",
        |m| matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.reconnecting)),
    )
    .await;
    host.expect(
        "station removed after the grace period",
        |m| matches!(m, ServerMessage::Room { room } if room.participants.len() == 1 && room.lobby.is_empty()),
    )
    .await;
    let mut late = SignalClient::connect(&scene.server.base_url, scene.token("station-dongping")).await;
    late.join(scene.session_id, Some(resume)).await;
    late.expect("back to the lobby", |m| matches!(m, ServerMessage::Waiting { .. })).await;
}

async fn dead_connection_is_found_by_heartbeat(db: Db) {
    let scene = scene(db, &["--reconnect-grace-secs", "30"]).await;
    let (mut host, _) = scene.host().await;
    let (station, station_id, _) = scene.admitted("station-dongping", &mut host).await;
    // The station stops reading: no pong goes back. Keep the socket open.
    let started = std::time::Instant::now();
    host.expect("station found dead", |m| matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.participant_id == station_id && p.reconnecting))).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "found in {took:?} with a 200 ms heartbeat (three missed pongs)");
    drop(station);
}

async fn refused_tokens(db: Db) {
    let scene = scene(db, &[]).await;
    let base = scene.server.base_url.clone();
    let refused = |token: String, session: Uuid| {
        let base = base.clone();
        async move {
            let mut client = SignalClient::connect(&base, &token).await;
            client.join(session, None).await;
            let error = client.expect("an error", |m| matches!(m, ServerMessage::Error { .. })).await;
            let ServerMessage::Error { code, .. } = error else { unreachable!() };
            (code, client.ending().await)
        }
    };
    let station = scene.token("station-dongping").to_owned();
    let tampered = format!("{}x", &station[..station.len() - 1]);
    assert_eq!(refused(String::new(), scene.session_id).await, (ErrorCode::Unauthorized, Ending::Closed(4401)));
    assert_eq!(refused(tampered, scene.session_id).await, (ErrorCode::Unauthorized, Ending::Closed(4401)));
    assert_eq!(refused("not-a-token".into(), scene.session_id).await.0, ErrorCode::Unauthorized);

    // On another session: a staff member who is not on it, and a party's
    // invitation for this session used on another.
    let demo = Demo::load(&scene.server).await;
    let mediator = scene.server.login("mediator1").await;
    let other = video_session(&mediator, &demo).await;
    let other_id: Uuid = other.session_id.parse().unwrap();
    let mediator2 = scene.server.login("mediator2").await.token().unwrap().to_owned();
    assert_eq!(refused(mediator2, scene.session_id).await, (ErrorCode::NotOnSession, Ending::Closed(4403)));
    assert_eq!(
        refused(scene.token("party").to_owned(), other_id).await,
        (ErrorCode::NotOnSession, Ending::Closed(4403))
    );

    // A revoked invitation, and a cancelled session.
    mediator.post(&format!("/api/v1/invitations/{}/revoke", other.invitation_id), &json!({})).await;
    assert_eq!(refused(other.party_token.clone(), other_id).await, (ErrorCode::Unauthorized, Ending::Closed(4401)));
    mediator.post(&format!("/api/v1/sessions/{other_id}/cancel"), &json!({ "reason": "改期" })).await;
    let station = scene.token("station-dongping").to_owned();
    assert_eq!(refused(station, other_id).await, (ErrorCode::SessionClosed, Ending::Closed(4410)));

    // An expired staff token.
    let now = chrono::Utc::now().timestamp();
    let me = scene.server.login("adviser1").await.get("/api/v1/me").await.id();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": me, "ver": 1, "aud": "mediation-staff", "iat": now - 100, "exp": now - 10 }),
        &jsonwebtoken::EncodingKey::from_secret(&scene.server.jwt_secret()),
    )
    .unwrap();
    assert_eq!(refused(expired, scene.session_id).await.0, ErrorCode::Unauthorized);

    // The first message must be join.
    let mut client = SignalClient::connect(&scene.server.base_url, scene.token("adviser1")).await;
    client.send(&ClientMessage::Ping { request_id: None }).await;
    client.expect("join first", is_error(ErrorCode::JoinFirst)).await;
    assert_eq!(client.ending().await, Ending::Closed(1008));
}

async fn bad_input_gets_errors_and_the_connection_survives(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    let (mut station, _, _) = scene.admitted("station-dongping", &mut host).await;

    station.send_raw(format!("{{\"type\":\"chat\",\"text\":\"{}\"}}", "长".repeat(30_000))).await;
    station.expect("too large", is_error(ErrorCode::MessageTooLarge)).await;
    station.send_raw("{not json".into()).await;
    station.expect("invalid", is_error(ErrorCode::InvalidMessage)).await;
    station.send_raw(r#"{"type":"teleport"}"#.into()).await;
    station.expect("unknown type", is_error(ErrorCode::InvalidMessage)).await;
    station.send_binary(vec![0u8; 100]).await;
    station.expect("binary frame", is_error(ErrorCode::InvalidMessage)).await;
    station.send(&ClientMessage::Lock { request_id: Some("x".into()), locked: true }).await;
    let forbidden = station.expect("forbidden", is_error(ErrorCode::Forbidden)).await;
    assert!(
        matches!(forbidden, ServerMessage::Error { request_id: Some(id), .. } if id == "x"),
        "the reply echoes the request id"
    );
    station.send(&ClientMessage::Chat { request_id: None, to: None, text: "长".repeat(2001) }).await;
    station.expect("chat too long", is_error(ErrorCode::InvalidField)).await;
    station
        .send(&ClientMessage::Join {
            request_id: None,
            protocol_version: 1,
            session_id: scene.session_id,
            resume_token: None,
            new_peer_connections: false,
        })
        .await;
    station.expect("already joined", is_error(ErrorCode::AlreadyJoined)).await;

    station.send(&ClientMessage::Ping { request_id: Some("alive".into()) }).await;
    station.expect("still connected", |m| matches!(m, ServerMessage::Pong { .. })).await;
    host.send(&ClientMessage::Ping { request_id: Some("host".into()) }).await;
    host.expect("others unaffected", |m| matches!(m, ServerMessage::Pong { .. })).await;

    // Keeping it up closes the connection with 1008.
    for _ in 0..12 {
        station.send_raw("{".into()).await;
    }
    assert_eq!(station.ending().await, Ending::Closed(1008));
    host.send(&ClientMessage::Ping { request_id: Some("after".into()) }).await;
    host.expect("the room lives on", |m| matches!(m, ServerMessage::Pong { .. })).await;
}

async fn flood_closes_with_1008(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    for _ in 0..300 {
        if !host.try_send(&ClientMessage::Ping { request_id: None }).await {
            break;
        }
    }
    host.expect("rate limited", is_error(ErrorCode::RateLimited)).await;
    assert_eq!(host.ending().await, Ending::Closed(1008));
}

async fn room_size_limit(db: Db) {
    let scene = scene(db, &["--room-size-limit", "2"]).await;
    let (mut host, _) = scene.host().await;
    let mut station = scene.connect("station-dongping").await;
    station.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await;
    let mut adviser = scene.connect("adviser1").await;
    adviser.expect("room full", is_error(ErrorCode::RoomFull)).await;
    assert_eq!(adviser.ending().await, Ending::Closed(4409));
    host.send(&ClientMessage::Ping { request_id: None }).await;
    host.expect("pong", |m| matches!(m, ServerMessage::Pong { .. })).await;
}

async fn joins_leaves_and_moderation_are_recorded(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    let (mut station, station_id, _) = scene.admitted("station-dongping", &mut host).await;
    let (mut adviser, adviser_id, _) = scene.admitted("adviser1", &mut host).await;
    host.send(&ClientMessage::OpenCaucus { request_id: None, participant_ids: vec![adviser_id] }).await;
    let ServerMessage::CaucusOpened { caucus_id, .. } =
        host.expect("caucus", |m| matches!(m, ServerMessage::CaucusOpened { .. })).await
    else {
        unreachable!()
    };
    host.send(&ClientMessage::CloseCaucus { request_id: None, caucus_id }).await;
    adviser.expect("caucus closed", |m| matches!(m, ServerMessage::CaucusClosed { .. })).await;
    station.send(&ClientMessage::Leave { request_id: Some("bye".into()) }).await;
    station.expect("ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    host.send(&ClientMessage::EndSession { request_id: None }).await;
    adviser.expect("ended", |m| matches!(m, ServerMessage::SessionEnded { .. })).await;
    assert_eq!(adviser.ending().await, Ending::Closed(1000));

    for _ in 0..100 {
        if scene.server.state.rooms.pending_records() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mediator = scene.server.login("mediator1").await;
    let session = mediator.get(&format!("/api/v1/sessions/{}", scene.session.session_id)).await.body;
    assert_eq!(session["state"], "ended");
    assert!(session["actual_start"].is_string() && session["actual_end"].is_string());
    let attendance = session["attendance"].as_array().unwrap();
    assert_eq!(attendance.len(), 3, "mediator, station and adviser each joined once: {attendance:?}");
    assert!(attendance.iter().all(|a| a["left_at"].is_string()), "every attendance is closed");
    let station_row = attendance.iter().find(|a| a["participant_id"] == station_id.to_string()).unwrap();
    assert!(station_row["left_at"].as_str() <= session["actual_end"].as_str(), "the station left before the end");
    let case = mediator.get(&format!("/api/v1/cases/{}", scene.session.case_id)).await.body;
    assert_eq!(case["case"]["state"], "in_session");

    let events = scene.server.login("admin").await.get("/api/v1/audit?limit=1000").await.body;
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_id"] == scene.session.session_id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "session.join",
        "session.admit",
        "session.caucus_open",
        "session.caucus_close",
        "session.leave",
        "session.end",
        "session.state",
    ] {
        assert!(actions.contains(&expected), "{expected} recorded: {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| **a == "session.join").count(), 3);
    assert_eq!(actions.iter().filter(|a| **a == "session.admit").count(), 2);
}

async fn heartbeat_pongs_before_join_do_not_count_as_the_first_message(db: Db) {
    let scene = scene(db, &[]).await;
    let mut host = SignalClient::connect(&scene.server.base_url, scene.token("mediator1")).await;
    // Read for a while before joining: the client answers the server's
    // heartbeat pings with pongs, as browsers do.
    let early = host.next(Duration::from_millis(700)).await;
    assert!(early.is_none(), "the server says nothing before join: {early:?}");
    host.join(scene.session_id, None).await;
    host.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await;
}

async fn revoked_invitations_and_deactivated_accounts_are_expelled_at_once(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    let (mut party, _, _) = scene.admitted("party", &mut host).await;
    let (mut station, _, _) = scene.admitted("station-dongping", &mut host).await;

    let mediator = scene.server.login("mediator1").await;
    let revoked =
        mediator.post(&format!("/api/v1/invitations/{}/revoke", scene.session.invitation_id), &json!({})).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let removed = party.expect("removed", |m| matches!(m, ServerMessage::Removed { .. })).await;
    assert_eq!(removed, ServerMessage::Removed { reason: Some("the invitation was withdrawn".into()) });
    assert_eq!(party.ending().await, Ending::Closed(1000));

    let admin = scene.server.login("admin").await;
    let station_account = admin
        .get("/api/v1/accounts?role=station")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "station-dongping")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(admin.post(&format!("/api/v1/accounts/{station_account}/deactivate"), &json!({})).await.status, 200);
    station.expect("removed", |m| matches!(m, ServerMessage::Removed { .. })).await;
    assert_eq!(station.ending().await, Ending::Closed(1000));
    host.expect("alone again", |m| matches!(m, ServerMessage::Room { room } if room.participants.len() == 1)).await;
}

async fn ending_through_the_api_closes_the_room(db: Db) {
    let scene = scene(db, &[]).await;
    let (mut host, _) = scene.host().await;
    let (mut station, _, _) = scene.admitted("station-dongping", &mut host).await;
    let mediator = scene.server.login("mediator1").await;
    let ended = mediator.post(&format!("/api/v1/sessions/{}/end", scene.session.session_id), &json!({})).await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(ended.body["state"], "ended");
    station.expect("session ended", |m| matches!(m, ServerMessage::SessionEnded { .. })).await;
    assert_eq!(station.ending().await, Ending::Closed(1000));
    host.expect("session ended", |m| matches!(m, ServerMessage::SessionEnded { .. })).await;
    let mut late = SignalClient::connect(&scene.server.base_url, scene.token("station-dongping")).await;
    late.join(scene.session_id, None).await;
    late.expect("closed", is_error(ErrorCode::SessionClosed)).await;
}

async fn agreement_pushed_to_the_room_and_confirmed_there(db: Db) {
    let scene = scene(db, &[]).await;
    let mediator = scene.server.login("mediator1").await;
    let case_id = &scene.session.case_id;
    let saved = mediator
        .put(
            &format!("/api/v1/cases/{case_id}/agreement"),
            &json!({ "facts": "排水沟之争", "responsibilities": "双方", "terms": "改道向东", "performance_manner": "共同施工",
                     "performance_deadline": (chrono::Utc::now() + chrono::Duration::days(9)).format("%Y-%m-%d").to_string() }),
        )
        .await
        .body;
    let hash = saved["text_sha256"].as_str().unwrap().to_owned();
    let file = mediator.get(&format!("/api/v1/cases/{case_id}")).await.body;
    let applicant: Uuid = file["parties"][0]["id"].as_str().unwrap().parse().unwrap();

    let (mut host, _) = scene.host().await;
    let (mut station, _, _) = scene.admitted("station-dongping", &mut host).await;
    let (mut party, _, _) = scene.admitted("party", &mut host).await;
    host.send(&ClientMessage::PushAgreement { request_id: Some("push".into()) }).await;
    let pushed = party.expect("agreement pushed", |m| matches!(m, ServerMessage::AgreementPushed { .. })).await;
    let ServerMessage::AgreementPushed { text, text_sha256, version, .. } = pushed else { unreachable!() };
    assert_eq!(text, saved["text"].as_str().unwrap(), "the exact text on file");
    assert_eq!((text_sha256.as_str(), version), (hash.as_str(), 1));
    station.expect("agreement pushed", |m| matches!(m, ServerMessage::AgreementPushed { .. })).await;

    // The party's ID card was checked before admission (scene.admitted).
    // A stale hash is refused; the party confirms the real one in the room.
    party
        .send(&ClientMessage::ConfirmAgreement {
            request_id: Some("old".into()),
            text_sha256: "0".repeat(64),
            party_id: None,
        })
        .await;
    party.expect("stale", is_error(ErrorCode::StaleAgreement)).await;
    party
        .send(&ClientMessage::ConfirmAgreement {
            request_id: Some("ok".into()),
            text_sha256: hash.clone(),
            party_id: None,
        })
        .await;
    host.expect("confirmed", |m| matches!(m, ServerMessage::AgreementConfirmed { effective: false, .. })).await;
    // The station confirms only for a party it said is sitting in its room.
    station
        .send(&ClientMessage::ConfirmAgreement {
            request_id: Some("st0".into()),
            text_sha256: hash.clone(),
            party_id: Some(applicant),
        })
        .await;
    station.expect("not present", is_error(ErrorCode::InvalidField)).await;
    // Named present only with their consent, and confirming only once checked.
    station.send(&ClientMessage::PartiesPresent { request_id: None, party_ids: vec![applicant] }).await;
    station.expect("no consent", is_error(ErrorCode::ConsentRequired)).await;
    scene.consent_at_station(&mut station, applicant).await;
    station.send(&ClientMessage::PartiesPresent { request_id: Some("pp".into()), party_ids: vec![applicant] }).await;
    station.expect("ack", |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if id == "pp")).await;
    station
        .send(&ClientMessage::ConfirmAgreement {
            request_id: None,
            text_sha256: hash.clone(),
            party_id: Some(applicant),
        })
        .await;
    station.expect("not checked", is_error(ErrorCode::IdentityCheckRequired)).await;
    scene.check_identity(&mut station, applicant).await;
    station
        .send(&ClientMessage::ConfirmAgreement {
            request_id: Some("st".into()),
            text_sha256: hash.clone(),
            party_id: Some(applicant),
        })
        .await;
    host.expect(
        "confirmed",
        |m| matches!(m, ServerMessage::AgreementConfirmed { party_id, .. } if *party_id == applicant),
    )
    .await;
    // The mediator does not confirm as a party.
    host.send(&ClientMessage::ConfirmAgreement { request_id: None, text_sha256: hash.clone(), party_id: None }).await;
    host.expect("forbidden", is_error(ErrorCode::Forbidden)).await;

    let agreement = mediator.get(&format!("/api/v1/cases/{case_id}/agreement")).await.body;
    let methods: Vec<&str> =
        agreement["confirmations"].as_array().unwrap().iter().map(|c| c["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["video_room", "village_station"]);
    assert_eq!(agreement["state"], "signing");
    assert_eq!(agreement["awaiting"].as_array().unwrap().len(), 1, "only the mediator's signature is missing");
}

/// The room checks a confirmation against the text rendered from the case
/// as it stands, like REST: a party corrected after the push makes the
/// pushed text stale, and nothing is recorded until the mediator saves again.
async fn a_party_corrected_after_the_push_makes_room_confirmations_stale(db: Db) {
    let scene = scene(db, &[]).await;
    let mediator = scene.server.login("mediator1").await;
    let case_id = &scene.session.case_id;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(9)).format("%Y-%m-%d").to_string();
    let draft = json!({ "facts": "排水沟之争", "responsibilities": "双方", "terms": "改道向东",
                        "performance_manner": "共同施工", "performance_deadline": deadline });
    let saved = mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &draft).await.body;
    let hash = saved["text_sha256"].as_str().unwrap().to_owned();
    let file = mediator.get(&format!("/api/v1/cases/{case_id}")).await.body;
    let applicant = file["parties"][0]["id"].as_str().unwrap().to_owned();

    let (mut host, _) = scene.host().await;
    let (mut party, _, _) = scene.admitted("party", &mut host).await;
    host.send(&ClientMessage::PushAgreement { request_id: Some("push".into()) }).await;
    party.expect("agreement pushed", |m| matches!(m, ServerMessage::AgreementPushed { .. })).await;

    let corrected =
        mediator.patch(&format!("/api/v1/cases/{case_id}/parties/{applicant}"), &json!({ "name": "王大明" })).await;
    assert_eq!(corrected.status, 200, "{:?}", corrected.body);
    party
        .send(&ClientMessage::ConfirmAgreement { request_id: Some("old".into()), text_sha256: hash, party_id: None })
        .await;
    party.expect("stale", is_error(ErrorCode::StaleAgreement)).await;
    let agreement = mediator.get(&format!("/api/v1/cases/{case_id}/agreement")).await.body;
    assert_eq!(agreement["confirmations"].as_array().unwrap().len(), 0, "nothing recorded for the old text");

    // Saved again, the new text is pushed and confirmed.
    let saved = mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &draft).await.body;
    let hash = saved["text_sha256"].as_str().unwrap().to_owned();
    assert!(saved["text"].as_str().unwrap().contains("王大明"));
    party
        .send(&ClientMessage::ConfirmAgreement { request_id: Some("new".into()), text_sha256: hash, party_id: None })
        .await;
    host.expect("confirmed", |m| matches!(m, ServerMessage::AgreementConfirmed { effective: false, .. })).await;
}

async fn stations_name_present_parties_and_audio_only_is_per_subscriber(db: Db) {
    let scene = scene(db, &[]).await;
    let mediator = scene.server.login("mediator1").await;
    let file = mediator.get(&format!("/api/v1/cases/{}", scene.session.case_id)).await.body;
    let applicant: Uuid = file["parties"][0]["id"].as_str().unwrap().parse().unwrap();
    let (mut host, host_id) = scene.host().await;
    let (mut station, station_id, _) = scene.admitted("station-dongping", &mut host).await;
    let (mut adviser, adviser_id, _) = scene.admitted("adviser1", &mut host).await;

    scene.consent_at_station(&mut station, applicant).await;
    station.send(&ClientMessage::PartiesPresent { request_id: Some("p".into()), party_ids: vec![applicant] }).await;
    host.expect("parties shown", |m| matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.parties_present == vec!["王大爷".to_owned()]))).await;
    adviser.send(&ClientMessage::PartiesPresent { request_id: None, party_ids: vec![applicant] }).await;
    adviser.expect("stations only", is_error(ErrorCode::Forbidden)).await;

    // The mediator switches the station to audio only (a weak village link).
    host.send(&ClientMessage::SetAudioOnly { request_id: None, participant_id: Some(station_id), audio_only: true })
        .await;
    station.expect("told", |m| matches!(m, ServerMessage::AudioOnly { audio_only: true })).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rules = scene.server.state.rooms.media_rules(scene.session_id).unwrap();
    assert!(!rules.borrow().may_flow(host_id, station_id, MediaKind::Video), "no video to the station");
    assert!(rules.borrow().may_flow(host_id, station_id, MediaKind::Audio));
    assert!(rules.borrow().may_flow(host_id, adviser_id, MediaKind::Video), "others still get video");
    assert!(rules.borrow().may_flow(station_id, adviser_id, MediaKind::Video), "the station still sends video");
    station.send(&ClientMessage::SetAudioOnly { request_id: None, participant_id: None, audio_only: false }).await;
    station.expect("told", |m| matches!(m, ServerMessage::AudioOnly { audio_only: false })).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rules.borrow().may_flow(host_id, station_id, MediaKind::Video), "video resumes on request");
    // Only a mediator switches someone else.
    adviser
        .send(&ClientMessage::SetAudioOnly { request_id: None, participant_id: Some(station_id), audio_only: true })
        .await;
    adviser.expect("forbidden", is_error(ErrorCode::Forbidden)).await;
}

async fn ice_servers_include_stun_and_time_limited_turn(db: Db) {
    let scene = scene(
        db,
        &[
            "--stun-urls",
            "stun:stun.example.cn:3478",
            "--turn-urls",
            "turns:turn.example.cn:443?transport=tcp",
            "--turn-secret",
            "coturn-shared-secret",
        ],
    )
    .await;
    let mut host = scene.connect("mediator1").await;
    let ServerMessage::Joined { participant_id, ice_servers, .. } =
        host.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(ice_servers[0].urls, ["stun:stun.example.cn:3478"]);
    assert!(ice_servers[0].username.is_none());
    let turn = &ice_servers[1];
    assert_eq!(turn.urls, ["turns:turn.example.cn:443?transport=tcp"]);
    let username = turn.username.clone().unwrap();
    let (expiry, who) = username.split_once(':').unwrap();
    assert_eq!(who, participant_id.to_string());
    let expiry: i64 = expiry.parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(expiry > now + 3600 && expiry <= now + 12 * 3600 + 5, "valid for the working day");
    let (_, expected) = mediation_server::sfu::turn::credentials("coturn-shared-secret", participant_id, expiry);
    assert_eq!(turn.credential.as_deref(), Some(expected.as_str()));
}

/// A mediator's client sends 1,500 well-formed messages of every kind with
/// one field swapped for a value of any type (or someone's id): each gets
/// an answer or closes only that connection (bad messages), the room keeps
/// serving the others, and the server keeps answering.
async fn a_fuzzing_mediator_never_breaks_the_room(db: Db) {
    let scene = scene(db, &["--ws-heartbeat-ms", "30000", "--ws-messages-per-second", "1000000"]).await;
    let (mut host, _) = scene.host().await;
    let (mut adviser, adviser_id, _) = scene.admitted("adviser1", &mut host).await;
    let (_station, station_id, _) = scene.admitted("station-dongping", &mut host).await;
    let mut mutator = mediation_tests::fuzz::Mutator::new(mediation_tests::fuzz::Target::SignalingMessage, 7);
    let (mut reconnects, mut sent) = (0, 0);
    while sent < 1500 {
        let message = mutator.room_message(&[station_id]);
        if message.contains(&adviser_id.to_string()) {
            continue;
        }
        if host.try_send_raw(message).await {
            sent += 1;
            while host.next(Duration::ZERO).await.is_some() {}
        } else {
            // Closed after ten bad messages: that connection only. Back in.
            reconnects += 1;
            host = scene.host().await.0;
        }
    }
    println!("{sent} messages, {reconnects} reconnections after bad messages");
    // The last bad messages may have closed this connection after they were
    // sent (a race that failed a run under load): the room is asked through
    // a fresh one, as the mediator's page would.
    let mut host = scene.host().await.0;
    host.send(&ClientMessage::Ping { request_id: Some("host".into()) }).await;
    host.expect("the room answers the mediator", |m| matches!(m, ServerMessage::Pong { .. })).await;
    adviser.send(&ClientMessage::Ping { request_id: Some("adviser".into()) }).await;
    adviser.expect("the room still serves the adviser", |m| matches!(m, ServerMessage::Pong { .. })).await;
    assert_eq!(scene.server.anonymous().get("/healthz").await.status, 200);
}
