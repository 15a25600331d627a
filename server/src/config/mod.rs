//! Command line, environment and configuration file: every flag also reads
//! an environment variable and a key of the same name in the file given by
//! `--config` (flags win over variables, variables over the file), and the
//! defaults run out of the box on a fresh machine.

mod file;

pub use file::parse_command_line;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::tree::Role;

#[derive(Debug, Clone, Parser)]
#[command(name = "mediation-server", version, about = "Video mediation server for rural people's mediation")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// A TOML file with any of these settings, keyed by the flag's name
    /// (`listen = "0.0.0.0:443"`); see deploy/mediation.toml.
    #[arg(long, env = "MEDIATION_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address the HTTP and WebSocket server listens on.
    #[arg(long, env = "MEDIATION_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// postgres://user:pass@host/db for production; sqlite://<data-dir>/mediation.db when absent.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the SQLite file and generated secrets; created if missing.
    #[arg(long, env = "MEDIATION_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// On an empty database, seed the demo town (沾化区 / 下洼镇) and its accounts.
    #[arg(long, env = "MEDIATION_DEMO")]
    pub demo: bool,

    /// Password of every demo account; a random one is printed once when absent.
    #[arg(long, env = "MEDIATION_DEMO_PASSWORD", hide_env_values = true)]
    pub demo_password: Option<String>,

    #[arg(long, env = "MEDIATION_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve the web client from this directory instead of the copy built
    /// into the binary (for working on the client without rebuilding).
    #[arg(long, env = "MEDIATION_WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    /// The server's certificate chain (PEM) for HTTPS; with `--tls-key`,
    /// the server speaks only HTTPS on `--listen`. Reread when the file
    /// changes (a renewal needs no restart).
    #[arg(long, env = "MEDIATION_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, env = "MEDIATION_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// A plain-HTTP address (e.g. 0.0.0.0:80) that redirects every request
    /// to the https public URL; it also serves the town's certificate
    /// authority (`/ca.crt`, `/install-ca`) for devices that do not trust
    /// it yet.
    #[arg(long, env = "MEDIATION_REDIRECT_LISTEN", requires = "tls_cert")]
    pub redirect_listen: Option<SocketAddr>,

    /// How long a staff login token stays valid, in minutes.
    #[arg(long, env = "MEDIATION_TOKEN_TTL_MINUTES", default_value_t = 12 * 60)]
    pub token_ttl_minutes: u32,

    /// Failed logins for one username before it is slowed down (one client
    /// address gets four times as many).
    #[arg(long, env = "MEDIATION_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,

    /// First lockout after too many failed logins, in seconds; it doubles with
    /// each further failure, up to 15 minutes.
    #[arg(long, env = "MEDIATION_LOGIN_LOCKOUT_SECONDS", default_value_t = 30)]
    pub login_lockout_seconds: u64,

    /// The address people open, used in invitation links (e.g.
    /// https://tiaojie.example.gov.cn); defaults to https://<listen> with
    /// `--tls-cert`, else http://<listen>.
    #[arg(long, env = "MEDIATION_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Most people in one room (lobby included).
    #[arg(long, env = "MEDIATION_ROOM_SIZE_LIMIT", default_value_t = 16)]
    pub room_size_limit: usize,

    /// Seconds a dropped participant keeps their place to come back with
    /// their resume token.
    #[arg(long, env = "MEDIATION_RECONNECT_GRACE_SECS", default_value_t = 30.0)]
    pub reconnect_grace_secs: f64,

    /// Seconds an empty room waits before it ends the session.
    #[arg(long, env = "MEDIATION_ROOM_EMPTY_SECS", default_value_t = 300.0)]
    pub room_empty_secs: f64,

    /// WebSocket ping interval in milliseconds; a connection silent for two
    /// intervals is dead (the default finds one within 12.5 s).
    #[arg(long, env = "MEDIATION_WS_HEARTBEAT_MS", default_value_t = 5000)]
    pub ws_heartbeat_ms: u64,

    /// HTTP connections open at once; more wait to be accepted. Upgraded
    /// WebSockets are counted apart (`--max-websockets`).
    #[arg(long, env = "MEDIATION_MAX_HTTP_CONNECTIONS", default_value_t = 1000)]
    pub max_http_connections: usize,

    /// Seconds a client has to send a request's headers, from connecting or
    /// from the previous response (slow and idle connections are closed).
    /// 30: a village station on a full 256 kbit/s line took over 10 s to get
    /// a reload's request through.
    #[arg(long, env = "MEDIATION_HTTP_HEADER_TIMEOUT_SECS", default_value_t = 30.0)]
    pub http_header_timeout_secs: f64,

    /// Signaling WebSockets open at once; beyond, 503 `unavailable`.
    #[arg(long, env = "MEDIATION_MAX_WEBSOCKETS", default_value_t = 4000)]
    pub max_websockets: usize,

    /// Signaling messages per second one connection may send on average
    /// (bursts of twice that); beyond, it is closed with 1008.
    #[arg(long, env = "MEDIATION_WS_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub ws_messages_per_second: u32,

    /// STUN servers handed to clients, comma-separated (e.g. stun:stun.example.cn:3478).
    #[arg(long, env = "MEDIATION_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Vec<String>,

    /// TURN servers for clients behind strict firewalls, comma-separated
    /// (e.g. turn:turn.example.cn:3478,turns:turn.example.cn:443?transport=tcp).
    #[arg(long, env = "MEDIATION_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,

    /// The secret shared with the TURN server (coturn `static-auth-secret`).
    #[arg(long, env = "MEDIATION_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// The address media (WebRTC over UDP) is bound to and announced on.
    #[arg(long, env = "MEDIATION_RTC_IP", default_value = "127.0.0.1")]
    pub rtc_ip: std::net::IpAddr,

    /// The public address to announce for media when the server sits behind
    /// a 1:1 NAT (its `--rtc-ip` is private).
    #[arg(long, env = "MEDIATION_RTC_PUBLIC_IP")]
    pub rtc_public_ip: Option<std::net::IpAddr>,

    /// UDP ports for media, e.g. 50000-50999 (two per participant); the
    /// system picks any when absent.
    #[arg(long, env = "MEDIATION_RTC_UDP_PORTS", value_parser = crate::sfu::ports::parse_range)]
    pub rtc_udp_ports: Option<std::ops::RangeInclusive<u16>>,

    /// One TCP port for ICE over TCP (e.g. 443 or 8443), a fallback for
    /// village stations whose firewalls block UDP; bound on `--rtc-ip`.
    #[arg(long, env = "MEDIATION_RTC_TCP_PORT")]
    pub rtc_tcp_port: Option<u16>,

    /// Take the client address from X-Forwarded-For (only behind a reverse
    /// proxy that sets it).
    #[arg(long, env = "MEDIATION_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// A token that monitoring sends as `Authorization: Bearer <token>` to
    /// read /metrics. Without it, /metrics answers only clients on this
    /// machine (a loopback address).
    #[arg(long, env = "MEDIATION_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

impl Config {
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if self.serves_tls() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether `--listen` speaks HTTPS.
    pub fn serves_tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// Where `tls init` keeps the town's certificate authority and the
    /// server certificate it issues.
    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}/mediation.db", self.data_dir.display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Administration from the shell.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// HTTPS certificates.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Check the configuration and this machine for what usually goes wrong
    /// in a deployment; exits 1 when something would stop a session.
    Doctor,
    /// Write a consistent snapshot of the records to a new file (mode 0600).
    Backup {
        /// The file to create.
        file: PathBuf,
    },
    /// Restore a backup into an empty database of the same kind, then check
    /// the audit chain (exits 1 when it does not hold).
    Restore {
        /// The backup file.
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TlsCommand {
    /// Make the town's own certificate authority (kept in <data-dir>/tls,
    /// valid only for the hosts given) and a server certificate it signs,
    /// for a pilot on a network with no public name. Run again to renew:
    /// the authority is kept, so devices need not install it again.
    Init {
        /// A name or IP address people open the server by; repeat for each.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Days the server certificate is valid.
        #[arg(long, default_value_t = 397, value_parser = clap::value_parser!(u32).range(1..=825))]
        days: u32,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits 1 and names the first broken event.
    Verify,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Create an account and print its generated password once.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The home unit: its id, or its name (e.g. 下洼镇). Not for admin.
        #[arg(long)]
        unit: Option<String>,
        /// Name shown to others; defaults to the username.
        #[arg(long)]
        display_name: Option<String>,
    },
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse().map_err(|error: crate::vocab::UnknownVariant| error.to_string())
}
