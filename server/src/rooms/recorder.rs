//! Writes what happens in rooms (joins, leaves, admissions, caucuses, the
//! session's start and end) to the store in order, off the rooms' tasks, so
//! that a slow database never stalls a live room.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::cases::changes::Actor;
use crate::cases::changes::Change;
use crate::store::DynStore;

#[derive(Clone)]
pub struct Recorder {
    /// Batches in the order the rooms made them; one task writes them.
    tx: mpsc::UnboundedSender<(Actor, Vec<Change>)>,
    /// Batches queued and not yet written (an atomic: no lock, read by
    /// tests and the registry).
    pending: Arc<AtomicUsize>,
}

impl Recorder {
    pub fn spawn(store: DynStore) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Actor, Vec<Change>)>();
        let pending = Arc::new(AtomicUsize::new(0));
        let counter = pending.clone();
        tokio::spawn(async move {
            while let Some((actor, changes)) = rx.recv().await {
                if let Err(error) = store.apply(&actor, &changes).await {
                    tracing::warn!(%error, "a room record could not be written");
                }
                counter.fetch_sub(1, Ordering::SeqCst);
            }
        });
        Self { tx, pending }
    }

    pub fn record(&self, actor: &Actor, changes: Vec<Change>) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.send((actor.clone(), changes)).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::error!("the room recorder has stopped; a record was lost");
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}
