//! [`WriterSink`]: the default [`LogSink`] — a bounded queue and a thread writing lines to
//! stdout, a file, or any writer; Filebeat or rsyslog ship what it writes.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use biv_core::{BackendError, LogFlushError, LogRecord, LogSink, LogSubmitError};

#[derive(Debug, Default)]
struct Progress {
    /// Records accepted and not yet written.
    pending: Mutex<u64>,
    written: Condvar,
    /// Set when a write failed; later submits are refused with it.
    failed: Mutex<Option<String>>,
}

/// A [`LogSink`] that never blocks its caller: `submit` puts the record in a bounded queue (a
/// full queue refuses it, counted as `full`), and a thread writes one line per record.
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
                let mut out = std::io::BufWriter::new(writer);
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter().take(1023));
                    let mut result = Ok(());
                    for record in &batch {
                        result = result
                            .and_then(|()| out.write_all(record.line().as_bytes()))
                            .and_then(|()| out.write_all(b"\n"));
                    }
                    result = result.and_then(|()| out.flush());
                    if let Err(e) = result {
                        *thread_progress
                            .failed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(e.to_string());
                    }
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
}

impl LogSink for WriterSink {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        if let Some(why) = self
            .progress
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Err(LogSubmitError::Backend(BackendError::msg(why)));
        }
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
