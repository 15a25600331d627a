//! The HTTP listener's limits over real TCP: a connection that sends no
//! request headers in time (idle, or a slow client trickling them) is
//! closed; connections beyond the cap wait and are served once places free
//! up; WebSockets have a cap of their own, answered 503 `unavailable`.

use std::time::Duration;

use mediation_tests::{Db, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn address(server: &TestServer) -> String {
    server.base_url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server kept the connection open for {within:?}");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed() {
    let server = TestServer::start(Db::Sqlite, &["--http-header-timeout-secs", "0.5"]).await;
    let within = Duration::from_secs(10);

    let mut silent = TcpStream::connect(address(&server)).await.unwrap();
    until_closed(&mut silent, within).await;

    let mut slow = TcpStream::connect(address(&server)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    until_closed(&mut slow, within).await;

    let mut kept_alive = TcpStream::connect(address(&server)).await.unwrap();
    kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answered = until_closed(&mut kept_alive, within).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "answered, then closed once idle: {answered}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_and_websockets_have_their_own() {
    let args = ["--max-http-connections", "3", "--http-header-timeout-secs", "1", "--max-websockets", "2"];
    let server = TestServer::start(Db::Sqlite, &args).await;
    // Three silent connections take every place; a fourth client waits
    // for one of them to be closed, and is then served.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(address(&server)).await.unwrap());
    }
    let waited = tokio::time::timeout(Duration::from_secs(15), server.anonymous().get("/healthz")).await;
    assert_eq!(waited.expect("served once the silent connections were closed").status, 200);

    let token = server.login("mediator1").await.token().unwrap().to_owned();
    let url = format!("ws://{}/api/v1/rtc?access_token={token}", address(&server));
    let first = tokio_tungstenite::connect_async(&url).await.expect("a first WebSocket");
    let _second = tokio_tungstenite::connect_async(&url).await.expect("a second WebSocket");
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503, "a third WebSocket is refused");
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("a third WebSocket was not refused: {:?}", other.map(|(_, response)| response.status())),
    }
    // A place freed is a place taken again.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio_tungstenite::connect_async(&url).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the closed WebSocket's place was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}
