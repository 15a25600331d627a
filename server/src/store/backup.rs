//! What a backup holds of the database: every row of every table, read in
//! one transaction (a consistent snapshot), in the order a restore inserts
//! them (a table after those it refers to; districts before towns before
//! villages). Each backend reads and writes rows in its own column types
//! (postgres.rs, sqlite.rs); a backup is restored into the same kind of
//! database.

use serde_json::{Map, Value};

use super::{StoreError, StoreResult};

/// The tables, in insertion order, with the order of their rows.
pub const TABLES: &[(&str, &str)] = &[
    ("units", "CASE kind WHEN 'district' THEN 0 WHEN 'town' THEN 1 ELSE 2 END, id"),
    ("accounts", "id"),
    ("case_counters", "1"),
    ("cases", "id"),
    ("case_parties", "id"),
    ("sessions", "id"),
    ("session_reschedules", "1"),
    ("session_participants", "1"),
    ("invitations", "id"),
    ("attendance", "id"),
    ("consents", "id"),
    ("identity_checks", "id"),
    ("transcripts", "session_id"),
    ("transcript_confirmations", "id"),
    ("outcomes", "1"),
    ("agreements", "1"),
    ("agreement_confirmations", "1"),
    ("judicial_confirmations", "1"),
    ("follow_ups", "1"),
    ("risk_flags", "id"),
    ("risk_reports", "id"),
    ("consultations", "id"),
    ("audit_events", "seq"),
];

/// One table's rows, each a JSON object of its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    pub table: String,
    pub rows: Vec<Map<String, Value>>,
}

/// The newest migration applied, from sqlx's own table.
pub const SCHEMA_VERSION_QUERY: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";

/// A table name from a backup file, checked against `TABLES` before it is
/// put into SQL.
pub fn known_table(table: &str) -> StoreResult<()> {
    if TABLES.iter().any(|(known, _)| *known == table) {
        Ok(())
    } else {
        Err(StoreError::Constraint(format!("the backup names a table this server does not have: {table}")))
    }
}
