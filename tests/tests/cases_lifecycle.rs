//! A case from registration to closed, for every kind of outcome, over real
//! HTTP on both databases.

use mediation_tests::fixtures::{Demo, id_number, in_minutes, register_case};
use mediation_tests::{Api, Db, TestServer, on_both_databases};
use serde_json::{Value, json};

on_both_databases!(
    written_agreement_confirmed_edited_and_confirmed_again,
    oral_failed_referred_and_withdrawn_cases_close,
    id_numbers_are_sealed_and_masked,
    invitations_open_without_an_account_and_can_be_revoked,
    reloading_an_invitation_does_not_flood_the_audit_trail,
    rescheduling_keeps_history_and_reissues_links,
    racing_last_confirmations_still_settle_the_case,
    a_party_is_corrected_before_the_outcome,
);

fn id(value: &Value) -> String {
    value["case"]["id"].as_str().or(value["id"].as_str()).unwrap().to_owned()
}

async fn confirm(api: &Api, case_id: &str, body: Value) -> mediation_tests::Reply {
    api.post(&format!("/api/v1/cases/{case_id}/agreement/confirmations"), &body).await
}

async fn written_agreement_confirmed_edited_and_confirmed_again(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let station = server.login("station-dongping").await;

    let file = register_case(&mediator, &demo, "东平村").await;
    let case_id = id(&file);
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(file["case"]["case_number"], format!("({year})下洼调字第1号"));
    assert_eq!(file["case"]["state"], "registered");
    assert_eq!(file["case"]["amount_yuan"], "1200.50");
    assert_eq!(file["case"]["office_name"], "枣乡情调解室");
    let second = register_case(&mediator, &demo, "哈喇村").await;
    assert_eq!(second["case"]["case_number"], format!("({year})下洼调字第2号"), "numbers count up per town and year");
    let party_a = file["parties"][0]["id"].as_str().unwrap().to_owned();
    let party_b = file["parties"][1]["id"].as_str().unwrap().to_owned();

    // A video session with the 东平 station and the adviser.
    let session = mediator
        .post(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({ "planned_start": in_minutes(10), "planned_minutes": 60, "mode": "video",
                     "station_ids": [demo.id("station-dongping")], "adviser_ids": [demo.id("adviser1")] }),
        )
        .await;
    assert_eq!(session.status, 201, "{}", session.body);
    let session_id = session.body["id"].as_str().unwrap().to_owned();
    assert_eq!(session.body["participants"].as_array().unwrap().len(), 3, "mediator, station, adviser");
    let case_now = mediator.get(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(case_now.body["case"]["state"], "scheduled");
    let started = mediator.post(&format!("/api/v1/sessions/{session_id}/start"), &json!({})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["state"], "live");
    assert_eq!(mediator.get(&format!("/api/v1/cases/{case_id}")).await.body["case"]["state"], "in_session");

    // Draft, two parties confirm, the text is edited (voiding both), then
    // both parties and the mediator confirm the new text.
    let draft = json!({
        "facts": "双方房屋相邻，排水沟位于两户之间，雨季积水。",
        "responsibilities": "双方均有维护排水沟的责任。",
        "terms": "由申请人出资，双方共同将排水沟改向东侧。",
        "performance_manner": "双方共同施工。",
        "performance_deadline": (chrono::Utc::now() + chrono::Duration::days(20)).format("%Y-%m-%d").to_string(),
    });
    let saved = mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &draft).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.body["state"], "draft");
    assert_eq!(saved.body["version"], 1);
    let text = saved.body["text"].as_str().unwrap();
    assert!(text.contains("王大爷") && text.contains("3723**********"), "the text names parties with masked IDs");
    let hash_v1 = saved.body["text_sha256"].as_str().unwrap().to_owned();
    assert_eq!(hash_v1.len(), 64);

    let a = confirm(
        &mediator,
        &case_id,
        json!({ "signer": "party", "party_id": party_a, "method": "paper_scan", "text_sha256": hash_v1 }),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["state"], "signing");
    // A station records only confirmations given at the station (and only
    // after the party's consent and identity check: tests/tests/hearing.rs).
    let by_station = json!({ "signer": "party", "party_id": party_b, "method": "paper_scan", "text_sha256": hash_v1 });
    confirm(&station, &case_id, by_station).await.assert_error(403, "forbidden");
    let b = confirm(
        &mediator,
        &case_id,
        json!({ "signer": "party", "party_id": party_b, "method": "paper_scan", "text_sha256": hash_v1 }),
    )
    .await;
    assert_eq!(b.status, 201, "the signed paper of the other party: {}", b.body);
    assert_eq!(b.body["awaiting"].as_array().unwrap().len(), 1, "only the mediator's signature is missing");

    let mut edited = draft.clone();
    edited["terms"] = json!("由申请人出资，双方共同将排水沟改向东侧，并于改造后互不追究。");
    let saved = mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &edited).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.body["version"], 2);
    assert_eq!(saved.body["state"], "draft");
    let hash_v2 = saved.body["text_sha256"].as_str().unwrap().to_owned();
    assert_ne!(hash_v1, hash_v2);
    let voided = saved.body["confirmations"].as_array().unwrap().iter().filter(|c| !c["voided_at"].is_null()).count();
    assert_eq!(voided, 2, "editing voided both confirmations");
    assert_eq!(saved.body["awaiting"].as_array().unwrap().len(), 3);

    let stale = confirm(
        &mediator,
        &case_id,
        json!({ "signer": "party", "party_id": party_a, "method": "paper_scan", "text_sha256": hash_v1 }),
    )
    .await;
    stale.assert_error(409, "stale");

    for (api, body) in [
        (&mediator, json!({ "signer": "party", "party_id": party_a, "method": "paper_scan", "text_sha256": hash_v2 })),
        (&mediator, json!({ "signer": "party", "party_id": party_b, "method": "paper_scan", "text_sha256": hash_v2 })),
    ] {
        assert_eq!(confirm(api, &case_id, body).await.status, 201);
    }
    let twice = confirm(
        &mediator,
        &case_id,
        json!({ "signer": "party", "party_id": party_a, "method": "paper_scan", "text_sha256": hash_v2 }),
    )
    .await;
    twice.assert_error(409, "conflict");
    let signed =
        confirm(&mediator, &case_id, json!({ "signer": "mediator", "method": "video_room", "text_sha256": hash_v2 }))
            .await;
    assert_eq!(signed.status, 201, "{}", signed.body);
    assert_eq!(signed.body["state"], "effective");
    assert!(signed.body["awaiting"].as_array().unwrap().is_empty());
    let deadline = signed.body["judicial_confirmation_deadline"].as_str().unwrap().to_owned();
    let expected_deadline =
        (chrono::Utc::now() + chrono::Duration::hours(8) + chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
    assert_eq!(deadline, expected_deadline, "30 days after it took effect (China time)");
    mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &edited).await.assert_error(409, "invalid_state");

    let file = mediator.get(&format!("/api/v1/cases/{case_id}")).await.body;
    assert_eq!(file["case"]["state"], "agreed_written");
    assert_eq!(file["outcome"]["kind"], "written");

    let document = reqwest::Client::new()
        .get(format!("{}/api/v1/cases/{case_id}/agreement/document", server.base_url))
        .bearer_auth(mediator.token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(document.status(), 200);
    let html = document.text().await.unwrap();
    assert!(
        html.contains("人民调解协议书") && html.contains(&format!("({year})下洼调字第1号")) && html.contains("签名")
    );
    assert!(html.contains(&hash_v2) && html.contains("已生效"));

    // Judicial confirmation, follow-up, close.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
    let judicial = mediator
        .put(
            &format!("/api/v1/cases/{case_id}/judicial-confirmation"),
            &json!({ "applied_on": today, "court": "沾化区人民法院" }),
        )
        .await;
    assert_eq!(judicial.status, 200, "{}", judicial.body);
    assert_eq!(judicial.body["judicial_confirmation"]["result"], "pending");
    mediator.post(&format!("/api/v1/cases/{case_id}/close"), &json!({})).await.assert_error(409, "invalid_state");
    let follow = mediator
        .post(
            &format!("/api/v1/cases/{case_id}/follow-ups"),
            &json!({ "visited_on": today, "visited_by": "张敏", "performance": "fully", "satisfaction": "satisfied" }),
        )
        .await;
    assert_eq!(follow.status, 201, "{}", follow.body);
    assert_eq!(follow.body["case"]["state"], "followed_up");
    let closed = mediator.post(&format!("/api/v1/cases/{case_id}/close"), &json!({})).await;
    assert_eq!(closed.status, 200);
    assert_eq!(closed.body["case"]["state"], "closed");
    assert!(closed.body["case"]["closed_at"].is_string());

    let admin = server.login("admin").await;
    let actions: Vec<String> = admin
        .get("/api/v1/audit?limit=1000")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_id"] == case_id.as_str() || e["object_id"] == session_id.as_str())
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "case.register",
        "session.schedule",
        "session.state",
        "agreement.save",
        "agreement.confirm",
        "agreement.effective",
        "case.outcome",
        "case.judicial_confirmation",
        "case.follow_up",
    ] {
        assert!(actions.iter().any(|a| a == expected), "audit has {expected}: {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| *a == "agreement.confirm").count(), 5);
    let verify = admin.get("/api/v1/audit/verify").await;
    assert_eq!(verify.body["ok"], true, "{}", verify.body);
}

async fn settle_and_close(api: &Api, case_id: &str, outcome: Value, state: &str) {
    let reply = api.post(&format!("/api/v1/cases/{case_id}/outcome"), &outcome).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["case"]["state"], state);
    assert!(reply.body["case"]["outcome_at"].is_string());
    api.post(&format!("/api/v1/cases/{case_id}/outcome"), &outcome).await.assert_error(409, "invalid_state");
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
    let follow = api
        .post(
            &format!("/api/v1/cases/{case_id}/follow-ups"),
            &json!({ "visited_on": today, "visited_by": "刘洪涛", "performance": "not_applicable", "satisfaction": "basically_satisfied", "remaining_risk": "无" }),
        )
        .await;
    assert_eq!(follow.status, 201, "{}", follow.body);
    let closed = api.post(&format!("/api/v1/cases/{case_id}/close"), &json!({})).await;
    assert_eq!(closed.body["case"]["state"], "closed", "{}", closed.body);
}

async fn oral_failed_referred_and_withdrawn_cases_close(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator2").await;

    let oral = id(&register_case(&mediator, &demo, "后孙村").await);
    settle_and_close(
        &mediator,
        &oral,
        json!({ "kind": "oral", "terms": "李婶当面道歉，王大爷不再追究。", "reached_via": "phone" }),
        "agreed_oral",
    )
    .await;
    let file = mediator.get(&format!("/api/v1/cases/{oral}")).await.body;
    assert_eq!(file["outcome"]["reached_via"], "phone");

    let failed = id(&register_case(&mediator, &demo, "后孙村").await);
    settle_and_close(
        &mediator,
        &failed,
        json!({ "kind": "failed", "reason": "双方分歧过大。", "routes_told": ["court", "arbitration"] }),
        "failed",
    )
    .await;
    let file = mediator.get(&format!("/api/v1/cases/{failed}")).await.body;
    assert_eq!(file["outcome"]["routes_told"], json!(["arbitration", "court"]));

    let referred = id(&register_case(&mediator, &demo, "后孙村").await);
    settle_and_close(
        &mediator,
        &referred,
        json!({ "kind": "referred", "referred_to": "沾化区人民法院", "reference_number": "(2026)鲁1603民诉前调123号" }),
        "referred",
    )
    .await;

    let withdrawn = id(&register_case(&mediator, &demo, "后孙村").await);
    let reply = mediator
        .post(&format!("/api/v1/cases/{withdrawn}/withdraw"), &json!({ "reason": "申请人撤回调解申请。" }))
        .await;
    assert_eq!(reply.body["case"]["state"], "withdrawn", "{}", reply.body);
    mediator
        .post(
            &format!("/api/v1/cases/{withdrawn}/outcome"),
            &json!({ "kind": "oral", "terms": "x", "reached_via": "phone" }),
        )
        .await
        .assert_error(409, "invalid_state");
    let closed = mediator.post(&format!("/api/v1/cases/{withdrawn}/close"), &json!({})).await;
    assert_eq!(closed.body["case"]["state"], "closed");
    let refused = mediator
        .post(
            &format!("/api/v1/cases/{withdrawn}/outcome"),
            &json!({ "kind": "oral", "terms": "x", "reached_via": "phone" }),
        )
        .await;
    refused.assert_error(409, "invalid_state");
    assert!(refused.body["message"].as_str().unwrap().contains("closed"), "names the current state: {}", refused.body);

    let listed = mediator.get("/api/v1/cases?state=closed").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 4);
    let searched = mediator.get("/api/v1/cases?q=%E6%8E%92%E6%B0%B4").await;
    assert_eq!(searched.body.as_array().unwrap().len(), 4, "search by words of the summary");
}

async fn id_numbers_are_sealed_and_masked(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let file = register_case(&mediator, &demo, "东平村").await;
    let case_id = id(&file);
    let full = id_number("37232319500101123");
    assert_eq!(file["parties"][0]["id_number"], full.as_str(), "the case's own mediator sees the number");
    let masked = format!("3723**********{}", &full[14..]);
    assert_eq!(file["parties"][0]["id_number_masked"], masked.as_str());
    for other in ["district", "admin", "station-dongping"] {
        let seen = server.login(other).await.get(&format!("/api/v1/cases/{case_id}")).await;
        assert_eq!(seen.status, 200, "{other}");
        assert!(seen.body["parties"][0].get("id_number").is_none(), "{other} sees no full number");
        assert_eq!(seen.body["parties"][0]["id_number_masked"], masked.as_str());
    }
    let stored = server
        .count(&format!(
            "SELECT COUNT(*) FROM case_parties WHERE id_number_masked IS NOT NULL AND id_number_masked <> '{full}'"
        ))
        .await;
    assert_eq!(stored, 1);
    let plain_anywhere =
        server.count(&format!("SELECT COUNT(*) FROM audit_events WHERE CAST(details AS TEXT) LIKE '%{full}%'")).await;
    assert_eq!(plain_anywhere, 0, "the audit trail never holds the number");
}

async fn invitations_open_without_an_account_and_can_be_revoked(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let file = register_case(&mediator, &demo, "东平村").await;
    let case_id = id(&file);
    let party = file["parties"][1]["id"].as_str().unwrap();

    let schedule = |start: String| {
        let mediator = mediator.clone();
        let case_id = case_id.clone();
        let party = party.to_owned();
        async move {
            let reply = mediator
                .post(
                    &format!("/api/v1/cases/{case_id}/sessions"),
                    &json!({ "planned_start": start, "planned_minutes": 45, "mode": "video", "party_ids": [party] }),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.body
        }
    };
    let soon = schedule(in_minutes(15)).await;
    let invited = soon["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "party").unwrap().clone();
    let link = invited["invitation"]["link"].as_str().unwrap();
    assert!(link.contains("/join.html#t="), "{link}");
    let qr = invited["invitation"]["qr_svg"].as_str().unwrap();
    assert!(qr.contains("<svg") && qr.contains("<path"), "the link comes with a QR code to print: {qr:.80}");
    let token = link.split("#t=").nth(1).unwrap();
    let party_api = server.anonymous().with_token(token);

    let opened = party_api.get("/api/v1/invitation").await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(opened.body["your_name"], "李婶");
    assert_eq!(opened.body["office_name"], "枣乡情调解室");
    assert!(opened.body.get("parties").is_none());
    let session = mediator.get(&format!("/api/v1/sessions/{}", soon["id"].as_str().unwrap())).await;
    let shown = session.body["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "party").unwrap().clone();
    assert!(shown["invitation"]["first_opened_at"].is_string(), "opening is recorded");
    assert_eq!(shown["invitation"]["link"], link, "the same link can be shown again");

    // An invitation is no staff token.
    party_api.get("/api/v1/me").await.assert_error(401, "unauthorized");
    party_api.get(&format!("/api/v1/cases/{case_id}")).await.assert_error(401, "unauthorized");
    // Nor is a staff token an invitation.
    mediator.get("/api/v1/invitation").await.assert_error(401, "invitation_invalid");

    let tomorrow = schedule(in_minutes(26 * 60)).await;
    let later = tomorrow["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "party").unwrap();
    let later_token = later["invitation"]["link"].as_str().unwrap().split("#t=").nth(1).unwrap();
    server
        .anonymous()
        .with_token(later_token)
        .get("/api/v1/invitation")
        .await
        .assert_error(401, "invitation_not_yet_valid");

    let invitation_id = invited["invitation"]["id"].as_str().unwrap();
    let revoked = mediator.post(&format!("/api/v1/invitations/{invitation_id}/revoke"), &json!({})).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    party_api.get("/api/v1/invitation").await.assert_error(401, "invitation_revoked");

    let cancelled = mediator
        .post(
            &format!("/api/v1/sessions/{}/cancel", tomorrow["id"].as_str().unwrap()),
            &json!({ "reason": "当事人生病" }),
        )
        .await;
    assert_eq!(cancelled.body["state"], "cancelled");
    assert_eq!(cancelled.body["cancel_reason"], "当事人生病");
}

/// A party reloading the invitation page again and again: one audit event
/// per invitation, address and hour; past 30 openings a minute the address
/// is told to wait, and what is refused is not recorded either.
async fn reloading_an_invitation_does_not_flood_the_audit_trail(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let session = mediation_tests::fixtures::video_session(&mediator, &demo).await;
    let party_api = server.anonymous().with_token(&session.party_token);
    let openings = "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.open'";
    for _ in 0..30 {
        let opened = party_api.get("/api/v1/invitation").await;
        assert_eq!(opened.status, 200, "{}", opened.body);
    }
    assert_eq!(server.count(openings).await, 1, "thirty openings, one event");
    let limited = party_api.get("/api/v1/invitation").await;
    limited.assert_error(429, "too_many_requests");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(server.count(openings).await, 1);
    server.stop().await;
}

async fn rescheduling_keeps_history_and_reissues_links(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let file = register_case(&mediator, &demo, "东平村").await;
    let case_id = id(&file);
    let party = file["parties"][0]["id"].as_str().unwrap();
    let session = mediator
        .post(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({ "planned_start": in_minutes(20), "planned_minutes": 30, "mode": "video", "party_ids": [party] }),
        )
        .await
        .body;
    let session_id = session["id"].as_str().unwrap();
    let old_link = session["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "party").unwrap()["invitation"]["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let moved = mediator
        .patch(
            &format!("/api/v1/sessions/{session_id}"),
            &json!({ "planned_start": in_minutes(25), "reason": "调解员临时有事" }),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["reschedules"].as_array().unwrap().len(), 1);
    assert_eq!(moved.body["reschedules"][0]["reason"], "调解员临时有事");
    assert_eq!(moved.body["reschedules"][0]["previous_start"], session["planned_start"]);
    let new_link = moved.body["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "party").unwrap()["invitation"]["link"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(old_link, new_link);
    let token = |link: &str| link.split("#t=").nth(1).unwrap().to_owned();
    server
        .anonymous()
        .with_token(&token(&old_link))
        .get("/api/v1/invitation")
        .await
        .assert_error(401, "invitation_revoked");
    assert_eq!(server.anonymous().with_token(&token(&new_link)).get("/api/v1/invitation").await.status, 200);

    // The station's kiosk lists today's sessions of its village.
    let kiosk = server.login("station-dongping").await.get("/api/v1/sessions").await;
    assert_eq!(kiosk.status, 200);
    let listed = kiosk.body.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", kiosk.body);
    assert_eq!(listed[0]["village_name"], "东平村");
    let elsewhere = server.login("station-hala").await.get("/api/v1/sessions").await;
    assert!(elsewhere.body.as_array().unwrap().is_empty());
}

async fn racing_last_confirmations_still_settle_the_case(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    for round in 0..5 {
        let file = register_case(&mediator, &demo, "东平村").await;
        let case_id = id(&file);
        let parties: Vec<String> =
            file["parties"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
        let saved = mediator
            .put(
                &format!("/api/v1/cases/{case_id}/agreement"),
                &json!({ "facts": "f", "responsibilities": "r", "terms": format!("t{round}"), "performance_manner": "m",
                         "performance_deadline": (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%d").to_string() }),
            )
            .await;
        let hash = saved.body["text_sha256"].as_str().unwrap().to_owned();
        let first = json!({ "signer": "party", "party_id": parties[0], "method": "paper_scan", "text_sha256": hash });
        assert_eq!(confirm(&mediator, &case_id, first).await.status, 201);
        // The last party and the mediator confirm at the same moment, and the
        // same party twice.
        let last = json!({ "signer": "party", "party_id": parties[1], "method": "paper_scan", "text_sha256": hash });
        let sign = json!({ "signer": "mediator", "method": "video_room", "text_sha256": hash });
        let (a, b, c) = tokio::join!(
            confirm(&mediator, &case_id, last.clone()),
            confirm(&mediator, &case_id, sign),
            confirm(&mediator, &case_id, last)
        );
        let statuses = [a.status, b.status, c.status];
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2, "round {round}: {statuses:?}");
        assert!(statuses.contains(&409), "the duplicate is refused: {statuses:?}");
        let file = mediator.get(&format!("/api/v1/cases/{case_id}")).await.body;
        assert_eq!(file["case"]["state"], "agreed_written", "round {round}: the case settled");
        assert_eq!(file["agreement"]["state"], "effective");
        let live = mediator.get(&format!("/api/v1/cases/{case_id}/agreement")).await.body["confirmations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["voided_at"].is_null())
            .count();
        assert_eq!(live, 3, "two parties and the mediator, once each");
    }
}

/// A misspelt name or a wrong phone number is corrected in the case file;
/// a saved agreement naming the party must then be saved again, bad input
/// changes nothing, and after the outcome the parties are fixed.
async fn a_party_is_corrected_before_the_outcome(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let station = server.login("station-dongping").await;
    let file = register_case(&mediator, &demo, "东平村").await;
    let case_id = id(&file);
    let party = file["parties"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/cases/{case_id}/parties/{party}");
    let draft = json!({
        "facts": "院墙滴水。", "responsibilities": "双方协商。", "terms": "加装接水檐。", "performance_manner": "自行施工。",
        "performance_deadline": (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%d").to_string(),
    });
    let saved = mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &draft).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let old_hash = saved.body["text_sha256"].as_str().unwrap().to_owned();

    let corrected = mediator
        .patch(&path, &json!({ "name": "王大爷（王德福）", "phone": "13900000009", "id_number": "11010519491231002X" }))
        .await;
    assert_eq!(corrected.status, 200, "{}", corrected.body);
    let shown = &corrected.body["parties"][0];
    assert_eq!(shown["name"], "王大爷（王德福）");
    assert_eq!(shown["phone"], "13900000009");
    assert_eq!(shown["id_number_masked"], "1101**********002X");
    assert_eq!(shown["id_number"], "11010519491231002X", "the town's mediator sees it whole");
    let events = server.count("SELECT COUNT(*) FROM audit_events WHERE action = 'case.party_update'").await;
    assert_eq!(events, 1);
    let details = if db == Db::Postgres { "details::text" } else { "details" };
    let leaked = server
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE {details} LIKE '%0105194912%' OR {details} LIKE '%13900000009%'"
        ))
        .await;
    assert_eq!(leaked, 0, "no personal data in the audit trail");

    // The saved text named the old details: confirming it is refused until it is saved again.
    confirm(
        &mediator,
        &case_id,
        json!({ "signer": "party", "party_id": party, "method": "paper_scan", "text_sha256": old_hash }),
    )
    .await
    .assert_error(409, "stale");
    let resaved = mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &draft).await;
    assert!(resaved.body["text"].as_str().unwrap().contains("王大爷（王德福）"), "{}", resaved.body);

    // Bad input and the wrong people change nothing.
    mediator.patch(&path, &json!({ "id_number": "110105194912310021" })).await.assert_error(422, "validation_failed");
    mediator.patch(&path, &json!({ "name": "  " })).await.assert_error(422, "validation_failed");
    station.patch(&path, &json!({ "phone": null })).await.assert_error(403, "forbidden");
    let other = server.login("mediator2").await;
    let unknown = format!("/api/v1/cases/{case_id}/parties/{}", uuid::Uuid::new_v4());
    other.patch(&unknown, &json!({ "phone": null })).await.assert_error(404, "not_found");
    let unchanged = mediator.get(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(unchanged.body["parties"][0]["phone"], "13900000009");
    assert_eq!(unchanged.body["parties"][0]["id_number_masked"], "1101**********002X");

    // Clearing the phone works; after the outcome the parties are fixed.
    let cleared = mediator.patch(&path, &json!({ "phone": null })).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert!(cleared.body["parties"][0]["phone"].is_null());
    let outcome = json!({ "kind": "oral", "terms": "当场和解", "reached_via": "in_person" });
    assert_eq!(mediator.post(&format!("/api/v1/cases/{case_id}/outcome"), &outcome).await.status, 200);
    mediator.patch(&path, &json!({ "name": "王德福" })).await.assert_error(409, "invalid_state");
}
