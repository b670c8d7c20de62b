//! The durable spool: CRC-framed, append-only segment files in one directory, and the
//! acknowledged position of the shipper (`docs/formats/log-spool.md`).
//!
//! One [`Spool`] writes (a host process, through [`SpoolSink`](super::SpoolSink)); one
//! [`SpoolReader`] reads and acknowledges (the shipper, in the same or another process). Each
//! side holds an advisory lock file (`writer.lock`, `reader.lock`) so a second writer or a
//! second shipper is refused instead of interleaving.

mod ack;
mod frame;
mod reader;
mod segment;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use biv_core::{LogRecord, RecordId};

use super::stats::{DropReason, SpoolStats};

pub use ack::Position;
pub use reader::{CorruptRegion, ReadBatch, SpoolReader, SpooledRecord};
pub(crate) use segment::{FILE_MODE, sync_dir};

/// The lock file the writer holds.
pub(crate) const WRITER_LOCK: &str = "writer.lock";
/// The lock file the reader holds.
pub(crate) const READER_LOCK: &str = "reader.lock";

/// When the writer forces appended frames to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsyncPolicy {
    /// After every append call (for [`SpoolSink`](super::SpoolSink): every batch it drains).
    Always,
    /// At most once per interval, at the next append after it has passed (and on
    /// [`Spool::sync`]).
    Interval(Duration),
    /// Only when a segment is closed; the OS writes the rest back when it likes.
    OsManaged,
}

/// How a [`Spool`] behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpoolConfig {
    /// A segment is closed and the next one started when an append would grow it past this
    /// (default 16 MiB). A record larger than this gets a segment of its own.
    pub segment_bytes: u64,
    /// The most bytes all segments together may take (default 1 GiB). A record that would
    /// exceed it is dropped and counted as `cap` (newest records are dropped, spooled ones are
    /// kept).
    pub max_bytes: u64,
    /// When appended frames are forced to disk (default every 100 ms).
    pub fsync: FsyncPolicy,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            segment_bytes: 16 << 20,
            max_bytes: 1 << 30,
            fsync: FsyncPolicy::Interval(Duration::from_millis(100)),
        }
    }
}

impl SpoolConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`SpoolConfig::segment_bytes`].
    #[must_use]
    pub fn with_segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Sets [`SpoolConfig::max_bytes`].
    #[must_use]
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Sets [`SpoolConfig::fsync`].
    #[must_use]
    pub fn with_fsync(mut self, policy: FsyncPolicy) -> Self {
        self.fsync = policy;
        self
    }
}

/// Why a spool (writer or reader) could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolOpenError {
    /// Another writer (or reader) holds the spool's lock.
    #[error("spool {dir} is in use by another {role}")]
    Locked {
        /// The spool directory.
        dir: PathBuf,
        /// `writer` or `reader`.
        role: &'static str,
    },
    /// The directory or a file in it could not be read or written.
    #[error("spool {dir}: {source}")]
    Io {
        /// The spool directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Why an append did not store a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The spool's byte cap would be exceeded; the record was dropped and counted (`cap`).
    #[error("spool full (byte cap {max_bytes}); record dropped")]
    Cap {
        /// The configured cap.
        max_bytes: u64,
    },
    /// Writing the segment failed; the record was dropped and counted (`io`).
    #[error("spool write failed: {0}")]
    Io(#[source] io::Error),
}

/// What [`Spool::append_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppendOutcome {
    /// Records written.
    pub appended: u64,
    /// Records dropped because of the byte cap.
    pub dropped_cap: u64,
}

/// How often opening a writer tries the lock (5 ms apart) before it reports `Locked`.
const WRITER_LOCK_ATTEMPTS: u32 = 20;

/// Takes the advisory lock `name` in `dir` without waiting.
pub(crate) fn lock(dir: &Path, name: &str) -> io::Result<Option<File>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(segment::FILE_MODE)
        .open(dir.join(name))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

struct Writer {
    file: File,
    segment: u64,
    len: u64,
    /// Bytes of all segments, as last counted plus what this writer appended since.
    disk: u64,
    last_count: Instant,
    last_sync: Instant,
    unsynced: bool,
}

/// The writing side of a spool: appends records as CRC-32C frames to the current segment,
/// starts a new segment at [`SpoolConfig::segment_bytes`], and refuses (and counts) records
/// beyond [`SpoolConfig::max_bytes`].
///
/// Opening recovers from a crash: a partially written frame at the end of the newest segment
/// is cut off and counted ([`SpoolStats::torn_frames`]), never a panic; then a fresh segment
/// is started, so a segment is never appended to by two writer lifetimes.
///
/// ```
/// use biv_availability::shipping::{Spool, SpoolConfig, SpoolReader};
///
/// let dir = std::env::temp_dir().join(format!("biv-doc-spool-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let spool = Spool::open(&dir, SpoolConfig::new())?;
/// spool.append(&biv_testkit::sample_log_record(1))?;
/// spool.sync()?;
///
/// let mut reader = SpoolReader::open(&dir)?;
/// let batch = reader.read(reader.acked(), 1 << 20, 100)?;
/// assert_eq!(batch.records.len(), 1);
/// reader.ack(batch.next)?; // shipped: segments before it may go
/// # drop(spool); drop(reader); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Spool {
    dir: PathBuf,
    config: SpoolConfig,
    writer: Mutex<Writer>,
    stats: Arc<SpoolStats>,
    id_prefix: [u8; 8],
    id_counter: AtomicU64,
    _lock: File,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// How often the writer recounts the segments on disk when the cap is near (the shipper,
/// possibly another process, deletes acknowledged segments).
const RECOUNT_EVERY: Duration = Duration::from_millis(20);

impl Spool {
    /// Opens (creating if needed) the spool in `dir` for writing, with fresh counters.
    ///
    /// # Errors
    /// [`SpoolOpenError::Locked`] when another writer has it open, [`SpoolOpenError::Io`]
    /// when the directory cannot be used.
    pub fn open(dir: impl AsRef<Path>, config: SpoolConfig) -> Result<Self, SpoolOpenError> {
        Self::open_with_stats(dir, config, Arc::new(SpoolStats::default()))
    }

    /// As [`Spool::open`], counting into `stats` (for example counters already registered).
    ///
    /// # Errors
    /// As [`Spool::open`].
    pub fn open_with_stats(
        dir: impl AsRef<Path>,
        config: SpoolConfig,
        stats: Arc<SpoolStats>,
    ) -> Result<Self, SpoolOpenError> {
        let dir = dir.as_ref().to_path_buf();
        let io_err = |source| SpoolOpenError::Io {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io_err)?;
        // A reader probes the writer's lock for an instant (to tell whether the newest segment
        // is finished): a short, bounded retry keeps that probe from refusing a writer.
        let mut held = None;
        for attempt in 0..WRITER_LOCK_ATTEMPTS {
            held = lock(&dir, WRITER_LOCK).map_err(io_err)?;
            if held.is_some() {
                break;
            }
            if attempt + 1 < WRITER_LOCK_ATTEMPTS {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        let lock = held.ok_or_else(|| SpoolOpenError::Locked {
            dir: dir.clone(),
            role: "writer",
        })?;
        let next = recover(&dir, &stats).map_err(io_err)?;
        let file = segment::create(&dir, next).map_err(io_err)?;
        let disk = segment::total_bytes(&dir).map_err(io_err)?;
        stats.set_bytes(disk);
        let mut id_prefix = [0u8; 8];
        if getrandom::fill(&mut id_prefix).is_err() {
            // Without randomness, the time keeps ids of two writer lifetimes apart.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            id_prefix = (nanos as u64).to_le_bytes();
        }
        let now = Instant::now();
        Ok(Spool {
            dir,
            config,
            writer: Mutex::new(Writer {
                file,
                segment: next,
                len: segment::HEADER_LEN,
                disk,
                last_count: now,
                last_sync: now,
                unsynced: false,
            }),
            stats,
            id_prefix,
            id_counter: AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The counters (shared; register them with a metrics registry).
    pub fn stats(&self) -> Arc<SpoolStats> {
        Arc::clone(&self.stats)
    }

    /// A fresh record id for a record that has none yet: this writer's random 8-byte prefix and
    /// a counter. Unique across writer lifetimes with overwhelming probability.
    pub fn next_record_id(&self) -> RecordId {
        let n = self.id_counter.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.id_prefix);
        id[8..].copy_from_slice(&n.to_be_bytes());
        RecordId::from_bytes(id)
    }

    /// Appends one record.
    ///
    /// # Errors
    /// [`AppendError::Cap`] when the byte cap would be exceeded, [`AppendError::Io`] when the
    /// segment could not be written. Either way the drop is counted.
    pub fn append(&self, record: &LogRecord) -> Result<(), AppendError> {
        let outcome = self.append_batch(std::slice::from_ref(record))?;
        if outcome.dropped_cap > 0 {
            return Err(AppendError::Cap {
                max_bytes: self.config.max_bytes,
            });
        }
        Ok(())
    }

    /// Appends records in order with one write per segment touched. Records over the byte cap
    /// are dropped and counted; the others are written.
    ///
    /// # Errors
    /// [`AppendError::Io`] when a segment could not be written; the records of the failed write
    /// are counted as dropped (`io`).
    pub fn append_batch(&self, records: &[LogRecord]) -> Result<AppendOutcome, AppendError> {
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut outcome = AppendOutcome::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut in_buf = 0u64;
        for record in records {
            let frame = frame::frame_of(record);
            let flen = frame.len() as u64;
            if w.disk + buf.len() as u64 + flen > self.config.max_bytes {
                self.recount(&mut w, false);
                if w.disk + buf.len() as u64 + flen > self.config.max_bytes {
                    outcome.dropped_cap += 1;
                    self.stats.add_dropped(DropReason::Cap, 1);
                    continue;
                }
            }
            let seg_len = w.len + buf.len() as u64;
            if seg_len > segment::HEADER_LEN && seg_len + flen > self.config.segment_bytes {
                if let Err(e) = self.write_out(&mut w, &buf, in_buf) {
                    return Err(self.io_failure(e, records, &outcome));
                }
                outcome.appended += in_buf;
                buf.clear();
                in_buf = 0;
                if let Err(e) = self.roll(&mut w) {
                    return Err(self.io_failure(e, records, &outcome));
                }
            }
            buf.extend_from_slice(&frame);
            in_buf += 1;
        }
        if let Err(e) = self.write_out(&mut w, &buf, in_buf) {
            return Err(self.io_failure(e, records, &outcome));
        }
        outcome.appended += in_buf;
        if let Err(e) = self.maybe_sync(&mut w) {
            return Err(AppendError::Io(e));
        }
        Ok(outcome)
    }

    /// Counts the records of a failed write and of the rest of the batch as dropped (`io`).
    fn io_failure(
        &self,
        e: io::Error,
        records: &[LogRecord],
        outcome: &AppendOutcome,
    ) -> AppendError {
        let lost = (records.len() as u64).saturating_sub(outcome.appended + outcome.dropped_cap);
        self.stats.add_dropped(DropReason::Io, lost);
        AppendError::Io(e)
    }

    fn write_out(&self, w: &mut Writer, buf: &[u8], n: u64) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = w.file.write_all(buf) {
            // Cut a partial write off so the segment keeps ending with a whole frame.
            let _ = w.file.set_len(w.len);
            return Err(e);
        }
        w.len += buf.len() as u64;
        w.disk += buf.len() as u64;
        w.unsynced = true;
        self.stats.add_appended(n);
        self.stats.set_bytes(w.disk);
        Ok(())
    }

    fn roll(&self, w: &mut Writer) -> io::Result<()> {
        w.file.sync_data()?;
        w.unsynced = false;
        let next = w.segment + 1;
        w.file = segment::create(&self.dir, next)?;
        w.segment = next;
        w.len = segment::HEADER_LEN;
        w.disk += segment::HEADER_LEN;
        self.stats.set_bytes(w.disk);
        Ok(())
    }

    /// Recounts the bytes on disk (at most every [`RECOUNT_EVERY`] unless `force`).
    fn recount(&self, w: &mut Writer, force: bool) {
        if !force && w.last_count.elapsed() < RECOUNT_EVERY {
            return;
        }
        if let Ok(total) = segment::total_bytes(&self.dir) {
            w.disk = total;
            self.stats.set_bytes(total);
        }
        w.last_count = Instant::now();
    }

    fn maybe_sync(&self, w: &mut Writer) -> io::Result<()> {
        if !w.unsynced {
            return Ok(());
        }
        let due = match self.config.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(every) => w.last_sync.elapsed() >= every,
            FsyncPolicy::OsManaged => false,
        };
        if due {
            w.file.sync_data()?;
            w.unsynced = false;
            w.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Forces every appended frame to disk.
    ///
    /// # Errors
    /// The I/O error of the fsync.
    pub fn sync(&self) -> io::Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        w.file.sync_data()?;
        w.unsynced = false;
        w.last_sync = Instant::now();
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let w = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = w.file.sync_data();
    }
}

/// Crash recovery of the writer: cuts a torn tail off the newest segment (counted), removes a
/// newest segment that holds no frame, and returns the id of the segment to start: after the
/// newest one, and never at or before a segment the reader has already moved past (its
/// segments may all be deleted, but a new one must not hide behind the acknowledged position).
fn recover(dir: &Path, stats: &SpoolStats) -> io::Result<u64> {
    let floor = match ack::load(dir)? {
        ack::Stored::At(pos) if pos.offset > segment::HEADER_LEN => pos.segment.saturating_add(1),
        ack::Stored::At(pos) => pos.segment,
        ack::Stored::Missing | ack::Stored::Invalid => 1,
    }
    .max(1);
    let ids = segment::list(dir)?;
    let Some(&last) = ids.last() else {
        return Ok(floor);
    };
    let next = last.saturating_add(1).max(floor);
    let path = segment::path(dir, last);
    let bytes = std::fs::read(&path)?;
    let header_len = segment::HEADER_LEN as usize;
    let frames_after_header = bytes.len() > header_len
        && (segment::header_ok(&bytes)
            // (the search starts one byte into the slice: at the first frame's offset)
            || frame::next_record_frame(bytes.get(header_len - 1..).unwrap_or_default())
                .is_some());
    if !frames_after_header {
        // Created but never written (a crash before or after the header): nothing to keep.
        if !bytes.is_empty() && !segment::header_ok(&bytes) {
            stats.add_torn(bytes.len() as u64);
        }
        std::fs::remove_file(&path)?;
        segment::sync_dir(dir)?;
        return Ok(next);
    }
    if !segment::header_ok(&bytes) {
        // A damaged header over whole frames: left in place for the reader (which reads from
        // the first frame on), never appended to again.
        return Ok(next);
    }
    let scan = segment::scan(&bytes);
    if let segment::Tail::Torn(torn) = scan.tail {
        // Cut only a real torn tail: whole frames after a "short" one mean its length was
        // damaged, and the reader skips just that frame.
        let tail = bytes.get(scan.valid_end as usize..).unwrap_or_default();
        if frame::next_record_frame(tail).is_none() {
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(scan.valid_end)?;
            file.sync_all()?;
            stats.add_torn(torn);
        }
    }
    // A corrupt frame is left in place: the reader reports it and skips it, and the segment
    // is never appended to again.
    Ok(next)
}
