//! The hearing's own records, over real WebSockets and the REST API: a
//! party's consent to mediating online (on the invitation page, in the
//! lobby, or in person at a station), its withdrawal, and the identity
//! check, with what each allows, what the mediator and the station see, and
//! what is recorded; and the transcript (调解笔录), saved in versions, shown
//! in the room and confirmed by each party.

use mediation_tests::scene::{Scene, acked, is_error, notice_version, scene, view, waiting_id};
use mediation_tests::signal::{Ending, SignalClient};
use mediation_tests::{Db, on_both_databases};
use serde_json::{Value, json};
use signaling_proto::{
    ClientMessage, ConsentDecision, ErrorCode, IdentityMethod, MediaKind, PartyStanding, Publicity, RoomView,
    ServerMessage,
};
use uuid::Uuid;

on_both_databases!(
    a_party_without_consent_waits_and_decides_in_the_lobby,
    stations_record_consent_and_check_identity_in_person,
    the_transcript_is_saved_in_versions_shown_and_confirmed,
    observers_watch_and_listen_until_let_speak,
    confirmations_recorded_later_need_consent_and_a_check,
);

fn standing(room: &RoomView, party_id: Uuid) -> PartyStanding {
    room.parties.iter().find(|p| p.party_id == party_id).cloned().expect("the party in the view")
}

/// Waits for a room view in which `party_id`'s standing satisfies `wanted`.
async fn standing_seen(client: &mut SignalClient, party_id: Uuid, wanted: impl Fn(&PartyStanding) -> bool) -> RoomView {
    let message = client
        .expect("the party's standing", |m| match m {
            ServerMessage::Room { room } | ServerMessage::Joined { room, .. } => {
                room.parties.iter().any(|p| p.party_id == party_id && wanted(p))
            }
            _ => false,
        })
        .await;
    view(message)
}

fn consent(request_id: &str, decision: ConsentDecision, publicity: Option<Publicity>, notice: &str) -> ClientMessage {
    ClientMessage::RecordConsent {
        request_id: Some(request_id.into()),
        party_id: None,
        decision,
        publicity,
        notice_version: notice.into(),
    }
}

async fn session_detail(scene: &Scene) -> Value {
    let mediator = scene.server.login("mediator1").await;
    mediator.get(&format!("/api/v1/sessions/{}", scene.session.session_id)).await.body
}

async fn audit_count(scene: &Scene, action: &str) -> usize {
    let admin = scene.server.login("admin").await;
    let events = admin.get("/api/v1/audit?limit=500").await.body;
    events.as_array().unwrap().iter().filter(|event| event["action"] == action).count()
}

async fn a_party_without_consent_waits_and_decides_in_the_lobby(db: Db) {
    let scene = scene(db, &[]).await;
    let party_id: Uuid = scene.session.party_id.parse().unwrap();
    let notice = notice_version(&scene.server).await;
    // The scene's party consented on the invitation page; they withdraw there.
    let withdrawn = scene.party_decides(json!({ "decision": "withdraw" })).await;
    assert_eq!(withdrawn.status, 201, "{}", withdrawn.body);
    assert_eq!(
        (withdrawn.body["decision"].as_str(), withdrawn.body["method"].as_str()),
        (Some("withdraw"), Some("own_device"))
    );
    let again = scene.party_decides(json!({ "decision": "withdraw" })).await;
    assert_eq!((again.status, again.body["error"].as_str()), (409, Some("conflict")), "withdrawn already");
    let opened = scene.server.anonymous().with_token(&scene.session.party_token).get("/api/v1/invitation").await;
    assert_eq!(
        (opened.body["consent"].as_str(), opened.body["notice_version"].as_str()),
        (Some("withdraw"), Some(notice.as_str()))
    );

    // In the lobby the mediator sees that they have not consented, and cannot admit them.
    let (mut host, host_id) = scene.host().await;
    let mut party = scene.connect("party").await;
    let participant_id = waiting_id(&mut party).await;
    let room = standing_seen(&mut host, party_id, |p| p.present_with == Some(participant_id)).await;
    assert_eq!(standing(&room, party_id).consent, Some(ConsentDecision::Withdraw));
    host.send(&ClientMessage::Admit { request_id: None, participant_id }).await;
    host.expect("no consent", is_error(ErrorCode::ConsentRequired)).await;

    // They decide from the lobby: an old notice and a consent without the
    // public/non-public choice are refused, then the consent is recorded.
    party.send(&consent("old", ConsentDecision::Consent, Some(Publicity::Public), "2001-01-01")).await;
    party.expect("old notice", is_error(ErrorCode::NoticeChanged)).await;
    party.send(&consent("half", ConsentDecision::Consent, None, &notice)).await;
    party.expect("no publicity", is_error(ErrorCode::InvalidField)).await;
    party.send(&consent("yes", ConsentDecision::Consent, Some(Publicity::Public), &notice)).await;
    party.expect("ack", |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if id == "yes")).await;
    let room = standing_seen(&mut host, party_id, |p| p.consent == Some(ConsentDecision::Consent)).await;
    assert_eq!(standing(&room, party_id).publicity, Some(Publicity::Public));
    // Nobody decides for the party but the party (or a station, in person).
    host.send(&consent("for", ConsentDecision::Withdraw, None, &notice)).await;
    host.expect("forbidden", is_error(ErrorCode::Forbidden)).await;

    // Not admitted before their ID card is checked: the mediator views their
    // camera in the lobby (the party is told, and may publish), compares the
    // card, records the check (once), and admits them.
    host.send(&ClientMessage::Admit { request_id: None, participant_id }).await;
    host.expect("not checked", is_error(ErrorCode::IdentityCheckRequired)).await;
    acked(&mut host, ClientMessage::ViewCamera { request_id: Some("view".into()), participant_id, viewing: true })
        .await;
    party.expect("told they are viewed", |m| matches!(m, ServerMessage::CameraViewed { viewing: true, .. })).await;
    let mut rules = scene.server.state.rooms.media_rules(scene.session_id).unwrap();
    // The ack comes before the room publishes its new rules: wait for them.
    let viewed = |r: &mediation_server::sfu::MediaRules| {
        r.may_publish(participant_id) && r.may_flow(participant_id, host_id, MediaKind::Video)
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), rules.wait_for(viewed))
        .await
        .expect("the mediator sees them")
        .unwrap();
    scene.check_identity(&mut host, party_id).await;
    let room = standing_seen(&mut host, party_id, |p| p.identity_checked.is_some()).await;
    assert_eq!(standing(&room, party_id).identity_checked, Some(IdentityMethod::IdCardOnCamera));
    host.send(&ClientMessage::CheckIdentity { request_id: None, party_id }).await;
    host.expect("checked already", is_error(ErrorCode::InvalidField)).await;
    acked(&mut host, ClientMessage::Admit { request_id: Some("in".into()), participant_id }).await;
    party.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await;

    // Withdrawing in the room stops the mediation for them: they are sent out.
    party.send(&consent("stop", ConsentDecision::Withdraw, None, &notice)).await;
    party.expect("ack", |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if id == "stop")).await;
    party.expect("removed", |m| matches!(m, ServerMessage::Removed { .. })).await;
    assert_eq!(party.ending().await, Ending::Closed(1000));
    standing_seen(&mut host, party_id, |p| p.consent == Some(ConsentDecision::Withdraw) && p.present_with.is_none())
        .await;

    // On record: every decision in order, with its method and notice, and the check.
    let detail = session_detail(&scene).await;
    let decisions: Vec<&str> =
        detail["consents"].as_array().unwrap().iter().map(|c| c["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["consent", "withdraw", "consent", "withdraw"]);
    assert!(
        detail["consents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["method"] == "own_device" && c["notice_version"] == notice)
    );
    let checks = detail["identity_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["method"], "id_card_on_camera");
    assert_eq!(audit_count(&scene, "session.consent").await, 4);
    assert_eq!(audit_count(&scene, "session.identity_check").await, 1);
}

async fn stations_record_consent_and_check_identity_in_person(db: Db) {
    let scene = scene(db, &[]).await;
    let mediator = scene.server.login("mediator1").await;
    let file = mediator.get(&format!("/api/v1/cases/{}", scene.session.case_id)).await.body;
    let applicant: Uuid = file["parties"][0]["id"].as_str().unwrap().parse().unwrap();
    let notice = notice_version(&scene.server).await;
    let (mut host, _) = scene.host().await;
    let (mut station, station_id, _) = scene.admitted("station-dongping", &mut host).await;
    let (mut adviser, _, _) = scene.admitted("adviser1", &mut host).await;
    let at_station = |request_id: &str, decision, publicity, party_id| ClientMessage::RecordConsent {
        request_id: Some(request_id.into()),
        party_id: Some(party_id),
        decision,
        publicity,
        notice_version: notice.clone(),
    };

    // A refusal in person is recorded; a party who refused is not named present.
    station.send(&at_station("no", ConsentDecision::Refuse, None, applicant)).await;
    station.expect("ack", |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if id == "no")).await;
    standing_seen(&mut host, applicant, |p| p.consent == Some(ConsentDecision::Refuse)).await;
    station.send(&ClientMessage::PartiesPresent { request_id: None, party_ids: vec![applicant] }).await;
    station.expect("refused", is_error(ErrorCode::ConsentRequired)).await;
    // They change their mind; the station names them present and checks their card.
    scene.consent_at_station(&mut station, applicant).await;
    station.send(&ClientMessage::PartiesPresent { request_id: Some("here".into()), party_ids: vec![applicant] }).await;
    station.expect("ack", |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if id == "here")).await;
    scene.check_identity(&mut station, applicant).await;
    let seen = standing_seen(&mut station, applicant, |p| p.identity_checked.is_some()).await;
    let applicant_standing = standing(&seen, applicant);
    assert_eq!(applicant_standing.present_with, Some(station_id), "the station sees whom it seats");
    assert_eq!(applicant_standing.identity_checked, Some(IdentityMethod::IdCardAtStation));
    let masked = applicant_standing.id_number_masked.expect("the masked number to compare the card with");
    assert!(masked.contains('*') && !masked.contains("19500101"), "masked: {masked}");
    standing_seen(&mut host, applicant, |p| p.present_with == Some(station_id) && p.identity_checked.is_some()).await;

    // Only parties of the case; a party on their own device decides for themself only.
    station.send(&at_station("who", ConsentDecision::Consent, Some(Publicity::Public), Uuid::new_v4())).await;
    station.expect("not a party", is_error(ErrorCode::InvalidField)).await;
    let mut party = scene.connect("party").await;
    party.expect("waiting", |m| matches!(m, ServerMessage::Waiting { .. })).await;
    party.send(&at_station("other", ConsentDecision::Withdraw, None, applicant)).await;
    party.expect("forbidden", is_error(ErrorCode::Forbidden)).await;
    // The adviser sees nothing of the parties' standing.
    adviser
        .assert_none_before_pong(
            "the parties' standing",
            |m| matches!(m, ServerMessage::Room { room } if !room.parties.is_empty()),
        )
        .await;

    // Withdrawn in person: no longer present at the station.
    station.send(&at_station("stop", ConsentDecision::Withdraw, None, applicant)).await;
    station.expect("ack", |m| matches!(m, ServerMessage::Ack { request_id: Some(id) } if id == "stop")).await;
    host.expect("no longer present", |m| {
        matches!(m, ServerMessage::Room { room } if room.participants.iter().all(|p| p.parties_present.is_empty())
            && room.parties.iter().any(|p| p.party_id == applicant && p.consent == Some(ConsentDecision::Withdraw)))
    })
    .await;

    let applicant_id = file["parties"][0]["id"].clone();
    let detail = session_detail(&scene).await;
    let in_person: Vec<&Value> =
        detail["consents"].as_array().unwrap().iter().filter(|c| c["party_id"] == applicant_id).collect();
    assert_eq!(in_person.len(), 3, "refusal, consent, withdrawal: {}", detail["consents"]);
    assert!(in_person.iter().all(|c| c["method"] == "at_station" && c["recorded_by"].is_string()));
    assert_eq!(detail["identity_checks"][0]["method"], "id_card_at_station");
}

async fn the_transcript_is_saved_in_versions_shown_and_confirmed(db: Db) {
    let scene = scene(db, &[]).await;
    let mediator = scene.server.login("mediator1").await;
    let file = mediator.get(&format!("/api/v1/cases/{}", scene.session.case_id)).await.body;
    let applicant: Uuid = file["parties"][0]["id"].as_str().unwrap().parse().unwrap();
    let own_party: Uuid = scene.session.party_id.parse().unwrap();
    let path = format!("/api/v1/sessions/{}/transcript", scene.session.session_id);
    let body = |expected: Value, notes: &str| {
        json!({ "expected_version": expected,
                "statements": [{ "party_id": applicant, "statement": "排水沟的水流进我家院子。" },
                               { "party_id": own_party, "statement": "沟是老辈人挖的，一直这么走。" }],
                "agreed_facts": "排水沟在两家之间，雨季漫水。", "mediator_notes": notes,
                "oral_terms": "排水沟改道向东，两家各出一半工钱。" })
    };
    // Not before the hearing has begun; only the case's managers.
    let early = mediator.put(&path, &body(Value::Null, "记录")).await;
    assert_eq!((early.status, early.body["error"].as_str()), (409, Some("invalid_state")), "{}", early.body);
    let (mut host, _) = scene.host().await;
    let (mut station, _, _) = scene.admitted("station-dongping", &mut host).await;
    let (mut party, _, _) = scene.admitted("party", &mut host).await;
    let station_api = scene.server.login("station-dongping").await;
    assert_eq!(station_api.put(&path, &body(Value::Null, "记录")).await.status, 403);
    let stranger = json!({ "statements": [{ "party_id": Uuid::new_v4(), "statement": "x" }], "agreed_facts": "", "mediator_notes": "" });
    assert_eq!(mediator.put(&path, &stranger).await.status, 422, "a statement of someone not a party");

    let first = mediator.put(&path, &body(Value::Null, "双方情绪平稳。")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["version"], 1);
    let text = first.body["text"].as_str().unwrap();
    for words in ["人民调解笔录", "申请人王大爷：排水沟的水流进我家院子。", "第二十八条", "排水沟改道向东"]
    {
        assert!(text.contains(words), "{words} in {text}");
    }
    assert!(first.body["attendees"].as_str().unwrap().contains("东平村说事拉理室"), "attendance names who took part");
    assert_eq!(first.body["awaiting"].as_array().unwrap().len(), 2);

    // Shown in the room; the party confirms once their ID card was checked.
    acked(&mut host, ClientMessage::PushTranscript { request_id: Some("push".into()) }).await;
    let ServerMessage::TranscriptPushed { text_sha256, version, .. } =
        party.expect("pushed", |m| matches!(m, ServerMessage::TranscriptPushed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!((version, text_sha256.as_str()), (1, first.body["text_sha256"].as_str().unwrap()));
    let confirm = |hash: &str, party_id| ClientMessage::ConfirmTranscript {
        request_id: Some("c".into()),
        text_sha256: hash.to_owned(),
        party_id,
    };
    // (The party's ID card was checked before admission.)
    acked(&mut party, confirm(&text_sha256, None)).await;
    host.expect(
        "confirmed",
        |m| matches!(m, ServerMessage::TranscriptConfirmed { party_id } if *party_id == own_party),
    )
    .await;
    party.send(&confirm(&text_sha256, None)).await;
    party.expect("once", is_error(ErrorCode::InvalidField)).await;

    // Edited: a new version; the old confirmation is void and the old hash stale.
    let stale_edit = mediator.put(&path, &body(Value::Null, "另一份")).await;
    assert_eq!((stale_edit.status, stale_edit.body["error"].as_str()), (409, Some("stale")));
    let second = mediator.put(&path, &body(json!(1), "双方情绪平稳，同意改道。")).await;
    assert_eq!(second.body["version"], 2, "{}", second.body);
    assert!(second.body["confirmations"][0]["voided_at"].is_string(), "the first version's confirmation is void");
    party.send(&confirm(&text_sha256, None)).await;
    party.expect("stale", is_error(ErrorCode::StaleTranscript)).await;
    acked(&mut host, ClientMessage::PushTranscript { request_id: Some("push".into()) }).await;
    let ServerMessage::TranscriptPushed { text_sha256, .. } =
        party.expect("pushed again", |m| matches!(m, ServerMessage::TranscriptPushed { version: 2, .. })).await
    else {
        unreachable!()
    };
    acked(&mut party, confirm(&text_sha256, None)).await;
    // The station confirms for the applicant sitting with it.
    scene.consent_at_station(&mut station, applicant).await;
    acked(&mut station, ClientMessage::PartiesPresent { request_id: Some("here".into()), party_ids: vec![applicant] })
        .await;
    scene.check_identity(&mut station, applicant).await;
    acked(&mut station, confirm(&text_sha256, Some(applicant))).await;

    let read = mediator.get(&path).await.body;
    assert_eq!(read["version"], 2);
    assert_eq!(read["awaiting"], json!([]), "every party confirmed the version in force");
    let methods: Vec<&str> =
        read["confirmations"].as_array().unwrap().iter().map(|c| c["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["video_room", "video_room", "village_station"]);
    assert_eq!(audit_count(&scene, "transcript.save").await, 2);
    assert_eq!(audit_count(&scene, "transcript.confirm").await, 3);
    let adviser = scene.server.login("adviser1").await;
    assert_eq!(adviser.get(&path).await.status, 200, "those on the session read it");
}

async fn observers_watch_and_listen_until_let_speak(db: Db) {
    let scene = scene(db, &[]).await;
    let mediator = scene.server.login("mediator1").await;
    let path = format!("/api/v1/sessions/{}/observers", scene.session.session_id);
    let station_api = scene.server.login("station-dongping").await;
    assert_eq!(station_api.post(&path, &json!({ "name": "王村长", "relation": "村老" })).await.status, 403);
    assert_eq!(mediator.post(&path, &json!({ "name": "王村长", "relation": " " })).await.status, 422);
    let invited = mediator.post(&path, &json!({ "name": "王村长", "relation": "村老" })).await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let observer =
        invited.body["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "observer").unwrap().clone();
    assert_eq!(observer["relation"], "村老");
    let token = observer["invitation"]["link"].as_str().unwrap().split("#t=").nth(1).unwrap().to_owned();
    let invitation = scene.server.anonymous().with_token(&token);
    assert_eq!(invitation.get("/api/v1/invitation").await.body["your_part"], "observer");
    let decided = invitation
        .post("/api/v1/invitation/consent", &json!({ "decision": "consent", "publicity": "public", "notice_version": notice_version(&scene.server).await }))
        .await;
    assert_eq!(decided.status, 403, "an observer has no decision to make");

    // Admitted without a decision; seen by the parties with their relation, but silent.
    let (mut host, host_id) = scene.host().await;
    let mut watcher = SignalClient::connect(&scene.server.base_url, &token).await;
    watcher.join(scene.session_id, None).await;
    let observer_id = waiting_id(&mut watcher).await;
    acked(&mut host, ClientMessage::Admit { request_id: Some("in".into()), participant_id: observer_id }).await;
    let joined = view(watcher.expect("joined", |m| matches!(m, ServerMessage::Joined { .. })).await);
    assert!(joined.parties.is_empty(), "an observer sees nothing of the parties' standing");
    let room = view(
        host.expect(
            "the observer in the room",
            |m| matches!(m, ServerMessage::Room { room } if room.participants.len() == 2),
        )
        .await,
    );
    let info = room.participants.iter().find(|p| p.participant_id == observer_id).unwrap();
    assert_eq!((info.relation.as_deref(), info.may_speak, info.audio_enabled), (Some("村老"), Some(false), false));
    let rules = scene.server.state.rooms.media_rules(scene.session_id).unwrap();
    assert!(!rules.borrow().may_flow(observer_id, host_id, MediaKind::Audio), "nobody hears the observer");
    assert!(rules.borrow().may_flow(host_id, observer_id, MediaKind::Video), "the observer sees the room");

    // Nothing to confirm or decide, no private session, no chat until let speak.
    watcher.send(&ClientMessage::Chat { request_id: None, to: None, text: "我说两句".into() }).await;
    watcher.expect("silent", is_error(ErrorCode::Forbidden)).await;
    watcher
        .send(&ClientMessage::ConfirmAgreement { request_id: None, text_sha256: "0".repeat(64), party_id: None })
        .await;
    watcher.expect("no confirmation", is_error(ErrorCode::Forbidden)).await;
    host.send(&ClientMessage::OpenCaucus { request_id: None, participant_ids: vec![observer_id] }).await;
    host.expect("no private session", is_error(ErrorCode::InvalidField)).await;

    // The mediator lets them speak: seen and heard.
    acked(
        &mut host,
        ClientMessage::AllowSpeaking { request_id: Some("speak".into()), participant_id: observer_id, allowed: true },
    )
    .await;
    host.expect(
        "may speak",
        |m| matches!(m, ServerMessage::Room { room } if room.participants.iter().any(|p| p.may_speak == Some(true))),
    )
    .await;
    // The view and the rules are published together (rules first).
    assert!(rules.borrow().may_flow(observer_id, host_id, MediaKind::Audio), "the observer is heard");
    acked(&mut watcher, ClientMessage::Chat { request_id: Some("said".into()), to: None, text: "我说两句".into() })
        .await;
    assert_eq!(audit_count(&scene, "session.observer_invite").await, 1);
    assert_eq!(audit_count(&scene, "session.observer_speak").await, 1);
}

/// A mediator or station recording a party's confirmation through the API
/// (after the video, or at the station) needs what the room needs: the
/// party's consent and an identity check in a session of the case.
async fn confirmations_recorded_later_need_consent_and_a_check(db: Db) {
    let scene = scene(db, &[]).await;
    let mediator = scene.server.login("mediator1").await;
    let station_api = scene.server.login("station-dongping").await;
    let case_path = format!("/api/v1/cases/{}", scene.session.case_id);
    let file = mediator.get(&case_path).await.body;
    let applicant: Uuid = file["parties"][0]["id"].as_str().unwrap().parse().unwrap();
    let own_party: Uuid = scene.session.party_id.parse().unwrap();
    let deadline = (chrono::Utc::now() + chrono::Duration::days(7)).format("%Y-%m-%d").to_string();
    let agreement = mediator
        .put(
            &format!("{case_path}/agreement"),
            &json!({ "facts": "排水沟漫水", "responsibilities": "两家共担", "terms": "排水沟改道向东",
                     "performance_manner": "两家各出一半工钱", "performance_deadline": deadline }),
        )
        .await;
    assert_eq!(agreement.status, 200, "{}", agreement.body);
    let hash = agreement.body["text_sha256"].as_str().unwrap().to_owned();
    let path = format!("{case_path}/agreement/confirmations");
    let confirmation = |party_id: Uuid, method: &str| json!({ "signer": "party", "party_id": party_id, "method": method, "text_sha256": hash });
    let refused = |reply: &mediation_tests::api::Reply, code: &str| {
        assert_eq!((reply.status, reply.body["error"].as_str()), (409, Some(code)), "{}", reply.body);
    };

    // The applicant has decided nothing; the respondent consented on the
    // invitation page but nobody has checked their ID card.
    refused(&station_api.post(&path, &confirmation(applicant, "village_station")).await, "consent_required");
    refused(&mediator.post(&path, &confirmation(applicant, "video_room")).await, "consent_required");
    refused(&mediator.post(&path, &confirmation(own_party, "video_room")).await, "identity_check_required");
    let read = mediator.get(&format!("{case_path}/agreement")).await.body;
    assert_eq!(read["confirmations"], json!([]), "nothing recorded by a refusal");

    // In the hearing: the station records the applicant's consent and
    // checks their card; the mediator checks the respondent's before admitting them.
    let (mut host, _) = scene.host().await;
    let (mut station, _, _) = scene.admitted("station-dongping", &mut host).await;
    scene.consent_at_station(&mut station, applicant).await;
    refused(&station_api.post(&path, &confirmation(applicant, "village_station")).await, "identity_check_required");
    scene.check_identity(&mut station, applicant).await;
    let _party = scene.admitted("party", &mut host).await;

    let at_station = station_api.post(&path, &confirmation(applicant, "village_station")).await;
    assert_eq!(at_station.status, 201, "{}", at_station.body);
    let by_video = mediator.post(&path, &confirmation(own_party, "video_room")).await;
    assert_eq!(by_video.status, 201, "{}", by_video.body);
    let methods: Vec<&str> =
        by_video.body["confirmations"].as_array().unwrap().iter().map(|c| c["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["village_station", "video_room"]);
    let awaiting: Vec<&str> =
        by_video.body["awaiting"].as_array().unwrap().iter().map(|a| a["signer"].as_str().unwrap()).collect();
    assert_eq!(awaiting, ["mediator"], "only the mediator's signature is missing");
}
