//! biv-availability: the availability controls of biv.
//!
//! - [`health`]: health checks (TCP, HTTP, PostgreSQL, free disk, memory, a writable directory,
//!   closures), a registry with the probe groups `live`, `ready`, `startup` and custom groups,
//!   cached and refreshed in the background, `application/health+json`, axum routes and graceful
//!   shutdown.
//! - [`scale`]: scaling advice with the Kubernetes HorizontalPodAutoscaler's replica
//!   calculation.
//!
//! Metrics, deviation detection, ECS logging and shipping arrive with their issues.

pub mod health;
pub mod scale;
