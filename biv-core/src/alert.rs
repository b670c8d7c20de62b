//! Alerts and the [`Notifier`] that delivers them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{InvalidName, check_name};
use crate::{BackendError, Timestamp};

/// How urgent an alert is. Serialized lower-case, as the `severity` label Alertmanager routes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// For the daily review; nobody is woken.
    Info,
    /// A deviation that needs attention during working hours.
    Warning,
    /// Act now: an outage, a failed audit append, a break-glass access.
    Critical,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Why an [`Alert`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// A label name is not a valid Prometheus label name.
    #[error(transparent)]
    LabelName(#[from] InvalidName),
    /// A label or annotation value is empty (Alertmanager drops empty labels).
    #[error("label `{0}` has an empty value")]
    EmptyLabelValue(String),
    /// `ends_at` lies before `starts_at`.
    #[error("alert ends before it starts")]
    EndsBeforeStart,
}

/// An alert in the shape of the Alertmanager v2 API: labels identify it, annotations describe it.
///
/// The `alertname` label is required and set by [`Alert::new`]; `severity` is kept as a label
/// too, so routing works unchanged. An alert with `ends_at` in the past is resolved.
///
/// ```
/// use biv_core::{Alert, Severity, Timestamp};
///
/// let alert = Alert::new("BivAuditAppendFailing", Severity::Critical, Timestamp::UNIX_EPOCH)?
///     .with_label("service", "ehr-api")?
///     .with_annotation("summary", "audit appends time out; patient reads are refused");
/// assert_eq!(alert.labels()["alertname"], "BivAuditAppendFailing");
/// assert_eq!(alert.labels()["severity"], "critical");
/// # Ok::<(), biv_core::AlertError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Alert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    severity: Severity,
    starts_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ends_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

fn check_label_name(name: &str) -> Result<(), InvalidName> {
    check_name(
        "label name",
        name,
        128,
        |b| b.is_ascii_alphabetic() || b == b'_',
        |b| b.is_ascii_alphanumeric() || b == b'_',
        "[a-zA-Z_][a-zA-Z0-9_]* (Prometheus label name), at most 128",
    )
}

impl Alert {
    /// A firing alert named `alertname`.
    ///
    /// # Errors
    /// [`AlertError::LabelName`] if the name is empty or longer than 128 bytes.
    pub fn new(
        alertname: impl Into<String>,
        severity: Severity,
        starts_at: Timestamp,
    ) -> Result<Self, AlertError> {
        let alertname = alertname.into();
        if alertname.is_empty() || alertname.len() > 128 {
            return Err(InvalidName::new("alertname", &alertname, "1-128 bytes").into());
        }
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_owned(), alertname);
        labels.insert("severity".to_owned(), severity.as_str().to_owned());
        Ok(Alert {
            labels,
            annotations: BTreeMap::new(),
            severity,
            starts_at,
            ends_at: None,
            generator_url: None,
        })
    }

    /// Adds or replaces a label. `alertname` and `severity` cannot be changed this way.
    ///
    /// # Errors
    /// [`AlertError`] for an invalid name, an empty value, or a reserved label.
    pub fn with_label(mut self, name: &str, value: impl Into<String>) -> Result<Self, AlertError> {
        check_label_name(name)?;
        if name == "alertname" || name == "severity" {
            return Err(InvalidName::new("label name", name, "set by Alert::new").into());
        }
        let value = value.into();
        if value.is_empty() {
            return Err(AlertError::EmptyLabelValue(name.to_owned()));
        }
        self.labels.insert(name.to_owned(), value);
        Ok(self)
    }

    /// Adds or replaces an annotation (`summary`, `description`, `runbook_url`, …).
    #[must_use]
    pub fn with_annotation(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(name.into(), value.into());
        self
    }

    /// Sets the URL of what generated the alert.
    #[must_use]
    pub fn with_generator_url(mut self, url: impl Into<String>) -> Self {
        self.generator_url = Some(url.into());
        self
    }

    /// Marks the alert resolved at `ends_at`.
    ///
    /// # Errors
    /// [`AlertError::EndsBeforeStart`].
    pub fn resolved_at(mut self, ends_at: Timestamp) -> Result<Self, AlertError> {
        if ends_at < self.starts_at {
            return Err(AlertError::EndsBeforeStart);
        }
        self.ends_at = Some(ends_at);
        Ok(self)
    }

    /// The labels, including `alertname` and `severity`.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The annotations.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }

    /// The severity.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// The alert's name.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// When it started.
    pub fn starts_at(&self) -> Timestamp {
        self.starts_at
    }

    /// When it ended, if resolved.
    pub fn ends_at(&self) -> Option<Timestamp> {
        self.ends_at
    }

    /// The generator URL, if any.
    pub fn generator_url(&self) -> Option<&str> {
        self.generator_url.as_deref()
    }

    /// Whether the alert is resolved at `now`.
    pub fn is_resolved_at(&self, now: Timestamp) -> bool {
        self.ends_at.is_some_and(|end| end <= now)
    }
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The receiver refused the alert (an HTTP 4xx, a validation error); retrying will not help.
    #[error("alert rejected by the receiver: {0}")]
    Rejected(String),
    /// The receiver could not be reached or answered with a temporary error; retry later.
    #[error("alert receiver unavailable: {0}")]
    Unavailable(#[source] BackendError),
    /// The notifier's queue is full; the alert was dropped and counted.
    #[error("alert queue full; alert dropped")]
    QueueFull,
    /// The notifier was shut down.
    #[error("notifier is closed")]
    Closed,
}

/// Delivers alerts to people: Alertmanager, a webhook, e-mail, a pager.
///
/// Implementations never block the caller for long (house rule: availability controls never stall
/// the host): they queue, or time out quickly and return [`NotifyError::Unavailable`].
///
/// # Example
/// ```
/// use biv_core::{Alert, Notifier, NotifyError, Severity, Timestamp};
///
/// async fn page(notifier: &dyn Notifier, now: Timestamp) -> Result<(), Box<dyn std::error::Error>> {
///     let alert = Alert::new("BivHealthFailing", Severity::Critical, now)?;
///     notifier.notify(&alert).await?;
///     Ok(())
/// }
/// ```
#[async_trait]
pub trait Notifier: Send + Sync + Debug {
    /// Delivers (or durably queues) one alert.
    ///
    /// # Errors
    /// [`NotifyError`]; on error the alert was not accepted.
    async fn notify(&self, alert: &Alert) -> Result<(), NotifyError>;
}

#[async_trait]
impl<T: Notifier + ?Sized> Notifier for Arc<T> {
    async fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        (**self).notify(alert).await
    }
}

#[async_trait]
impl<T: Notifier + ?Sized> Notifier for Box<T> {
    async fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        (**self).notify(alert).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_prometheus_rules() {
        let a = Alert::new("X", Severity::Warning, Timestamp::UNIX_EPOCH).unwrap();
        assert!(a.clone().with_label("ok_name1", "v").is_ok());
        assert!(a.clone().with_label("1bad", "v").is_err());
        assert!(a.clone().with_label("bad-name", "v").is_err());
        assert!(matches!(
            a.clone().with_label("team", ""),
            Err(AlertError::EmptyLabelValue(_))
        ));
        assert!(a.clone().with_label("severity", "info").is_err());
        assert!(Alert::new("", Severity::Info, Timestamp::UNIX_EPOCH).is_err());
    }

    #[test]
    fn resolution() {
        let start = Timestamp::from_unix_seconds(100, 0).unwrap();
        let a = Alert::new("X", Severity::Info, start).unwrap();
        assert!(!a.is_resolved_at(start));
        assert!(matches!(
            a.clone().resolved_at(Timestamp::UNIX_EPOCH),
            Err(AlertError::EndsBeforeStart)
        ));
        let r = a
            .resolved_at(Timestamp::from_unix_seconds(160, 0).unwrap())
            .unwrap();
        assert!(r.is_resolved_at(Timestamp::from_unix_seconds(160, 0).unwrap()));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Alert>(&json).unwrap(), r);
    }
}
