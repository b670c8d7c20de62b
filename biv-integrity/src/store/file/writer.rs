//! The single writer thread: group commit.
//!
//! Appends queue up while a commit is running; the writer takes all of them (up to a batch
//! limit), writes their frames to the active segment and syncs it once (`fdatasync`): that is
//! the commit. It then writes their index records and tree levels (to the page cache),
//! publishes the new committed state and only then answers every waiting append (on the
//! notifier's thread, see `notifier.rs`, while the writer goes on with the next batch).
//!
//! `state.json` is not replaced per commit. The writer records it (derived files synced first)
//! before it signs a checkpoint, when it rolls to a new segment (before the first frame goes
//! there), at least once a second while entries arrive and shortly after they stop, and on a
//! clean close. Recovery adopts the whole frames the active segment holds after the recorded
//! state (see `recovery.rs`), so one sync per commit is enough: replacing `state.json` costs a
//! file sync, a rename and a directory sync, twice the segment's sync, and it was on every
//! commit's path.
//!
//! # Failures
//!
//! A failed write, sync, create or rename (a full disk, a file-size limit, EIO from fsync, a
//! missing or replaced active segment) fails the whole batch: every append in it gets
//! [`AuditAppendError::Backend`] naming the operation and file, and none gets a receipt. The
//! writer then poisons itself: the files' state is unknown (a segment may hold a torn frame, a
//! failed fsync may have dropped pages), so it answers every later append, and every checkpoint
//! request, with an error and writes nothing more, not even on close. Nothing is retried: after
//! an fsync error the kernel may report the next fsync as successful although the data is lost.
//! A failure while recording `state.json` or a checkpoint poisons it the same way. Reopening
//! the directory recovers (see `recovery.rs`): whole frames after the recorded state are
//! adopted, the bytes after them cut (kept in `quarantine/`), uncommitted segment files
//! removed, derived files rebuilt.
//!
//! An entry of a failed batch can still be in the reopened log: when the batch failed after
//! its frames reached the segment (the sync reported an error although the data was written,
//! or writing the index, the tree or a state record failed afterwards). Such an entry was never
//! acknowledged; a retry of the same event is then refused as a duplicate. A commit that stalls
//! (a hung device) is bounded by the append timeout on the caller's side; the writer carries on
//! once the device answers.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, RwLock};

use biv_core::{AuditAppendError, AuditReceipt, BackendError};

use super::checkpoints::History;
use super::frame::{HEADER_BYTES, encode_frame};
use super::index::{Index, Location};
use super::levels::LevelWriter;
use super::notifier::Notifier;
use super::publisher::Publisher;
use super::segments::ActiveSegment;
use super::state::{TreeState, hex};
use crate::store::checkpoint_key::CheckpointKey;
use crate::tlog::{Hash, SignedCheckpoint};

/// One append waiting for its commit.
pub(crate) struct Request {
    pub(crate) event_id: [u8; 16],
    pub(crate) entry: Vec<u8>,
    pub(crate) leaf_hash: [u8; 32],
    pub(crate) reply: Reply,
}

/// Where the answer goes.
pub(crate) enum Reply {
    Async(tokio::sync::oneshot::Sender<Result<AuditReceipt, AuditAppendError>>),
    Blocking(SyncSender<Result<AuditReceipt, AuditAppendError>>),
}

impl Reply {
    pub(crate) fn send(self, result: Result<AuditReceipt, AuditAppendError>) {
        // A waiter that gave up (timed out) has dropped its receiver; nothing to do then.
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
            Reply::Blocking(tx) => {
                let _ = tx.try_send(result);
            }
        }
    }
}

/// What readers see: the last committed state.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub(crate) size: u64,
    pub(crate) root: [u8; 32],
    pub(crate) state: TreeState,
    /// The newest signed checkpoint (never ahead of `size`).
    pub(crate) checkpoint: Option<SignedCheckpoint>,
    /// Checkpoints the anchor could not take.
    pub(crate) anchor_failures: u64,
    /// Checkpoints that could not be signed or recorded.
    pub(crate) checkpoint_failures: u64,
}

/// What the writer is asked to do.
pub(crate) enum Message {
    /// Append an event.
    Append(Request),
    /// Sign a checkpoint of the committed state now (if it grew since the last one).
    Checkpoint(SyncSender<Result<SignedCheckpoint, String>>),
}

/// When checkpoints are signed: after a commit, once this much time passed or this many
/// entries were added since the last one — per batch or interval, never per event.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointPolicy {
    pub(crate) key: CheckpointKey,
    pub(crate) interval: std::time::Duration,
    pub(crate) every: u64,
}

pub(crate) struct Writer {
    pub(crate) dir: PathBuf,
    pub(crate) segment: ActiveSegment,
    pub(crate) sealed: Vec<super::state::SegmentInfo>,
    pub(crate) index: Index,
    pub(crate) levels: LevelWriter,
    pub(crate) ids: HashSet<[u8; 16]>,
    pub(crate) committed: Arc<RwLock<Committed>>,
    pub(crate) segment_bytes: u64,
    pub(crate) max_batch: usize,
    /// Set after an I/O failure: the files' state is unknown, so every later append fails.
    pub(crate) poisoned: Option<String>,
    /// Entries whose derived records (index, tree levels) are durable.
    pub(crate) derived: u64,
    /// The size recorded in `state.json` on disk; the segment's frames after it are committed
    /// too (see the module documentation).
    pub(crate) stored_size: u64,
    /// When the derived files were last synced.
    pub(crate) derived_synced_at: std::time::Instant,
    pub(crate) policy: CheckpointPolicy,
    pub(crate) history: History,
    pub(crate) last_checkpoint: Option<SignedCheckpoint>,
    pub(crate) last_checkpoint_at: std::time::Instant,
    /// Publishes checkpoints to the anchor off the writer thread.
    pub(crate) publisher: Option<Publisher>,
    /// Answers committed appends off the writer thread.
    pub(crate) notifier: Notifier,
}

/// How often the derived files are synced and `state.json` is recorded between checkpoints; a
/// crash leaves at most this much to adopt and replay from the active segment.
const STATE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl Writer {
    pub(crate) fn run(mut self, rx: Receiver<Message>) {
        loop {
            // Wake up at least once per checkpoint interval and once a second, so an idle log
            // still gets its last batch signed and recorded.
            let first = match rx.recv_timeout(self.policy.interval.min(STATE_INTERVAL)) {
                Ok(message) => Some(message),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = Vec::new();
            let mut asked = Vec::new();
            let mut next = first;
            while let Some(message) = next.take() {
                match message {
                    Message::Append(r) => batch.push(r),
                    Message::Checkpoint(reply) => asked.push(reply),
                }
                if batch.len() < self.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.commit(batch);
            } else if self.poisoned.is_none()
                && self.stored_size != self.levels.size()
                && self.derived_synced_at.elapsed() >= STATE_INTERVAL
                && let Err(e) = self.record()
            {
                // Idle: the last commits get recorded, so readers of the directory see them.
                self.poisoned = Some(e.to_string());
            }
            let due = self.last_checkpoint_at.elapsed() >= self.policy.interval
                || self.levels.size() - self.last_checkpoint_size() >= self.policy.every;
            // A poisoned writer signs nothing; it only answers the requests (with its error),
            // and does not count them as signing failures.
            if !asked.is_empty() || (due && self.poisoned.is_none()) {
                // A failure counts, also one that poisons the writer; the refusals of a writer
                // poisoned before do not.
                let was_poisoned = self.poisoned.is_some();
                let result = self.checkpoint();
                if result.is_err() && !was_poisoned {
                    let mut committed = self
                        .committed
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    committed.checkpoint_failures += 1;
                }
                for reply in asked {
                    let _ = reply.try_send(result.clone());
                }
            }
        }
        if self.poisoned.is_none() {
            // A final checkpoint, so the newest state is covered by a signature.
            let _ = self.checkpoint();
        }
        // Clean shutdown: make the derived files durable and record the whole state, so the
        // next open replays and adopts nothing.
        let size = self.levels.size();
        if self.poisoned.is_none() && (self.derived != size || self.stored_size != size) {
            let _ = self.record();
        }
    }

    /// The committed state as the writer holds it (frames synced, derived files written).
    fn current_state(&self) -> TreeState {
        let root = self.levels.root();
        let mut segments = Vec::with_capacity(self.sealed.len() + 1);
        segments.extend_from_slice(&self.sealed);
        segments.push(self.segment.info.clone());
        TreeState {
            size: self.levels.size(),
            root: hex(&root),
            segments,
            derived: self.derived,
            ..TreeState::empty(&root)
        }
    }

    /// Makes the derived files durable and records the state: what a crash leaves to adopt
    /// and replay shrinks to nothing.
    fn record(&mut self) -> std::io::Result<()> {
        self.index
            .sync()
            .map_err(|e| doing(e, "syncing the index"))?;
        self.levels
            .sync()
            .map_err(|e| doing(e, "syncing the tree"))?;
        self.derived = self.levels.size();
        self.derived_synced_at = std::time::Instant::now();
        self.store_state()
            .map_err(|e| doing(e, "replacing state.json"))
    }

    /// Records the committed state in `state.json` (atomically, durably).
    fn store_state(&mut self) -> std::io::Result<()> {
        let state = self.current_state();
        state.store(&self.dir)?;
        self.stored_size = state.size;
        Ok(())
    }

    fn last_checkpoint_size(&self) -> u64 {
        self.last_checkpoint
            .as_ref()
            .map_or(0, |c| c.checkpoint().size())
    }

    /// Signs a checkpoint of the committed state (unless the newest already covers it), records
    /// it durably in the history, and publishes it to the anchor.
    fn checkpoint(&mut self) -> Result<SignedCheckpoint, String> {
        if let Some(why) = &self.poisoned {
            return Err(format!(
                "audit log unusable after an earlier failure: {why}"
            ));
        }
        let size = self.levels.size();
        if let Some(cp) = &self.last_checkpoint
            && cp.checkpoint().size() == size
        {
            return Ok(cp.clone());
        }
        // A signed checkpoint never covers more than `state.json` records, so a reader of the
        // directory (and recovery) always finds every checkpoint covered by the state.
        if self.stored_size != size
            && let Err(e) = self.store_state()
        {
            let why = format!("replacing state.json before a checkpoint failed: {e}");
            self.poisoned = Some(why.clone());
            return Err(why);
        }
        let signed = self
            .policy
            .key
            .sign(size, Hash::from_bytes(self.levels.root()))
            .map_err(|e| e.to_string())?;
        if let Err(e) = self.history.append(&signed.to_bytes()) {
            // After a failed write or fsync the history's state is unknown: stop, like a failed
            // segment write, rather than append unsigned entries indefinitely.
            let why = format!("recording a checkpoint failed: {e}");
            self.poisoned = Some(why.clone());
            return Err(why);
        }
        if let Some(publisher) = &self.publisher {
            publisher.publish(signed.clone());
        }
        self.last_checkpoint = Some(signed.clone());
        self.last_checkpoint_at = std::time::Instant::now();
        let mut committed = self
            .committed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        committed.checkpoint = Some(signed.clone());
        committed.anchor_failures = self.publisher.as_ref().map_or(0, Publisher::failures);
        Ok(signed)
    }

    fn commit(&mut self, batch: Vec<Request>) {
        if let Some(why) = &self.poisoned {
            let why = why.clone();
            for r in batch {
                r.reply
                    .send(Err(AuditAppendError::Backend(BackendError::msg(format!(
                        "audit log unusable after an earlier failure: {why}"
                    )))));
            }
            return;
        }
        let mut accepted = Vec::with_capacity(batch.len());
        for r in batch {
            if self.ids.insert(r.event_id) {
                accepted.push(r);
            } else {
                r.reply.send(Err(AuditAppendError::Duplicate));
            }
        }
        if accepted.is_empty() {
            return;
        }
        match self.write(&accepted) {
            Ok(first_index) => {
                self.notifier.answer(
                    accepted
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| {
                            let receipt = AuditReceipt::new(first_index + i as u64, r.leaf_hash);
                            (r.reply, Ok(receipt))
                        })
                        .collect(),
                );
            }
            Err(e) => {
                let why = e.to_string();
                self.poisoned = Some(why.clone());
                for r in accepted {
                    self.ids.remove(&r.event_id);
                    r.reply
                        .send(Err(AuditAppendError::Backend(BackendError::msg(format!(
                            "audit log write failed: {why}"
                        )))));
                }
            }
        }
    }

    /// Writes and commits the batch; returns the index of its first entry.
    fn write(&mut self, batch: &[Request]) -> std::io::Result<u64> {
        if !self
            .segment
            .still_in_place(&self.dir)
            .map_err(|e| doing(e, "checking the active segment"))?
        {
            return Err(std::io::Error::other(
                "the active segment file was deleted or replaced",
            ));
        }
        let first_index = self.levels.size();
        let mut frames = Vec::new();
        let mut count = 0;
        for r in batch {
            let frame_len = (HEADER_BYTES + r.entry.len()) as u64;
            if self.segment.info.bytes + frames.len() as u64 + frame_len > self.segment_bytes
                && (self.segment.info.count + count) > 0
            {
                let first = self.segment.info.first;
                if !frames.is_empty() {
                    self.segment
                        .append(&frames, count)
                        .map_err(|e| doing(e, format_args!("writing segment {first:020}.seg")))?;
                }
                frames.clear();
                count = 0;
                let next_first = self.segment.info.first + self.segment.info.count;
                let ordinal = self.segment.ordinal + 1;
                let next = ActiveSegment::create(&self.dir, next_first, ordinal)
                    .map_err(|e| doing(e, format_args!("creating segment {next_first:020}.seg")))?;
                let old = std::mem::replace(&mut self.segment, next);
                self.sealed.push(old.info);
                // The new segment is listed before anything is written to it: recovery adopts
                // committed frames only from the last listed segment.
                self.store_state()
                    .map_err(|e| doing(e, "replacing state.json"))?;
            }
            let offset = self.segment.info.bytes + frames.len() as u64 + HEADER_BYTES as u64;
            encode_frame(&r.entry, &mut frames);
            count += 1;
            self.index.push(&Location {
                offset,
                len: r.entry.len() as u32,
                segment: self.segment.ordinal,
                event_id: r.event_id,
            });
            self.levels
                .append_leaf(r.leaf_hash)
                .map_err(|e| doing(e, "writing the tree"))?;
        }
        let first = self.segment.info.first;
        self.segment
            .append(&frames, count)
            .map_err(|e| doing(e, format_args!("writing segment {first:020}.seg")))?;
        self.index
            .write()
            .map_err(|e| doing(e, "writing the index"))?;
        self.levels
            .write()
            .map_err(|e| doing(e, "writing the tree"))?;
        if self.derived_synced_at.elapsed() >= STATE_INTERVAL {
            self.record()?;
        }
        let state = self.current_state();
        let (size, root) = (state.size, self.levels.root());
        let mut committed = self
            .committed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        committed.size = size;
        committed.root = root;
        committed.state = state;
        Ok(first_index)
    }
}

/// Says what the writer was doing when an operation failed (keeping the error's kind), so the
/// host's message names the file: "writing segment 00000000000000000000.seg: File too large".
fn doing(e: std::io::Error, what: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

#[cfg(test)]
#[path = "fault_tests.rs"]
mod fault_tests;
