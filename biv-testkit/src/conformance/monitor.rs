//! Conformance checks for [`Monitor`] implementations.

use std::sync::Arc;
use std::time::Duration;

use biv_core::{Monitor, Status};

/// Slack on top of the monitor's own timeout before the check is declared hung.
const GRACE: Duration = Duration::from_secs(1);

/// The name is a usable health+json key: 1–128 visible ASCII characters, no spaces.
pub async fn name_is_a_health_json_key(monitor: Arc<dyn Monitor>) {
    let name = monitor.name();
    assert!(
        !name.is_empty() && name.len() <= 128,
        "name must be 1-128 bytes: {name:?}"
    );
    assert!(
        name.bytes().all(|b| b.is_ascii_graphic()),
        "name must be visible ASCII without spaces: {name:?}"
    );
    assert!(
        !monitor.component_type().is_empty(),
        "component type must not be empty"
    );
}

/// A run finishes within the monitor's declared timeout.
pub async fn check_finishes_within_its_timeout(monitor: Arc<dyn Monitor>) {
    let limit = monitor.timeout() + GRACE;
    if tokio::time::timeout(limit, monitor.check()).await.is_err() {
        panic!(
            "{} did not finish within its timeout of {:?}",
            monitor.name(),
            monitor.timeout()
        );
    }
}

/// A `warn` or `fail` result says what is wrong.
pub async fn problems_are_explained(monitor: Arc<dyn Monitor>) {
    let result = monitor.check().await;
    if result.status != Status::Pass {
        let explained = result
            .output
            .as_deref()
            .is_some_and(|o| !o.trim().is_empty());
        assert!(
            explained,
            "{} returned {:?} without an output",
            monitor.name(),
            result.status
        );
    }
}

/// Four concurrent runs all complete.
pub async fn concurrent_checks_are_safe(monitor: Arc<dyn Monitor>) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let m = Arc::clone(&monitor);
        let limit = m.timeout() + GRACE;
        tasks.spawn(async move { tokio::time::timeout(limit, m.check()).await.is_ok() });
    }
    while let Some(joined) = tasks.join_next().await {
        assert!(
            matches!(joined, Ok(true)),
            "a concurrent check hung or panicked"
        );
    }
}
