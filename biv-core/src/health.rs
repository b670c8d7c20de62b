//! Health: [`Status`], [`CheckResult`] and the [`Monitor`] trait.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A health status as in draft-inadarei-api-health-check: `pass`, `warn` or `fail`.
///
/// Ordered from best to worst, so the overall status of several checks is their maximum.
///
/// ```
/// use biv_core::Status;
/// let overall = [Status::Pass, Status::Warn, Status::Pass].into_iter().max();
/// assert_eq!(overall, Some(Status::Warn));
/// assert_eq!(Status::Fail.http_status(), 503);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, with a concern (a non-critical dependency is down, a resource runs low).
    Warn,
    /// Unhealthy.
    Fail,
}

impl Status {
    /// The status name used in `application/health+json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// The HTTP status a health endpoint answers with: 200 for pass and warn, 503 for fail.
    pub fn http_status(&self) -> u16 {
        match self {
            Status::Pass | Status::Warn => 200,
            Status::Fail => 503,
        }
    }
}

/// The result of one run of a [`Monitor`].
///
/// The fields map onto the health+json draft's check object: `status`, `observedValue`,
/// `observedUnit`, `output`; the registry that runs the check adds its name and time.
///
/// ```
/// use biv_core::{CheckResult, Status};
/// let r = CheckResult::warn("12% free").with_observed(12.0, "percent");
/// assert_eq!(r.status, Status::Warn);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// The outcome.
    pub status: Status,
    /// A human-readable explanation; for `warn` and `fail` it says what is wrong.
    /// Must not contain secrets or personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// A measured value, if the check measures one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_value: Option<f64>,
    /// The unit of `observed_value` (`ms`, `bytes`, `percent`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_unit: Option<String>,
}

impl CheckResult {
    /// A passing result.
    pub fn pass() -> Self {
        CheckResult {
            status: Status::Pass,
            output: None,
            observed_value: None,
            observed_unit: None,
        }
    }

    /// A warning with an explanation.
    pub fn warn(output: impl Into<String>) -> Self {
        CheckResult {
            status: Status::Warn,
            output: Some(output.into()),
            ..Self::pass()
        }
    }

    /// A failure with an explanation.
    pub fn fail(output: impl Into<String>) -> Self {
        CheckResult {
            status: Status::Fail,
            output: Some(output.into()),
            ..Self::pass()
        }
    }

    /// Adds a measured value and its unit.
    #[must_use]
    pub fn with_observed(mut self, value: f64, unit: impl Into<String>) -> Self {
        self.observed_value = Some(value);
        self.observed_unit = Some(unit.into());
        self
    }
}

/// A health check: a TCP connect, an HTTP GET, a database ping, free disk, a closure.
///
/// A monitor reports problems as a [`CheckResult`] with [`Status::Fail`] or [`Status::Warn`];
/// it has no error type because "the dependency is down" is its answer, not its failure.
/// It must finish within [`Monitor::timeout`]; the registry that runs it enforces that bound
/// too and reports a timeout as `fail`.
///
/// # Example
/// ```
/// use async_trait::async_trait;
/// use biv_core::{CheckResult, Monitor};
///
/// #[derive(Debug)]
/// struct QueueDepth(usize);
///
/// #[async_trait]
/// impl Monitor for QueueDepth {
///     fn name(&self) -> &str { "queue:depth" }
///     async fn check(&self) -> CheckResult {
///         let r = if self.0 < 1000 { CheckResult::pass() } else { CheckResult::warn("queue backing up") };
///         r.with_observed(self.0 as f64, "items")
///     }
/// }
/// ```
#[async_trait]
pub trait Monitor: Send + Sync + Debug {
    /// The check's name as health+json keys it: `component:measurement`, e.g.
    /// `postgres:connections`, `disk:free`.
    fn name(&self) -> &str;

    /// The component type (`datastore`, `system`, `component`, …) for health+json.
    fn component_type(&self) -> &str {
        "component"
    }

    /// The longest a run may take; longer counts as `fail`.
    fn timeout(&self) -> Duration {
        Duration::from_secs(2)
    }

    /// Runs the check once.
    async fn check(&self) -> CheckResult;
}

#[async_trait]
impl<T: Monitor + ?Sized> Monitor for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn component_type(&self) -> &str {
        (**self).component_type()
    }
    fn timeout(&self) -> Duration {
        (**self).timeout()
    }
    async fn check(&self) -> CheckResult {
        (**self).check().await
    }
}

#[async_trait]
impl<T: Monitor + ?Sized> Monitor for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn component_type(&self) -> &str {
        (**self).component_type()
    }
    fn timeout(&self) -> Duration {
        (**self).timeout()
    }
    async fn check(&self) -> CheckResult {
        (**self).check().await
    }
}
