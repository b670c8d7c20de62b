//! The reference deployment's logging: ECS JSON on standard output, redacted by
//! biv-confidentiality's PII redactor before it leaves the process.

use std::sync::Arc;
use std::time::Duration;

use biv_availability::logging::{DropCounters, EcsLayer, ServiceInfo, WriterSink};
use biv_availability::metrics::Collector;
use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
use biv_core::{LogSink, SystemClock};
use tracing_subscriber::prelude::*;

/// Keeps the sink alive; flushes what is queued when dropped at the end of `main`.
#[derive(Debug)]
pub struct LogGuard {
    sink: Arc<WriterSink>,
    drops: Arc<DropCounters>,
}

impl LogGuard {
    /// The metrics of log loss: records the layer could not queue
    /// (`biv_log_records_dropped_total`) and records the writer could not write
    /// (`biv_log_records_lost_total`).
    pub fn collectors(&self) -> [Arc<dyn Collector>; 2] {
        [Arc::clone(&self.drops) as _, Arc::clone(&self.sink) as _]
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let _ = self.sink.flush(Duration::from_secs(2));
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggingError {
    /// The redactor could not be built.
    #[error("redactor: {0}")]
    Redactor(String),
    /// The writer thread could not start.
    #[error("log writer: {0}")]
    Writer(#[from] std::io::Error),
    /// Another global subscriber was installed first.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Installs the ECS layer (with PII redaction) as the process's tracing subscriber.
///
/// # Errors
/// [`LoggingError`].
pub fn install() -> Result<LogGuard, LoggingError> {
    let redactor = PiiRedactor::new(&PiiConfig::default())
        .map_err(|e| LoggingError::Redactor(e.to_string()))?;
    let sink = Arc::new(WriterSink::stdout()?);
    let layer = EcsLayer::new(
        ServiceInfo::new(env!("CARGO_PKG_NAME")).with_version(env!("CARGO_PKG_VERSION")),
        Arc::new(redactor),
        sink.clone(),
        Arc::new(SystemClock::new()),
    );
    let drops = layer.drops();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    Ok(LogGuard { sink, drops })
}
