//! [`InMemoryLogSink`]: a bounded [`LogSink`] that keeps records in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use biv_core::{LogFlushError, LogRecord, LogSink, LogSubmitError};

#[derive(Debug)]
struct State {
    records: Vec<LogRecord>,
    dropped: BTreeMap<&'static str, u64>,
    closed: bool,
}

/// A [`LogSink`] for tests: keeps up to `capacity` records, refuses the rest with
/// [`LogSubmitError::Full`], and counts every drop by reason — the same accounting real sinks do.
///
/// ```
/// use biv_core::LogSink;
/// use biv_testkit::{InMemoryLogSink, sample_log_record};
///
/// let sink = InMemoryLogSink::with_capacity(1);
/// sink.submit(sample_log_record(1))?;
/// assert!(sink.submit(sample_log_record(2)).is_err());
/// assert_eq!(sink.records().len(), 1);
/// assert_eq!(sink.dropped("full"), 1);
/// # Ok::<(), biv_core::LogSubmitError>(())
/// ```
#[derive(Debug)]
pub struct InMemoryLogSink {
    capacity: usize,
    state: Mutex<State>,
}

impl InMemoryLogSink {
    /// A sink that holds up to one million records.
    pub fn new() -> Self {
        Self::with_capacity(1_000_000)
    }

    /// A sink that holds up to `capacity` records.
    pub fn with_capacity(capacity: usize) -> Self {
        InMemoryLogSink {
            capacity,
            state: Mutex::new(State {
                records: Vec::new(),
                dropped: BTreeMap::new(),
                closed: false,
            }),
        }
    }

    /// The records accepted so far.
    pub fn records(&self) -> Vec<LogRecord> {
        self.lock().records.clone()
    }

    /// The accepted records' JSON lines.
    pub fn lines(&self) -> Vec<String> {
        self.lock()
            .records
            .iter()
            .map(|r| r.line().to_owned())
            .collect()
    }

    /// How many records were dropped for `reason` (`full`, `closed`).
    pub fn dropped(&self, reason: &str) -> u64 {
        self.lock().dropped.get(reason).copied().unwrap_or(0)
    }

    /// Closes the sink: later submits fail with [`LogSubmitError::Closed`].
    pub fn close(&self) {
        self.lock().closed = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for InMemoryLogSink {
    fn default() -> Self {
        Self::new()
    }
}

impl LogSink for InMemoryLogSink {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        let mut state = self.lock();
        let refusal = if state.closed {
            Some(LogSubmitError::Closed)
        } else if state.records.len() >= self.capacity {
            Some(LogSubmitError::Full)
        } else {
            None
        };
        if let Some(err) = refusal {
            *state.dropped.entry(err.reason()).or_insert(0) += 1;
            return Err(err);
        }
        state.records.push(record);
        Ok(())
    }

    fn flush(&self, _timeout: Duration) -> Result<(), LogFlushError> {
        // Records are "written" the moment they are accepted.
        Ok(())
    }
}
