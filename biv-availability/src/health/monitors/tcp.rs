//! [`TcpMonitor`]: can a TCP connection be opened?

use std::time::{Duration, Instant};

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};
use tokio::net::TcpStream;

use super::{DEFAULT_TIMEOUT, millis};

/// Passes when a TCP connection to `addr` opens within the timeout; observes the connect time
/// in `ms`.
///
/// ```
/// use biv_availability::health::TcpMonitor;
/// use biv_core::{Monitor, Status};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let addr = listener.local_addr().unwrap().to_string();
/// let monitor = TcpMonitor::new("cache:responseTime", addr);
/// assert_eq!(monitor.check().await.status, Status::Pass);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct TcpMonitor {
    name: String,
    addr: String,
    timeout: Duration,
}

impl TcpMonitor {
    /// A monitor named `name` (a health+json key, e.g. `cache:responseTime`) that connects to
    /// `addr` (`host:port`).
    pub fn new(name: impl Into<String>, addr: impl Into<String>) -> Self {
        TcpMonitor {
            name: name.into(),
            addr: addr.into(),
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
impl Monitor for TcpMonitor {
    fn name(&self) -> &str {
        &self.name
    }
    fn component_type(&self) -> &str {
        "component"
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> CheckResult {
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, TcpStream::connect(&self.addr)).await {
            Ok(Ok(_stream)) => CheckResult::pass().with_observed(millis(started.elapsed()), "ms"),
            Ok(Err(e)) => CheckResult::fail(format!("cannot connect to {}: {e}", self.addr)),
            Err(_) => CheckResult::fail(format!(
                "no connection to {} within {:?}",
                self.addr, self.timeout
            )),
        }
    }
}
