//! The SQLite store: the embedded default, one file in the data directory,
//! WAL journal and foreign keys on. Queries are shared with PostgreSQL
//! (see `sql.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::sqlite::{SqliteArguments, SqliteRow};

use super::backup::{SCHEMA_VERSION_QUERY, TABLES, TableRows, known_table};
use super::{Backend, StoreError, StoreResult};

/// The schema's migrations, applied at every start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, SqliteArguments>;

/// One column of a row as JSON, by its declared type.
fn column_value(row: &SqliteRow, index: usize, declared: &str) -> StoreResult<Value> {
    Ok(match declared {
        "INTEGER" => row.try_get::<Option<i64>, _>(index)?.map_or(Value::Null, Value::from),
        "REAL" => row.try_get::<Option<f64>, _>(index)?.map_or(Value::Null, Value::from),
        "BLOB" => {
            row.try_get::<Option<Vec<u8>>, _>(index)?.map_or(Value::Null, |bytes| Value::from(hex::encode(bytes)))
        }
        _ => row.try_get::<Option<String>, _>(index)?.map_or(Value::Null, Value::from),
    })
}

/// Binds a JSON value as the declared type of its column.
fn bind_value<'q>(query: SqliteQuery<'q>, value: &Value, declared: &str) -> StoreResult<SqliteQuery<'q>> {
    let wrong = || StoreError::Constraint(format!("a value does not fit its {declared} column: {value}"));
    Ok(match (declared, value) {
        (_, Value::Null) => query.bind(None::<String>),
        ("INTEGER", Value::Number(number)) => query.bind(number.as_i64().ok_or_else(wrong)?),
        ("INTEGER", Value::Bool(flag)) => query.bind(i64::from(*flag)),
        ("REAL", Value::Number(number)) => query.bind(number.as_f64().ok_or_else(wrong)?),
        ("BLOB", Value::String(text)) => query.bind(hex::decode(text).map_err(|_| wrong())?),
        (_, Value::String(text)) => query.bind(text.clone()),
        _ => return Err(wrong()),
    })
}

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
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, writer: tokio::sync::Mutex::new(()) })
    }

    /// The declared type of each column of `table` (the tables are STRICT:
    /// INTEGER, REAL, TEXT or BLOB).
    async fn column_types(connection: &mut sqlx::SqliteConnection, table: &str) -> StoreResult<Vec<(String, String)>> {
        let sql = format!("SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(connection).await?)
    }

    /// Every table's rows in one read transaction (WAL gives it a snapshot),
    /// each column as JSON by its declared type; BLOBs (UUIDs) as hex.
    async fn dump_tables(&self) -> StoreResult<(i64, Vec<TableRows>)> {
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query_scalar(SCHEMA_VERSION_QUERY).fetch_one(&mut *tx).await?;
        let mut tables = Vec::new();
        for (table, order) in TABLES {
            let columns = Self::column_types(&mut tx, table).await?;
            let sql = format!("SELECT * FROM {table} ORDER BY {order}");
            let mut rows = Vec::new();
            for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *tx).await? {
                let mut object = Map::new();
                for (index, (name, declared)) in columns.iter().enumerate() {
                    object.insert(name.clone(), column_value(&row, index, declared)?);
                }
                rows.push(object);
            }
            tables.push(TableRows { table: (*table).to_owned(), rows });
        }
        tx.commit().await?;
        Ok((version, tables))
    }

    /// Inserts the rows back with each column bound by its declared type, in
    /// one transaction (foreign keys checked as the rows go in, in order).
    async fn load_tables(&self, tables: &[TableRows]) -> StoreResult<()> {
        let _writer = self.writer.lock().await;
        let mut tx = self.pool.begin().await?;
        for TableRows { table, rows } in tables {
            known_table(table)?;
            let types: std::collections::HashMap<String, String> =
                Self::column_types(&mut tx, table).await?.into_iter().collect();
            for row in rows {
                let names: Vec<&String> = row.keys().collect();
                if let Some(unknown) = names.iter().find(|name| !types.contains_key(name.as_str())) {
                    return Err(StoreError::Constraint(format!("{table} has no column {unknown}")));
                }
                let placeholders = vec!["?"; names.len()].join(", ");
                let columns = names.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ");
                let sql = format!("INSERT INTO {table} ({columns}) VALUES ({placeholders})");
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for name in &names {
                    query = bind_value(query, &row[name.as_str()], &types[name.as_str()])?;
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The pool, for tests that inspect or tamper with rows directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

use super::sql::{account_select, unit_columns};
use super::sql_cases::{bind_visibility, case_select, case_visible, session_columns};
use super::sql_risks::risk_flag_columns;

super::sql_cases::impl_case_store!(SqliteStore, sqlx::Sqlite);
super::sql_sessions::impl_session_writes!(SqliteStore, sqlx::Sqlite);
super::sql_agreements::impl_agreement_writes!(SqliteStore, sqlx::Sqlite);
super::sql_risks::impl_risk_records!(SqliteStore, sqlx::Sqlite);
super::sql_hearing::impl_hearing_records!(SqliteStore, sqlx::Sqlite);
super::sql_reads::impl_case_reads!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE", None::<&'static str>);
super::sql::impl_sql_store!(SqliteStore, sqlx::Sqlite, Backend::Sqlite);
