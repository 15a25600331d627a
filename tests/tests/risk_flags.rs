//! The risk flag (People's Mediation Law Art 25) over real HTTP on both
//! databases: a mediator flags a dispute and records whom it was reported
//! to; the district sees the open flag in its list, another district does
//! not, stations never; reports are added, the flag is closed once and then
//! leaves the open list; every step is an audit event.

use mediation_tests::fixtures::{Demo, register_case};
use mediation_tests::{Db, TestServer, on_both_databases};
use serde_json::{Value, json};

on_both_databases!(a_risk_flag_reaches_the_district_and_is_closed_once, risk_flags_are_scoped_and_validated);

fn case_id(file: &Value) -> String {
    file["case"]["id"].as_str().unwrap().to_owned()
}

async fn a_risk_flag_reaches_the_district_and_is_closed_once(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let district = server.login("district").await;
    let file = register_case(&mediator, &demo, "东平村").await;
    let id = case_id(&file);
    let reported_at = chrono::Utc::now() - chrono::Duration::minutes(20);
    let flagged = mediator
        .post(
            &format!("/api/v1/cases/{id}/risk-flags"),
            &json!({ "risk": "public_order", "description": "一方扬言要砸对方的院墙，已劝离。",
                     "reports": [{ "reported_to": "public_security", "reported_at": reported_at.to_rfc3339(),
                                   "detail": "下洼派出所值班民警，电话报告" }] }),
        )
        .await;
    assert_eq!(flagged.status, 201, "{}", flagged.body);
    let flags = flagged.body["risk_flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0]["risk"], "public_order");
    assert_eq!(flags[0]["closed_at"], Value::Null);
    assert_eq!(flags[0]["reports"][0]["reported_to"], "public_security");
    let flag_id = flags[0]["id"].as_str().unwrap().to_owned();

    let open = district.get("/api/v1/risk-flags").await;
    assert_eq!(open.status, 200, "{}", open.body);
    let listed = open.body.as_array().unwrap();
    assert_eq!(listed.len(), 1, "the district sees the open flag: {}", open.body);
    assert_eq!(listed[0]["id"], flag_id.as_str());
    assert_eq!(listed[0]["village_name"], "东平村");
    assert_eq!(listed[0]["town_name"], "下洼镇");
    assert_eq!(listed[0]["case_number"], file["case"]["case_number"]);
    assert_eq!(listed[0]["reports"].as_array().map(Vec::len), Some(1));

    let reported = mediator
        .post(
            &format!("/api/v1/cases/{id}/risk-flags/{flag_id}/reports"),
            &json!({ "reported_to": "justice_office", "reported_at": chrono::Utc::now().to_rfc3339() }),
        )
        .await;
    assert_eq!(reported.status, 201, "{}", reported.body);
    assert_eq!(reported.body["risk_flags"][0]["reports"].as_array().map(Vec::len), Some(2));
    assert_eq!(server.count("SELECT COUNT(*) FROM risk_reports").await, 2);

    let closed = mediator
        .post(&format!("/api/v1/cases/{id}/risk-flags/{flag_id}/close"), &json!({ "note": "双方已和解，危险解除。" }))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert!(closed.body["risk_flags"][0]["closed_at"].is_string());
    mediator
        .post(&format!("/api/v1/cases/{id}/risk-flags/{flag_id}/close"), &json!({ "note": "again" }))
        .await
        .assert_error(409, "invalid_state");
    mediator
        .post(
            &format!("/api/v1/cases/{id}/risk-flags/{flag_id}/reports"),
            &json!({ "reported_to": "other", "reported_at": chrono::Utc::now().to_rfc3339() }),
        )
        .await
        .assert_error(409, "invalid_state");
    assert_eq!(district.get("/api/v1/risk-flags").await.body, json!([]), "a closed flag leaves the open list");
    let closed_list = district.get("/api/v1/risk-flags?state=closed").await;
    assert_eq!(closed_list.body.as_array().map(Vec::len), Some(1), "{}", closed_list.body);

    let admin = server.login("admin").await;
    let events = admin.get("/api/v1/audit?limit=200").await;
    let actions: Vec<&str> =
        events.body.as_array().unwrap().iter().filter_map(|event| event["action"].as_str()).collect();
    for action in ["case.risk_flag", "case.risk_report", "case.risk_close"] {
        assert_eq!(actions.iter().filter(|seen| **seen == action).count(), 1, "{action} in {actions:?}");
    }
    assert_eq!(admin.get("/api/v1/audit/verify").await.body["ok"], true);
}

async fn risk_flags_are_scoped_and_validated(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let admin = server.login("admin").await;
    let file = register_case(&mediator, &demo, "东平村").await;
    let id = case_id(&file);
    let flag = json!({ "risk": "escalation", "description": "双方在村口推搡。" });
    assert_eq!(mediator.post(&format!("/api/v1/cases/{id}/risk-flags"), &flag).await.status, 201);

    // Another district's administrator sees nothing of it, and may not ask for the town.
    let other = admin.post("/api/v1/districts", &json!({ "name": "滨城区" })).await;
    assert_eq!(other.status, 201, "{}", other.body);
    let other_admin = admin
        .post(
            "/api/v1/accounts",
            &json!({ "username": "bincheng", "display_name": "滨城区管理员", "role": "district_admin",
                     "unit_id": other.body["id"], "password": "another district password" }),
        )
        .await;
    assert_eq!(other_admin.status, 201, "{}", other_admin.body);
    let other_admin = server.login_with("bincheng", "another district password").await;
    assert_eq!(other_admin.get("/api/v1/risk-flags").await.body, json!([]));
    other_admin.get(&format!("/api/v1/risk-flags?town_id={}", demo.id("下洼镇"))).await.assert_error(403, "forbidden");
    other_admin.post(&format!("/api/v1/cases/{id}/risk-flags"), &flag).await.assert_error(403, "forbidden");

    // Stations and advisers never see flags, not even in a case file they may read.
    let station = server.login("station-dongping").await;
    station.get("/api/v1/risk-flags").await.assert_error(403, "forbidden");
    let seen_by_station = station.get(&format!("/api/v1/cases/{id}")).await;
    if seen_by_station.status == 200 {
        assert_eq!(seen_by_station.body["risk_flags"], json!([]), "a station reads no risk flag");
    }
    server.login("adviser1").await.get("/api/v1/risk-flags").await.assert_error(403, "forbidden");

    // The filters must name units of the right kind, in the same town.
    mediator
        .get(&format!("/api/v1/risk-flags?town_id={}", demo.id("东平村")))
        .await
        .assert_error(422, "validation_failed");
    let listed = mediator.get(&format!("/api/v1/risk-flags?village_id={}", demo.id("东平村"))).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1), "{}", listed.body);
    assert_eq!(mediator.get(&format!("/api/v1/risk-flags?village_id={}", demo.id("哈喇村"))).await.body, json!([]));

    // Bad input: a report in the future, an unknown authority, a blank description.
    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let with_future = json!({ "risk": "criminal", "description": "x",
                              "reports": [{ "reported_to": "public_security", "reported_at": future }] });
    mediator.post(&format!("/api/v1/cases/{id}/risk-flags"), &with_future).await.assert_error(422, "validation_failed");
    let unknown = json!({ "risk": "criminal", "description": "x",
                          "reports": [{ "reported_to": "the_village_head", "reported_at": chrono::Utc::now().to_rfc3339() }] });
    mediator.post(&format!("/api/v1/cases/{id}/risk-flags"), &unknown).await.assert_error(400, "invalid_json");
    let blank = json!({ "risk": "criminal", "description": "   " });
    mediator.post(&format!("/api/v1/cases/{id}/risk-flags"), &blank).await.assert_error(422, "validation_failed");
    assert_eq!(server.count("SELECT COUNT(*) FROM risk_flags").await, 1, "nothing written by the refused requests");
}
