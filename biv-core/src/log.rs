//! Log records and the [`LogSink`] that carries them out of the process.

use std::fmt::{self, Debug};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{BackendError, Timestamp};

/// The largest record a sink must accept: 1 MiB, as Elasticsearch's default `http.max_content_length` is far above it
/// and rsyslog's default `maxMessageSize` can be raised to it.
pub const MAX_LOG_RECORD_BYTES: usize = 1 << 20;

/// Severity of a log record; serialized lower-case as ECS `log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the service survived.
    Warn,
    /// A failure someone must look at.
    Error,
}

impl Level {
    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Which stream a record belongs to; becomes ECS `event.dataset` and decides retention and review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Dataset {
    /// HTTP access logs.
    Access,
    /// Host and runtime events.
    System,
    /// The application's own logs.
    Application,
    /// Audit trail mirrors (the audit log itself lives in the Merkle log).
    Audit,
}

impl Dataset {
    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Dataset::Access => "access",
            Dataset::System => "system",
            Dataset::Application => "application",
            Dataset::Audit => "audit",
        }
    }
}

/// A 128-bit record id, written as 32 lower-case hex digits. Shippers use it as the
/// Elasticsearch `_id` with `create`, so a retried delivery never duplicates a record.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId([u8; 16]);

impl RecordId {
    /// An id from 16 bytes (random, or a counter with a process nonce).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        RecordId(bytes)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

/// Why a [`LogRecord`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogRecordError {
    /// The line is not a single JSON object on one line.
    #[error("a log record is one JSON object on one line (no CR or LF)")]
    NotOneJsonObject,
    /// The line is larger than [`MAX_LOG_RECORD_BYTES`].
    #[error("log record of {0} bytes exceeds {MAX_LOG_RECORD_BYTES} bytes")]
    TooLarge(usize),
}

/// One log record, already encoded as a single-line ECS JSON object and already redacted.
///
/// Formatting (the ECS layer) and transport (a [`LogSink`]) are separate: a sink never parses
/// or changes the line, so every sink ships byte-identical records. The metadata beside the
/// line (id, time, level, dataset) lets sinks route, index and count without parsing.
///
/// ```
/// use biv_core::{Dataset, Level, LogRecord, RecordId, Timestamp};
///
/// let rec = LogRecord::new(
///     RecordId::from_bytes([1; 16]),
///     Timestamp::UNIX_EPOCH,
///     Level::Info,
///     Dataset::Application,
///     r#"{"@timestamp":"1970-01-01T00:00:00.000Z","log.level":"info","message":"started"}"#,
/// )?;
/// assert!(LogRecord::new(rec.id(), rec.time(), Level::Info, Dataset::System, "{\n}").is_err());
/// # Ok::<(), biv_core::LogRecordError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LogRecord {
    id: RecordId,
    time: Timestamp,
    level: Level,
    dataset: Dataset,
    line: String,
}

impl LogRecord {
    /// Wraps an encoded line. Checks only the framing (one `{…}` without CR/LF, size limit);
    /// the encoder is responsible for valid JSON.
    ///
    /// # Errors
    /// [`LogRecordError`] when the framing rule or the size limit is broken.
    pub fn new(
        id: RecordId,
        time: Timestamp,
        level: Level,
        dataset: Dataset,
        line: impl Into<String>,
    ) -> Result<Self, LogRecordError> {
        let line = line.into();
        if line.len() > MAX_LOG_RECORD_BYTES {
            return Err(LogRecordError::TooLarge(line.len()));
        }
        let framed = line.starts_with('{') && line.ends_with('}') && line.len() >= 2;
        // One pass without an early exit: the compiler turns it into SIMD compares, several
        // times faster than two of core's word-at-a-time `contains` (or a byte loop that stops
        // at the first hit), and every line the log layers build goes through here.
        let breaks = line
            .as_bytes()
            .iter()
            .fold(false, |found, &b| found | (b == b'\n') | (b == b'\r'));
        if !framed || breaks {
            return Err(LogRecordError::NotOneJsonObject);
        }
        Ok(LogRecord {
            id,
            time,
            level,
            dataset,
            line,
        })
    }

    /// The record id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The event time.
    pub fn time(&self) -> Timestamp {
        self.time
    }

    /// The level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The dataset.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// The encoded JSON line, without a newline.
    pub fn line(&self) -> &str {
        &self.line
    }
}

impl Debug for LogRecord {
    // The line is redacted already, but Debug output ends up in panics and test logs: show the
    // metadata and the size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogRecord")
            .field("id", &self.id)
            .field("time", &self.time)
            .field("level", &self.level)
            .field("dataset", &self.dataset)
            .field("bytes", &self.line.len())
            .finish()
    }
}

/// Why a record was not accepted. Each variant is a drop reason with its own counter
/// ([`LogSubmitError::reason`]): nothing is lost silently.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogSubmitError {
    /// The sink's bounded queue or spool is full.
    #[error("log sink full; record dropped")]
    Full,
    /// The sink was shut down.
    #[error("log sink closed; record dropped")]
    Closed,
    /// The sink could not store the record.
    #[error("log sink failed: {0}")]
    Backend(#[source] BackendError),
}

impl LogSubmitError {
    /// A stable, metric-friendly name for the drop reason: `full`, `closed` or `backend`.
    pub fn reason(&self) -> &'static str {
        match self {
            LogSubmitError::Full => "full",
            LogSubmitError::Closed => "closed",
            LogSubmitError::Backend(_) => "backend",
        }
    }
}

/// Why a flush did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogFlushError {
    /// Records were still pending when the time ran out.
    #[error("{pending} log records still pending after the flush timeout")]
    Timeout {
        /// How many records were not yet written.
        pending: u64,
    },
    /// The sink could not write.
    #[error("log sink failed during flush: {0}")]
    Backend(#[source] BackendError),
}

/// Where log records go: stdout or a file (for Filebeat/rsyslog), a durable spool feeding
/// Elasticsearch, RFC 5424 syslog.
///
/// `submit` is called on the host's hot path and must not block for long: implementations
/// queue the record (bounded) and write in the background, or write within a small time
/// budget. A record that cannot be taken is refused with a [`LogSubmitError`] whose reason is
/// counted (house rule 2).
///
/// # Example
/// ```
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use biv_core::{LogFlushError, LogRecord, LogSink, LogSubmitError};
///
/// /// Writes each record as one line to a `Vec<u8>` (a stand-in for a file).
/// #[derive(Debug, Default)]
/// struct VecSink(Mutex<Vec<u8>>);
///
/// impl LogSink for VecSink {
///     fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
///         let mut out = self.0.lock().map_err(|_| LogSubmitError::Closed)?;
///         out.extend_from_slice(record.line().as_bytes());
///         out.push(b'\n');
///         Ok(())
///     }
///     fn flush(&self, _timeout: Duration) -> Result<(), LogFlushError> { Ok(()) }
/// }
/// ```
pub trait LogSink: Send + Sync + Debug {
    /// Accepts one record for delivery.
    ///
    /// # Errors
    /// [`LogSubmitError`]: the record was dropped, for the reason given.
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError>;

    /// Waits until every accepted record is written (or durably spooled), at most `timeout`.
    ///
    /// # Errors
    /// [`LogFlushError::Timeout`] with the number still pending, or a backend failure.
    fn flush(&self, timeout: Duration) -> Result<(), LogFlushError>;
}

impl<T: LogSink + ?Sized> LogSink for Arc<T> {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        (**self).submit(record)
    }
    fn flush(&self, timeout: Duration) -> Result<(), LogFlushError> {
        (**self).flush(timeout)
    }
}

impl<T: LogSink + ?Sized> LogSink for Box<T> {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        (**self).submit(record)
    }
    fn flush(&self, timeout: Duration) -> Result<(), LogFlushError> {
        (**self).flush(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> Result<LogRecord, LogRecordError> {
        LogRecord::new(
            RecordId::from_bytes([0; 16]),
            Timestamp::UNIX_EPOCH,
            Level::Info,
            Dataset::System,
            line,
        )
    }

    #[test]
    fn framing_is_checked() {
        assert!(rec("{}").is_ok());
        for bad in ["", "{", "}", "[1]", "{\"a\":1}\n", "{\"a\":\r1}", "text"] {
            assert_eq!(
                rec(bad).err(),
                Some(LogRecordError::NotOneJsonObject),
                "{bad:?}"
            );
        }
        // A line break anywhere inside an otherwise framed line, short or long.
        for len in [8, 40, 300] {
            for at in 1..len - 1 {
                for brk in ['\n', '\r'] {
                    let mut line: Vec<char> =
                        format!("{{{}}}", "x".repeat(len - 2)).chars().collect();
                    line[at] = brk;
                    let line: String = line.into_iter().collect();
                    assert_eq!(rec(&line).err(), Some(LogRecordError::NotOneJsonObject));
                }
            }
        }
        let big = format!("{{\"m\":\"{}\"}}", "x".repeat(MAX_LOG_RECORD_BYTES));
        assert!(matches!(rec(&big), Err(LogRecordError::TooLarge(_))));
    }

    #[test]
    fn debug_hides_the_line() {
        let r = rec(r#"{"message":"secret-ish"}"#).unwrap();
        assert!(!format!("{r:?}").contains("secret-ish"));
        assert_eq!(
            RecordId::from_bytes([0xab; 16]).to_string(),
            "ab".repeat(16)
        );
    }
}
