//! [`DiskSpaceMonitor`]: free space on the file system holding a path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};

use super::{DEFAULT_TIMEOUT, grade_free};

/// The bytes available to unprivileged users on the file system holding `path`
/// (`statvfs`: `f_bavail × f_frsize`): the sample to feed an exhaustion detector
/// ([`Exhaustion`](crate::anomaly::Exhaustion) with `Limit::Below(0.0)`). It may block on a
/// network file system; call it from a blocking thread in async code.
///
/// ```
/// let bytes = biv_availability::health::available_bytes(&std::env::temp_dir())?;
/// assert!(bytes > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// The operating system's error when the path cannot be examined.
pub fn available_bytes(path: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Checks the space available to unprivileged users on the file system holding `path`
/// (`statvfs`: `f_bavail × f_frsize` of `f_blocks × f_frsize`).
///
/// Observes the available share in `percent`; warns below 10 % and fails below 5 % unless set
/// otherwise.
///
/// ```
/// use biv_availability::health::DiskSpaceMonitor;
/// use biv_core::Monitor;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let monitor = DiskSpaceMonitor::new("disk:free", std::env::temp_dir())
///     .with_thresholds(10.0, 5.0);
/// let result = monitor.check().await;
/// assert_eq!(result.observed_unit.as_deref(), Some("percent"));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct DiskSpaceMonitor {
    name: String,
    path: PathBuf,
    warn_below_percent: f64,
    fail_below_percent: f64,
    timeout: Duration,
}

impl DiskSpaceMonitor {
    /// A monitor named `name` (e.g. `disk:free`) for the file system holding `path`.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        DiskSpaceMonitor {
            name: name.into(),
            path: path.into(),
            warn_below_percent: 10.0,
            fail_below_percent: 5.0,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Warn when less than `warn_below` percent is available, fail when less than `fail_below`.
    #[must_use]
    pub fn with_thresholds(mut self, warn_below: f64, fail_below: f64) -> Self {
        self.warn_below_percent = warn_below;
        self.fail_below_percent = fail_below;
        self
    }

    /// Sets the timeout (default 2 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl Monitor for DiskSpaceMonitor {
    fn name(&self) -> &str {
        &self.name
    }
    fn component_type(&self) -> &str {
        "system"
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> CheckResult {
        let path = self.path.clone();
        // statvfs can block on a network file system: keep it off the async workers.
        let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&path)).await;
        let stat = match stat {
            Ok(Ok(stat)) => stat,
            Ok(Err(e)) => {
                return CheckResult::fail(format!("cannot stat {}: {e}", self.path.display()));
            }
            Err(e) => return CheckResult::fail(format!("statvfs task failed: {e}")),
        };
        if stat.f_blocks == 0 {
            return CheckResult::fail(format!(
                "{} is on a file system that reports no blocks",
                self.path.display()
            ));
        }
        #[allow(clippy::cast_precision_loss)] // a percentage needs no more than f64's 53 bits
        let percent = stat.f_bavail as f64 / stat.f_blocks as f64 * 100.0;
        let available = u128::from(stat.f_bavail) * u128::from(stat.f_frsize);
        grade_free(
            percent,
            self.warn_below_percent,
            self.fail_below_percent,
            &format!("{} ({available} bytes available)", self.path.display()),
        )
        .with_observed(percent, "percent")
    }
}
