//! [`WriterSink`]: the default [`LogSink`] — a bounded queue and a thread writing lines to
//! stdout, a file, or any writer; Filebeat or rsyslog ship what it writes. For a file, give it a
//! [`RotatingFile`](super::RotatingFile): rotation by size and UTC day, lines kept whole.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::{Collector, MetricFamily, MetricKind, Sample, SampleValue};
use biv_core::{BackendError, LogFlushError, LogRecord, LogSink, LogSubmitError};

#[derive(Debug, Default)]
struct Progress {
    /// Records accepted and not yet written.
    pending: Mutex<u64>,
    written: Condvar,
    /// The error of the last write, cleared by the next write that succeeds; `flush` reports it.
    failed: Mutex<Option<String>>,
    /// Records accepted but not written because the writer failed.
    lost: AtomicU64,
}

/// How long a writer that answers `WouldBlock` (a non-blocking stdout, a full pipe) is waited
/// for before the batch counts as failed.
const STALL_LIMIT: Duration = Duration::from_secs(5);

/// Writes all of `bytes`, retrying `Interrupted` and waiting out `WouldBlock` up to
/// [`STALL_LIMIT`], then flushes. Returns how many bytes were written and the outcome.
fn write_patiently(writer: &mut impl Write, bytes: &[u8]) -> (usize, std::io::Result<()>) {
    use std::io::ErrorKind;
    let mut written = 0;
    let mut stalled_since: Option<Instant> = None;
    let stalled = |since: &mut Option<Instant>| {
        let first = *since.get_or_insert_with(Instant::now);
        if first.elapsed() > STALL_LIMIT {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
        false
    };
    while written < bytes.len() {
        match writer.write(&bytes[written..]) {
            Ok(0) => return (written, Err(ErrorKind::WriteZero.into())),
            Ok(n) => {
                written += n;
                stalled_since = None;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stalled(&mut stalled_since) {
                    return (written, Err(e));
                }
            }
            Err(e) => return (written, Err(e)),
        }
    }
    loop {
        match writer.flush() {
            Ok(()) => return (written, Ok(())),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stalled(&mut stalled_since) {
                    return (written, Err(e));
                }
            }
            Err(e) => return (written, Err(e)),
        }
    }
}

/// A [`LogSink`] that never blocks its caller: `submit` puts the record in a bounded queue (a
/// full queue refuses it, counted as `full`), and a thread writes one line per record. A writer
/// answering `WouldBlock` is waited for (up to five seconds per batch); records a failing writer
/// could not take are counted ([`WriterSink::lost_records`]) and the next records are tried
/// again, so one bad moment of the disk does not silence the log for good. To write a rotated
/// file, pass a [`RotatingFile`](super::RotatingFile) as the writer.
///
/// ```
/// use std::time::Duration;
/// use biv_availability::logging::WriterSink;
/// use biv_core::LogSink;
///
/// let sink = WriterSink::new(Vec::<u8>::new(), 1024)?; // or std::io::stdout()
/// sink.submit(biv_testkit::sample_log_record(1))?;
/// sink.flush(Duration::from_secs(1))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WriterSink {
    tx: Option<SyncSender<LogRecord>>,
    progress: Arc<Progress>,
    full: AtomicU64,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for WriterSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterSink")
            .field("full_drops", &self.full.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl WriterSink {
    /// A sink writing to `writer` through a queue of `capacity` records.
    ///
    /// # Errors
    /// An I/O error when the writing thread cannot be started.
    pub fn new(writer: impl Write + Send + 'static, capacity: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<LogRecord>(capacity.max(1));
        let progress = Arc::new(Progress::default());
        let thread_progress = Arc::clone(&progress);
        let thread = std::thread::Builder::new()
            .name("biv-log-writer".into())
            .spawn(move || {
                let mut writer = writer;
                // Set when a failed write left half a line behind: the next write starts a
                // new line, so one lost record does not corrupt the next.
                let mut torn = false;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter().take(1023));
                    let mut bytes = Vec::with_capacity(batch.len() * 256);
                    if torn {
                        bytes.push(b'\n');
                    }
                    let mut ends = Vec::with_capacity(batch.len());
                    for record in &batch {
                        bytes.extend_from_slice(record.line().as_bytes());
                        bytes.push(b'\n');
                        ends.push(bytes.len());
                    }
                    let (written, result) = write_patiently(&mut writer, &bytes);
                    let mut failed = thread_progress
                        .failed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match result {
                        Ok(()) => {
                            torn = false;
                            *failed = None;
                        }
                        Err(e) => {
                            let lost = ends.iter().filter(|&&end| end > written).count();
                            thread_progress
                                .lost
                                .fetch_add(lost as u64, Ordering::Relaxed);
                            torn = written > 0 && !ends.contains(&written);
                            *failed = Some(e.to_string());
                        }
                    }
                    drop(failed);
                    let mut pending = thread_progress
                        .pending
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    *pending = pending.saturating_sub(batch.len() as u64);
                    thread_progress.written.notify_all();
                }
            })?;
        Ok(WriterSink {
            tx: Some(tx),
            progress,
            full: AtomicU64::new(0),
            thread: Some(thread),
        })
    }

    /// A sink on standard output with a queue of 65,536 records.
    ///
    /// # Errors
    /// As [`WriterSink::new`].
    pub fn stdout() -> std::io::Result<Self> {
        Self::new(std::io::stdout(), 65_536)
    }

    /// Records refused because the queue was full.
    pub fn full_drops(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }

    /// Records accepted but lost because the writer failed (after waiting out `WouldBlock`).
    /// The writer is tried again with the next records; `flush` reports the last failure until
    /// a write succeeds.
    pub fn lost_records(&self) -> u64 {
        self.progress.lost.load(Ordering::Relaxed)
    }
}

/// Exposes [`WriterSink::lost_records`] as `biv_log_records_lost_total`.
impl Collector for WriterSink {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        out.push(
            MetricFamily::new(
                "biv_log_records_lost",
                "Log records accepted by the writer sink but lost because the writer failed.",
                MetricKind::Counter,
            )
            .with_sample(Sample::new(
                Vec::new(),
                SampleValue::Counter(self.lost_records()),
            )),
        );
    }
}

impl LogSink for WriterSink {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        let tx = self.tx.as_ref().ok_or(LogSubmitError::Closed)?;
        *self
            .progress
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        match tx.try_send(record) {
            Ok(()) => Ok(()),
            Err(e) => {
                let mut pending = self
                    .progress
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *pending = pending.saturating_sub(1);
                match e {
                    TrySendError::Full(_) => {
                        self.full.fetch_add(1, Ordering::Relaxed);
                        Err(LogSubmitError::Full)
                    }
                    TrySendError::Disconnected(_) => Err(LogSubmitError::Closed),
                }
            }
        }
    }

    fn flush(&self, timeout: Duration) -> Result<(), LogFlushError> {
        let deadline = Instant::now() + timeout;
        let mut pending = self
            .progress
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LogFlushError::Timeout { pending: *pending });
            }
            pending = self
                .progress
                .written
                .wait_timeout(pending, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        drop(pending);
        match self
            .progress
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            Some(why) => Err(LogFlushError::Backend(BackendError::msg(why))),
            None => Ok(()),
        }
    }
}

impl Drop for WriterSink {
    fn drop(&mut self) {
        // Closing the queue lets the thread write what is queued and end.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
