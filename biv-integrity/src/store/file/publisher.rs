//! Publishes checkpoints to the anchor on a thread of its own, so a slow or hung anchor (a stuck
//! network mount, an unreachable witness) never stalls appends. Only the newest checkpoint
//! waiting matters: an anchor keeps the newest, so older ones still queued are skipped.
//!
//! A publication that fails is tried again after a pause (1 s, doubling up to 60 s) until it
//! succeeds or a newer checkpoint replaces it, so an anchor that was down catches up without
//! waiting for the log to grow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use biv_core::BackendError;

use super::levels::LevelReader;
use crate::store::checkpoint_key::{CheckpointAnchor, ConsistencyProver};
use crate::tlog::{Hash, SignedCheckpoint, consistency_proof};

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
    /// In a mutex only so the handle is `Sync` (the PostgreSQL store shares it).
    done: Mutex<std::sync::mpsc::Receiver<()>>,
}

/// How long closing waits for the last publication.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// First pause before a failed publication is tried again; it doubles up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

impl ConsistencyProver for LevelReader {
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, BackendError> {
        consistency_proof(self, old, new).map_err(BackendError::new)
    }
}

/// The next checkpoint to publish: a new one, or the failed one once its pause is over. `None`
/// when the log closed and nothing new is waiting.
fn next(
    shared: &(Mutex<Slot>, Condvar),
    failed: &mut Option<(SignedCheckpoint, Instant, Duration)>,
) -> Option<(SignedCheckpoint, Duration)> {
    let (lock, ready) = shared;
    let mut slot = lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        if let Some(cp) = slot.newest.take() {
            // A newer checkpoint replaces the failed one (the anchor keeps the newest).
            *failed = None;
            return Some((cp, RETRY_FIRST));
        }
        if slot.closed {
            return None;
        }
        match failed {
            Some((_, at, _)) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return failed.take().map(|(cp, _, pause)| (cp, pause));
                }
                slot = ready
                    .wait_timeout(slot, left)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
            None => {
                slot = ready
                    .wait(slot)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
    }
}

impl Publisher {
    /// Starts the publishing thread; `proofs` gives the anchor consistency proofs of the log's
    /// tree. `None` when the thread cannot be started; the caller then publishes inline.
    pub(crate) fn start(
        anchor: Arc<dyn CheckpointAnchor>,
        proofs: Arc<dyn ConsistencyProver>,
    ) -> Option<Publisher> {
        let shared: Arc<(Mutex<Slot>, Condvar)> = Arc::default();
        let failures = Arc::new(AtomicU64::new(0));
        let (thread_shared, thread_failures) = (Arc::clone(&shared), Arc::clone(&failures));
        let (done_tx, done) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("biv-audit-anchor".into())
            .spawn(move || {
                let mut failed = None;
                while let Some((cp, pause)) = next(&thread_shared, &mut failed) {
                    if anchor.publish_with_proofs(&cp, &*proofs).is_err() {
                        thread_failures.fetch_add(1, Ordering::Relaxed);
                        let again = (pause * 2).min(RETRY_MAX);
                        failed = Some((cp, Instant::now() + pause, again));
                    }
                }
                let _ = done_tx.send(());
            })
            .ok()?;
        Some(Publisher {
            shared,
            failures,
            done: Mutex::new(done),
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

    /// Publication attempts the anchor refused or could not take (a retry that fails again
    /// counts again).
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The live failure counter, for readers outside the writer thread.
    pub(crate) fn failure_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.failures)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // The thread publishes what is still waiting and then ends (a failed publication is not
        // retried any more). Closing waits for that at most CLOSE_WAIT, so a hung anchor cannot
        // hang the log's shutdown.
        let (lock, ready) = &*self.shared;
        lock.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .closed = true;
        ready.notify_one();
        let done = self
            .done
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = done.recv_timeout(CLOSE_WAIT);
    }
}
