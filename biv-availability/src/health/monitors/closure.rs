//! [`FnMonitor`]: a health check from a closure.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};

use super::DEFAULT_TIMEOUT;

/// A monitor whose check is an async closure, for application-specific checks.
///
/// ```
/// use biv_availability::health::FnMonitor;
/// use biv_core::{CheckResult, Monitor, Status};
///
/// let queue_depth = 12;
/// let monitor = FnMonitor::new("queue:depth", move || async move {
///     CheckResult::pass().with_observed(f64::from(queue_depth), "items")
/// });
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(monitor.check().await.status, Status::Pass);
/// # });
/// ```
pub struct FnMonitor<F> {
    name: String,
    component_type: String,
    timeout: Duration,
    check: F,
}

impl<F, Fut> FnMonitor<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = CheckResult> + Send,
{
    /// A monitor named `name` (a health+json key) that runs `check`.
    pub fn new(name: impl Into<String>, check: F) -> Self {
        FnMonitor {
            name: name.into(),
            component_type: "component".to_owned(),
            timeout: DEFAULT_TIMEOUT,
            check,
        }
    }

    /// Sets the component type (default `component`).
    #[must_use]
    pub fn with_component_type(mut self, component_type: impl Into<String>) -> Self {
        self.component_type = component_type.into();
        self
    }

    /// Sets the timeout (default 2 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<F> fmt::Debug for FnMonitor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnMonitor")
            .field("name", &self.name)
            .field("component_type", &self.component_type)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<F, Fut> Monitor for FnMonitor<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = CheckResult> + Send,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn component_type(&self) -> &str {
        &self.component_type
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> CheckResult {
        (self.check)().await
    }
}
