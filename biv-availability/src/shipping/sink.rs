//! [`SpoolSink`]: a [`LogSink`] that writes records into a [`Spool`] from a background thread,
//! so the application's thread waits at most its time budget.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use biv_core::{BackendError, LogFlushError, LogRecord, LogSink, LogSubmitError};

use super::spool::Spool;
use super::stats::{DropReason, SpoolStats};

/// How a [`SpoolSink`] queues records in memory before the spool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpoolSinkConfig {
    /// Bytes of record lines the in-memory queue holds at most (default 8 MiB).
    pub queue_bytes: usize,
    /// The longest `submit` waits for room in a full queue before it drops the record
    /// (counted as `budget`). Default 1 ms; zero never waits.
    pub budget: Duration,
}

impl Default for SpoolSinkConfig {
    fn default() -> Self {
        SpoolSinkConfig {
            queue_bytes: 8 << 20,
            budget: Duration::from_millis(1),
        }
    }
}

impl SpoolSinkConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`SpoolSinkConfig::queue_bytes`].
    #[must_use]
    pub fn with_queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Sets [`SpoolSinkConfig::budget`].
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<LogRecord>,
    bytes: usize,
    /// Accepted and not yet handed to the spool (queued or being written).
    pending: u64,
    closed: bool,
    failed: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when records are queued or the sink closes.
    queued: Condvar,
    /// Signalled when records leave the queue or are written.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`LogSink`] writing into a durable [`Spool`]. `submit` puts the record into a bounded
/// in-memory queue and returns; a thread appends queued records to the spool in batches. When
/// the queue is full, `submit` waits for room at most [`SpoolSinkConfig::budget`], then drops
/// the record and counts it (`biv_spool_records_dropped_total{reason="budget"}`). Records the
/// spool's byte cap refuses are counted as `cap`.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use biv_availability::shipping::{Spool, SpoolConfig, SpoolSink, SpoolSinkConfig};
/// use biv_core::LogSink;
///
/// let dir = std::env::temp_dir().join(format!("biv-doc-sink-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let spool = Arc::new(Spool::open(&dir, SpoolConfig::new())?);
/// let sink = SpoolSink::new(spool.clone(), SpoolSinkConfig::new().with_budget(Duration::from_millis(2)))?;
/// sink.submit(biv_testkit::sample_log_record(1))?;
/// sink.flush(Duration::from_secs(5))?; // queued records are in the spool and synced
/// assert_eq!(spool.stats().appended(), 1);
/// # drop(sink); drop(spool); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SpoolSink {
    shared: Arc<Shared>,
    spool: Arc<Spool>,
    config: SpoolSinkConfig,
    stats: Arc<SpoolStats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SpoolSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolSink")
            .field("spool", &self.spool.dir())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Records the writer thread takes from the queue at a time.
const BATCH: usize = 4096;

impl SpoolSink {
    /// A sink writing into `spool`.
    ///
    /// # Errors
    /// The I/O error when the writer thread cannot be started.
    pub fn new(spool: Arc<Spool>, config: SpoolSinkConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let stats = spool.stats();
        let thread = {
            let shared = Arc::clone(&shared);
            let spool = Arc::clone(&spool);
            std::thread::Builder::new()
                .name("biv-spool-writer".into())
                .spawn(move || write_loop(&shared, &spool))?
        };
        Ok(SpoolSink {
            shared,
            spool,
            config,
            stats,
            thread: Some(thread),
        })
    }

    /// The spool's counters.
    pub fn stats(&self) -> Arc<SpoolStats> {
        Arc::clone(&self.stats)
    }
}

fn write_loop(shared: &Shared, spool: &Spool) {
    loop {
        let batch: Vec<LogRecord> = {
            let mut state = shared.lock();
            while state.queue.is_empty() && !state.closed {
                state = shared
                    .queued
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.queue.is_empty() {
                return;
            }
            let n = state.queue.len().min(BATCH);
            let batch: Vec<LogRecord> = state.queue.drain(..n).collect();
            let bytes: usize = batch.iter().map(|r| r.line().len()).sum();
            state.bytes = state.bytes.saturating_sub(bytes);
            shared.drained.notify_all();
            batch
        };
        let result = spool.append_batch(&batch);
        let mut state = shared.lock();
        // A failed write is counted by the spool (`io`); flush reports it until a write
        // succeeds.
        state.failed = result.err().map(|e| e.to_string());
        state.pending = state.pending.saturating_sub(batch.len() as u64);
        shared.drained.notify_all();
    }
}

impl LogSink for SpoolSink {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        let len = record.line().len();
        let mut state = self.shared.lock();
        if state.closed {
            self.stats.add_dropped(DropReason::Closed, 1);
            return Err(LogSubmitError::Closed);
        }
        // A record larger than the whole queue is let in when the queue is empty.
        let fits = |s: &State| s.bytes == 0 || s.bytes + len <= self.config.queue_bytes;
        if !fits(&state) {
            let deadline = Instant::now() + self.config.budget;
            while !fits(&state) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.stats.add_dropped(DropReason::Budget, 1);
                    return Err(LogSubmitError::Full);
                }
                state = self
                    .shared
                    .drained
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        state.bytes += len;
        state.pending += 1;
        state.queue.push_back(record);
        drop(state);
        self.shared.queued.notify_one();
        Ok(())
    }

    fn flush(&self, timeout: Duration) -> Result<(), LogFlushError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LogFlushError::Timeout {
                    pending: state.pending,
                });
            }
            state = self
                .shared
                .drained
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let failed = state.failed.clone();
        drop(state);
        if let Some(why) = failed {
            return Err(LogFlushError::Backend(BackendError::msg(why)));
        }
        self.spool
            .sync()
            .map_err(|e| LogFlushError::Backend(BackendError::new(e)))
    }
}

impl Drop for SpoolSink {
    fn drop(&mut self) {
        // The thread writes what is queued, then ends.
        self.shared.lock().closed = true;
        self.shared.queued.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
