//! Test support for the end-to-end suites: start the real server on a
//! loopback port against a fresh SQLite file or a fresh PostgreSQL database,
//! and talk to it over real HTTP.
//!
//! PostgreSQL comes from `DATABASE_URL` (tests/run.sh starts a throwaway
//! cluster and sets it). When `CI` is set or `DATABASE_URL` names PostgreSQL,
//! the PostgreSQL runs are required: an unreachable server fails them.

pub mod api;
pub mod bench;
pub mod fixtures;
pub mod fuzz;
pub mod media;
pub mod pg_cluster;
pub mod process;
pub mod scene;
pub mod signal;
pub mod tls_client;

use std::path::Path;
use std::str::FromStr;

use clap_free::parse_config;
use mediation_server::AppState;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::{Api, Reply};

/// The password of every demo account in test servers.
pub const DEMO_PASSWORD: &str = "demo-password-for-tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    /// Whether this backend is to be tested in this run.
    pub fn wanted(self) -> bool {
        match self {
            Db::Sqlite => true,
            Db::Postgres => postgres_admin_url().is_some(),
        }
    }
}

/// The PostgreSQL server to create test databases on, if any. Panics when CI
/// is set without one: CI must test PostgreSQL.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but DATABASE_URL does not point at PostgreSQL; run the tests through tests/run.sh")
        }
        _ => None,
    }
}

/// A new, empty database URL for one test.
pub async fn fresh_database_url(db: Db, dir: &Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}/mediation.db", dir.display()),
        Db::Postgres => {
            let admin_url = postgres_admin_url().expect("PostgreSQL wanted but DATABASE_URL is not set");
            let options = PgConnectOptions::from_str(&admin_url).expect("DATABASE_URL is not a valid PostgreSQL URL");
            let mut connection = options
                .connect()
                .await
                .unwrap_or_else(|error| panic!("PostgreSQL is wanted but unreachable at DATABASE_URL: {error}"));
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut connection)
                .await
                .expect("creating a test database");
            options.database(&name).to_url_lossy().to_string()
        }
    }
}

/// A running server with its own data directory and database.
pub struct TestServer {
    pub base_url: String,
    pub state: AppState,
    pub database_url: String,
    pub data_dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with the demo town seeded (password `DEMO_PASSWORD`),
    /// plus any extra command-line flags.
    pub async fn start(db: Db, extra_args: &[&str]) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
        TestServer::start_on(listener, db, extra_args).await
    }

    /// Like `start`, serving on a listener the caller already bound (to put
    /// its address in `--public-url`).
    pub async fn start_on(listener: TcpListener, db: Db, extra_args: &[&str]) -> TestServer {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let database_url = fresh_database_url(db, data_dir.path()).await;
        TestServer::start_at(listener, database_url, data_dir, extra_args).await
    }

    /// Like `start_on`, on an empty database without the demo town: the
    /// server waits for its first-run set-up (`state.setup` holds the code).
    pub async fn start_empty_on(listener: TcpListener, db: Db, extra_args: &[&str]) -> TestServer {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let database_url = fresh_database_url(db, data_dir.path()).await;
        TestServer::start_seeded(listener, database_url, data_dir, extra_args, false).await
    }

    /// Starts a server on a given database and data directory: a database
    /// of the test's own, or the same ones again after `stop_keeping_data`
    /// (a restart).
    pub async fn start_at(
        listener: TcpListener,
        database_url: String,
        data_dir: TempDir,
        extra_args: &[&str],
    ) -> TestServer {
        TestServer::start_seeded(listener, database_url, data_dir, extra_args, true).await
    }

    async fn start_seeded(
        listener: TcpListener,
        database_url: String,
        data_dir: TempDir,
        extra_args: &[&str],
        demo: bool,
    ) -> TestServer {
        let data_dir_arg = data_dir.path().display().to_string();
        let mut args = vec!["--data-dir", &data_dir_arg, "--database-url", &database_url];
        if demo {
            args.extend(["--demo", "--demo-password", DEMO_PASSWORD]);
        }
        args.extend_from_slice(extra_args);
        let config = parse_config(&args);
        let state = mediation_server::build(config).await.expect("building the server state");
        let scheme = if state.config.serves_tls() { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", listener.local_addr().expect("local address"));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(mediation_server::run(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        TestServer { base_url, state, database_url, data_dir, shutdown: Some(shutdown), handle: Some(handle) }
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Api {
        Api::new(&self.base_url, None)
    }

    /// A client signed in as `username` with the demo password.
    pub async fn login(&self, username: &str) -> Api {
        self.login_with(username, DEMO_PASSWORD).await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> Api {
        let reply = self
            .anonymous()
            .post("/api/v1/auth/login", &serde_json::json!({ "username": username, "password": password }))
            .await;
        assert_eq!(reply.status, 200, "login as {username} failed: {}", reply.body);
        let token = reply.body["token"].as_str().expect("token in the login reply").to_owned();
        Api::new(&self.base_url, Some(token))
    }

    /// The signing secret the server generated in its data directory.
    pub fn jwt_secret(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.path().join("jwt-secret")).expect("reading the generated JWT secret")
    }

    /// Runs raw SQL against the server's database, as someone with direct
    /// access to it would (to tamper, or to count rows).
    pub async fn sql(&self, statement: &str) {
        use sqlx::Connection;
        if self.database_url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.database_url).await.expect("open SQLite");
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut connection).await.expect("run SQL");
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.database_url).await.expect("connect PostgreSQL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut connection).await.expect("run SQL");
        }
    }

    /// Counts rows with a `SELECT COUNT(*) ...` statement.
    pub async fn count(&self, statement: &str) -> i64 {
        use sqlx::Connection;
        let query = sqlx::AssertSqlSafe(statement.to_owned());
        if self.database_url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.database_url).await.expect("open SQLite");
            sqlx::query_scalar(query).fetch_one(&mut connection).await.expect("count")
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.database_url).await.expect("connect PostgreSQL");
            sqlx::query_scalar(query).fetch_one(&mut connection).await.expect("count")
        }
    }

    /// Stops the server like `stop`, and hands back its data directory
    /// for a restart with `start_at`.
    pub async fn stop_keeping_data(mut self) -> (String, TempDir) {
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temporary data directory"));
        let database_url = self.database_url.clone();
        self.stop().await;
        (database_url, data_dir)
    }

    /// Stops the server and waits until it has finished its requests.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The server's configuration from flags, as the binary builds it (for
/// tests that call the shell commands' functions).
pub fn config(args: &[&str]) -> mediation_server::config::Config {
    parse_config(args)
}

mod clap_free {
    //! Builds the server configuration the way the binary does, from flags.
    use clap::Parser;
    use mediation_server::config::{Cli, Config};

    pub fn parse_config(args: &[&str]) -> Config {
        let argv = std::iter::once("mediation-server").chain(args.iter().copied());
        Cli::try_parse_from(argv).unwrap_or_else(|error| panic!("bad test flags: {error}")).config
    }
}

/// Declares each listed scenario `async fn name(db: Db)` as two tests,
/// `sqlite::name` and `postgres::name`. The PostgreSQL one is skipped only
/// when PostgreSQL is not wanted (no DATABASE_URL and no CI).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Db::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !$crate::Db::Postgres.wanted() {
                        eprintln!("skipped: PostgreSQL not configured (set DATABASE_URL or run tests/run.sh)");
                        return;
                    }
                    super::$name($crate::Db::Postgres).await;
                }
            )+
        }
    };
}
