//! biv-availability: the availability controls of biv.
//!
//! - [`health`]: health checks (TCP, HTTP, PostgreSQL, free disk, memory, a writable directory,
//!   closures), a registry with the probe groups `live`, `ready`, `startup` and custom groups,
//!   cached and refreshed in the background, `application/health+json`, axum routes and graceful
//!   shutdown.
//! - [`scale`]: scaling advice with the Kubernetes HorizontalPodAutoscaler's algorithm, and a
//!   `ScaleAdvisor` exporting it as a metric for an HPA or KEDA.
//! - [`anomaly`]: deviation detection before a hard limit is crossed: EWMA z-score, Holt double
//!   exponential smoothing and least-squares time-to-exhaustion (PromQL's `deriv`,
//!   `predict_linear` and `double_exponential_smoothing`), with warm-up, hysteresis and cooldown,
//!   delivered as alerts through a `Notifier`.
//! - [`alerting`]: alert delivery to Prometheus Alertmanager (API v2), re-sending firing
//!   alerts until they resolve, with personal data redacted.
//! - [`metrics`]: counters, gauges and histograms with labels, Prometheus text 0.0.4 and
//!   OpenMetrics 1.0 exposition with content negotiation, process and host metrics, and a tower
//!   layer recording RED metrics, with bounded series per family; with the feature `otel`, export
//!   through the OpenTelemetry metrics API.
//! - [`logging`]: a `tracing` layer writing ECS JSON lines with personal data redacted (and
//!   trace ids with the feature `otel`), a non-blocking writer sink for stdout or a rotating
//!   file, a tower layer logging HTTP access, an RFC 5424 syslog sink and a heartbeat.
//! - [`shipping`]: a durable on-disk spool and an Elasticsearch `_bulk` shipper that stores
//!   every record exactly once.
//! - [`review`]: the daily log review digest and the reviewer's sign-off as an audit event.

pub mod alerting;
pub mod anomaly;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod review;
pub mod scale;
pub mod shipping;
