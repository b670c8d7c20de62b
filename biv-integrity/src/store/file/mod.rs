//! The default audit store: segmented append-only files with group commit.
//!
//! Layout of a log directory (specified in `docs/formats/audit-file-store.md`):
//!
//! ```text
//! LOCK                 exclusive single-writer lock (flock)
//! state.json           recorded size, root and segment list; replaced atomically now and then
//! segments/NNN….seg    entry frames: u32be len ‖ u32be crc32c ‖ entry
//! index                32 bytes per entry: where it is and its event id (derived)
//! tree/level-LL        perfect-subtree hashes per level (derived)
//! ```
//!
//! Each commit writes its frames to the active segment and syncs it once. `state.json` is
//! recorded before every checkpoint, at every segment roll, about once a second and on close;
//! on open, whole frames after the recorded state are adopted (they were committed), and the
//! derived files, synced when the state is recorded, are replayed from the segments.
//!
//! Appends are acknowledged only after their frames are on disk. They fail closed: an append
//! that is not durable within the configured wait returns [`AuditAppendError::Timeout`]; after
//! an I/O failure the log refuses every further append until it is reopened (and recovered).

mod atomic;
mod checkpoints;
mod frame;
mod index;
mod levels;
mod lock;
mod notifier;
pub(super) mod publisher;
mod reader;
mod recovery;
mod segments;
mod state;
mod verify;
mod writer;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{AuditAppendError, AuditEvent, AuditReceipt, AuditSink};

use crate::audit::encode_entry;
use crate::tlog::{Hash, ProofError, consistency_proof, inclusion_proof, tree_root};
pub use reader::FileLogReader;
pub use recovery::{OpenError, Recovery};
pub use verify::{DirVerifyError, VerifyError, VerifyReport, verify_dir};
use writer::{CheckpointPolicy, Committed, Message, Reply, Request};

use crate::store::checkpoint_key::{CheckpointAnchor, CheckpointKey, ConsistencyProver};
use crate::tlog::SignedCheckpoint;
pub(crate) use atomic::write_atomically;

/// Settings of a [`FileLog`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileLogOptions {
    /// Longest an append waits for durability before failing closed. Default 2 s.
    pub append_timeout: Duration,
    /// Segment size at which a new segment starts. Default 64 MiB.
    pub segment_bytes: u64,
    /// Most appends committed together. Default 4096.
    pub max_batch: usize,
    /// Appends that may wait for the writer; more fail at once. Default 65,536.
    pub queue_capacity: usize,
    /// Sign a checkpoint after a commit once this much time passed since the last. Default 1 s.
    pub checkpoint_interval: Duration,
    /// … or once this many entries were added since the last. Default 1,000.
    pub checkpoint_every: u64,
    /// Where checkpoints are also published, and checked against on open.
    pub anchor: Option<Arc<dyn CheckpointAnchor>>,
    /// Whether opening may cut a damaged tail of the active segment that still holds whole
    /// frames (see [`OpenError::DamagedTail`]). Default `false`: such a log is refused.
    pub cut_damaged_tail: bool,
    /// Longest a drop of the [`FileLog`] waits for its writer to finish (commit what is queued,
    /// sign the last checkpoint, record the state). Default 10 s.
    pub close_timeout: Duration,
}

impl FileLogOptions {
    /// Sets the longest wait for durability.
    #[must_use]
    pub fn with_append_timeout(mut self, timeout: Duration) -> Self {
        self.append_timeout = timeout;
        self
    }

    /// Sets the segment size at which a new segment starts.
    #[must_use]
    pub fn with_segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Lets opening cut a damaged tail that still holds whole frames into `quarantine/` instead
    /// of refusing the log ([`OpenError::DamagedTail`]): an operator's decision, after looking.
    #[must_use]
    pub fn with_damaged_tail_cut(mut self, cut: bool) -> Self {
        self.cut_damaged_tail = cut;
        self
    }

    /// Sets the longest a drop waits for the writer to finish.
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets the most appends committed together.
    #[must_use]
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch;
        self
    }

    /// Sets when checkpoints are signed: after `interval`, or after `every` new entries.
    #[must_use]
    pub fn with_checkpoints(mut self, interval: Duration, every: u64) -> Self {
        self.checkpoint_interval = interval;
        self.checkpoint_every = every.max(1);
        self
    }

    /// Publishes every checkpoint to `anchor`, and checks the log against it on open.
    #[must_use]
    pub fn with_anchor(mut self, anchor: Arc<dyn CheckpointAnchor>) -> Self {
        self.anchor = Some(anchor);
        self
    }

    /// Sets how many appends may wait for the writer.
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }
}

impl Default for FileLogOptions {
    fn default() -> Self {
        FileLogOptions {
            append_timeout: Duration::from_secs(2),
            segment_bytes: 64 << 20,
            max_batch: 4096,
            queue_capacity: 65_536,
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_every: 1000,
            anchor: None,
            cut_damaged_tail: false,
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// Why an entry could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The index is at or past the committed size.
    #[error("entry {index} does not exist (log size {size})")]
    OutOfRange {
        /// The requested index.
        index: u64,
        /// The committed size.
        size: u64,
    },
    /// The stored bytes do not hash to the stored leaf hash.
    #[error("entry {index} does not match its leaf hash: the segment was altered")]
    Corrupt {
        /// The entry's index.
        index: u64,
    },
    /// A file could not be read.
    #[error("reading entry {index}: {source}")]
    Io {
        /// The entry's index.
        index: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A tamper-evident audit log in a directory: the default [`AuditSink`].
///
/// Dropping it closes the log: the writer commits what is queued, signs a last checkpoint and
/// records the state. The drop waits for that at most [`FileLogOptions::close_timeout`]; a
/// writer stuck on a hung disk is then left to finish on its own thread, and holds the
/// directory's lock until it does, so the log cannot be opened twice meanwhile.
///
/// ```
/// use biv_core::AuditSink;
/// use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions};
/// use biv_integrity::tlog::Ed25519Signer;
///
/// # let dir = std::env::temp_dir().join(format!("biv-doc-filelog-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// // The log's checkpoint key; in production from a key file or an HSM, never a fixed seed.
/// let key = CheckpointKey::ed25519(Ed25519Signer::from_seed("biv.example/ehr/audit", &[1; 32])?);
/// let log = FileLog::create(&dir, key.clone(), FileLogOptions::default())?;
/// let receipt = log.append_blocking(&biv_testkit::sample_event(1))?;
/// assert_eq!((receipt.index(), log.size()), (0, 1));
/// let entry = log.entry(0)?;
/// assert!(entry.starts_with(b"biv-audit/v1\n"));
/// drop(log);
/// let reopened = FileLog::open(&dir, key, FileLogOptions::default())?;
/// assert_eq!(reopened.size(), 1);
/// // Closing signed a checkpoint covering the entry.
/// assert_eq!(reopened.latest_checkpoint().map(|c| c.checkpoint().size()), Some(1));
/// # drop(reopened); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileLog {
    dir: PathBuf,
    options: FileLogOptions,
    tx: Option<mpsc::SyncSender<Message>>,
    writer: Option<JoinHandle<()>>,
    committed: Arc<RwLock<Committed>>,
    readers: Mutex<Readers>,
    levels: levels::LevelReader,
    /// The publisher's live failure counter (publication runs on its own thread).
    anchor_failures: Option<Arc<std::sync::atomic::AtomicU64>>,
    recovery: Recovery,
    /// Disconnected when the writer thread has ended (it holds the sender, and the lock).
    writer_done: Mutex<mpsc::Receiver<()>>,
}

/// Open read handles, shared by readers.
#[derive(Debug, Default)]
struct Readers {
    index: Option<File>,
    segments: HashMap<u32, File>,
}

/// Why a proof or a past root could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// The size asked for is past the committed size.
    #[error("tree size {size} is past the committed size {committed}")]
    BeyondCommitted {
        /// The size asked for.
        size: u64,
        /// The committed size.
        committed: u64,
    },
    /// The proof could not be generated (bad arguments, or a tree node could not be read).
    #[error(transparent)]
    Proof(#[from] ProofError),
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("bytes", &self.entry.len())
            .finish_non_exhaustive()
    }
}

impl FileLog {
    /// Creates a new, empty log in `dir` (created if missing; it must not hold a log already).
    ///
    /// # Errors
    /// [`OpenError`] if the directory holds a log or cannot be written.
    pub fn create(
        dir: &Path,
        key: CheckpointKey,
        options: FileLogOptions,
    ) -> Result<FileLog, OpenError> {
        let opened = recovery::create(dir, &key)?;
        if let (Some(anchor), Some(cp)) = (&options.anchor, &opened.last_checkpoint) {
            // Best effort, like every publication; counted when the writer publishes later ones.
            let tree = levels::LevelReader::new(&dir.join("tree"));
            let _ = anchor.publish_with_proofs(cp, &tree);
        }
        Ok(Self::start(dir, key, options, opened))
    }

    /// Opens an existing log, recovering from a crash: a torn tail after the last commit is cut
    /// off; anything else that does not match the committed state makes it refuse to open,
    /// saying what and where.
    ///
    /// # Errors
    /// [`OpenError`] naming the problem.
    pub fn open(
        dir: &Path,
        key: CheckpointKey,
        options: FileLogOptions,
    ) -> Result<FileLog, OpenError> {
        let opened = recovery::open(
            dir,
            &key,
            options.anchor.as_deref(),
            false,
            options.cut_damaged_tail,
        )?;
        Ok(Self::start(dir, key, options, opened))
    }

    /// Opens a log whose segment files were restored from a backup or moved to other storage
    /// (so their file identities changed, which [`FileLog::open`] refuses as replaced segments).
    /// It records the new identities, then verifies the whole log — every frame, every entry
    /// against its leaf hash, the root, the signed checkpoint and the anchor — before returning
    /// it. Use it as a deliberate, recorded operator action.
    ///
    /// # Errors
    /// [`OpenError`], including [`OpenError::Verify`] when the full verification fails.
    pub fn open_relocated(
        dir: &Path,
        key: CheckpointKey,
        options: FileLogOptions,
    ) -> Result<FileLog, OpenError> {
        let opened = recovery::open(
            dir,
            &key,
            options.anchor.as_deref(),
            true,
            options.cut_damaged_tail,
        )?;
        // The new identities are recorded only after the whole log verified; a failed attempt
        // leaves state.json as it was, so a plain open still refuses the replaced files.
        verify::verify_full(dir, &opened.committed.state)?;
        opened
            .committed
            .state
            .store(dir)
            .map_err(|source| OpenError::Io {
                what: "writing state.json".into(),
                source,
            })?;
        Ok(Self::start(dir, key, options, opened))
    }

    fn start(
        dir: &Path,
        key: CheckpointKey,
        options: FileLogOptions,
        opened: recovery::Opened,
    ) -> FileLog {
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity);
        let stored_size = opened.committed.size;
        let committed = Arc::new(RwLock::new(opened.committed));
        let writer = writer::Writer {
            dir: dir.to_path_buf(),
            segment: opened.segment,
            sealed: opened.sealed,
            index: opened.index,
            levels: opened.levels,
            ids: opened.ids,
            committed: Arc::clone(&committed),
            segment_bytes: options.segment_bytes,
            max_batch: options.max_batch.max(1),
            poisoned: None,
            derived: opened.derived,
            stored_size,
            derived_synced_at: std::time::Instant::now(),
            policy: CheckpointPolicy {
                key,
                interval: options.checkpoint_interval,
                every: options.checkpoint_every.max(1),
            },
            history: opened.history,
            last_checkpoint: opened.last_checkpoint,
            last_checkpoint_at: std::time::Instant::now(),
            publisher: options.anchor.clone().and_then(|anchor| {
                let tree = Arc::new(levels::LevelReader::new(&dir.join("tree")));
                publisher::Publisher::start(anchor, tree)
            }),
            notifier: notifier::Notifier::start(),
        };
        let anchor_failures = writer
            .publisher
            .as_ref()
            .map(publisher::Publisher::failure_counter);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let lock = opened.lock;
        let handle = std::thread::Builder::new()
            .name("biv-audit-writer".into())
            .spawn(move || {
                // The directory's lock lives as long as the writer: a drop that stopped waiting
                // for a writer stuck on a hung disk never lets a second writer in.
                let _lock = lock;
                let _done = done_tx;
                writer.run(rx);
            })
            .ok();
        FileLog {
            dir: dir.to_path_buf(),
            options,
            tx: handle.as_ref().map(|_| tx),
            writer: handle,
            committed,
            readers: Mutex::new(Readers::default()),
            levels: levels::LevelReader::new(&dir.join("tree")),
            anchor_failures,
            recovery: opened.recovery,
            writer_done: Mutex::new(done_rx),
        }
    }

    /// What opening the log adopted and cut after its recorded state (all zero for a new log and
    /// after a clean close). See [`Recovery`]: a host should report `whole_frames_cut > 0`.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// The committed number of entries.
    pub fn size(&self) -> u64 {
        self.committed().size
    }

    /// The committed root hash (RFC 6962).
    pub fn root(&self) -> [u8; 32] {
        self.committed().root
    }

    fn committed(&self) -> Committed {
        self.committed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn prepare(&self, event: &AuditEvent, reply: Reply) -> Result<(), AuditAppendError> {
        let entry = encode_entry(event).map_err(|e| match e {
            crate::audit::EntryEncodeError::Invalid(inner) => AuditAppendError::Invalid(inner),
            crate::audit::EntryEncodeError::TooLarge { size } => AuditAppendError::TooLarge {
                size,
                limit: crate::audit::MAX_ENTRY_BYTES,
            },
            other => AuditAppendError::Backend(biv_core::BackendError::new(other)),
        })?;
        let request = Request {
            event_id: *event.id.as_bytes(),
            leaf_hash: crate::tlog::leaf_hash(&entry).to_bytes(),
            entry,
            reply,
        };
        let tx = self.tx.as_ref().ok_or(AuditAppendError::Closed)?;
        match tx.try_send(Message::Append(request)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(AuditAppendError::Timeout {
                waited: Duration::ZERO,
            }),
            Err(TrySendError::Disconnected(_)) => Err(AuditAppendError::Closed),
        }
    }

    /// Appends one event and waits, at most the configured timeout, until it is durable.
    /// For callers without an async runtime (the C ABI, the CLI).
    ///
    /// # Errors
    /// As [`AuditSink::append`].
    pub fn append_blocking(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.prepare(event, Reply::Blocking(tx))?;
        match rx.recv_timeout(self.options.append_timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(AuditAppendError::Timeout {
                waited: self.options.append_timeout,
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(AuditAppendError::Closed),
        }
    }

    /// The entry at `index`: exactly the bytes that were hashed, checked against its leaf hash.
    ///
    /// # Errors
    /// [`ReadError`].
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, ReadError> {
        let size = self.size();
        if index >= size {
            return Err(ReadError::OutOfRange { index, size });
        }
        let io = |source| ReadError::Io { index, source };
        let mut readers = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if readers.index.is_none() {
            readers.index = Some(File::open(self.dir.join(index::INDEX_FILE)).map_err(io)?);
        }
        let location = match &readers.index {
            Some(f) => index::read_location(f, index).map_err(io)?,
            None => return Err(io(std::io::Error::other("index not open"))),
        };
        let committed = self.committed();
        let first = committed
            .state
            .segments
            .get(location.segment as usize)
            .map(|s| s.first)
            .ok_or_else(|| io(std::io::Error::other("index names an unknown segment")))?;
        let file = match readers.segments.entry(location.segment) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(File::open(segments::segment_path(&self.dir, first)).map_err(io)?)
            }
        };
        let entry = segments::read_at(file, location.offset, location.len).map_err(io)?;
        drop(readers);
        let stored_leaf = self.levels.node(0, index).map_err(io)?;
        if crate::tlog::leaf_hash(&entry).to_bytes() != stored_leaf {
            return Err(ReadError::Corrupt { index });
        }
        Ok(entry)
    }

    /// Verifies the whole committed log: every frame's checksum, every entry against its stored
    /// leaf hash, and the root rebuilt from all entries against the committed root. Returns the
    /// committed size. Appends may continue meanwhile; the check covers the state at its start.
    ///
    /// # Errors
    /// [`VerifyError`] naming the first entry or segment that fails.
    pub fn verify_full(&self) -> Result<u64, VerifyError> {
        let committed = self.committed();
        verify::verify_full(&self.dir, &committed.state)?;
        Ok(committed.size)
    }

    /// The newest signed checkpoint. It may trail the committed size by up to the checkpoint
    /// interval; [`FileLog::checkpoint_now`] signs one for the current state.
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        self.committed().checkpoint
    }

    /// Signs (if the log grew since the last one), records and publishes a checkpoint of the
    /// committed state now, and returns it.
    ///
    /// # Errors
    /// [`AuditAppendError::Closed`] after shutdown, [`AuditAppendError::Timeout`] when the
    /// writer's queue is full or no answer came within the append timeout, or
    /// [`AuditAppendError::Backend`] when signing or recording failed.
    pub fn checkpoint_now(&self) -> Result<SignedCheckpoint, AuditAppendError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let sender = self.tx.as_ref().ok_or(AuditAppendError::Closed)?;
        // Never block on a full queue (a stalled writer): fail closed at once, like an append.
        match sender.try_send(Message::Checkpoint(tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(AuditAppendError::Timeout {
                    waited: Duration::ZERO,
                });
            }
            Err(TrySendError::Disconnected(_)) => return Err(AuditAppendError::Closed),
        }
        match rx.recv_timeout(self.options.append_timeout) {
            Ok(Ok(cp)) => Ok(cp),
            Ok(Err(why)) => Err(AuditAppendError::Backend(biv_core::BackendError::msg(why))),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(AuditAppendError::Timeout {
                waited: self.options.append_timeout,
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(AuditAppendError::Closed),
        }
    }

    /// Every checkpoint the log has signed, oldest first, as signed notes.
    ///
    /// # Errors
    /// An I/O error reading the history.
    pub fn checkpoint_history(&self) -> std::io::Result<Vec<Vec<u8>>> {
        Ok(checkpoints::all(&self.dir)?)
    }

    /// Every entry of the recorded state, in order, read straight from the segments without
    /// the writer's lock (for reports on a live log), each checked against its frame checksum.
    /// Beside a running writer the newest second of entries may not be recorded yet (see
    /// [`FileLogReader`]).
    ///
    /// # Errors
    /// [`VerifyError`] naming the first unreadable entry.
    pub fn read_entries(dir: &Path, mut each: impl FnMut(u64, &[u8])) -> Result<u64, VerifyError> {
        verify::read_entries(dir, &mut each)
    }

    /// How many checkpoints could not be signed or recorded since the log was opened (a failure
    /// to record one, or the state before it, also stops the log; its refusals after that are
    /// not counted).
    pub fn checkpoint_failures(&self) -> u64 {
        self.committed().checkpoint_failures
    }

    /// How many publications the anchor failed to take since the log was opened, retries of a
    /// failed one included, counted live (publishing runs on its own thread, so a hung anchor
    /// never stalls appends, and a failed publication is tried again after 1 s, doubling up to
    /// 60 s, until it succeeds or a newer checkpoint replaces it).
    pub fn anchor_failures(&self) -> u64 {
        self.anchor_failures.as_ref().map_or_else(
            || self.committed().anchor_failures,
            |counter| counter.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    fn check_size(&self, size: u64) -> Result<(), ProveError> {
        let committed = self.size();
        if size > committed {
            return Err(ProveError::BeyondCommitted { size, committed });
        }
        Ok(())
    }

    /// The root of the tree at `size` (at most the committed size), e.g. to check that an older
    /// checkpoint is a prefix of this log.
    ///
    /// # Errors
    /// [`ProveError`].
    pub fn root_at(&self, size: u64) -> Result<Hash, ProveError> {
        self.check_size(size)?;
        Ok(tree_root(&self.levels, size)?)
    }

    /// The RFC 6962 inclusion proof of entry `index` in the tree of `size` entries.
    ///
    /// # Errors
    /// [`ProveError`].
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProveError> {
        self.check_size(size)?;
        Ok(inclusion_proof(&self.levels, index, size)?)
    }

    /// The RFC 6962 consistency proof from the tree of `old` entries to the tree of `new`.
    ///
    /// # Errors
    /// [`ProveError`].
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProveError> {
        self.check_size(new)?;
        Ok(consistency_proof(&self.levels, old, new)?)
    }
}

impl ConsistencyProver for FileLog {
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, biv_core::BackendError> {
        FileLog::consistency_proof(self, old, new).map_err(biv_core::BackendError::new)
    }
}

impl ConsistencyProver for FileLogReader {
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, biv_core::BackendError> {
        FileLogReader::consistency_proof(self, old, new).map_err(biv_core::BackendError::new)
    }
}

#[async_trait]
impl AuditSink for FileLog {
    async fn append(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.prepare(event, Reply::Async(tx))?;
        match tokio::time::timeout(self.options.append_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AuditAppendError::Closed),
            Err(_) => Err(AuditAppendError::Timeout {
                waited: self.options.append_timeout,
            }),
        }
    }
}

impl Drop for FileLog {
    fn drop(&mut self) {
        // Closing the queue ends the writer after it committed what was queued.
        self.tx.take();
        let done = self
            .writer_done
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv_timeout(self.options.close_timeout);
        match (done, self.writer.take()) {
            (Err(mpsc::RecvTimeoutError::Timeout), Some(_detached)) => {
                // Stuck (a hung disk): the host's shutdown goes on; the thread finishes on its
                // own and keeps the lock until then.
            }
            (_, Some(handle)) => {
                let _ = handle.join();
            }
            (_, None) => {}
        }
    }
}
