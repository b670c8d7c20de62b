//! The default audit store: segmented append-only files with group commit.
//!
//! Layout of a log directory (specified in `docs/formats/audit-file-store.md`):
//!
//! ```text
//! LOCK                 exclusive single-writer lock (flock)
//! state.json           committed size, root and segment list; replaced atomically per commit
//! segments/NNN….seg    entry frames: u32be len ‖ u32be crc32c ‖ entry
//! index                32 bytes per entry: where it is and its event id (derived)
//! tree/level-LL        perfect-subtree hashes per level (derived)
//! ```
//!
//! Each commit syncs the segment and replaces `state.json`; the derived files are written at
//! once but synced about once a second, and `state.json` records how far they are durable, so
//! recovery replays at most the last second of entries from the segments.
//!
//! Appends are acknowledged only after the frames, the index, the tree levels and the new state
//! are on disk. They fail closed: an append that is not durable within the configured wait
//! returns [`AuditAppendError::Timeout`]; after an I/O failure the log refuses every further
//! append until it is reopened (and recovered).

mod atomic;
mod frame;
mod index;
mod levels;
mod lock;
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
pub use recovery::OpenError;
pub use verify::VerifyError;
use writer::{Committed, Reply, Request};

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

    /// Sets the most appends committed together.
    #[must_use]
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch;
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
/// ```
/// use biv_core::AuditSink;
/// use biv_integrity::store::{FileLog, FileLogOptions};
///
/// # let dir = std::env::temp_dir().join(format!("biv-doc-filelog-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let log = FileLog::create(&dir, FileLogOptions::default())?;
/// let receipt = log.append_blocking(&biv_testkit::sample_event(1))?;
/// assert_eq!((receipt.index(), log.size()), (0, 1));
/// let entry = log.entry(0)?;
/// assert!(entry.starts_with(b"biv-audit/v1\n"));
/// drop(log);
/// let reopened = FileLog::open(&dir, FileLogOptions::default())?;
/// assert_eq!(reopened.size(), 1);
/// # drop(reopened); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileLog {
    dir: PathBuf,
    options: FileLogOptions,
    tx: Option<mpsc::SyncSender<Request>>,
    writer: Option<JoinHandle<()>>,
    committed: Arc<RwLock<Committed>>,
    readers: Mutex<Readers>,
    _lock: lock::DirLock,
}

/// Open read handles, shared by readers.
#[derive(Debug, Default)]
struct Readers {
    index: Option<File>,
    levels: Option<levels::LevelReader>,
    segments: HashMap<u32, File>,
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
    pub fn create(dir: &Path, options: FileLogOptions) -> Result<FileLog, OpenError> {
        let opened = recovery::create(dir)?;
        Ok(Self::start(dir, options, opened))
    }

    /// Opens an existing log, recovering from a crash: a torn tail after the last commit is cut
    /// off; anything else that does not match the committed state makes it refuse to open,
    /// saying what and where.
    ///
    /// # Errors
    /// [`OpenError`] naming the problem.
    pub fn open(dir: &Path, options: FileLogOptions) -> Result<FileLog, OpenError> {
        let opened = recovery::open(dir)?;
        Ok(Self::start(dir, options, opened))
    }

    fn start(dir: &Path, options: FileLogOptions, opened: recovery::Opened) -> FileLog {
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity);
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
            derived_synced_at: std::time::Instant::now(),
        };
        let handle = std::thread::Builder::new()
            .name("biv-audit-writer".into())
            .spawn(move || writer.run(rx))
            .ok();
        FileLog {
            dir: dir.to_path_buf(),
            options,
            tx: handle.as_ref().map(|_| tx),
            writer: handle,
            committed,
            readers: Mutex::new(Readers::default()),
            _lock: opened.lock,
        }
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
            leaf_hash: crate::store::hashing::leaf_hash(&entry),
            entry,
            reply,
        };
        let tx = self.tx.as_ref().ok_or(AuditAppendError::Closed)?;
        match tx.try_send(request) {
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
        if readers.levels.is_none() {
            readers.levels = Some(levels::LevelReader::open(&self.dir.join("tree")).map_err(io)?);
        }
        let stored_leaf = match &mut readers.levels {
            Some(l) => l.node(0, index).map_err(io)?,
            None => return Err(io(std::io::Error::other("tree not open"))),
        };
        if crate::store::hashing::leaf_hash(&entry) != stored_leaf {
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

    /// MTH of leaves `[start, end)` of the committed tree (for proofs).
    ///
    /// # Errors
    /// [`ReadError`] if the range is past the committed size or a file cannot be read.
    pub fn range_hash(&self, start: u64, end: u64) -> Result<[u8; 32], ReadError> {
        let size = self.size();
        if start >= end || end > size {
            return Err(ReadError::OutOfRange {
                index: end.saturating_sub(1),
                size,
            });
        }
        let mut readers = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let io = |source| ReadError::Io {
            index: start,
            source,
        };
        if readers.levels.is_none() {
            readers.levels = Some(levels::LevelReader::open(&self.dir.join("tree")).map_err(io)?);
        }
        match &mut readers.levels {
            Some(l) => l.range_hash(start, end).map_err(io),
            None => Err(io(std::io::Error::other("tree not open"))),
        }
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
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}
