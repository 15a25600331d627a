//! A look at a database that changes nothing, for `doctor`: whether it
//! answers, its server's version, how far its schema is migrated against
//! what this binary expects, and (PostgreSQL) how far its clock is from
//! ours. The server itself migrates at start; `doctor` only reports.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::{ConnectOptions, Connection, Row};

use super::Backend;
use super::backup::SCHEMA_VERSION_QUERY;

/// How long the database has to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the database said.
#[derive(Debug)]
pub struct Inspection {
    pub backend: Backend,
    pub server_version: String,
    /// The newest migration applied; `None` on a database never migrated.
    pub applied: Option<i64>,
    /// The newest migration this binary knows.
    pub latest: i64,
    /// Our clock minus the database server's, in seconds (PostgreSQL).
    pub clock_offset_secs: Option<f64>,
}

/// Inspects the database at `url`; `Ok(None)` for a SQLite file not made
/// yet (the server makes it at its first start).
pub async fn inspect(url: &str) -> anyhow::Result<Option<Inspection>> {
    tokio::time::timeout(ANSWER_TIMEOUT, inspect_now(url))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {} s", ANSWER_TIMEOUT.as_secs())))
}

async fn inspect_now(url: &str) -> anyhow::Result<Option<Inspection>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut connection = sqlx::PgConnection::connect(url).await.context("connecting")?;
        let server_version: String =
            sqlx::query_scalar("SELECT current_setting('server_version')").fetch_one(&mut connection).await?;
        let their_clock: f64 = sqlx::query_scalar("SELECT extract(epoch FROM clock_timestamp())::float8")
            .fetch_one(&mut connection)
            .await?;
        let our_clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs_f64();
        let applied = applied_version(sqlx::query(SCHEMA_VERSION_QUERY).fetch_one(&mut connection).await);
        let _ = connection.close().await;
        return Ok(Some(Inspection {
            backend: Backend::Postgres,
            server_version,
            applied,
            latest: latest(&super::postgres::MIGRATOR),
            clock_offset_secs: Some(our_clock - their_clock),
        }));
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).context("the SQLite URL")?.read_only(true);
    if !options.get_filename().exists() {
        return Ok(None);
    }
    let mut connection = options.connect().await.context("opening the SQLite file")?;
    let server_version: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&mut connection).await?;
    let applied = applied_version(sqlx::query(SCHEMA_VERSION_QUERY).fetch_one(&mut connection).await);
    let _ = connection.close().await;
    Ok(Some(Inspection {
        backend: Backend::Sqlite,
        server_version,
        applied,
        latest: latest(&super::sqlite::MIGRATOR),
        clock_offset_secs: None,
    }))
}

/// The schema version from its query; a database without the migrations
/// table was never migrated.
fn applied_version<R: Row>(row: Result<R, sqlx::Error>) -> Option<i64>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    row.ok().and_then(|row| row.try_get::<i64, _>(0usize).ok())
}

fn latest(migrator: &sqlx::migrate::Migrator) -> i64 {
    migrator.iter().map(|migration| migration.version).max().unwrap_or(0)
}
