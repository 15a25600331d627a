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
pub mod error;
pub mod http;
pub mod rooms;
pub mod serve;
pub mod sfu;
pub mod signaling;
pub mod store;
pub mod throttle;
pub mod time;
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
}

/// Creates the data directory, opens and migrates the database, loads (or
/// makes) the signing secret, and seeds the demo town when asked.
pub async fn build(config: Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let store = store::connect(&config.database_url()).await.context("opening the database")?;
    if config.demo {
        demo::seed_if_empty(store.as_ref(), config.demo_password.clone()).await?;
    }
    let secret = auth::load_or_create_secret(&config.data_dir, "jwt-secret", "MEDIATION_JWT_SECRET")?;
    let tokens = TokenKeys::new(&secret, chrono::Duration::minutes(i64::from(config.token_ttl_minutes)));
    let throttle = LoginThrottle::new(config.login_max_failures, Duration::from_secs(config.login_lockout_seconds));
    let decoy_hash = auth::hash_password(auth::generate_password()).await?;
    let id_key = auth::load_or_create_secret(&config.data_dir, "id-number-key", "MEDIATION_ID_NUMBER_KEY")?;
    // A key given as text is stretched to the 32 bytes AES-256 needs.
    let id_vault = IdNumberVault::new(&<sha2::Sha256 as sha2::Digest>::digest(&id_key))?;
    let ice_tcp = match config.rtc_tcp_port {
        Some(port) => Some(sfu::ice_tcp::IceTcpMux::bind(std::net::SocketAddr::new(config.rtc_ip, port)).await?),
        None => None,
    };
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
    })
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
    let limits = serve::Limits {
        max_connections: state.config.max_http_connections,
        header_timeout: Duration::from_secs_f64(state.config.http_header_timeout_secs.max(0.1)),
    };
    let served = serve::serve(listener, app(state), limits, shutdown).await;
    rooms.stop_recording();
    served
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
