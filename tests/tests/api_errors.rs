//! Bad input over real HTTP: each gets the JSON error shape with the right
//! status and code, and nothing is written.

use mediation_tests::{Db, TestServer, on_both_databases};
use serde_json::json;

on_both_databases!(
    malformed_and_oversized_bodies,
    validation_conflict_and_missing,
    failed_writes_leave_nothing,
    arrays_and_nul_characters_are_refused,
);

async fn malformed_and_oversized_bodies(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let admin = server.login("admin").await;

    admin.post_raw("/api/v1/districts", b"{\"name\": ".to_vec()).await.assert_error(400, "invalid_json");
    admin.post_raw("/api/v1/auth/login", b"not json at all".to_vec()).await.assert_error(400, "invalid_json");
    let wrong_type = admin.post("/api/v1/districts", &json!({ "name": 42 })).await;
    wrong_type.assert_error(400, "invalid_json");
    assert!(wrong_type.body["message"].as_str().unwrap().contains("name"), "names the field: {}", wrong_type.body);
    let bad_enum = admin
        .post("/api/v1/accounts", &json!({ "username": "x1", "display_name": "x", "role": "emperor", "unit_id": null }))
        .await;
    bad_enum.assert_error(400, "invalid_json");
    assert!(bad_enum.body["message"].as_str().unwrap().contains("emperor"), "{}", bad_enum.body);
    admin.post("/api/v1/districts", &json!({ "name": "x", "colour": "red" })).await.assert_error(400, "invalid_json");
    admin.post("/api/v1/districts", &json!({})).await.assert_error(400, "invalid_json");

    let huge = format!("{{\"name\": \"{}\"}}", "区".repeat(400_000));
    admin.post_raw("/api/v1/districts", huge.into_bytes()).await.assert_error(413, "payload_too_large");

    admin.get("/api/v1/districts/not-a-uuid").await.assert_error(400, "bad_request");
    admin.get("/api/v1/towns?active=perhaps").await.assert_error(400, "bad_request");
    let no_type = reqwest::Client::new()
        .post(format!("{}/api/v1/districts", server.base_url))
        .bearer_auth(admin.token().unwrap())
        .body("{\"name\":\"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 415);
    let body: serde_json::Value = no_type.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_media_type");
}

/// An array in place of an object is refused (it would fill the fields in
/// order), and text holding a NUL character (which PostgreSQL cannot store)
/// gets 422 naming the field, in a body and in a query, with nothing written.
async fn arrays_and_nul_characters_are_refused(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let admin = server.login("admin").await;
    let mediator = server.login("mediator1").await;
    admin
        .post("/api/v1/auth/login", &json!(["admin", "demo-password-for-tests"]))
        .await
        .assert_error(400, "invalid_json");
    let me = mediator.get("/api/v1/me").await.body;
    let path = format!("/api/v1/accounts/{}", me["id"].as_str().unwrap());
    admin.patch(&path, &json!([null, null])).await.assert_error(400, "invalid_json");
    let nul_name = admin.post("/api/v1/auth/login", &json!({ "username": "ad\u{0}min", "password": "x" })).await;
    nul_name.assert_error(422, "validation_failed");
    assert_eq!(nul_name.body["field"], "username");
    let nul_phone = admin.patch(&path, &json!({ "phone": "138\u{0}" })).await;
    nul_phone.assert_error(422, "validation_failed");
    assert_eq!(nul_phone.body["field"], "phone");
    let nul_query = mediator.get("/api/v1/cases?q=%00").await;
    nul_query.assert_error(422, "validation_failed");
    assert_eq!(nul_query.body["field"], "q");
    let after = admin.get(&path).await.body;
    assert_eq!(after["phone"], me["phone"], "nothing was written");
}

async fn validation_conflict_and_missing(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let admin = server.login("admin").await;
    let towns = admin.get("/api/v1/towns").await;
    let town_id = towns.body[0]["id"].as_str().unwrap().to_owned();
    let district_id = towns.body[0]["district_id"].as_str().unwrap().to_owned();

    let cases = [
        ("/api/v1/districts", json!({ "name": "   " }), "name"),
        ("/api/v1/towns", json!({ "district_id": district_id, "name": "无室镇" }), "office_name"),
        ("/api/v1/towns", json!({ "name": "无区镇", "office_name": "x" }), "district_id"),
        ("/api/v1/villages", json!({ "town_id": district_id, "name": "错村" }), "town_id"),
        ("/api/v1/villages", json!({ "town_id": town_id, "name": "村", "office_name": "x" }), "office_name"),
        (
            "/api/v1/accounts",
            json!({ "username": "Bad Name", "display_name": "x", "role": "mediator", "unit_id": town_id }),
            "username",
        ),
        (
            "/api/v1/accounts",
            json!({ "username": "wrongunit", "display_name": "x", "role": "station", "unit_id": town_id }),
            "unit_id",
        ),
        (
            "/api/v1/accounts",
            json!({ "username": "weak", "display_name": "x", "role": "mediator", "unit_id": town_id, "password": "123" }),
            "password",
        ),
        (
            "/api/v1/accounts",
            json!({ "username": "phoney", "display_name": "x", "role": "mediator", "unit_id": town_id, "phone": "call me" }),
            "phone",
        ),
    ];
    for (path, body, field) in cases {
        let reply = admin.post(path, &body).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.body["field"], field, "POST {path} {body}: {}", reply.body);
        assert!(reply.body["message"].as_str().unwrap().starts_with(field));
    }

    let duplicate = admin
        .post(
            "/api/v1/accounts",
            &json!({ "username": "mediator1", "display_name": "x", "role": "mediator", "unit_id": town_id }),
        )
        .await;
    duplicate.assert_error(409, "conflict");
    assert!(duplicate.body["message"].as_str().unwrap().contains("mediator1"));
    admin
        .post("/api/v1/villages", &json!({ "town_id": town_id, "name": "东平村" }))
        .await
        .assert_error(409, "conflict");

    let missing = uuid::Uuid::new_v4();
    admin.get(&format!("/api/v1/districts/{missing}")).await.assert_error(404, "not_found");
    admin.get(&format!("/api/v1/accounts/{missing}")).await.assert_error(404, "not_found");
    admin.get("/api/v1/no-such-thing").await.assert_error(404, "not_found");
    // A town's id asked for as a village is not found, not a town.
    admin.get(&format!("/api/v1/villages/{town_id}")).await.assert_error(404, "not_found");
    server.anonymous().get("/api/v1/accounts").await.assert_error(401, "unauthorized");
}

async fn failed_writes_leave_nothing(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let admin = server.login("admin").await;
    let before_accounts = admin.get("/api/v1/accounts").await.body.as_array().unwrap().len();
    let before_villages = admin.get("/api/v1/villages").await.body.as_array().unwrap().len();
    let town_id = admin.get("/api/v1/towns").await.body[0]["id"].as_str().unwrap().to_owned();

    admin
        .post("/api/v1/villages", &json!({ "town_id": town_id, "name": "" }))
        .await
        .assert_error(422, "validation_failed");
    admin
        .post("/api/v1/villages", &json!({ "town_id": town_id, "name": "东平村" }))
        .await
        .assert_error(409, "conflict");
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "username": "mediator1", "display_name": "x", "role": "mediator", "unit_id": town_id }),
        )
        .await
        .assert_error(409, "conflict");
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "username": "ok-name", "display_name": "", "role": "mediator", "unit_id": town_id }),
        )
        .await
        .assert_error(422, "validation_failed");

    assert_eq!(admin.get("/api/v1/accounts").await.body.as_array().unwrap().len(), before_accounts);
    assert_eq!(admin.get("/api/v1/villages").await.body.as_array().unwrap().len(), before_villages);
    let renamed = admin.get("/api/v1/villages").await.body[0].clone();
    let id = renamed["id"].as_str().unwrap();
    admin.patch(&format!("/api/v1/villages/{id}"), &json!({ "name": "后孙村" })).await.assert_error(409, "conflict");
    assert_eq!(
        admin.get(&format!("/api/v1/villages/{id}")).await.body["name"],
        renamed["name"],
        "the rename did not stick"
    );
}
