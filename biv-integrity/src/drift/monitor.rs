//! A health check that reports configuration drift.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};

use super::compare::{CheckOptions, DriftReport, check_dir};
use super::manifest::Manifest;

/// A [`Monitor`] named `config:drift` (by default) that compares a manifest with a directory
/// on every run: `pass` when clean, `fail` (or `warn`, see [`DriftMonitor::warn_only`]) with
/// the summary when there is drift, `fail` when the directory cannot be checked.
///
/// ```
/// use biv_core::{Monitor, Status};
/// use biv_integrity::drift::{CheckOptions, DriftMonitor, Manifest};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("biv-drift-mon-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let m = Manifest::from_json(br#"{"version":1,"source":{"repo":"cfg",
///   "rev":"0123456789abcdef0123456789abcdef01234567"},"entries":[]}"#)?;
/// let monitor = DriftMonitor::new(m, &dir, CheckOptions::new());
/// assert_eq!(monitor.check().await.status, Status::Pass);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DriftMonitor {
    name: String,
    inner: Arc<(Manifest, PathBuf, CheckOptions)>,
    warn_only: bool,
}

impl DriftMonitor {
    /// Checks `dir` against `manifest` with `options`.
    pub fn new(manifest: Manifest, dir: impl Into<PathBuf>, options: CheckOptions) -> Self {
        DriftMonitor {
            name: "config:drift".to_owned(),
            inner: Arc::new((manifest, dir.into(), options)),
            warn_only: false,
        }
    }

    /// Another health+json name (`component:measurement`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Report drift as `warn` instead of `fail`.
    pub fn warn_only(mut self) -> Self {
        self.warn_only = true;
        self
    }

    fn run(inner: &(Manifest, PathBuf, CheckOptions)) -> Result<DriftReport, String> {
        check_dir(&inner.0, &inner.1, &inner.2).map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Monitor for DriftMonitor {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }

    async fn check(&self) -> CheckResult {
        let inner = Arc::clone(&self.inner);
        let result = match tokio::runtime::Handle::try_current() {
            Ok(handle) => match handle.spawn_blocking(move || Self::run(&inner)).await {
                Ok(r) => r,
                Err(e) => Err(format!("drift check did not finish: {e}")),
            },
            Err(_) => Self::run(&inner),
        };
        match result {
            Ok(report) if report.clean => CheckResult::pass().with_observed(0.0, "files"),
            Ok(report) => {
                let output = format!(
                    "configuration drift from {}: {}",
                    report.source.rev,
                    report.summary()
                );
                let n = u32::try_from(report.count()).unwrap_or(u32::MAX);
                let r = if self.warn_only {
                    CheckResult::warn(output)
                } else {
                    CheckResult::fail(output)
                };
                r.with_observed(f64::from(n), "files")
            }
            Err(e) => CheckResult::fail(format!("drift check failed: {e}")),
        }
    }
}
