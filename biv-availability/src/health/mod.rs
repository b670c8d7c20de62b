//! Health checks: monitors, a registry with probe groups, `application/health+json`, axum
//! routes and graceful shutdown.
//!
//! - Monitors ([`biv_core::Monitor`]): [`TcpMonitor`], [`HttpMonitor`], [`PostgresMonitor`],
//!   [`DiskSpaceMonitor`], [`MemoryMonitor`], [`WritableDirMonitor`], [`FnMonitor`].
//! - [`HealthRegistry`]: checks in [`Group`]s with [`CheckOptions`] (interval, timeout,
//!   criticality), refreshed in the background and read from a cache.
//! - [`HealthReport`]: the `application/health+json` document (`docs/formats/health-json.md`).
//! - [`health_router`]: `/health`, `/health/live`, `/health/ready`, `/health/startup`.
//! - [`HealthConfig`]: checks described in JSON (`biv health check --config`).
//! - [`shutdown_after`]: on a shutdown signal readiness fails first, then the server drains.

mod config;
mod monitors;
mod registry;
mod report;
mod router;
mod shutdown;

pub use config::{HealthConfig, HealthConfigError};
pub use monitors::{
    DiskSpaceMonitor, FnMonitor, HttpMonitor, InvalidUrl, MemInfo, MemInfoError, MemoryMonitor,
    PostgresMonitor, TcpMonitor, WritableDirMonitor, available_bytes,
};
pub use registry::{CheckOptions, Group, HealthRegistry, HealthRegistryBuilder, RefreshTask};
pub use report::{CheckEntry, HEALTH_JSON, HealthReport};
pub use router::{health_response, health_router};
pub use shutdown::shutdown_after;
