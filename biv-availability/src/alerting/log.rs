//! [`LogNotifier`]: alerts as log events, for hosts without an Alertmanager (yet).

use async_trait::async_trait;
use biv_core::{Alert, Clock, Notifier, NotifyError, Severity};
use std::sync::Arc;

/// Writes each alert as one `tracing` event, so it reaches the
/// central log (through [`EcsLayer`](crate::logging::EcsLayer), redacted like every record):
///
/// | field | value |
/// |---|---|
/// | level | `ERROR` for critical, `WARN` for warning, `INFO` for info (resolved alerts: `INFO`) |
/// | `message` | the `summary` annotation, or the alert name |
/// | `event.kind` | `alert` |
/// | `event.action` | `firing` or `resolved` |
/// | `rule.name` | the alert name |
/// | `alert.labels` | the labels as `name=value` pairs, comma-separated, in name order |
///
/// It never fails: a log line is the last resort. Where people must be paged, use
/// [`AlertmanagerNotifier`](super::AlertmanagerNotifier) and keep this for the record.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::alerting::LogNotifier;
/// use biv_core::{Alert, Clock, Notifier, Severity, SystemClock};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = Arc::new(SystemClock::new());
/// let notifier = LogNotifier::new(clock.clone());
/// let alert = Alert::new("BivDiskFilling", Severity::Warning, clock.now())?
///     .with_annotation("summary", "the data disk is full within 4 hours");
/// notifier.notify(&alert).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct LogNotifier {
    clock: Arc<dyn Clock>,
}

impl LogNotifier {
    /// A notifier that decides with `clock` whether an alert is resolved.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        LogNotifier { clock }
    }
}

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        let resolved = alert.is_resolved_at(self.clock.now());
        let labels = alert
            .labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let message = alert
            .annotations()
            .get("summary")
            .map_or(alert.name(), String::as_str);
        let action = if resolved { "resolved" } else { "firing" };
        let name = alert.name();
        let labels = labels.as_str();
        match (resolved, alert.severity()) {
            (true, _) | (false, Severity::Info) => tracing::info!(
                event.kind = "alert",
                event.action = action,
                rule.name = name,
                alert.labels = labels,
                "{message}"
            ),
            (false, Severity::Warning) => tracing::warn!(
                event.kind = "alert",
                event.action = action,
                rule.name = name,
                alert.labels = labels,
                "{message}"
            ),
            (false, _) => tracing::error!(
                event.kind = "alert",
                event.action = action,
                rule.name = name,
                alert.labels = labels,
                "{message}"
            ),
        }
        Ok(())
    }
}
