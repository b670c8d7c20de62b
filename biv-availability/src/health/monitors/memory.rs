//! [`MemoryMonitor`]: available memory from `/proc/meminfo`.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};

use super::{DEFAULT_TIMEOUT, grade_free};

/// Why `/proc/meminfo` text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemInfoError {
    /// A required field is absent.
    #[error("meminfo has no {0} line")]
    Missing(&'static str),
    /// A field's value is not a number of kB.
    #[error("meminfo line {0} is not `<number> kB`")]
    Malformed(&'static str),
}

/// The two `/proc/meminfo` fields the memory check uses, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemInfo {
    /// `MemTotal`.
    pub total_bytes: u64,
    /// `MemAvailable`: what can be allocated without swapping.
    pub available_bytes: u64,
}

impl MemInfo {
    /// Parses the text of `/proc/meminfo`.
    ///
    /// ```
    /// use biv_availability::health::MemInfo;
    /// let info = MemInfo::parse("MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 250 kB\n")?;
    /// assert_eq!(info.available_bytes, 256_000);
    /// assert_eq!(info.available_percent(), 25.0);
    /// # Ok::<(), biv_availability::health::MemInfoError>(())
    /// ```
    ///
    /// # Errors
    /// [`MemInfoError`] when `MemTotal` or `MemAvailable` is missing or malformed.
    pub fn parse(text: &str) -> Result<Self, MemInfoError> {
        let field = |key: &'static str| -> Result<u64, MemInfoError> {
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
                .ok_or(MemInfoError::Missing(key))?;
            let mut parts = line.split_whitespace();
            let kb: u64 = parts
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or(MemInfoError::Malformed(key))?;
            match parts.next() {
                Some("kB") => kb.checked_mul(1024).ok_or(MemInfoError::Malformed(key)),
                _ => Err(MemInfoError::Malformed(key)),
            }
        };
        Ok(MemInfo {
            total_bytes: field("MemTotal")?,
            available_bytes: field("MemAvailable")?,
        })
    }

    /// `MemAvailable` as a share of `MemTotal`, in percent (0 when the total is 0).
    #[allow(clippy::cast_precision_loss)] // a percentage needs no more than f64's 53 bits
    pub fn available_percent(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            self.available_bytes as f64 / self.total_bytes as f64 * 100.0
        }
    }
}

/// Checks available memory (`MemAvailable` of `MemTotal` in `/proc/meminfo`, Linux).
///
/// Observes the available share in `percent`; warns below 10 % and fails below 5 % unless set
/// otherwise.
///
/// ```
/// use biv_availability::health::MemoryMonitor;
/// use biv_core::Monitor;
/// let monitor = MemoryMonitor::new("memory:available").with_thresholds(15.0, 5.0);
/// assert_eq!(monitor.component_type(), "system");
/// ```
#[derive(Debug, Clone)]
pub struct MemoryMonitor {
    name: String,
    source: PathBuf,
    warn_below_percent: f64,
    fail_below_percent: f64,
    timeout: Duration,
}

impl MemoryMonitor {
    /// A monitor named `name` (e.g. `memory:available`) reading `/proc/meminfo`.
    pub fn new(name: impl Into<String>) -> Self {
        MemoryMonitor {
            name: name.into(),
            source: PathBuf::from("/proc/meminfo"),
            warn_below_percent: 10.0,
            fail_below_percent: 5.0,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Reads the meminfo text from another file (for tests, or a container's view).
    #[must_use]
    pub fn with_source(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = path.into();
        self
    }

    /// Warn when less than `warn_below` percent is available, fail when less than `fail_below`.
    #[must_use]
    pub fn with_thresholds(mut self, warn_below: f64, fail_below: f64) -> Self {
        self.warn_below_percent = warn_below;
        self.fail_below_percent = fail_below;
        self
    }
}

#[async_trait]
impl Monitor for MemoryMonitor {
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
        let text = match tokio::fs::read_to_string(&self.source).await {
            Ok(text) => text,
            Err(e) => {
                return CheckResult::fail(format!("cannot read {}: {e}", self.source.display()));
            }
        };
        match MemInfo::parse(&text) {
            Ok(info) => {
                let percent = info.available_percent();
                grade_free(
                    percent,
                    self.warn_below_percent,
                    self.fail_below_percent,
                    &format!("memory ({} bytes available)", info.available_bytes),
                )
                .with_observed(percent, "percent")
            }
            Err(e) => CheckResult::fail(format!("{}: {e}", self.source.display())),
        }
    }
}
