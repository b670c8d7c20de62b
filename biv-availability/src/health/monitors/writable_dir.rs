//! [`WritableDirMonitor`]: can a file be created, written, synced and removed in a directory?

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};
use tokio::io::AsyncWriteExt;

use super::DEFAULT_TIMEOUT;

/// Distinguishes probe files of concurrent checks in one process.
static PROBE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Passes when a probe file `.biv-health-<pid>-<n>` can be created, written, synced and removed
/// in `dir` (a data directory that went read-only after a disk error fails this check).
///
/// ```
/// use biv_availability::health::WritableDirMonitor;
/// use biv_core::{Monitor, Status};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let monitor = WritableDirMonitor::new("data:writable", std::env::temp_dir());
/// assert_eq!(monitor.check().await.status, Status::Pass);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct WritableDirMonitor {
    name: String,
    dir: PathBuf,
    timeout: Duration,
}

impl WritableDirMonitor {
    /// A monitor named `name` (e.g. `data:writable`) for the directory `dir`.
    pub fn new(name: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        WritableDirMonitor {
            name: name.into(),
            dir: dir.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the timeout (default 2 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl Monitor for WritableDirMonitor {
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
        let n = PROBE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let probe = self
            .dir
            .join(format!(".biv-health-{}-{n}", std::process::id()));
        let written = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)
                .await?;
            file.write_all(b"biv health probe\n").await?;
            file.sync_all().await
        }
        .await;
        let removed = tokio::fs::remove_file(&probe).await;
        match (written, removed) {
            (Ok(()), Ok(())) => CheckResult::pass(),
            (Err(e), _) => CheckResult::fail(format!(
                "cannot write a file in {}: {e}",
                self.dir.display()
            )),
            (Ok(()), Err(e)) => CheckResult::fail(format!(
                "cannot remove the probe file in {}: {e}",
                self.dir.display()
            )),
        }
    }
}
