//! Metrics: a small registry of counters, gauges and histograms with labels, exposition in the
//! Prometheus text format 0.0.4 and OpenMetrics 1.0 (chosen from the `Accept` header), process
//! and host metrics from `/proc`, a tower layer recording RED metrics, and (feature `otel`)
//! `OtelBridge`, which exports a registry through the OpenTelemetry metrics API.
//!
//! The formats are specified in `docs/formats/metrics.md`. Increments are relaxed atomic adds on
//! a handle the caller keeps; looking up a labelled child hashes the label values under a read
//! lock, so hot paths keep the child's handle.
//!
//! ```
//! use std::sync::Arc;
//! use biv_availability::metrics::{Format, ProcessCollector, RedLayer, Registry, metrics_router};
//! use axum::{Router, routing::get};
//!
//! let registry = Arc::new(Registry::new());
//! registry.register_collector(Arc::new(ProcessCollector::new()));
//! let app: Router = Router::new()
//!     .route("/patients/{id}", get(|| async { "ok" }))
//!     .layer(RedLayer::new(&registry)?)
//!     .merge(metrics_router(registry.clone()));
//! assert!(registry.encode(Format::OpenMetrics).ends_with("# EOF\n"));
//! # Ok::<(), biv_availability::metrics::MetricsError>(())
//! ```

mod encode;
mod family;
mod http;
#[cfg(feature = "otel")]
mod otel;
mod process;
mod registry;

pub use encode::{Format, encode};
pub use family::{MetricFamily, MetricKind, Sample, SampleValue};
pub use http::{RedLayer, RedService, metrics_router};
#[cfg(feature = "otel")]
pub use otel::{OtelBridge, SNAPSHOT_MAX_AGE};
pub use process::{ProcStat, ProcessCollector, parse_boot_time, parse_loadavg, parse_max_fds};
pub use registry::{
    Collector, Counter, CounterVec, DEFAULT_BUCKETS, DEFAULT_SERIES_LIMIT, Gauge, GaugeVec,
    Histogram, HistogramVec, MetricsError, OVERFLOW_LABEL_VALUE, Registry,
};
