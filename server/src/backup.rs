//! `mediation-server backup <file>` and `restore <file>`: a consistent
//! snapshot of the records (either database, read in one transaction by the
//! store itself, no external tool) into one file, and back into an empty
//! database of the same kind.
//!
//! The file is JSON lines: a header, then one line per row, table by table
//! in the order a restore inserts them. The header names the backend, the
//! schema version, the rows per table, the audit chain's head, and the
//! fingerprint (SHA-256) of the key that seals ID numbers: never the key
//! itself, which is backed up apart; without it the sealed numbers cannot
//! be read, so a restore refuses to run under another key. The file holds
//! personal data: it is written with mode 0600.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::auth;
use crate::config::Config;
use crate::store::backup::TableRows;
use crate::store::{self, Backend};
use crate::time::Timestamp;

const FORMAT: &str = "mediation-backup";
const VERSION: u32 = 1;
const ID_KEY_FILE: &str = "id-number-key";
const ID_KEY_ENV: &str = "MEDIATION_ID_NUMBER_KEY";

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    backend: String,
    schema_version: i64,
    created_at: Timestamp,
    /// SHA-256 of the ID-number key, hex.
    id_number_key_fingerprint: String,
    audit_head: Option<AuditHead>,
    rows: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct AuditHead {
    seq: i64,
    hash: String,
}

#[derive(Serialize, Deserialize)]
struct RowLine {
    table: String,
    row: Map<String, Value>,
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    }
}

/// The fingerprint of the ID-number key in use; an error when there is none.
fn id_key_fingerprint(config: &Config) -> anyhow::Result<String> {
    let Some(key) = auth::read_secret(&config.data_dir, ID_KEY_FILE, ID_KEY_ENV)? else {
        bail!(
            "no ID-number key: put the `{ID_KEY_FILE}` file of the installation the backup comes from into {} \
             (or set {ID_KEY_ENV}); the sealed ID numbers cannot be read without it",
            config.data_dir.display()
        );
    };
    Ok(hex::encode(Sha256::digest(&key)))
}

fn audit_head(tables: &[TableRows]) -> Option<AuditHead> {
    let last = tables.iter().find(|table| table.table == "audit_events")?.rows.last()?;
    Some(AuditHead { seq: last.get("seq")?.as_i64()?, hash: last.get("hash")?.as_str()?.to_owned() })
}

/// Writes a snapshot of the database to `file` (which must not exist).
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    ensure!(!file.exists(), "{} exists already; choose a new file name", file.display());
    let store = store::connect(&config.database_url()).await.context("opening the database")?;
    let fingerprint = id_key_fingerprint(config)?;
    let (schema_version, tables) = store.dump().await.context("reading the records")?;
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        backend: backend_name(store.backend()).into(),
        schema_version,
        created_at: Timestamp::now(),
        id_number_key_fingerprint: fingerprint,
        audit_head: audit_head(&tables),
        rows: tables.iter().map(|table| (table.table.clone(), table.rows.len())).collect(),
    };
    let partial = file.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = BufWriter::new(options.open(&partial).with_context(|| format!("creating {}", partial.display()))?);
    serde_json::to_writer(&mut out, &header)?;
    out.write_all(b"\n")?;
    for TableRows { table, rows } in tables {
        for row in rows {
            serde_json::to_writer(&mut out, &RowLine { table: table.clone(), row })?;
            out.write_all(b"\n")?;
        }
    }
    out.into_inner().map_err(|error| error.into_error())?.sync_all()?;
    std::fs::rename(&partial, file)?;
    let total: usize = header.rows.values().sum();
    println!("backed up {total} rows of {} tables to {}", header.rows.len(), file.display());
    if let Some(head) = header.audit_head {
        println!("audit chain head: event {} {}", head.seq, head.hash);
    }
    println!("ID-number key fingerprint: {} (back the key file up apart)", header.id_number_key_fingerprint);
    Ok(())
}

/// Reads a backup file: its header and its tables.
fn read(file: &Path) -> anyhow::Result<(Header, Vec<TableRows>)> {
    let mut lines =
        BufReader::new(std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?).lines();
    let header: Header = serde_json::from_str(&lines.next().context("the backup is empty")??)
        .context("the first line is not a backup header")?;
    ensure!(header.format == FORMAT && header.version == VERSION, "not a mediation backup of version {VERSION}");
    let mut tables: Vec<TableRows> = Vec::new();
    for (number, line) in lines.enumerate() {
        let RowLine { table, row } =
            serde_json::from_str(&line?).with_context(|| format!("line {} of the backup is damaged", number + 2))?;
        match tables.last_mut() {
            Some(last) if last.table == table => last.rows.push(row),
            _ => tables.push(TableRows { table, rows: vec![row] }),
        }
    }
    for (table, count) in &header.rows {
        let found = tables.iter().filter(|rows| &rows.table == table).map(|rows| rows.rows.len()).sum::<usize>();
        ensure!(found == *count, "the backup is incomplete: {table} has {found} rows of {count}");
    }
    Ok((header, tables))
}

/// Restores `file` into the configured database, which must be empty and of
/// the backup's kind; then checks the audit chain. Returns whether it holds.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<bool> {
    let (header, tables) = read(file)?;
    let fingerprint = id_key_fingerprint(config)?;
    ensure!(
        fingerprint == header.id_number_key_fingerprint,
        "the ID-number key here (fingerprint {fingerprint}) is not the one the backup was made with ({}): put \
         that installation's `{ID_KEY_FILE}` file into {} first",
        header.id_number_key_fingerprint,
        config.data_dir.display()
    );
    std::fs::create_dir_all(&config.data_dir)?;
    let store = store::connect(&config.database_url()).await.context("opening the database")?;
    let backend = backend_name(store.backend());
    ensure!(header.backend == backend, "a {} backup cannot be restored into {backend}", header.backend);
    let (schema_version, existing) = store.dump().await?;
    ensure!(
        header.schema_version <= schema_version,
        "the backup is from a newer version of the server (schema {} > {schema_version}); restore it with that version",
        header.schema_version
    );
    ensure!(
        existing.iter().all(|table| table.rows.is_empty()),
        "the database is not empty: restore only into a new, empty database (and start the server without --demo)"
    );
    store.load(&tables).await.context("writing the records")?;
    let report = store::audit::verify_chain(store.as_ref()).await?;
    let head = audit_head(&store.dump().await?.1);
    ensure!(head == header.audit_head, "the restored audit chain does not end where the backup's did");
    let total: usize = header.rows.values().sum();
    println!("restored {total} rows from {} (made {})", file.display(), header.created_at);
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(report.ok)
}
