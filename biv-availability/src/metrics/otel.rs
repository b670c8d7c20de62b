//! Export of a [`Registry`] through the OpenTelemetry metrics API (feature `otel`), so the
//! same metrics that `/metrics` serves reach an OTLP collector through whatever exporter the
//! host installs in its `SdkMeterProvider` (for example `opentelemetry-otlp`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    AsyncInstrument, Meter, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
};

use super::family::{MetricFamily, MetricKind, SampleValue};
use super::registry::Registry;

/// How long one gathered snapshot of the registry serves the instruments' callbacks: the SDK
/// calls every callback of one collection in quick succession, and they should all see one
/// snapshot without gathering the registry once per family.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(100);

/// The registry's families, gathered at most once per [`SNAPSHOT_MAX_AGE`].
#[derive(Debug)]
struct Snapshots {
    registry: Arc<Registry>,
    last: Mutex<Option<(Instant, Arc<Vec<MetricFamily>>)>>,
}

impl Snapshots {
    fn current(&self) -> Arc<Vec<MetricFamily>> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, families)) = last.as_ref()
            && at.elapsed() < SNAPSHOT_MAX_AGE
        {
            return families.clone();
        }
        let families = Arc::new(self.registry.gather());
        *last = Some((Instant::now(), families.clone()));
        families
    }
}

/// One OpenTelemetry instrument per exported series name, kept alive with the bridge.
#[derive(Debug)]
enum Instrument {
    Counter(ObservableCounter<f64>),
    UpDownCounter(ObservableUpDownCounter<f64>),
    Gauge(ObservableGauge<f64>),
}

/// Which part of a family an instrument reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Counters and gauges: the value itself.
    Value,
    /// Histograms: the cumulative count per `le` bucket.
    Bucket,
    /// Histograms: the number of observations.
    Count,
    /// Histograms: the sum of the observations.
    Sum,
}

/// Registers an observable OpenTelemetry instrument for every family of a [`Registry`], so a
/// host that already runs an OpenTelemetry `SdkMeterProvider` exports biv's metrics (RED
/// metrics, process metrics, log-loss counters, scaling advice) with the rest of its telemetry.
///
/// The mapping, chosen so that a Prometheus-compatible backend behind an OTLP collector sees
/// the same values as a scrape of `/metrics`:
///
/// | registry family | OpenTelemetry instrument |
/// |---|---|
/// | counter `name` (exposed as `name_total`) | `f64` observable counter `name` (monotonic, cumulative) |
/// | gauge `name` | `f64` observable gauge `name` |
/// | histogram `name` | observable counters `name_bucket` (attribute `le`, cumulative as in Prometheus) and `name_count`, observable up-down counter `name_sum` |
///
/// The OpenTelemetry API has no observable histogram, so a histogram travels as its cumulative
/// buckets, as Prometheus' own text format carries it — not as an OTLP histogram, with one data
/// point per bucket per series (mind the SDK's per-instrument cardinality limit, and that an
/// OTLP-to-Prometheus translation adds `_total` to the monotonic ones; see
/// `docs/formats/metrics.md`). Labels become attributes. Families
/// registered after the bridge are not exported: create the bridge once the registry is
/// complete, or call [`OtelBridge::register`] again for a registry of new families. One
/// snapshot of the registry serves all callbacks of a collection ([`SNAPSHOT_MAX_AGE`]).
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::metrics::{OtelBridge, Registry};
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let registry = Arc::new(Registry::new());
/// registry.counter("jobs_done", "Jobs done.")?.inc_by(3);
/// registry.histogram("job_seconds", "Job time.", &[0.1, 1.0])?.observe(0.4);
///
/// // The host's provider; in production its reader wraps an OTLP exporter.
/// let provider = SdkMeterProvider::builder().build();
/// let bridge = OtelBridge::register(registry, &provider.meter("biv"));
/// assert_eq!(bridge.instruments(), 1 + 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OtelBridge {
    instruments: Vec<Instrument>,
}

impl OtelBridge {
    /// Registers one observable instrument per family of `registry` (three per histogram) on
    /// `meter`. Dropping the bridge does not unregister them: that is the SDK's
    /// `SdkMeterProvider::shutdown`.
    pub fn register(registry: Arc<Registry>, meter: &Meter) -> OtelBridge {
        let families = registry.gather();
        let snapshots = Arc::new(Snapshots {
            registry,
            last: Mutex::new(None),
        });
        let mut instruments = Vec::new();
        for family in &families {
            let parts: &[(Part, &str)] = match family.kind {
                MetricKind::Counter | MetricKind::Gauge => &[(Part::Value, "")],
                MetricKind::Histogram => &[
                    (Part::Bucket, "_bucket"),
                    (Part::Count, "_count"),
                    (Part::Sum, "_sum"),
                ],
            };
            for (part, suffix) in parts {
                let name = format!("{}{suffix}", family.name);
                let callback = observe(snapshots.clone(), family.name.clone(), *part);
                let instrument = if family.kind == MetricKind::Gauge {
                    Instrument::Gauge(
                        meter
                            .f64_observable_gauge(name)
                            .with_description(family.help.clone())
                            .with_callback(callback)
                            .build(),
                    )
                } else if *part == Part::Sum {
                    // A sum of observations may go down (negative observations).
                    Instrument::UpDownCounter(
                        meter
                            .f64_observable_up_down_counter(name)
                            .with_description(family.help.clone())
                            .with_callback(callback)
                            .build(),
                    )
                } else {
                    Instrument::Counter(
                        meter
                            .f64_observable_counter(name)
                            .with_description(family.help.clone())
                            .with_callback(callback)
                            .build(),
                    )
                };
                instruments.push(instrument);
            }
        }
        OtelBridge { instruments }
    }

    /// How many OpenTelemetry instruments the bridge registered.
    pub fn instruments(&self) -> usize {
        self.instruments.len()
    }
}

/// The callback that reports `part` of the family `name` from the current snapshot.
fn observe(
    snapshots: Arc<Snapshots>,
    name: String,
    part: Part,
) -> impl Fn(&dyn AsyncInstrument<f64>) + Send + Sync + 'static {
    move |instrument| {
        let families = snapshots.current();
        let Some(family) = families.iter().find(|f| f.name == name) else {
            return;
        };
        for sample in &family.samples {
            let mut attributes: Vec<KeyValue> = sample
                .labels
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect();
            match (&sample.value, part) {
                (SampleValue::Counter(v), Part::Value) => {
                    instrument.observe(*v as f64, &attributes)
                }
                (SampleValue::FloatCounter(v) | SampleValue::Gauge(v), Part::Value) => {
                    instrument.observe(*v, &attributes);
                }
                (SampleValue::Histogram { buckets, .. }, Part::Bucket) => {
                    attributes.push(KeyValue::new("le", ""));
                    for (le, count) in buckets {
                        if let Some(last) = attributes.last_mut() {
                            *last = KeyValue::new("le", le_text(*le));
                        }
                        instrument.observe(*count as f64, &attributes);
                    }
                }
                (SampleValue::Histogram { count, .. }, Part::Count) => {
                    instrument.observe(*count as f64, &attributes);
                }
                (SampleValue::Histogram { sum, .. }, Part::Sum) => {
                    instrument.observe(*sum, &attributes);
                }
                _ => {}
            }
        }
    }
}

/// A bucket bound as Prometheus writes it: `+Inf`, or the shortest decimal.
fn le_text(le: f64) -> String {
    if le == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        le.to_string()
    }
}
