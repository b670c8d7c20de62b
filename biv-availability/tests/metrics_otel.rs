//! `OtelBridge` (feature `otel`, which `cargo xtask test` enables with `--all-features`): the
//! registry's families reach an OpenTelemetry SDK exporter with the values and labels that
//! `/metrics` shows.
#![cfg(feature = "otel")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use biv_availability::metrics::{OtelBridge, Registry};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

/// One exported data point: sorted attributes, value, and for a sum whether it is monotonic.
type Point = (Vec<(String, String)>, f64, Option<bool>);

/// The last export, by metric name.
type Export = BTreeMap<String, Vec<Point>>;

/// An exporter that keeps the last export (the SDK's in-memory exporter needs its `testing`
/// feature, which pulls a second `rand` into the tree).
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Option<Export>>>);

fn attrs<'a>(it: impl Iterator<Item = &'a KeyValue>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = it
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect();
    out.sort();
    out
}

impl PushMetricExporter for Capture {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let mut export = Export::new();
        for metric in metrics.scope_metrics().flat_map(|sm| sm.metrics()) {
            let mut points = match metric.data() {
                AggregatedMetrics::F64(MetricData::Sum(sum)) => sum
                    .data_points()
                    .map(|p| (attrs(p.attributes()), p.value(), Some(sum.is_monotonic())))
                    .collect::<Vec<_>>(),
                AggregatedMetrics::F64(MetricData::Gauge(gauge)) => gauge
                    .data_points()
                    .map(|p| (attrs(p.attributes()), p.value(), None))
                    .collect(),
                other => panic!("{}: unexpected data {other:?}", metric.name()),
            };
            points.sort_by(|a, b| a.0.cmp(&b.0));
            export.insert(metric.name().to_owned(), points);
        }
        *self.0.lock().expect("not poisoned") = Some(export);
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// A provider whose reader hands every collection to a [`Capture`].
fn provider() -> (SdkMeterProvider, Capture) {
    let exporter = Capture::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// Flushes and returns the export.
fn export(provider: &SdkMeterProvider, exporter: &Capture) -> Export {
    *exporter.0.lock().expect("not poisoned") = None;
    provider.force_flush().expect("the reader flushes");
    exporter
        .0
        .lock()
        .expect("not poisoned")
        .take()
        .expect("one export")
}

/// Every data point of the metric `name`.
fn points(export: &Export, name: &str) -> Vec<Point> {
    export
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} was exported"))
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn counters_gauges_and_histograms_are_exported_with_their_labels() {
    let registry = Arc::new(Registry::new());
    let requests = registry
        .counter_vec("http_requests", "Requests.", &["method", "status"])
        .expect("a new family");
    requests
        .with_label_values(&["GET", "200"])
        .expect("two labels")
        .inc_by(7);
    requests
        .with_label_values(&["POST", "500"])
        .expect("two labels")
        .inc();
    registry
        .gauge("queue_depth", "Queued jobs.")
        .expect("a new family")
        .set(-2.5);
    let latency = registry
        .histogram("latency_seconds", "Latency.", &[0.1, 1.0])
        .expect("a new family");
    for v in [0.05, 0.5, 0.7, 3.0] {
        latency.observe(v);
    }

    let (provider, exporter) = provider();
    let bridge = OtelBridge::register(registry.clone(), &provider.meter("biv"));
    assert_eq!(bridge.instruments(), 2 + 3);
    let rm = export(&provider, &exporter);

    assert_eq!(
        points(&rm, "http_requests"),
        vec![
            (
                labels(&[("method", "GET"), ("status", "200")]),
                7.0,
                Some(true)
            ),
            (
                labels(&[("method", "POST"), ("status", "500")]),
                1.0,
                Some(true)
            ),
        ]
    );
    assert_eq!(points(&rm, "queue_depth"), vec![(vec![], -2.5, None)]);
    assert_eq!(
        points(&rm, "latency_seconds_bucket"),
        vec![
            (labels(&[("le", "+Inf")]), 4.0, Some(true)),
            (labels(&[("le", "0.1")]), 1.0, Some(true)),
            (labels(&[("le", "1")]), 3.0, Some(true)),
        ]
    );
    assert_eq!(
        points(&rm, "latency_seconds_count"),
        vec![(vec![], 4.0, Some(true))]
    );
    assert_eq!(
        points(&rm, "latency_seconds_sum")[0].1,
        0.05 + 0.5 + 0.7 + 3.0
    );
}

#[test]
fn each_collection_reads_the_registry_anew() {
    let registry = Arc::new(Registry::new());
    let jobs = registry
        .counter("jobs_done", "Jobs.")
        .expect("a new family");
    let (provider, exporter) = provider();
    let _bridge = OtelBridge::register(registry.clone(), &provider.meter("biv"));

    jobs.inc_by(2);
    assert_eq!(points(&export(&provider, &exporter), "jobs_done")[0].1, 2.0);
    // A later collection, after the snapshot has aged out, sees the new value.
    std::thread::sleep(biv_availability::metrics::SNAPSHOT_MAX_AGE * 2);
    jobs.inc_by(5);
    assert_eq!(points(&export(&provider, &exporter), "jobs_done")[0].1, 7.0);
}

#[test]
fn collectors_such_as_the_process_metrics_are_exported_too() {
    let registry = Arc::new(Registry::new());
    registry.register_collector(Arc::new(biv_availability::metrics::ProcessCollector::new()));
    let (provider, exporter) = provider();
    let _bridge = OtelBridge::register(registry, &provider.meter("biv"));
    let rm = export(&provider, &exporter);
    let open_fds = points(&rm, "process_open_fds");
    assert_eq!(open_fds.len(), 1);
    assert!(open_fds[0].1 >= 3.0, "stdin, stdout and stderr at least");
}
