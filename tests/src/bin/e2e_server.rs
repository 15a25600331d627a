//! The server the browser tests drive (tests/e2e): a fresh PostgreSQL
//! database (or SQLite when DATABASE_URL is not PostgreSQL) with the demo
//! town seeded, on a loopback port. Prints `listening <url>` once it serves,
//! then runs until its standard input closes. `E2E_HOST` (default
//! 127.0.0.1) is the address it listens on and `E2E_RTC_IP` its media
//! address, for the tests whose browsers sit behind an emulated link;
//! `E2E_EXTRA_ARGS` adds server flags (space-separated). With `E2E_TLS_DIR`
//! it serves HTTPS with a certificate from the town authority kept in that
//! directory (made there by `tls init`'s code on first use, reused after),
//! and prints `authority <path of ca.crt>` after the `listening` line.
//! With `E2E_EMPTY=1` the database stays empty (no demo town) and the
//! server waits for its first-run set-up: it prints `setup-code <code>`.

use mediation_tests::{Db, TestServer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    // Quiet unless RUST_LOG asks (e.g. RUST_LOG=mediation_server=debug), on stderr.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "mediation_server=warn,error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let db = if Db::Postgres.wanted() { Db::Postgres } else { Db::Sqlite };
    let host = std::env::var("E2E_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let listener = TcpListener::bind((host.as_str(), 0)).await.expect("binding a port");
    let tls_dir = std::env::var_os("E2E_TLS_DIR").map(std::path::PathBuf::from);
    let scheme = if tls_dir.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr().expect("local address"));
    let rtc_ip = std::env::var("E2E_RTC_IP").ok();
    // Further flags for one test (TURN, say), separated by spaces.
    let extra = std::env::var("E2E_EXTRA_ARGS").unwrap_or_default();
    let mut args = vec!["--public-url", url.as_str()];
    let certificate = tls_dir.as_deref().map(|dir| {
        let hosts = [host.clone(), "localhost".to_owned()];
        let issued = mediation_server::tls::authority::init(dir, &hosts, 30).expect("the test authority");
        (issued.chain.display().to_string(), issued.key.display().to_string())
    });
    if let Some((chain, key)) = &certificate {
        args.extend(["--tls-cert", chain.as_str(), "--tls-key", key.as_str()]);
    }
    if let Some(ip) = &rtc_ip {
        args.extend(["--rtc-ip", ip.as_str()]);
    }
    args.extend(extra.split_whitespace());
    let empty = std::env::var("E2E_EMPTY").is_ok_and(|value| value == "1");
    let server = if empty {
        TestServer::start_empty_on(listener, db, &args).await
    } else {
        TestServer::start_on(listener, db, &args).await
    };
    println!("listening {} database={db:?}", server.base_url);
    if let Some(code) = server.state.setup.code() {
        println!("setup-code {code}");
    }
    if let Some(dir) = &tls_dir {
        println!("authority {}", dir.join(mediation_server::tls::authority::AUTHORITY_CERTIFICATE).display());
    }
    // The harness closes our standard input to stop us (also when it dies).
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
}
