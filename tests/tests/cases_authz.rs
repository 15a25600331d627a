//! Authorization of the case records: every endpoint × every role, for a
//! user of the case's own town or village, of another town, village or
//! district, and a party holding the invitation of another session.

use std::collections::HashMap;

use mediation_tests::fixtures::{Demo, fill, in_minutes, video_session};
use mediation_tests::{Api, Db, TestServer, on_both_databases};
use reqwest::Method;
use serde_json::{Value, json};

on_both_databases!(every_case_endpoint_by_every_role);

const ACTORS: [&str; 9] = [
    "admin",
    "district",
    "mediator1",
    "mediator9",
    "station-dongping",
    "station9",
    "adviser1",
    "adviser2",
    "invitation-of-another-session",
];

/// A case with a video session (see `fixtures::video_session`) and a
/// drafted agreement; returns its ids for the table's placeholders.
async fn case_with_session(mediator: &Api, demo: &Demo) -> HashMap<String, String> {
    let fixture = video_session(mediator, demo).await;
    let agreement = mediator
        .put(
            &format!("/api/v1/cases/{}/agreement", fixture.case_id),
            &json!({ "facts": "f", "responsibilities": "r", "terms": "t", "performance_manner": "m",
                     "performance_deadline": (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%d").to_string() }),
        )
        .await
        .body;
    HashMap::from([
        ("C".to_owned(), fixture.case_id),
        ("P".to_owned(), fixture.party_id),
        ("S".to_owned(), fixture.session_id),
        ("I".to_owned(), fixture.invitation_id),
        ("TOKEN".to_owned(), fixture.party_token),
        ("HASH".to_owned(), agreement["text_sha256"].as_str().unwrap().to_owned()),
    ])
}

struct Row {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    /// The row changes its case: each actor gets a fresh one.
    fresh: bool,
    expect: [u16; 9],
}

async fn every_case_endpoint_by_every_role(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let admin = server.login("admin").await;
    let password = "another-password";

    // A second town in the district and a second district, with their people.
    let t2 = admin
        .post(
            "/api/v1/towns",
            &json!({ "district_id": demo.id("沾化区"), "name": "富源街道", "office_name": "富源调解室" }),
        )
        .await
        .id();
    let v2 = admin
        .post("/api/v1/villages", &json!({ "town_id": t2, "name": "前进村", "station_name": "前进村说事拉理室" }))
        .await
        .id();
    let d2 = admin.post("/api/v1/districts", &json!({ "name": "滨城区" })).await.id();
    for (username, role, unit) in
        [("mediator9", "mediator", &t2), ("station9", "station", &v2), ("adviser2", "adviser", &d2)]
    {
        let reply = admin
            .post("/api/v1/accounts", &json!({ "username": username, "display_name": username, "role": role, "unit_id": unit, "password": password }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    // The other session, in the other town, whose invitation is held by a party.
    let mediator9 = server.login_with("mediator9", password).await;
    let mut other_case = mediation_tests::fixtures::case_body(&demo, "东平村");
    other_case["village_id"] = json!(v2);
    let other = mediator9.post("/api/v1/cases", &other_case).await.body;
    let other_party = other["parties"][0]["id"].as_str().unwrap();
    let other_session = mediator9
        .post(
            &format!("/api/v1/cases/{}/sessions", other["case"]["id"].as_str().unwrap()),
            &json!({ "planned_start": in_minutes(10), "planned_minutes": 30, "mode": "video", "party_ids": [other_party] }),
        )
        .await
        .body;
    let other_token = other_session["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "party").unwrap()
        ["invitation"]["link"]
        .as_str()
        .unwrap()
        .split("#t=")
        .nth(1)
        .unwrap()
        .to_owned();

    let mut actors: HashMap<&str, Api> = HashMap::new();
    for actor in ACTORS {
        let api = match actor {
            "mediator9" | "station9" | "adviser2" => server.login_with(actor, password).await,
            "invitation-of-another-session" => server.anonymous().with_token(&other_token),
            _ => server.login(actor).await,
        };
        actors.insert(actor, api);
    }
    let mediator1 = server.login("mediator1").await;
    let mut ids = case_with_session(&mediator1, &demo).await;
    ids.extend(demo.ids.clone());

    use Method as M;
    // actors: admin district mediator1 mediator9 station-dongping station9 adviser1 adviser2 invitation
    let rows = [
        Row {
            method: M::GET,
            path: "/api/v1/cases",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 200, 200, 200, 200, 200, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/cases",
            body: Some(
                r#"{"village_id":"{东平村}","category":"contract","source":"grid_report","summary":"合同纠纷{n}","public_session":true,
                          "parties":[{"name":"甲","side":"applicant"},{"name":"乙","side":"respondent"}]}"#,
            ),
            fresh: false,
            expect: [201, 201, 201, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/cases/{C}",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 403, 200, 403, 200, 403, 401],
        },
        Row {
            method: M::PATCH,
            path: "/api/v1/cases/{C}",
            body: Some(r#"{"summary":"补充：双方同意先行停工。"}"#),
            fresh: false,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/cases/{C}/sessions",
            body: Some(
                r#"{"planned_start":"{SOON}","planned_minutes":30,"mode":"phone","mediator_ids":["{mediator1}"]}"#,
            ),
            fresh: false,
            expect: [201, 201, 201, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/sessions/{S}",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 403, 200, 403, 200, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/sessions",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 200, 200, 200, 200, 200, 401],
        },
        Row {
            method: M::PATCH,
            path: "/api/v1/sessions/{S}",
            body: Some(r#"{"planned_start":"{LATER}"}"#),
            fresh: true,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/sessions/{S}/start",
            body: Some("{}"),
            fresh: true,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/sessions/{S}/cancel",
            body: Some(r#"{"reason":"改期"}"#),
            fresh: true,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/invitations/{I}/revoke",
            body: Some("{}"),
            fresh: true,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/cases/{C}/agreement",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 403, 200, 403, 200, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/cases/{C}/agreement/document",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 403, 200, 403, 200, 403, 401],
        },
        Row {
            method: M::PUT,
            path: "/api/v1/cases/{C}/agreement",
            body: Some(
                r#"{"facts":"f","responsibilities":"r","terms":"t{n}","performance_manner":"m","performance_deadline":"{DEADLINE}"}"#,
            ),
            fresh: true,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/cases/{C}/agreement/confirmations",
            body: Some(r#"{"signer":"party","party_id":"{P}","method":"paper_scan","text_sha256":"{HASH}"}"#),
            fresh: true,
            expect: [201, 201, 201, 403, 403, 403, 403, 403, 401],
        },
        // Allowed to record, but the party has not consented in any session
        // yet: 409 consent_required (tests/tests/hearing.rs goes on to 201).
        Row {
            method: M::POST,
            path: "/api/v1/cases/{C}/agreement/confirmations",
            body: Some(r#"{"signer":"party","party_id":"{P}","method":"village_station","text_sha256":"{HASH}"}"#),
            fresh: true,
            expect: [409, 409, 409, 403, 409, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/cases/{C}/outcome",
            body: Some(r#"{"kind":"oral","terms":"和解","reached_via":"video"}"#),
            fresh: true,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/cases/{C}/withdraw",
            body: Some(r#"{"reason":"撤回"}"#),
            fresh: true,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::PUT,
            path: "/api/v1/cases/{C}/judicial-confirmation",
            body: Some(r#"{"applied_on":"{TODAY}","court":"沾化区人民法院"}"#),
            fresh: false,
            expect: [409, 409, 409, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/cases/{C}/follow-ups",
            body: Some(r#"{"visited_on":"{TODAY}","visited_by":"x","performance":"fully","satisfaction":"satisfied"}"#),
            fresh: false,
            expect: [409, 409, 409, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/cases/{C}/close",
            body: Some("{}"),
            fresh: false,
            expect: [409, 409, 409, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::POST,
            path: "/api/v1/consultations",
            body: Some(
                r#"{"village_id":"{东平村}","topic":"labour","question":"工资被拖欠怎么办？","answer_summary":"可申请劳动仲裁。","minutes_taken":15,"via":"video","adviser_id":"{adviser1}"}"#,
            ),
            fresh: false,
            expect: [201, 201, 201, 403, 403, 403, 201, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/consultations",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 200, 200, 200, 200, 200, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/stats",
            body: None,
            fresh: false,
            expect: [200, 200, 200, 200, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/audit/verify",
            body: None,
            fresh: false,
            expect: [200, 403, 403, 403, 403, 403, 403, 403, 401],
        },
        Row {
            method: M::GET,
            path: "/api/v1/invitation",
            body: None,
            fresh: false,
            expect: [401, 401, 401, 401, 401, 401, 401, 401, 200],
        },
    ];

    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
    ids.insert("TODAY".into(), today);
    ids.insert("SOON".into(), in_minutes(30));
    ids.insert("LATER".into(), in_minutes(45));
    ids.insert("DEADLINE".into(), (chrono::Utc::now() + chrono::Duration::days(7)).format("%Y-%m-%d").to_string());

    let mut failures = Vec::new();
    let mut n = 0;
    for row in &rows {
        for (actor, expected) in ACTORS.iter().zip(row.expect) {
            n += 1;
            let mut row_ids = ids.clone();
            if row.fresh {
                row_ids.extend(case_with_session(&mediator1, &demo).await);
            }
            let path = fill(row.path, &row_ids, n);
            let body = row.body.map(|template| {
                serde_json::from_str::<Value>(&fill(template, &row_ids, n))
                    .unwrap_or_else(|e| panic!("{template}: {e}"))
            });
            let reply = actors[actor].send(row.method.clone(), &path, body.as_ref()).await;
            if reply.status != expected {
                failures.push(format!(
                    "{actor} {} {}: expected {expected}, got {} {}",
                    row.method, row.path, reply.status, reply.body
                ));
            } else if expected >= 400 {
                assert!(reply.body["error"].is_string(), "{actor} {}: error shape {}", row.path, reply.body);
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
