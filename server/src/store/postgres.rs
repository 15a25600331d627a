//! The PostgreSQL store: production. Native `uuid`, `timestamptz` and
//! `jsonb` columns; the queries are shared with SQLite (see `sql.rs`).

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::{Backend, StoreResult};

pub struct PgStore {
    pool: PgPool,
    /// Serialises audited writes in this process, so the audit chain stays
    /// linear: an async lock held across the whole write transaction.
    writer: tokio::sync::Mutex<()>,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_millis(1500))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool, writer: tokio::sync::Mutex::new(()) })
    }

    /// The pool, for tests that inspect or tamper with rows directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

use super::sql::{account_select, unit_columns};
use super::sql_cases::{bind_visibility, case_select, case_visible, session_columns};

super::sql_cases::impl_case_store!(PgStore, sqlx::Postgres);
super::sql_sessions::impl_session_writes!(PgStore, sqlx::Postgres);
super::sql_agreements::impl_agreement_writes!(PgStore, sqlx::Postgres);
super::sql_reads::impl_case_reads!(PgStore, sqlx::Postgres, "BEGIN", Some("SELECT pg_advisory_xact_lock(727300)"));
super::sql::impl_sql_store!(PgStore, sqlx::Postgres, Backend::Postgres);
