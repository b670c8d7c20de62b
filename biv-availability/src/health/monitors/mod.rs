//! Ready-made [`Monitor`](biv_core::Monitor) implementations.

mod closure;
mod disk;
mod http;
mod memory;
mod postgres;
mod tcp;
mod writable_dir;

pub use closure::FnMonitor;
pub use disk::{DiskSpaceMonitor, available_bytes};
pub use http::{HttpMonitor, InvalidUrl};
pub use memory::{MemInfo, MemInfoError, MemoryMonitor};
pub use postgres::PostgresMonitor;
pub use tcp::TcpMonitor;
pub use writable_dir::WritableDirMonitor;

use std::time::Duration;

use biv_core::CheckResult;

/// The default time a ready-made monitor may take.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The status for a free share `percent` against the warn and fail thresholds (both "below").
pub(crate) fn grade_free(
    percent: f64,
    warn_below: f64,
    fail_below: f64,
    what: &str,
) -> CheckResult {
    if percent < fail_below {
        CheckResult::fail(format!(
            "{what}: {percent:.1}% free, below the failure threshold of {fail_below}%"
        ))
    } else if percent < warn_below {
        CheckResult::warn(format!(
            "{what}: {percent:.1}% free, below the warning threshold of {warn_below}%"
        ))
    } else {
        CheckResult::pass()
    }
}

/// Milliseconds in a duration, as health+json's `responseTime` in `ms`.
pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
