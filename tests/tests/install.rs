//! What a town's IT officer meets installing the server: the binary copied
//! alone serves every page; a configuration file with flags over it; a
//! port in use named before anything is written; the first-run set-up
//! code; HTTPS with the town's own certificate authority, its redirect
//! listener, and a renewed certificate taken while a WebSocket stays up.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use mediation_server::tls::authority;
use mediation_tests::fixtures::{Demo, video_session};
use mediation_tests::process::{ServerProcess, server_binary};
use mediation_tests::tls_client::TlsClient;
use mediation_tests::{Api, DEMO_PASSWORD, Db, TestServer, fresh_database_url, on_both_databases};
use serde_json::json;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

/// Runs the binary with `args` from `dir`, optionally with the source
/// tree's web-client folder hidden (an empty folder mounted over it in a
/// mount namespace of its own), so the test shows the pages come from the
/// binary and not from the build tree.
fn server_command(binary: &Path, dir: &Path, args: &[&str], hide_source_pages: bool) -> Command {
    let source_pages = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-client");
    let mut command = if hide_source_pages {
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"",
                "sh",
            ])
            .arg(&empty)
            .arg(&source_pages)
            .arg(binary)
            .args(args);
        command
    } else {
        let mut command = Command::new(binary);
        command.args(args);
        command
    };
    command.current_dir(dir).env_remove("MEDIATION_WEB_DIR").env_remove("DATABASE_URL");
    command
}

/// Whether this machine lets the test hide a folder (root, util-linux).
fn can_hide_folders() -> bool {
    std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[tokio::test]
async fn the_binary_copied_alone_serves_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("mediation-server");
    std::fs::copy(server_binary(), &binary).unwrap();
    let hide = can_hide_folders();
    if !hide {
        eprintln!("note: not root; the source tree's web-client folder stays visible to the server");
    }
    let args = ["--listen", "127.0.0.1:0", "--data-dir", "data", "--demo", "--demo-password", DEMO_PASSWORD];
    let server = ServerProcess::start(server_command(&binary, dir.path(), &args, hide)).await;
    let client = reqwest::Client::new();
    for (path, content_type, contains) in [
        ("/", "text/html; charset=utf-8", "乡村远程调解平台"),
        ("/join.html", "text/html; charset=utf-8", "/js/join.js"),
        ("/setup.html", "text/html; charset=utf-8", "/js/setup.js"),
        ("/js/call.js", "text/javascript; charset=utf-8", "RTCPeerConnection"),
        ("/js/lang/zh-CN.js", "text/javascript; charset=utf-8", "export default"),
        ("/style.css", "text/css; charset=utf-8", "{"),
    ] {
        let response = client.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains(contains), "{path} does not contain {contains}");
    }
    let zipped =
        client.get(format!("{}/js/call.js", server.url)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let plain = client.get(format!("{}/js/call.js", server.url)).send().await.unwrap();
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain_length = plain.bytes().await.unwrap().len();
    assert!(zipped.bytes().await.unwrap().len() * 2 < plain_length, "gzip halves the module at least");
    let again = client.get(format!("{}/js/call.js", server.url)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304, "a kiosk revalidating an unchanged module gets no body");
    let missing = client.get(format!("{}/js/no-such-module.js", server.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_port_in_use_is_named_and_nothing_is_written() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let args = ["--listen", address.as_str(), "--data-dir", "data", "--demo"];
    let (code, printed) = ServerProcess::spawn(server_command(&server_binary(), dir.path(), &args, false)).exit().await;
    assert_ne!(code, Some(0), "{printed}");
    assert!(printed.contains("already in use"), "{printed}");
    assert!(
        printed.contains("--listen") && printed.contains("MEDIATION_LISTEN"),
        "the setting to change is named: {printed}"
    );
    assert!(!dir.path().join("data").exists(), "the data directory was created before the port was checked");
}

#[tokio::test]
async fn the_configuration_file_is_read_and_a_flag_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = dir.path().join("mediation.toml");
    std::fs::write(
        &file,
        format!(
            "# as deploy/mediation.toml\nlisten = \"127.0.0.1:{port}\"\ndata-dir = \"from-file\"\ndemo = true\n\
             demo-password = \"{DEMO_PASSWORD}\"\npublic-url = \"https://tiaojie.example.cn\"\nroom-size-limit = 3\n"
        ),
    )
    .unwrap();
    let config = file.display().to_string();
    let server =
        ServerProcess::start(server_command(&server_binary(), dir.path(), &["--config", &config], false)).await;
    assert_eq!(server.url, format!("http://127.0.0.1:{port}"), "the file's listen address");
    assert!(dir.path().join("from-file/mediation.db").exists(), "the file's data directory");
    let reply = Api::new(&server.url, None).get("/api/v1/setup").await;
    assert!(reply.headers.contains_key("strict-transport-security"), "the file's https public URL turns HSTS on");
    server.stop().await;

    let args = ["--config", config.as_str(), "--public-url", "http://127.0.0.1"];
    let server = ServerProcess::start(server_command(&server_binary(), dir.path(), &args, false)).await;
    let reply = Api::new(&server.url, None).get("/api/v1/setup").await;
    assert!(!reply.headers.contains_key("strict-transport-security"), "the flag's http public URL wins over the file");
    server.stop().await;

    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let (code, printed) =
        ServerProcess::spawn(server_command(&server_binary(), dir.path(), &["--config", &config], false)).exit().await;
    assert_eq!(code, Some(2), "{printed}");
    assert!(printed.contains("unknown setting `lisen`"), "{printed}");
}

async fn setup_code_creates_the_first_administrator_once(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url(db, dir.path()).await;
    let args = ["--listen", "127.0.0.1:0", "--data-dir", "data", "--database-url", database_url.as_str()];
    let mut server = ServerProcess::start(server_command(&server_binary(), dir.path(), &args, false)).await;
    let line = server.wait_for_line(|line| line.contains("and enter the set-up code:")).await;
    let code = line.rsplit(':').next().unwrap().trim().to_owned();
    assert_eq!(code.len(), 19, "{line}");
    assert!(
        !server.printed.iter().any(|line| line.contains("INFO") && line.contains(&code)),
        "the code stays out of the log lines"
    );

    let anonymous = Api::new(&server.url, None);
    assert_eq!(anonymous.get("/api/v1/setup").await.body, json!({ "needed": true }));
    let body = |code: &str| {
        json!({ "code": code, "district_name": "沾化区", "username": "it-officer", "display_name": "王工",
                "password": "a long enough password" })
    };
    anonymous.post("/api/v1/setup", &body("AAAA-BBBB-CCCC-DDDD")).await.assert_error(403, "setup_code_invalid");
    let mut short = body(&code);
    short["password"] = json!("only8chars");
    anonymous.post("/api/v1/setup", &short).await.assert_error(422, "validation_failed");
    let done = anonymous.post("/api/v1/setup", &body(&code.to_lowercase())).await;
    assert_eq!(done.status, 201, "{}", done.body);
    assert_eq!(done.body["account"]["role"], "admin");
    assert_eq!(done.body["district"]["name"], "沾化区");
    anonymous.post("/api/v1/setup", &body(&code)).await.assert_error(409, "conflict");
    assert_eq!(anonymous.get("/api/v1/setup").await.body, json!({ "needed": false }));

    let login = anonymous
        .post("/api/v1/auth/login", &json!({ "username": "it-officer", "password": "a long enough password" }))
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let admin = anonymous.with_token(login.body["token"].as_str().unwrap());
    let units = admin.get("/api/v1/districts").await;
    assert_eq!(units.body.as_array().map(Vec::len), Some(1), "{}", units.body);
    let events = admin.get("/api/v1/audit?limit=50").await;
    let created: Vec<&serde_json::Value> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| matches!(event["action"].as_str(), Some("unit.create" | "account.create")))
        .collect();
    assert_eq!(created.len(), 2, "{}", events.body);
    assert!(
        created.iter().all(|event| event["actor_role"] == "setup" && event["client_addr"] == "127.0.0.1"),
        "{created:?}"
    );
}

on_both_databases!(setup_code_creates_the_first_administrator_once);

/// The authority and server certificate for 127.0.0.1 and localhost, made
/// as `tls init` makes them, in a data directory for a test server.
fn data_dir_with_authority() -> (tempfile::TempDir, Vec<u8>) {
    let data_dir = tempfile::tempdir().unwrap();
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    authority::init(&data_dir.path().join("tls"), &hosts, 30).unwrap();
    let authority_pem = std::fs::read(data_dir.path().join("tls").join(authority::AUTHORITY_CERTIFICATE)).unwrap();
    (data_dir, authority_pem)
}

async fn https_server(data_dir: tempfile::TempDir) -> (TestServer, SocketAddr) {
    let chain = data_dir.path().join("tls").join(authority::SERVER_CHAIN).display().to_string();
    let key = data_dir.path().join("tls").join(authority::SERVER_KEY).display().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let database_url = fresh_database_url(Db::Sqlite, data_dir.path()).await;
    let public_url = format!("https://{address}");
    let args = ["--tls-cert", &chain, "--tls-key", &key, "--public-url", &public_url];
    let server = TestServer::start_at(listener, database_url, data_dir, &args).await;
    (server, address)
}

#[tokio::test]
async fn https_with_the_town_authority_and_its_redirect_listener() {
    let (data_dir, authority_pem) = data_dir_with_authority();
    let (server, address) = https_server(data_dir).await;
    assert!(server.base_url.starts_with("https://"));
    let client = TlsClient::trusting(&authority_pem);
    let page = client.get(address, "localhost", "/").await.expect("a TLS client trusting the town's authority");
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("乡村远程调解平台"));
    assert_eq!(page.header("strict-transport-security"), Some("max-age=31536000"));
    let by_address = client.get(address, "127.0.0.1", "/healthz").await;
    assert!(by_address.is_ok(), "the certificate names the IP address too: {by_address:?}");

    let stranger = TlsClient::trusting(&data_dir_with_authority().1);
    assert!(
        stranger.get(address, "localhost", "/").await.is_err(),
        "another authority's client refuses the certificate"
    );

    let redirects = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_url = format!("http://{}", redirects.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mediation_server::run_redirects(redirects, server.state.clone(), async {
        let _ = stopped.await;
    }));
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let moved = plain.get(format!("{redirect_url}/mediator.html?x=1")).send().await.unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(moved.headers()["location"], format!("https://{address}/mediator.html?x=1"));
    let authority_der = plain.get(format!("{redirect_url}/ca.crt")).send().await.unwrap();
    assert_eq!(authority_der.status(), 200);
    assert_eq!(authority_der.headers()["content-type"], "application/x-x509-ca-cert");
    let expected = authority::der_of_pem(std::str::from_utf8(&authority_pem).unwrap()).unwrap();
    assert_eq!(
        authority_der.bytes().await.unwrap().to_vec(),
        expected,
        "the authority devices install, over plain HTTP"
    );
    let install = plain.get(format!("{redirect_url}/install-ca")).send().await.unwrap().text().await.unwrap();
    let fingerprint = authority::fingerprint_of_pem(std::str::from_utf8(&authority_pem).unwrap()).unwrap();
    assert!(install.contains("安装本镇的证书") && install.contains(&fingerprint), "the page names the fingerprint");
    let style = plain.get(format!("{redirect_url}/style.css")).send().await.unwrap();
    assert_eq!(style.status(), 200, "the page's style sheet, over plain HTTP too");
    let _ = stop.send(());
}

#[tokio::test]
async fn a_renewed_certificate_is_served_while_a_websocket_stays_up() {
    let (data_dir, authority_pem) = data_dir_with_authority();
    let tls_dir = data_dir.path().join("tls");
    let (mut server, address) = https_server(data_dir).await;
    let client = TlsClient::trusting(&authority_pem);
    let first = client.get(address, "localhost", "/").await.unwrap().certificate;

    // The harness's API client speaks plain HTTP: it schedules the session
    // through a plain listener onto the same server; the participant's
    // WebSocket goes over TLS.
    let side_door = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    server.base_url = format!("http://{}", side_door.local_addr().unwrap());
    let limits = mediation_server::serve::Limits { max_connections: 100, header_timeout: Duration::from_secs(30) };
    let app = mediation_server::app(server.state.clone());
    let plain = mediation_server::serve::Transport::Plain;
    tokio::spawn(mediation_server::serve::serve(side_door, plain, app, limits, std::future::pending()));
    let mediator = server.login("mediator1").await;
    let session = video_session(&mediator, &Demo::load(&server).await).await;

    let stream = client.connect(address, "localhost").await.unwrap();
    let url = format!("wss://localhost:{}/api/v1/rtc?access_token={}", address.port(), mediator.token().unwrap());
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream).await.expect("a WebSocket over TLS");
    let join = json!({ "type": "join", "request_id": "join", "protocol_version": signaling_proto::PROTOCOL_VERSION,
                       "session_id": session.session_id });
    socket.send(Message::Text(join.to_string().into())).await.unwrap();
    reply_containing(&mut socket, "\"joined\"").await;

    // Renewal: a new server certificate from the same authority, as
    // `tls init` run again writes it.
    let renewed = authority::init(&tls_dir, &["127.0.0.1".to_owned(), "localhost".to_owned()], 60).unwrap();
    assert!(!renewed.new_authority);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now_served = client.get(address, "localhost", "/").await.unwrap().certificate;
        if now_served != first {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the renewed certificate was not served within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    socket
        .send(Message::Text(r#"{"type":"ping","request_id":"after-renewal"}"#.into()))
        .await
        .expect("the socket is open");
    let answer = reply_containing(&mut socket, "after-renewal").await;
    assert!(answer.contains("pong"), "{answer}");
    drop(server);
}

/// The next text message containing `wanted` (others are skipped).
async fn reply_containing<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>, wanted: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = socket.next().await {
            if let Message::Text(text) = frame.expect("the socket stays up")
                && text.contains(wanted)
            {
                return Some(text.to_string());
            }
        }
        None
    })
    .await;
    found.ok().flatten().unwrap_or_else(|| panic!("no message containing {wanted} within 10 s"))
}

/// A certificate for 192.168.10.5 that expired yesterday, and its key.
fn expired_certificate(dir: &Path) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["192.168.10.5".to_owned()]).unwrap();
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(400);
    params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let certificate = params.self_signed(&key).unwrap();
    let (chain, key_file) = (dir.join("expired.crt"), dir.join("expired.key"));
    std::fs::write(&chain, certificate.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    (chain.display().to_string(), key_file.display().to_string())
}

/// The findings `doctor` printed for a topic, as `LEVEL topic: text`.
fn doctor_lines<'a>(printed: &'a str, level: &str, topic: &str) -> Vec<&'a str> {
    printed.lines().filter(|line| line.starts_with(level) && line.contains(&format!(" {topic}: "))).collect()
}

#[tokio::test]
async fn doctor_names_what_would_stop_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, key) = expired_certificate(dir.path());
    // A UDP port nobody answers on: bound here and never read.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let turn = format!("turn:{}", silent.local_addr().unwrap());
    let args = [
        "--data-dir",
        "data",
        "--public-url",
        "https://192.168.10.5",
        "--rtc-ip",
        "127.0.0.1",
        "--tls-cert",
        &chain,
        "--tls-key",
        &key,
        "--turn-urls",
        &turn,
        "--turn-secret",
        "coturn-secret",
        "doctor",
    ];
    let (code, printed) = ServerProcess::spawn(server_command(&server_binary(), dir.path(), &args, false)).exit().await;
    assert_eq!(code, Some(1), "{printed}");
    let loopback = doctor_lines(&printed, "FAILURE", "rtc-ip");
    assert!(loopback.iter().any(|line| line.contains("loopback")), "{printed}");
    let expired = doctor_lines(&printed, "FAILURE", "tls-cert");
    assert!(expired.iter().any(|line| line.contains("expired")), "{printed}");
    let unanswered = doctor_lines(&printed, "FAILURE", "turn-urls");
    assert!(unanswered.iter().any(|line| line.contains("does not answer")), "{printed}");
    assert!(printed.contains("what to do:"), "each failure says what to do: {printed}");
}

#[tokio::test]
async fn doctor_passes_a_good_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    authority::init(&data.join("tls"), &["127.0.0.1".to_owned()], 90).unwrap();
    let chain = data.join("tls").join(authority::SERVER_CHAIN).display().to_string();
    let key = data.join("tls").join(authority::SERVER_KEY).display().to_string();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let public_url = format!("https://127.0.0.1:{port}");
    let args = [
        "--data-dir",
        "data",
        "--listen",
        &listen,
        "--public-url",
        &public_url,
        "--tls-cert",
        &chain,
        "--tls-key",
        &key,
        "--rtc-ip",
        "127.0.0.1",
        "--rtc-udp-ports",
        "47000-47009",
        "doctor",
    ];
    let (code, printed) = ServerProcess::spawn(server_command(&server_binary(), dir.path(), &args, false)).exit().await;
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("0 failures"), "{printed}");
    assert!(doctor_lines(&printed, "ok", "tls-cert").iter().any(|line| line.contains("valid until")), "{printed}");
}
