//! Graceful shutdown: readiness fails first, then the server drains.

use std::future::Future;
use std::time::Duration;

use super::registry::HealthRegistry;

/// Waits for `signal` (e.g. SIGTERM), then fails readiness, then waits `drain_grace` so load
/// balancers and Kubernetes endpoints stop routing here, and then returns — pass the future to
/// `axum::serve(..).with_graceful_shutdown(..)`, which then stops accepting and finishes the
/// requests in flight.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use biv_availability::health::{Group, HealthRegistry, shutdown_after};
/// use biv_core::{Status, SystemClock};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = HealthRegistry::builder(Arc::new(SystemClock::new())).build();
/// shutdown_after(registry.clone(), async {}, Duration::from_millis(1)).await;
/// assert_eq!(registry.report(&Group::Ready).status, Status::Fail);
/// assert_eq!(registry.report(&Group::Live).status, Status::Pass);
/// # });
/// ```
pub async fn shutdown_after(
    registry: HealthRegistry,
    signal: impl Future<Output = ()>,
    drain_grace: Duration,
) {
    signal.await;
    registry.begin_shutdown();
    tokio::time::sleep(drain_grace).await;
}
