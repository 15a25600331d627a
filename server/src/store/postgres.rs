//! The PostgreSQL store: production. Native `uuid`, `timestamptz` and
//! `jsonb` columns; the queries are shared with SQLite (see `sql.rs`).

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::backup::{SCHEMA_VERSION_QUERY, TABLES, TableRows, known_table};
use super::{Backend, StoreError, StoreResult};

/// The schema's migrations, applied at every start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, writer: tokio::sync::Mutex::new(()) })
    }

    /// Every table's rows as PostgreSQL itself renders them as JSON
    /// (`row_to_json`), in one repeatable-read transaction.
    async fn dump_tables(&self) -> StoreResult<(i64, Vec<TableRows>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let version: i64 = sqlx::query_scalar(SCHEMA_VERSION_QUERY).fetch_one(&mut *tx).await?;
        let mut tables = Vec::new();
        for (table, order) in TABLES {
            let sql = format!("SELECT row_to_json(t)::text FROM {table} t ORDER BY {order}");
            let texts: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
            let rows = texts
                .iter()
                .map(|text| match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Object(row)) => Ok(row),
                    _ => Err(StoreError::Constraint(format!("a row of {table} did not read as a JSON object"))),
                })
                .collect::<StoreResult<_>>()?;
            tables.push(TableRows { table: (*table).to_owned(), rows });
        }
        tx.commit().await?;
        Ok((version, tables))
    }

    /// Inserts the rows back, each converted to the table's column types by
    /// PostgreSQL (`json_populate_record`; a column the backup lacks, from
    /// a newer migration, is NULL), in one transaction.
    async fn load_tables(&self, tables: &[TableRows]) -> StoreResult<()> {
        let _writer = self.writer.lock().await;
        let mut tx = self.pool.begin().await?;
        for TableRows { table, rows } in tables {
            known_table(table)?;
            let sql = format!("INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, $1::json)");
            for row in rows {
                let text = serde_json::Value::Object(row.clone()).to_string();
                sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(text).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The pool, for tests that inspect or tamper with rows directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

use super::sql::{account_select, unit_columns};
use super::sql_cases::{bind_visibility, case_select, case_visible, session_columns};
use super::sql_risks::risk_flag_columns;

super::sql_cases::impl_case_store!(PgStore, sqlx::Postgres);
super::sql_sessions::impl_session_writes!(PgStore, sqlx::Postgres);
super::sql_agreements::impl_agreement_writes!(PgStore, sqlx::Postgres);
super::sql_risks::impl_risk_records!(PgStore, sqlx::Postgres);
super::sql_hearing::impl_hearing_records!(PgStore, sqlx::Postgres);
super::sql_reads::impl_case_reads!(PgStore, sqlx::Postgres, "BEGIN", Some("SELECT pg_advisory_xact_lock(727300)"));
super::sql::impl_sql_store!(PgStore, sqlx::Postgres, Backend::Postgres);
