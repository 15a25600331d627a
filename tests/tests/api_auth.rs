//! Signing in over real HTTP: right and wrong passwords, every kind of bad
//! token, revocation by deactivation and password reset, throttling.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mediation_tests::{DEMO_PASSWORD, Db, TestServer, on_both_databases};
use serde_json::json;

on_both_databases!(
    every_demo_account_signs_in_with_its_role_and_unit,
    wrong_credentials_look_the_same_for_known_and_unknown_users,
    bad_tokens_are_refused,
    deactivation_and_password_reset_revoke_tokens_at_once,
    own_password_change_revokes_old_tokens,
    deactivating_a_town_stops_its_villages_stations,
    throttling_kicks_in_and_lifts,
    concurrent_guesses_are_counted_before_the_password_is_checked,
    concurrent_logins_share_a_few_password_threads,
    health_and_readiness,
);

async fn every_demo_account_signs_in_with_its_role_and_unit(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let expected = [
        ("admin", "admin", None),
        ("district", "district_admin", Some("沾化区")),
        ("mediator1", "mediator", Some("下洼镇")),
        ("mediator2", "mediator", Some("下洼镇")),
        ("adviser1", "adviser", Some("沾化区")),
        ("station-dongping", "station", Some("东平村")),
        ("station-hala", "station", Some("哈喇村")),
        ("station-housun", "station", Some("后孙村")),
    ];
    for (username, role, unit) in expected {
        let reply = server
            .anonymous()
            .post("/api/v1/auth/login", &json!({ "username": username, "password": DEMO_PASSWORD }))
            .await;
        assert_eq!(reply.status, 200, "{username}: {}", reply.body);
        assert!(reply.body["token"].as_str().is_some_and(|t| t.split('.').count() == 3));
        assert!(reply.body["expires_at"].as_str().is_some());
        assert_eq!(reply.body["user"]["username"], username);
        assert!(reply.body["user"].get("password_hash").is_none(), "the hash is never sent");

        let me = server.login(username).await.get("/api/v1/me").await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["role"], role, "{username}");
        assert_eq!(me.body["unit_name"].as_str(), unit, "{username}");
    }
    // Usernames are case-insensitive.
    let upper = server
        .anonymous()
        .post("/api/v1/auth/login", &json!({ "username": "Mediator1", "password": DEMO_PASSWORD }))
        .await;
    assert_eq!(upper.status, 200);
}

async fn wrong_credentials_look_the_same_for_known_and_unknown_users(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let api = server.anonymous();
    let wrong_password =
        api.post("/api/v1/auth/login", &json!({ "username": "mediator1", "password": "not-the-password" })).await;
    let unknown_user =
        api.post("/api/v1/auth/login", &json!({ "username": "no-such-user", "password": "not-the-password" })).await;
    wrong_password.assert_error(401, "unauthorized");
    unknown_user.assert_error(401, "unauthorized");
    assert_eq!(wrong_password.body, unknown_user.body, "the answer must not reveal whether the username exists");
    api.get("/api/v1/me").await.assert_error(401, "unauthorized");
}

fn sign(secret: &[u8], claims: serde_json::Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn bad_tokens_are_refused(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let mediator = server.login("mediator1").await;
    let me = mediator.get("/api/v1/me").await;
    let id = me.body["id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let secret = server.jwt_secret();

    let valid = sign(&secret, json!({ "sub": id, "ver": 1, "aud": "mediation-staff", "iat": now, "exp": now + 600 }));
    assert_eq!(mediator.with_token(&valid).get("/api/v1/me").await.status, 200, "a token we sign ourselves works");

    let expired =
        sign(&secret, json!({ "sub": id, "ver": 1, "aud": "mediation-staff", "iat": now - 7200, "exp": now - 60 }));
    let wrong_audience =
        sign(&secret, json!({ "sub": id, "ver": 1, "aud": "invitation", "iat": now, "exp": now + 600 }));
    let other_secret = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": id, "ver": 1, "aud": "mediation-staff", "iat": now, "exp": now + 600 }),
        &EncodingKey::from_secret(b"another secret entirely, 32 bytes+"),
    )
    .unwrap();

    // Tampered: the admin's id put into a valid token's payload.
    let admin_id = server.login("admin").await.get("/api/v1/me").await.body["id"].as_str().unwrap().to_owned();
    let token = mediator.token().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!(admin_id);
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);

    // alg: none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", URL_SAFE_NO_PAD.encode(payload.to_string()));

    for (what, bad) in [
        ("expired", expired),
        ("wrong audience", wrong_audience),
        ("other secret", other_secret),
        ("tampered", tampered),
        ("alg none", unsigned),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let reply = mediator.with_token(&bad).get("/api/v1/me").await;
        assert_eq!(reply.status, 401, "{what} token accepted: {}", reply.body);
        reply.assert_error(401, "unauthorized");
    }
}

async fn deactivation_and_password_reset_revoke_tokens_at_once(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let admin = server.login("admin").await;
    let mediator2 = server.login("mediator2").await;
    let id = mediator2.get("/api/v1/me").await.id();

    let off = admin.post(&format!("/api/v1/accounts/{id}/deactivate"), &json!({})).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.body["active"], false);
    mediator2.get("/api/v1/me").await.assert_error(401, "unauthorized");
    server
        .anonymous()
        .post("/api/v1/auth/login", &json!({ "username": "mediator2", "password": DEMO_PASSWORD }))
        .await
        .assert_error(401, "unauthorized");

    assert_eq!(admin.post(&format!("/api/v1/accounts/{id}/activate"), &json!({})).await.status, 200);
    mediator2.get("/api/v1/me").await.assert_error(401, "unauthorized");
    let fresh = server.login("mediator2").await;
    assert_eq!(fresh.get("/api/v1/me").await.status, 200, "a new login works after reactivation");

    let reset = admin.post(&format!("/api/v1/accounts/{id}/password"), &json!({})).await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let generated = reset.body["generated_password"].as_str().expect("a generated password").to_owned();
    fresh.get("/api/v1/me").await.assert_error(401, "unauthorized");
    let again = server.login_with("mediator2", &generated).await;
    assert_eq!(again.get("/api/v1/me").await.status, 200);

    // Nobody deactivates themself.
    let own = admin.get("/api/v1/me").await.id();
    admin.post(&format!("/api/v1/accounts/{own}/deactivate"), &json!({})).await.assert_error(403, "forbidden");
}

async fn own_password_change_revokes_old_tokens(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let adviser = server.login("adviser1").await;
    adviser
        .put("/api/v1/me/password", &json!({ "current_password": "wrong-one", "new_password": "a-new-password" }))
        .await
        .assert_error(422, "validation_failed");
    adviser
        .put("/api/v1/me/password", &json!({ "current_password": DEMO_PASSWORD, "new_password": "short" }))
        .await
        .assert_error(422, "validation_failed");
    let changed = adviser
        .put("/api/v1/me/password", &json!({ "current_password": DEMO_PASSWORD, "new_password": "a-new-password" }))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    adviser.get("/api/v1/me").await.assert_error(401, "unauthorized");
    let new_token = changed.body["token"].as_str().unwrap();
    assert_eq!(adviser.with_token(new_token).get("/api/v1/me").await.status, 200);
    server.login_with("adviser1", "a-new-password").await;
}

async fn throttling_kicks_in_and_lifts(db: Db) {
    let server = TestServer::start(db, &["--login-max-failures", "3", "--login-lockout-seconds", "1"]).await;
    let api = server.anonymous();
    let attempt = |username: &'static str, password: &'static str| {
        let api = api.clone();
        async move { api.post("/api/v1/auth/login", &json!({ "username": username, "password": password })).await }
    };
    for _ in 0..3 {
        attempt("mediator1", "wrong-password").await.assert_error(401, "unauthorized");
    }
    let locked = attempt("mediator1", DEMO_PASSWORD).await;
    locked.assert_error(429, "too_many_requests");
    let retry_after: u64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");

    // Unknown usernames are throttled alike, so 429 reveals nothing either.
    for _ in 0..3 {
        attempt("ghost", "wrong-password").await.assert_error(401, "unauthorized");
    }
    attempt("ghost", "wrong-password").await.assert_error(429, "too_many_requests");

    // Other accounts from the same address are not yet locked (the address
    // limit is four times the username limit).
    assert_eq!(attempt("mediator2", DEMO_PASSWORD).await.status, 200);

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let lifted = attempt("mediator1", DEMO_PASSWORD).await;
    assert_eq!(lifted.status, 200, "the lockout lifts: {}", lifted.body);
}

/// Sixty wrong passwords for one username at once: only as many as the
/// limit are checked (each counted before its slow hash), the rest are
/// refused at once, and the audit trail shows only the checked ones.
async fn concurrent_guesses_are_counted_before_the_password_is_checked(db: Db) {
    let server = TestServer::start(db, &["--login-max-failures", "5", "--login-lockout-seconds", "60"]).await;
    let api = server.anonymous();
    let guesses = (0..60).map(|i| {
        let api = api.clone();
        async move {
            let guess = json!({ "username": "mediator1", "password": format!("guess-{i}") });
            api.post("/api/v1/auth/login", &guess).await
        }
    });
    let replies = futures::future::join_all(guesses).await;
    let checked = replies.iter().filter(|reply| reply.status == 401).count();
    let refused = replies.iter().filter(|reply| reply.status == 429).count();
    assert_eq!((checked, refused), (5, 55), "of 60 concurrent guesses the limit (5) is checked, the rest refused");
    let recorded =
        server.count("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.login' AND result = 'refused'").await;
    assert_eq!(recorded, 5, "each checked guess is in the audit trail, and only those");
    server.stop().await;
}

/// A hundred sign-ins at once share a few password threads (one per core):
/// never more run at once, and each is answered, 200 or (when every thread
/// stayed busy for the whole wait) 503 `unavailable` with Retry-After.
async fn concurrent_logins_share_a_few_password_threads(db: Db) {
    let server = TestServer::start(db, &["--login-max-failures", "1000"]).await;
    let api = server.anonymous();
    let logins =
        (0..100).map(|_| {
            let api = api.clone();
            async move {
                api.post("/api/v1/auth/login", &json!({ "username": "mediator1", "password": DEMO_PASSWORD })).await
            }
        });
    let replies = futures::future::join_all(logins).await;
    for reply in &replies {
        if reply.status != 200 {
            reply.assert_error(503, "unavailable");
            assert!(reply.headers.contains_key("retry-after"), "a busy answer says when to retry");
        }
    }
    assert!(replies.iter().any(|reply| reply.status == 200), "sign-ins got through");
    let (peak, threads) = mediation_server::auth::password_work_peak();
    assert!(peak >= 1 && peak <= threads, "at most {threads} password checks at once, saw {peak}");
    server.stop().await;
}

async fn health_and_readiness(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let api = server.anonymous();
    assert_eq!(api.get("/healthz").await.body["status"], "ok");
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["database"], if db == Db::Sqlite { "sqlite" } else { "postgres" });
    server.stop().await;
}

async fn deactivating_a_town_stops_its_villages_stations(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let admin = server.login("admin").await;
    let station = server.login("station-dongping").await;
    let town = admin.get("/api/v1/towns").await.body[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(admin.post(&format!("/api/v1/towns/{town}/deactivate"), &json!({})).await.status, 200);
    station.get("/api/v1/me").await.assert_error(401, "unauthorized");
    server
        .anonymous()
        .post("/api/v1/auth/login", &json!({ "username": "station-dongping", "password": DEMO_PASSWORD }))
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(admin.post(&format!("/api/v1/towns/{town}/activate"), &json!({})).await.status, 200);
    assert_eq!(station.get("/api/v1/me").await.status, 200, "the token was not revoked, only suspended with the town");
}
