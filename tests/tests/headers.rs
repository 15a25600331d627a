//! The header policy over real HTTP: pages may run only our own scripts
//! and are never framed, nothing is sniffed or leaks a referrer, the API's
//! answers are never stored by a cache (a shared kiosk), the web client's
//! files are revalidated (so kiosks pick up an upgrade), HSTS where people
//! come over https, and /metrics only for monitoring.

use mediation_tests::{Api, Db, Reply, TestServer};

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

fn assert_common(reply: &Reply, what: &str) {
    let policy = header(reply, "content-security-policy");
    for directive in ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
        assert!(policy.contains(directive), "{what}: {directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{what}: {policy}");
    assert_eq!(header(reply, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(reply, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header(reply, "x-frame-options"), "DENY", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_header_policy() {
    let server = TestServer::start(Db::Sqlite, &[]).await;
    let anonymous = server.anonymous();
    for page in ["/", "/join.html", "/js/call.js", "/style.css"] {
        let reply = anonymous.get(page).await;
        assert_eq!(reply.status, 200, "{page}");
        assert_common(&reply, page);
        assert_eq!(header(&reply, "cache-control"), "no-cache", "{page} is revalidated");
    }
    let mediator = server.login("mediator1").await;
    for (path, status) in [("/api/v1/me", 200), ("/api/v1/cases", 200), ("/api/v1/cases/not-a-uuid", 400)] {
        let reply = mediator.get(path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert_common(&reply, path);
        assert_eq!(header(&reply, "cache-control"), "no-store", "{path} is never stored");
    }
    let refused = anonymous.get("/api/v1/me").await;
    refused.assert_error(401, "unauthorized");
    assert_eq!(header(&refused, "cache-control"), "no-store");
    assert!(refused.headers.get("strict-transport-security").is_none(), "no HSTS over plain http");
    server.stop().await;

    let behind_tls = TestServer::start(Db::Sqlite, &["--public-url", "https://tiaojie.example.gov.cn"]).await;
    let reply = behind_tls.anonymous().get("/").await;
    assert!(header(&reply, "strict-transport-security").starts_with("max-age="), "HSTS when people come over https");
    behind_tls.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_only_for_monitoring() {
    // Behind a proxy the client's address is the forwarded one: from afar, refused.
    let server = TestServer::start(Db::Sqlite, &["--trust-forwarded-for"]).await;
    let from_this_machine = server.anonymous().get("/metrics").await;
    assert_eq!(from_this_machine.status, 200);
    let from_afar = forwarded_get(&server, "/metrics", "203.0.113.9").await;
    from_afar.assert_error(403, "forbidden");
    server.stop().await;

    let token = "monitoring-token-for-the-test";
    let server = TestServer::start(Db::Sqlite, &["--metrics-token", token]).await;
    server.anonymous().get("/metrics").await.assert_error(403, "forbidden");
    Api::new(&server.base_url, Some("wrong-token".into())).get("/metrics").await.assert_error(403, "forbidden");
    let with_token = Api::new(&server.base_url, Some(token.into())).get("/metrics").await;
    assert_eq!(with_token.status, 200);
    assert_eq!(header(&with_token, "cache-control"), "no-store");
    server.stop().await;
}

async fn forwarded_get(server: &TestServer, path: &str, from: &str) -> Reply {
    let request = reqwest::Client::new().get(format!("{}{path}", server.base_url)).header("x-forwarded-for", from);
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Reply { status, headers, body }
}
