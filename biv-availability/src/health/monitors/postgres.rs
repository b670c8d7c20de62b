//! [`PostgresMonitor`]: can PostgreSQL be reached and answer `SELECT 1`?

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};

use super::{DEFAULT_TIMEOUT, millis};

/// Opens a connection, runs `SELECT 1` and closes it; observes the round trip in `ms`.
///
/// A fresh connection per run also catches a full connection table or a changed password, which
/// a pooled connection would hide. No TLS: use it on loopback, a Unix socket or a private
/// network, or wrap the host's own pool in a [`FnMonitor`](super::FnMonitor).
/// The connection string is never printed (`Debug` hides it; outputs name only the failure).
///
/// ```no_run
/// use biv_availability::health::PostgresMonitor;
/// use biv_core::{Monitor, Status};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let monitor = PostgresMonitor::new("postgres:responseTime", "postgresql://biv@127.0.0.1/postgres");
/// assert_eq!(monitor.check().await.status, Status::Pass);
/// # });
/// ```
#[derive(Clone)]
pub struct PostgresMonitor {
    name: String,
    url: String,
    timeout: Duration,
}

impl PostgresMonitor {
    /// A monitor named `name` for the database at `url` (a libpq-style connection string or URL).
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        PostgresMonitor {
            name: name.into(),
            url: url.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the timeout (default 2 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn ping(&self) -> Result<(), String> {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let driver = tokio::spawn(connection);
        let answer = client.simple_query("SELECT 1").await;
        drop(client);
        // The driver ends once the client is gone; its result adds nothing to the answer.
        let _ = driver.await;
        answer
            .map(|_| ())
            .map_err(|e| format!("SELECT 1 failed: {e}"))
    }
}

impl fmt::Debug for PostgresMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresMonitor")
            .field("name", &self.name)
            .field("url", &"<hidden>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[async_trait]
impl Monitor for PostgresMonitor {
    fn name(&self) -> &str {
        &self.name
    }
    fn component_type(&self) -> &str {
        "datastore"
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> CheckResult {
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, self.ping()).await {
            Ok(Ok(())) => CheckResult::pass().with_observed(millis(started.elapsed()), "ms"),
            Ok(Err(e)) => CheckResult::fail(format!("postgresql: {e}")),
            Err(_) => CheckResult::fail(format!("postgresql: no answer within {:?}", self.timeout)),
        }
    }
}
