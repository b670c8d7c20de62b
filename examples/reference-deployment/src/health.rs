//! The health checks of the reference deployment, served at `/health`, `/health/live`,
//! `/health/ready` and `/health/startup` (`application/health+json`).
//!
//! | check           | groups          | fails when                                               |
//! |-----------------|-----------------|----------------------------------------------------------|
//! | `data:writable` | startup, ready  | no file can be created, synced and removed in the data dir |
//! | `disk:free`     | ready           | under 5 % of its file system is available (warns under 10 %; both configurable) |
//!
//! Checks of the service's dependencies come from `--health-config` (see
//! [`crate::config::Config::health_config`]) and join these.
//!
//! Liveness has no checks: it answers `pass` as long as the process serves requests, so a
//! dependency problem never gets the container restarted.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use biv_availability::health::{
    CheckOptions, DiskSpaceMonitor, Group, HealthConfig, HealthRegistry, WritableDirMonitor,
};
use biv_core::Clock;

/// How often each check runs in the background.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// When `disk:free` warns and fails: below these percentages of available space on the data
/// directory's file system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskThresholds {
    /// Warn below this percentage (default 10).
    pub warn_below_percent: f64,
    /// Fail, and fail readiness, below this percentage (default 5); 0 never fails.
    pub fail_below_percent: f64,
}

impl Default for DiskThresholds {
    fn default() -> Self {
        Self {
            warn_below_percent: 10.0,
            fail_below_percent: 5.0,
        }
    }
}

/// The health registry for a service whose data lives in `data_dir`.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::health::Group;
/// use biv_core::{Status, SystemClock};
/// use biv_reference::health::DiskThresholds;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = biv_reference::health::registry(
///     &std::env::temp_dir(),
///     DiskThresholds::default(),
///     Arc::new(SystemClock::new()),
/// );
/// registry.refresh_now().await;
/// assert_eq!(registry.report(&Group::Startup).status, Status::Pass);
/// # });
/// ```
pub fn registry(data_dir: &Path, disk: DiskThresholds, clock: Arc<dyn Clock>) -> HealthRegistry {
    registry_with(data_dir, disk, &HealthConfig::default(), clock)
}

/// [`registry`] plus the checks of `dependencies` (from `--health-config`).
pub fn registry_with(
    data_dir: &Path,
    disk: DiskThresholds,
    dependencies: &HealthConfig,
    clock: Arc<dyn Clock>,
) -> HealthRegistry {
    let builder = HealthRegistry::builder(clock)
        .check(
            WritableDirMonitor::new("data:writable", data_dir),
            CheckOptions::new([Group::Startup, Group::Ready]).interval(CHECK_INTERVAL),
        )
        .check(
            DiskSpaceMonitor::new("disk:free", data_dir)
                .with_thresholds(disk.warn_below_percent, disk.fail_below_percent),
            CheckOptions::new([Group::Ready]).interval(CHECK_INTERVAL),
        );
    dependencies.add_to(builder).build()
}
