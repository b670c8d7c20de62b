//! Publishes checkpoints to the anchor on a thread of its own, so a slow or hung anchor (a stuck
//! network mount, an unreachable witness) never stalls appends. Only the newest checkpoint
//! waiting matters: an anchor keeps the newest, so older ones still queued are skipped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::store::checkpoint_key::CheckpointAnchor;
use crate::tlog::SignedCheckpoint;

#[derive(Debug, Default)]
struct Slot {
    newest: Option<SignedCheckpoint>,
    closed: bool,
}

/// The handle the writer keeps.
#[derive(Debug)]
pub(crate) struct Publisher {
    shared: Arc<(Mutex<Slot>, Condvar)>,
    failures: Arc<AtomicU64>,
    done: std::sync::mpsc::Receiver<()>,
}

/// How long closing waits for the last publication.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Publisher {
    /// Starts the publishing thread. `None` when the thread cannot be started; the caller then
    /// publishes inline.
    pub(crate) fn start(anchor: Arc<dyn CheckpointAnchor>) -> Option<Publisher> {
        let shared: Arc<(Mutex<Slot>, Condvar)> = Arc::default();
        let failures = Arc::new(AtomicU64::new(0));
        let (thread_shared, thread_failures) = (Arc::clone(&shared), Arc::clone(&failures));
        let (done_tx, done) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("biv-audit-anchor".into())
            .spawn(move || {
                let (lock, ready) = &*thread_shared;
                loop {
                    let next = {
                        let mut slot = lock
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        while slot.newest.is_none() && !slot.closed {
                            slot = ready
                                .wait(slot)
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                        }
                        match slot.newest.take() {
                            Some(cp) => cp,
                            None => break,
                        }
                    };
                    if anchor.publish(&next).is_err() {
                        thread_failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = done_tx.send(());
            })
            .ok()?;
        Some(Publisher {
            shared,
            failures,
            done,
        })
    }

    /// Hands over a checkpoint (replacing one still waiting).
    pub(crate) fn publish(&self, checkpoint: SignedCheckpoint) {
        let (lock, ready) = &*self.shared;
        lock.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .newest = Some(checkpoint);
        ready.notify_one();
    }

    /// Checkpoints the anchor refused or could not take.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // The thread publishes what is still waiting and then ends. Closing waits for that at
        // most CLOSE_WAIT, so a hung anchor cannot hang the log's shutdown.
        let (lock, ready) = &*self.shared;
        lock.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .closed = true;
        ready.notify_one();
        let _ = self.done.recv_timeout(CLOSE_WAIT);
    }
}
