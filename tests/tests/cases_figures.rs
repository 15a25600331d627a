//! The newspaper's figures, built through the API: 370 disputes mediated
//! successfully (43 written, 327 oral or by phone), 80 with a video session,
//! 210 legal consultations. `/stats` and its CSV must state exactly these.

use futures::future::join_all;
use mediation_tests::fixtures::{Demo, in_minutes, register_case};
use mediation_tests::{Api, Db, TestServer, on_both_databases};
use serde_json::{Value, json};

on_both_databases!(statistics_state_the_newspaper_figures);

const WRITTEN: usize = 43;
const ORAL_IN_PERSON: usize = 200;
const ORAL_PHONE: usize = 90;
const ORAL_VIDEO: usize = 37;
const FAILED: usize = 6;
const REFERRED: usize = 4;
const PENDING: usize = 3;
const VIDEO_SESSIONS: usize = 80;
const CONSULTATIONS: usize = 210;

async fn settle_written(api: &Api, case_id: &str, parties: &[String]) {
    let saved = api
        .put(
            &format!("/api/v1/cases/{case_id}/agreement"),
            &json!({ "facts": "事实", "responsibilities": "责任", "terms": "协议内容", "performance_manner": "当面履行",
                     "performance_deadline": (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%d").to_string() }),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let hash = saved.body["text_sha256"].as_str().unwrap().to_owned();
    for party in parties {
        let body = json!({ "signer": "party", "party_id": party, "method": "paper_scan", "text_sha256": hash });
        assert_eq!(api.post(&format!("/api/v1/cases/{case_id}/agreement/confirmations"), &body).await.status, 201);
    }
    let body = json!({ "signer": "mediator", "method": "video_room", "text_sha256": hash });
    let signed = api.post(&format!("/api/v1/cases/{case_id}/agreement/confirmations"), &body).await;
    assert_eq!(signed.body["state"], "effective", "{}", signed.body);
}

async fn hold_video_session(api: &Api, case_id: &str) {
    let session = api
        .post(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({ "planned_start": in_minutes(5), "planned_minutes": 30, "mode": "video" }),
        )
        .await;
    assert_eq!(session.status, 201, "{}", session.body);
    let id = session.body["id"].as_str().unwrap();
    assert_eq!(api.post(&format!("/api/v1/sessions/{id}/start"), &json!({})).await.status, 200);
    assert_eq!(api.post(&format!("/api/v1/sessions/{id}/end"), &json!({})).await.status, 200);
}

/// What to do with case number `i`.
async fn build_case(api: Api, demo: &Demo, i: usize) {
    let village = ["东平村", "哈喇村", "后孙村"][i % 3];
    let file = register_case(&api, demo, village).await;
    let case_id = file["case"]["id"].as_str().unwrap().to_owned();
    if i < VIDEO_SESSIONS {
        hold_video_session(&api, &case_id).await;
    }
    let oral = |via: &str| json!({ "kind": "oral", "terms": "双方口头达成一致。", "reached_via": via });
    let outcome = match i {
        i if i < WRITTEN => {
            let parties: Vec<String> =
                file["parties"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
            settle_written(&api, &case_id, &parties).await;
            return;
        }
        i if i < WRITTEN + ORAL_IN_PERSON => oral("in_person"),
        i if i < WRITTEN + ORAL_IN_PERSON + ORAL_PHONE => oral("phone"),
        i if i < WRITTEN + ORAL_IN_PERSON + ORAL_PHONE + ORAL_VIDEO => oral("video"),
        i if i < WRITTEN + ORAL_IN_PERSON + ORAL_PHONE + ORAL_VIDEO + FAILED => {
            json!({ "kind": "failed", "reason": "分歧过大", "routes_told": ["court"] })
        }
        i if i < WRITTEN + ORAL_IN_PERSON + ORAL_PHONE + ORAL_VIDEO + FAILED + REFERRED => {
            json!({ "kind": "referred", "referred_to": "沾化区人民法院" })
        }
        _ => return,
    };
    let reply = api.post(&format!("/api/v1/cases/{case_id}/outcome"), &outcome).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn statistics_state_the_newspaper_figures(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let adviser = server.login("adviser1").await;
    let total = WRITTEN + ORAL_IN_PERSON + ORAL_PHONE + ORAL_VIDEO + FAILED + REFERRED + PENDING;

    for chunk in (0..total).collect::<Vec<_>>().chunks(8) {
        join_all(chunk.iter().map(|&i| build_case(mediator.clone(), &demo, i))).await;
    }
    for chunk in (0..CONSULTATIONS).collect::<Vec<_>>().chunks(8) {
        join_all(chunk.iter().map(|&i| {
            let adviser = adviser.clone();
            let village = demo.id(["东平村", "哈喇村", "后孙村"][i % 3]).to_owned();
            async move {
                let reply = adviser
                    .post(
                        "/api/v1/consultations",
                        &json!({ "village_id": village, "topic": "land_forest", "question": "土地承包合同到期后如何续签？",
                                 "answer_summary": "可依法优先续包，建议书面约定。", "minutes_taken": 20, "via": "video" }),
                    )
                    .await;
                assert_eq!(reply.status, 201, "{}", reply.body);
            }
        }))
        .await;
    }

    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
    for (who, query) in
        [("mediator1", String::new()), ("district", format!("?from={today}&to={today}")), ("admin", String::new())]
    {
        let stats = server.login(who).await.get(&format!("/api/v1/stats{query}")).await;
        assert_eq!(stats.status, 200, "{}", stats.body);
        let s = &stats.body;
        let n = |key: &str| s[key].as_u64().unwrap_or_else(|| panic!("{key} in {s}"));
        assert_eq!(n("mediated_successfully"), 370, "{who}");
        assert_eq!(n("written_agreements"), 43);
        assert_eq!(n("oral_agreements"), 327);
        assert_eq!((n("oral_in_person"), n("oral_phone"), n("oral_video")), (200, 90, 37));
        assert_eq!(n("failed"), 6);
        assert_eq!(n("referred"), 4);
        assert_eq!(n("pending"), 3);
        assert_eq!(n("cases_registered"), total as u64);
        assert_eq!(n("cases_with_video_session"), 80);
        assert_eq!(n("legal_consultations"), 210);
        let villages: u64 = s["by_village"].as_array().unwrap().iter().map(|v| v["count"].as_u64().unwrap()).sum();
        assert_eq!(villages, total as u64);
        assert_eq!(s["by_category"], json!([{ "key": "neighbour", "count": total }]));
        assert_eq!(s["by_month"].as_array().unwrap().len(), 1);
    }

    let csv = reqwest::Client::new()
        .get(format!("{}/api/v1/stats?format=csv", server.base_url))
        .bearer_auth(mediator.token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("metric,key,name,value"));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let value = |metric: &str| -> &str {
        rows.iter().find(|row| row[0] == metric && row[1].is_empty()).unwrap_or_else(|| panic!("{metric} in CSV"))[3]
    };
    assert_eq!(value("mediated_successfully"), "370");
    assert_eq!(value("written_agreements"), "43");
    assert_eq!(value("oral_agreements"), "327");
    assert_eq!(value("cases_with_video_session"), "80");
    assert_eq!(value("legal_consultations"), "210");
    let village_rows: u64 = rows.iter().filter(|r| r[0] == "by_village").map(|r| r[3].parse::<u64>().unwrap()).sum();
    assert_eq!(village_rows, total as u64);
    let dongping_row = rows.iter().find(|r| r[0] == "by_village" && r[2] == "东平村").expect("东平村 in the CSV");
    assert_eq!(dongping_row[1], demo.id("东平村"), "villages are keyed by id (two may share a name)");

    // The units asked for must nest, and each parameter names its own kind.
    let mismatched = format!("/api/v1/stats?town={}&village={}", demo.id("下洼镇"), demo.id("东平村"));
    assert_eq!(mediator.get(&mismatched).await.status, 200, "东平村 is in 下洼镇");
    let admin = server.login("admin").await;
    let district = admin.get("/api/v1/districts").await.body;
    let other_town = admin
        .post(
            "/api/v1/towns",
            &json!({ "district_id": district[0]["id"], "name": "冯家镇", "office_name": "冯家调解室" }),
        )
        .await;
    assert_eq!(other_town.status, 201, "{}", other_town.body);
    let other = format!("/api/v1/stats?town={}&village={}", other_town.body["id"].as_str().unwrap(), demo.id("东平村"));
    let refused = admin.get(&other).await;
    refused.assert_error(422, "validation_failed");
    assert_eq!(refused.body["field"], "village");
    let wrong_kind = admin.get(&format!("/api/v1/stats?town={}", demo.id("东平村"))).await;
    wrong_kind.assert_error(422, "validation_failed");
    assert_eq!(wrong_kind.body["field"], "town");

    // Scoped to one village, and refused outside the caller's reach.
    let dongping = server.login("mediator1").await.get(&format!("/api/v1/stats?village={}", demo.id("东平村"))).await;
    let expected: u64 = (0..total).filter(|i| i % 3 == 0).count() as u64;
    assert_eq!(dongping.body["cases_registered"], expected);
    assert_eq!(dongping.body["legal_consultations"], (0..CONSULTATIONS).filter(|i| i % 3 == 0).count() as u64);
    server.login("station-dongping").await.get("/api/v1/stats").await.assert_error(403, "forbidden");
    let empty: Value = server.login("mediator1").await.get("/api/v1/stats?from=2020-04-01&to=2020-12-31").await.body;
    assert_eq!(empty["cases_registered"], 0);
}
