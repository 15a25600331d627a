//! Writes what happens in rooms (joins, leaves, admissions, caucuses, the
//! session's start and end) to the store in order, off the rooms' tasks, so
//! that a slow database never stalls a live room, and nothing a room did is
//! lost while the database is away.
//!
//! Each record is first appended to a spool file in the data directory
//! (`room-records.spool`, one JSON line each, numbered), then written to
//! the store by one task, in spool order. While the database cannot be
//! reached the task retries with backoff (250 ms doubling to 5 s) and the
//! records wait in the file, not in memory; a restart replays what was not
//! yet written (`room-records.written` holds the number of the last record
//! written). When the writer has caught up the spool is emptied.
//!
//! The spool sits before the audit chain: a record enters the chain (gets
//! its sequence number and hash) only when it is written, so the chain stays
//! in write order. Each record keeps the time the room made it, which the
//! store writes beside the time of writing (`occurred_at` on audit events).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::cases::changes::{Actor, AuditEntry, Change};
use crate::cases::{Attendance, CaseState, SessionState};
use crate::store::{DynStore, StoreError};
use crate::time::Timestamp;

const SPOOL_FILE: &str = "room-records.spool";
const WRITTEN_FILE: &str = "room-records.written";
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// The changes rooms make, in the form the spool keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Spooled {
    Join { attendance: Attendance },
    Leave { attendance_id: Uuid, session_id: Uuid, at: Timestamp },
    SessionState { session_id: Uuid, from: SessionState, to: SessionState, at: Timestamp, reason: Option<String> },
    CaseState { case_id: Uuid, from: CaseState, to: CaseState, at: Timestamp },
    SessionNote { session_id: String, action: String, details: Value },
}

impl Spooled {
    fn from_change(change: Change) -> Option<Spooled> {
        Some(match change {
            Change::Join { attendance } => Spooled::Join { attendance },
            Change::Leave { attendance_id, session_id, at } => Spooled::Leave { attendance_id, session_id, at },
            Change::SetSessionState { session_id, from, to, at, reason } => {
                Spooled::SessionState { session_id, from, to, at, reason }
            }
            Change::SetCaseState { case_id, from, to, at } => Spooled::CaseState { case_id, from, to, at },
            Change::Note { entry } if entry.object_type == "session" && entry.result == "ok" => {
                Spooled::SessionNote { session_id: entry.object_id, action: entry.action, details: entry.details }
            }
            _ => return None,
        })
    }

    fn into_change(self) -> Change {
        match self {
            Spooled::Join { attendance } => Change::Join { attendance },
            Spooled::Leave { attendance_id, session_id, at } => Change::Leave { attendance_id, session_id, at },
            Spooled::SessionState { session_id, from, to, at, reason } => {
                Change::SetSessionState { session_id, from, to, at, reason }
            }
            Spooled::CaseState { case_id, from, to, at } => Change::SetCaseState { case_id, from, to, at },
            Spooled::SessionNote { session_id, action, details } => {
                Change::Note { entry: AuditEntry::new(&action, "session", session_id, details) }
            }
        }
    }
}

/// One line of the spool: a batch written in one transaction.
#[derive(Debug, Serialize, Deserialize)]
struct SpoolLine {
    seq: u64,
    occurred_at: Timestamp,
    actor: Actor,
    changes: Vec<Spooled>,
}

/// The spool file, appended to by rooms and emptied by the writer.
struct Spool {
    file: File,
    path: PathBuf,
    /// The number of the last record appended.
    appended: u64,
}

struct Shared {
    /// Held for an append or the emptying of the file, never across an await.
    spool: Mutex<Spool>,
    /// The number of the last record appended (mirrors `Spool::appended`
    /// for readers that take no lock).
    appended: AtomicU64,
    /// The number of the last record written to the store (or given up).
    written: AtomicU64,
    /// Write attempts that found the database away.
    retries: AtomicU64,
    wake: Notify,
    /// The writer task, stopped when the server stops (what it had not
    /// written stays in the spool for the next start). Held only to take it.
    writer: Mutex<Option<tokio::task::AbortHandle>>,
}

#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

impl Recorder {
    /// Opens (or creates) the spool in `dir`, and starts the writer, which
    /// first writes what an earlier run left unwritten.
    pub fn spawn(store: DynStore, dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(SPOOL_FILE);
        let written_path = dir.join(WRITTEN_FILE);
        let written = match std::fs::read_to_string(&written_path) {
            Ok(text) => text.trim().parse().with_context(|| format!("reading {}", written_path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => return Err(error).with_context(|| format!("reading {}", written_path.display())),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .with_context(|| format!("opening the room record spool {}", path.display()))?;
        let last_in_file = BufReader::new(File::open(&path)?)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<SpoolLine>(&line).ok())
            .map(|line| line.seq)
            .max()
            .unwrap_or(0);
        let appended = last_in_file.max(written);
        let shared = Arc::new(Shared {
            spool: Mutex::new(Spool { file, path: path.clone(), appended }),
            appended: AtomicU64::new(appended),
            written: AtomicU64::new(written),
            retries: AtomicU64::new(0),
            wake: Notify::new(),
            writer: Mutex::new(None),
        });
        if appended > written {
            tracing::warn!(waiting = appended - written, "room records from an earlier run are written now");
        }
        let writer = Writer { store, shared: shared.clone(), path, written_path, position: 0 };
        let task = tokio::spawn(writer.run());
        *shared.writer.lock().expect("writer lock poisoned") = Some(task.abort_handle());
        Ok(Self { shared })
    }

    /// Stops writing (at shutdown): records not yet written stay in the
    /// spool, and the next start writes them.
    pub fn stop(&self) {
        if let Some(task) = self.shared.writer.lock().expect("writer lock poisoned").take() {
            task.abort();
        }
    }

    /// Keeps `changes` (made now by `actor`) for writing, in order.
    pub fn record(&self, actor: &Actor, changes: Vec<Change>) {
        let spooled: Vec<Spooled> = changes
            .into_iter()
            .filter_map(|change| {
                let kept = Spooled::from_change(change.clone());
                if kept.is_none() {
                    tracing::error!(?change, "a room made a change the recorder does not keep; it was not written");
                }
                kept
            })
            .collect();
        if spooled.is_empty() {
            return;
        }
        let mut spool = self.shared.spool.lock().expect("spool lock poisoned");
        let line = SpoolLine {
            seq: spool.appended + 1,
            occurred_at: Timestamp::now(),
            actor: actor.clone(),
            changes: spooled,
        };
        let mut text = serde_json::to_string(&line).expect("a spool line serializes");
        text.push('\n');
        if let Err(error) = spool.file.write_all(text.as_bytes()) {
            tracing::error!(%error, path = %spool.path.display(), "a room record could not be spooled; it is lost");
            return;
        }
        spool.appended = line.seq;
        self.shared.appended.store(line.seq, Ordering::SeqCst);
        drop(spool);
        self.shared.wake.notify_one();
    }

    /// Records kept and not yet written (tests wait for zero; /readyz and
    /// /metrics show it).
    pub fn pending(&self) -> usize {
        let appended = self.shared.appended.load(Ordering::SeqCst);
        appended.saturating_sub(self.shared.written.load(Ordering::SeqCst)) as usize
    }

    /// Write attempts that found the database away, since the start.
    pub fn retries(&self) -> u64 {
        self.shared.retries.load(Ordering::Relaxed)
    }
}

/// The one task that writes the spool to the store.
struct Writer {
    store: DynStore,
    shared: Arc<Shared>,
    path: PathBuf,
    written_path: PathBuf,
    /// Where the next line starts in the spool file.
    position: u64,
}

impl Writer {
    async fn run(mut self) {
        loop {
            match self.next_line() {
                Ok(Some(line)) => self.write(line).await,
                Ok(None) => {
                    self.empty_if_caught_up();
                    self.shared.wake.notified().await;
                }
                Err(error) => {
                    tracing::error!(%error, path = %self.path.display(), "the room record spool cannot be read");
                    tokio::time::sleep(LAST_RETRY).await;
                }
            }
        }
    }

    /// The next whole line after `position`, skipping those already written.
    fn next_line(&mut self) -> std::io::Result<Option<SpoolLine>> {
        let mut reader = BufReader::new(File::open(&self.path)?);
        reader.seek(SeekFrom::Start(self.position))?;
        let mut text = String::new();
        loop {
            text.clear();
            let read = reader.read_line(&mut text)?;
            if read == 0 || !text.ends_with('\n') {
                // The end, or a line still being appended.
                return Ok(None);
            }
            self.position += read as u64;
            match serde_json::from_str::<SpoolLine>(&text) {
                Ok(line) if line.seq > self.shared.written.load(Ordering::SeqCst) => return Ok(Some(line)),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "a damaged line in the room record spool was skipped"),
            }
        }
    }

    /// Writes one batch, retrying for as long as the database is away.
    async fn write(&mut self, line: SpoolLine) {
        let changes: Vec<Change> = line.changes.into_iter().map(Spooled::into_change).collect();
        let mut wait = FIRST_RETRY;
        loop {
            match self.store.apply_recorded(&line.actor, &changes, line.occurred_at).await {
                Ok(_) => break,
                Err(StoreError::Unavailable(error)) => {
                    if self.shared.retries.fetch_add(1, Ordering::Relaxed).is_multiple_of(20) {
                        tracing::warn!(%error, waiting = self.waiting(), "the database is away; room records wait in the spool");
                    }
                    self.make_durable();
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(LAST_RETRY);
                }
                Err(error) => {
                    tracing::warn!(%error, seq = line.seq, "a room record was refused by the store and dropped");
                    break;
                }
            }
        }
        self.shared.written.store(line.seq, Ordering::SeqCst);
        // Replaced whole (a new file renamed over it), never left half written.
        let saving = self.written_path.with_extension("new");
        let saved =
            std::fs::write(&saving, line.seq.to_string()).and_then(|()| std::fs::rename(&saving, &self.written_path));
        if let Err(error) = saved {
            tracing::error!(%error, "the number of written room records could not be saved");
        }
    }

    fn waiting(&self) -> u64 {
        self.shared.appended.load(Ordering::SeqCst).saturating_sub(self.shared.written.load(Ordering::SeqCst))
    }

    /// While the database is away the spool is what keeps the records:
    /// flushed to disk so that a power cut loses none either.
    fn make_durable(&self) {
        let spool = self.shared.spool.lock().expect("spool lock poisoned");
        if let Err(error) = spool.file.sync_data() {
            tracing::error!(%error, "the room record spool could not be flushed to disk");
        }
    }

    /// Empties the spool once everything in it is written.
    fn empty_if_caught_up(&mut self) {
        let spool = self.shared.spool.lock().expect("spool lock poisoned");
        if spool.appended != self.shared.written.load(Ordering::SeqCst) || self.position == 0 {
            return;
        }
        match spool.file.set_len(0) {
            Ok(()) => self.position = 0,
            Err(error) => tracing::error!(%error, "the room record spool could not be emptied"),
        }
    }
}
