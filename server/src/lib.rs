//! The mediation server as a library: build the state from configuration,
//! get the router, run it on a listener. `main.rs` and the tests both start
//! the server through these functions, so tests run the real thing.

pub mod access;
pub mod admin;
pub mod auth;
pub mod backup;
pub mod cases;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod http;
pub mod rooms;
pub mod serve;
pub mod setup;
pub mod sfu;
pub mod signaling;
pub mod store;
pub mod throttle;
pub mod time;
pub mod tls;
pub mod tree;
pub mod validate;
pub mod vocab;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::auth::TokenKeys;
use crate::cases::id_number::IdNumberVault;
use crate::config::Config;
use crate::http::InvitationOpenings;
use crate::rooms::{RoomRegistry, RoomSettings};
use crate::signaling::SignalingSettings;
use crate::store::DynStore;
use crate::throttle::LoginThrottle;

/// Cheap handles shared by every request. None of them is a lock: each
/// handle guards its own state (see the fields of `RoomRegistry`, `Sfu`,
/// `LoginThrottle`), and the store serialises its audited writes itself.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: DynStore,
    pub tokens: Arc<TokenKeys>,
    pub throttle: Arc<LoginThrottle>,
    /// Invitation openings: per client address per minute (the rate limit),
    /// and per invitation and address per hour (only the first is audited).
    pub invitation_openings: Arc<InvitationOpenings>,
    /// The hash of a random password, checked for unknown usernames.
    pub decoy_hash: Arc<str>,
    /// Seals and opens parties' ID numbers.
    pub id_vault: Arc<IdNumberVault>,
    /// The live rooms.
    pub rooms: RoomRegistry,
    pub signaling: Arc<SignalingSettings>,
    /// The media plane.
    pub sfu: Arc<sfu::Sfu>,
    /// The first-run set-up code, while one is waiting.
    pub setup: Arc<setup::SetupGate>,
    /// How `--listen` speaks: HTTPS with `--tls-cert`, else plain HTTP.
    pub transport: serve::Transport,
}

/// Binds the media TCP port and loads the certificate (both fail before
/// anything is written), creates the data directory, opens and migrates
/// the database, loads (or makes) the signing secret, and seeds the demo
/// town when asked.
pub async fn build(config: Config) -> anyhow::Result<AppState> {
    let ice_tcp = match config.rtc_tcp_port {
        Some(port) => {
            let address = std::net::SocketAddr::new(config.rtc_ip, port);
            let bound = sfu::ice_tcp::IceTcpMux::bind(address).await;
            Some(bound.map_err(|error| serve::bind_error(error, address, "--rtc-tcp-port", "MEDIATION_RTC_TCP_PORT"))?)
        }
        None => None,
    };
    let transport = match (&config.tls_cert, &config.tls_key) {
        (Some(chain), Some(key)) => serve::Transport::Tls(
            tls::acceptor(tls::CertificateFiles { chain: chain.clone(), key: key.clone() })
                .context("loading the HTTPS certificate (--tls-cert, --tls-key)")?,
        ),
        _ => serve::Transport::Plain,
    };
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let store = store::connect(&config.database_url()).await.context("opening the database")?;
    if config.demo {
        demo::seed_if_empty(store.as_ref(), config.demo_password.clone()).await?;
    }
    let setup = if !config.demo && store.is_empty().await? {
        let gate = setup::SetupGate::open(std::time::Instant::now(), setup::CODE_LIFETIME);
        announce_setup(&gate, &config);
        gate
    } else {
        setup::SetupGate::closed()
    };
    let secret = auth::load_or_create_secret(&config.data_dir, "jwt-secret", "MEDIATION_JWT_SECRET")?;
    let tokens = TokenKeys::new(&secret, chrono::Duration::minutes(i64::from(config.token_ttl_minutes)));
    let throttle = LoginThrottle::new(config.login_max_failures, Duration::from_secs(config.login_lockout_seconds));
    let decoy_hash = auth::hash_password(auth::generate_password()).await?;
    let id_key = auth::load_or_create_secret(&config.data_dir, "id-number-key", "MEDIATION_ID_NUMBER_KEY")?;
    // A key given as text is stretched to the 32 bytes AES-256 needs.
    let id_vault = IdNumberVault::new(&<sha2::Sha256 as sha2::Digest>::digest(&id_key))?;
    let sfu = sfu::Sfu::new(config.rtc_ip, config.rtc_public_ip, config.rtc_udp_ports.clone(), ice_tcp);
    let rooms = RoomRegistry::new(
        RoomSettings {
            max_participants: config.room_size_limit.max(2),
            reconnect_grace: Duration::from_secs_f64(config.reconnect_grace_secs.max(0.0)),
            empty_room_timeout: Duration::from_secs_f64(config.room_empty_secs.max(0.0)),
            ice_servers: if config.stun_urls.is_empty() {
                Vec::new()
            } else {
                vec![signaling_proto::IceServer { urls: config.stun_urls.clone(), username: None, credential: None }]
            },
            turn: match (&config.turn_secret, config.turn_urls.is_empty()) {
                (Some(secret), false) => Some(sfu::turn::TurnConfig {
                    urls: config.turn_urls.clone(),
                    secret: secret.clone(),
                    ttl_secs: 12 * 3600,
                }),
                _ => None,
            },
        },
        store.clone(),
        rooms::Recorder::spawn(store.clone(), &config.data_dir)?,
        sfu.clone(),
    );
    let signaling = SignalingSettings {
        heartbeat: Duration::from_millis(config.ws_heartbeat_ms.max(50)),
        messages_per_second: config.ws_messages_per_second,
        websockets: Arc::new(tokio::sync::Semaphore::new(config.max_websockets.max(1))),
    };
    Ok(AppState {
        rooms,
        sfu,
        signaling: Arc::new(signaling),
        config: Arc::new(config),
        store,
        tokens: Arc::new(tokens),
        throttle: Arc::new(throttle),
        invitation_openings: Arc::new(InvitationOpenings::new()),
        decoy_hash: decoy_hash.into(),
        id_vault: Arc::new(id_vault),
        transport,
        setup: Arc::new(setup),
    })
}

/// Prints the set-up code on standard output (the console, or the
/// service's journal), never into the structured log.
fn announce_setup(gate: &setup::SetupGate, config: &Config) {
    let Some(code) = gate.code() else { return };
    let hours = setup::CODE_LIFETIME.as_secs() / 3600;
    println!();
    println!("  首次运行：还没有管理员。First run: no administrator yet.");
    println!("  打开 Open {}/setup.html", config.public_url());
    println!("  输入设置码 and enter the set-up code:  {code}");
    println!("  设置码只能用一次，{hours} 小时内有效；重启服务会生成新的设置码。");
    println!("  It works once, for {hours} hours; a restart prints a new one.");
    println!();
    tracing::warn!("first run: no administrator yet; the set-up code is printed on standard output");
}

pub fn app(state: AppState) -> Router {
    http::router(state, signaling::router())
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let rooms = state.rooms.clone();
    let limits = listener_limits(&state.config);
    let served = serve::serve(listener, state.transport.clone(), app(state), limits, shutdown).await;
    rooms.stop_recording();
    served
}

/// Serves `--redirect-listen`: plain HTTP sending every request to the
/// https public URL, except the town's certificate authority and the page
/// on installing it (a device must get those before it trusts the site).
pub async fn run_redirects(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = listener_limits(&state.config);
    serve::serve(listener, serve::Transport::Plain, http::redirect_router(state), limits, shutdown).await
}

fn listener_limits(config: &Config) -> serve::Limits {
    serve::Limits {
        max_connections: config.max_http_connections,
        header_timeout: Duration::from_secs_f64(config.http_header_timeout_secs.max(0.1)),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
