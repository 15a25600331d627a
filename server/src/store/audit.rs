//! The audit trail: an append-only chain of events in which each stores the
//! hash of the one before, so that editing or deleting a row breaks the
//! chain at that row. Appends happen inside the transaction of the write they
//! record (see `sql.rs`); this module computes and checks the hashes.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::time::Timestamp;

/// The hash that stands before the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEvent {
    pub seq: i64,
    /// When the event was written (its place in the chain).
    pub at: Timestamp,
    /// When what it records happened, where that was earlier than `at` (a
    /// room record that waited while the database was away).
    pub occurred_at: Option<Timestamp>,
    pub actor_id: Option<Uuid>,
    pub actor_role: String,
    pub actor_name: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub result: String,
    pub client_addr: Option<String>,
    #[schema(value_type = Object)]
    pub details: sqlx::types::Json<Value>,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an event: SHA-256 over the previous hash and a canonical JSON
/// rendering of every other field (object keys sorted).
pub fn event_hash(event: &AuditEvent) -> String {
    let canonical = serde_json::json!({
        "seq": event.seq,
        "at": event.at.to_string(),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "actor_name": event.actor_name,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "result": event.result,
        "client_addr": event.client_addr,
        "details": event.details.0,
    });
    let mut canonical = canonical;
    // Only where set, so that events from before the field hash as they did.
    if let Some(occurred_at) = event.occurred_at {
        canonical["occurred_at"] = serde_json::json!(occurred_at.to_string());
    }
    let mut text = String::new();
    write_canonical(&canonical, &mut text);
    let mut hasher = Sha256::new();
    hasher.update(event.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(text.as_bytes());
    hex::encode(hasher.finalize())
}

/// JSON with object keys sorted at every level, whatever order a database
/// (PostgreSQL's jsonb reorders keys) or serde_json's map gives them.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The result of checking the chain.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct VerifyReport {
    pub ok: bool,
    pub events_checked: i64,
    /// The first event whose link is broken, and why.
    pub first_broken_seq: Option<i64>,
    pub problem: Option<String>,
}

/// Walks events in order, carrying the expected sequence number and hash.
#[derive(Debug)]
pub struct ChainChecker {
    expected_seq: i64,
    expected_prev: String,
    checked: i64,
    broken: Option<(i64, String)>,
}

impl Default for ChainChecker {
    fn default() -> Self {
        ChainChecker { expected_seq: 1, expected_prev: GENESIS_HASH.into(), checked: 0, broken: None }
    }
}

impl ChainChecker {
    /// Checks the next event; returns false once the chain is broken.
    pub fn check(&mut self, event: &AuditEvent) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let problem = if event.seq != self.expected_seq {
            Some(format!("expected event {} but found {}: events are missing", self.expected_seq, event.seq))
        } else if event.prev_hash != self.expected_prev {
            Some("its previous-hash does not match the event before it".to_owned())
        } else if event_hash(event) != event.hash {
            Some("its content does not match its hash: the row was changed".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            self.broken = Some((event.seq.min(self.expected_seq), problem));
            return false;
        }
        self.checked += 1;
        self.expected_seq += 1;
        self.expected_prev = event.hash.clone();
        true
    }

    pub fn report(self) -> VerifyReport {
        VerifyReport {
            ok: self.broken.is_none(),
            events_checked: self.checked,
            first_broken_seq: self.broken.as_ref().map(|(seq, _)| *seq),
            problem: self.broken.map(|(_, problem)| problem),
        }
    }
}

/// Checks the whole chain, reading it in batches.
pub async fn verify_chain(store: &dyn super::Store) -> super::StoreResult<VerifyReport> {
    const BATCH: i64 = 1000;
    let mut checker = ChainChecker::default();
    let mut after = 0;
    loop {
        let events = store.audit_events(after, BATCH).await?;
        let Some(last) = events.last() else { break };
        after = last.seq;
        let done = events.len() < BATCH as usize;
        if !events.iter().all(|event| checker.check(event)) || done {
            break;
        }
    }
    Ok(checker.report())
}
