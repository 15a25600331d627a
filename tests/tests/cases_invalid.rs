//! Invalid input to the case records: each gets the JSON error with a
//! useful message, and the database is left exactly as it was.

use mediation_tests::fixtures::{Demo, case_body, in_minutes, register_case};
use mediation_tests::{Db, Reply, TestServer, on_both_databases};
use serde_json::{Value, json};

on_both_databases!(bad_input_is_refused_and_changes_nothing);

const TABLES: [&str; 11] = [
    "cases",
    "case_parties",
    "sessions",
    "session_participants",
    "invitations",
    "outcomes",
    "agreements",
    "agreement_confirmations",
    "follow_ups",
    "consultations",
    "audit_events",
];

async fn snapshot(server: &TestServer) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push(server.count(&format!("SELECT COUNT(*) FROM {table}")).await);
    }
    counts
}

fn expect(reply: &Reply, status: u16, code: &str, mentions: &str) {
    reply.assert_error(status, code);
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.contains(mentions), "the message should mention {mentions:?}: {message}");
}

async fn bad_input_is_refused_and_changes_nothing(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let file = register_case(&mediator, &demo, "东平村").await;
    let case_id = file["case"]["id"].as_str().unwrap().to_owned();
    let party = file["parties"][0]["id"].as_str().unwrap().to_owned();
    let closed = register_case(&mediator, &demo, "东平村").await["case"]["id"].as_str().unwrap().to_owned();
    mediator.post(&format!("/api/v1/cases/{closed}/withdraw"), &json!({ "reason": "撤回" })).await;
    assert_eq!(mediator.post(&format!("/api/v1/cases/{closed}/close"), &json!({})).await.status, 200);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let saved = mediator
        .put(
            &format!("/api/v1/cases/{case_id}/agreement"),
            &json!({ "facts": "f", "responsibilities": "r", "terms": "t", "performance_manner": "m",
                     "performance_deadline": (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%d").to_string() }),
        )
        .await;
    assert_eq!(saved.status, 200);

    let before = snapshot(&server).await;
    let file_before: Value = mediator.get(&format!("/api/v1/cases/{case_id}")).await.body;

    let mut no_parties = case_body(&demo, "东平村");
    no_parties.as_object_mut().unwrap().remove("parties");
    expect(&mediator.post("/api/v1/cases", &no_parties).await, 400, "invalid_json", "parties");
    let mut bad_category = case_body(&demo, "东平村");
    bad_category["category"] = json!("feud");
    expect(&mediator.post("/api/v1/cases", &bad_category).await, 400, "invalid_json", "feud");
    let mut one_party = case_body(&demo, "东平村");
    one_party["parties"].as_array_mut().unwrap().pop();
    expect(&mediator.post("/api/v1/cases", &one_party).await, 422, "validation_failed", "parties");
    let mut bad_id = case_body(&demo, "东平村");
    bad_id["parties"][0]["id_number"] = json!("372323195001011230");
    expect(&mediator.post("/api/v1/cases", &bad_id).await, 422, "validation_failed", "parties[0].id_number");
    let mut bad_amount = case_body(&demo, "东平村");
    bad_amount["amount_yuan"] = json!("12.345");
    expect(&mediator.post("/api/v1/cases", &bad_amount).await, 422, "validation_failed", "amount_yuan");

    let agreement = json!({ "facts": "f", "responsibilities": "r", "terms": "t2", "performance_manner": "m", "performance_deadline": yesterday });
    expect(
        &mediator.put(&format!("/api/v1/cases/{case_id}/agreement"), &agreement).await,
        422,
        "validation_failed",
        "performance_deadline",
    );

    let sessions = format!("/api/v1/cases/{case_id}/sessions");
    let past = json!({ "planned_start": in_minutes(-90), "planned_minutes": 30, "mode": "video" });
    expect(&mediator.post(&sessions, &past).await, 422, "validation_failed", "planned_start");
    let long = json!({ "planned_start": in_minutes(30), "planned_minutes": 1000, "mode": "video" });
    expect(&mediator.post(&sessions, &long).await, 422, "validation_failed", "planned_minutes");
    let bad_mode = json!({ "planned_start": in_minutes(30), "planned_minutes": 30, "mode": "telepathy" });
    expect(&mediator.post(&sessions, &bad_mode).await, 400, "invalid_json", "telepathy");
    let wrong_station = json!({ "planned_start": in_minutes(30), "planned_minutes": 30, "mode": "video", "station_ids": [demo.id("mediator2")] });
    expect(&mediator.post(&sessions, &wrong_station).await, 422, "validation_failed", "station_ids");

    let outcome = format!("/api/v1/cases/{case_id}/outcome");
    // Only what the schema lists: a written agreement and a withdrawal have their own ways.
    for kind in ["written", "withdrawn"] {
        expect(
            &mediator.post(&outcome, &json!({ "kind": kind })).await,
            400,
            "invalid_json",
            "`oral`, `failed`, `referred`",
        );
    }
    expect(
        &mediator.post(&outcome, &json!({ "kind": "oral", "terms": "x" })).await,
        422,
        "validation_failed",
        "reached_via",
    );
    expect(
        &mediator.post(&outcome, &json!({ "kind": "failed", "reason": "x", "routes_told": [] })).await,
        422,
        "validation_failed",
        "routes_told",
    );
    expect(
        &mediator
            .post(&outcome, &json!({ "kind": "oral", "terms": "x", "reached_via": "phone", "routes_told": ["court"] }))
            .await,
        422,
        "validation_failed",
        "routes_told",
    );
    expect(
        &mediator
            .post(
                &format!("/api/v1/cases/{closed}/outcome"),
                &json!({ "kind": "oral", "terms": "x", "reached_via": "phone" }),
            )
            .await,
        409,
        "invalid_state",
        "closed",
    );
    let stale = json!({ "signer": "party", "party_id": party, "method": "video_room", "text_sha256": "0".repeat(64) });
    expect(
        &mediator.post(&format!("/api/v1/cases/{case_id}/agreement/confirmations"), &stale).await,
        409,
        "stale",
        "hash",
    );
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
    let follow = json!({ "visited_on": today, "visited_by": "x", "performance": "fully", "satisfaction": "satisfied" });
    expect(
        &mediator.post(&format!("/api/v1/cases/{case_id}/follow-ups"), &follow).await,
        409,
        "invalid_state",
        "registered",
    );
    let consult = json!({ "village_id": demo.id("东平村"), "topic": "labour", "question": "q", "answer_summary": "a",
                          "minutes_taken": 0, "via": "phone", "adviser_id": demo.id("adviser1") });
    expect(&mediator.post("/api/v1/consultations", &consult).await, 422, "validation_failed", "minutes_taken");

    assert_eq!(snapshot(&server).await, before, "no row was written, not even to the audit trail");
    assert_eq!(mediator.get(&format!("/api/v1/cases/{case_id}")).await.body, file_before);
}
