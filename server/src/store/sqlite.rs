//! The SQLite store: the embedded default, one file in the data directory,
//! WAL journal and foreign keys on. Queries are shared with PostgreSQL
//! (see `sql.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Backend, StoreResult};

pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises audited writes in this process, so the audit chain stays
    /// linear: an async lock held across the whole write transaction.
    writer: tokio::sync::Mutex<()>,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, writer: tokio::sync::Mutex::new(()) })
    }

    /// The pool, for tests that inspect or tamper with rows directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

use super::sql::{account_select, unit_columns};
use super::sql_cases::{bind_visibility, case_select, case_visible, session_columns};

super::sql_cases::impl_case_store!(SqliteStore, sqlx::Sqlite);
super::sql_sessions::impl_session_writes!(SqliteStore, sqlx::Sqlite);
super::sql_agreements::impl_agreement_writes!(SqliteStore, sqlx::Sqlite);
super::sql_reads::impl_case_reads!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE", None::<&'static str>);
super::sql::impl_sql_store!(SqliteStore, sqlx::Sqlite, Backend::Sqlite);
