//! Counters, gauges and histograms with labels, and the [`Registry`] that gathers them.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::family::{MetricFamily, MetricKind, Sample, SampleValue};

/// Why a metric could not be registered or looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A metric name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`, or a counter name ends in `_total`.
    #[error("invalid metric name `{0}`")]
    MetricName(String),
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`, starts with `__`, is reserved (`le`), or
    /// appears twice in one metric.
    #[error("invalid label name `{0}`")]
    LabelName(String),
    /// A metric of that name is already registered, or one of the names it writes
    /// (`<name>_total`, `<name>_bucket`, `<name>_sum`, `<name>_count`) is taken.
    #[error("metric `{0}` is already registered")]
    Duplicate(String),
    /// The number of label values differs from the number of label names.
    #[error("metric `{name}` has {expected} labels, got {got} values")]
    LabelCount {
        /// The metric.
        name: String,
        /// Label names declared.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// Histogram buckets are empty, not finite or not strictly increasing.
    #[error("histogram buckets must be finite and strictly increasing")]
    Buckets,
}

fn valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    !name.starts_with("__")
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Something that produces metric families at scrape time (process metrics, a metric vector).
pub trait Collector: Send + Sync + Debug {
    /// Appends this collector's families to `out`.
    fn collect(&self, out: &mut Vec<MetricFamily>);
}

/// A monotonically increasing integer counter. Cloning shares the value; an increment is one
/// relaxed atomic add.
///
/// ```
/// use biv_availability::metrics::Registry;
/// let registry = Registry::new();
/// let c = registry.counter("jobs_done", "Jobs completed.")?;
/// c.inc();
/// c.inc_by(2);
/// assert_eq!(c.get(), 3);
/// # Ok::<(), biv_availability::metrics::MetricsError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (an `f64` stored in an atomic).
///
/// ```
/// use biv_availability::metrics::Registry;
/// let registry = Registry::new();
/// let g = registry.gauge("in_flight", "Requests in flight.")?;
/// g.add(2.0);
/// g.sub(0.5);
/// assert_eq!(g.get(), 1.5);
/// # Ok::<(), biv_availability::metrics::MetricsError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `d` (a compare-and-swap loop).
    pub fn add(&self, d: f64) {
        add_f64(&self.0, d);
    }

    /// Subtracts `d`.
    pub fn sub(&self, d: f64) {
        add_f64(&self.0, -d);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

fn add_f64(cell: &AtomicU64, d: f64) {
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(cur) + d).to_bits();
        match cell.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}

#[derive(Debug)]
struct HistogramCore {
    bounds: Arc<[f64]>,
    /// One count per bound, plus the `+Inf` overflow; not cumulative.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// A histogram with fixed bucket bounds. An observation is a bucket search and two atomic adds.
/// A scrape reads the counts one by one, so a concurrent observation may appear in `_count` but
/// not yet in `_sum`.
///
/// ```
/// use biv_availability::metrics::Registry;
/// let registry = Registry::new();
/// let h = registry.histogram("latency_seconds", "Latency.", &[0.1, 0.5, 1.0])?;
/// h.observe(0.3);
/// h.observe(2.0);
/// assert_eq!(h.count(), 2);
/// assert_eq!(h.sum(), 2.3);
/// # Ok::<(), biv_availability::metrics::MetricsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCore>);

impl Histogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramCore {
            bounds,
            counts,
            sum: AtomicU64::new(0),
        }))
    }

    /// Records one observation. NaN is ignored.
    #[inline]
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let idx = self.0.bounds.partition_point(|&b| b < v);
        if let Some(c) = self.0.counts.get(idx) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        add_f64(&self.0.sum, v);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Sum of the observations.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.0.sum.load(Ordering::Relaxed))
    }

    fn snapshot(&self) -> SampleValue {
        let mut cumulative = 0u64;
        let mut buckets = Vec::with_capacity(self.0.counts.len());
        for (i, c) in self.0.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = self.0.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((le, cumulative));
        }
        SampleValue::Histogram {
            buckets,
            sum: self.sum(),
            count: cumulative,
        }
    }
}

/// Default latency buckets in seconds (those of the Prometheus client libraries).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

trait Metric: Clone + Send + Sync + Debug {
    fn value(&self) -> SampleValue;
}

impl Metric for Counter {
    fn value(&self) -> SampleValue {
        SampleValue::Counter(self.get())
    }
}

impl Metric for Gauge {
    fn value(&self) -> SampleValue {
        SampleValue::Gauge(self.get())
    }
}

impl Metric for Histogram {
    fn value(&self) -> SampleValue {
        self.snapshot()
    }
}

type Children<T> = HashMap<u64, Vec<(Box<[String]>, T)>>;

/// The number of label-value combinations a family holds by default before new ones are folded
/// into its overflow series (the OpenTelemetry SDK's default cardinality limit).
pub const DEFAULT_SERIES_LIMIT: usize = 2000;

/// The value every label of a family's overflow series carries.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

#[derive(Debug)]
struct Family<T> {
    name: String,
    help: String,
    kind: MetricKind,
    label_names: Box<[String]>,
    children: RwLock<Children<T>>,
    make: fn(&Family<T>) -> T,
    bounds: Arc<[f64]>,
    /// Label-value combinations beyond this share the overflow series.
    series_limit: usize,
    /// Combinations created so far, the overflow series not counted.
    series: AtomicUsize,
}

impl<T: Metric> Family<T> {
    fn get(&self, values: &[&str]) -> Result<T, MetricsError> {
        if values.len() != self.label_names.len() {
            return Err(MetricsError::LabelCount {
                name: self.name.clone(),
                expected: self.label_names.len(),
                got: values.len(),
            });
        }
        let mut h = DefaultHasher::new();
        values.hash(&mut h);
        let key = h.finish();
        let same = |stored: &[String]| stored.iter().map(String::as_str).eq(values.iter().copied());
        {
            let children = self.children.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = children
                .get(&key)
                .and_then(|v| v.iter().find(|(k, _)| same(k)))
            {
                return Ok(found.1.clone());
            }
        }
        let mut children = self
            .children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = children
            .get(&key)
            .and_then(|v| v.iter().find(|(k, _)| same(k)))
        {
            return Ok(found.1.clone());
        }
        if self.series.load(Ordering::Relaxed) >= self.series_limit && !values.is_empty() {
            drop(children);
            return Ok(self.overflow());
        }
        let metric = (self.make)(self);
        children.entry(key).or_default().push((
            values.iter().map(|s| (*s).to_owned()).collect(),
            metric.clone(),
        ));
        self.series.fetch_add(1, Ordering::Relaxed);
        Ok(metric)
    }

    /// Removes the child for `values`; returns whether it existed.
    fn remove(&self, values: &[&str]) -> bool {
        let mut h = DefaultHasher::new();
        values.hash(&mut h);
        let key = h.finish();
        let mut children = self
            .children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(slot) = children.get_mut(&key) else {
            return false;
        };
        let before = slot.len();
        slot.retain(|(k, _)| !k.iter().map(String::as_str).eq(values.iter().copied()));
        let removed = before - slot.len();
        if slot.is_empty() {
            children.remove(&key);
        }
        self.forget_series(removed);
        removed > 0
    }

    /// Removes every child whose label at `index` is `value`; returns how many.
    fn remove_matching(&self, index: usize, value: &str) -> usize {
        let mut children = self
            .children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut removed = 0;
        children.retain(|_, slot| {
            let before = slot.len();
            slot.retain(|(k, _)| k.get(index).map(String::as_str) != Some(value));
            removed += before - slot.len();
            !slot.is_empty()
        });
        self.forget_series(removed);
        removed
    }

    /// Frees `n` places under the series limit (the overflow series never took one).
    fn forget_series(&self, n: usize) {
        let _ = self
            .series
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }

    /// The series that every combination beyond the limit shares: each label is
    /// [`OVERFLOW_LABEL_VALUE`], so totals stay right while memory stays bounded.
    fn overflow(&self) -> T {
        let values: Box<[String]> = self
            .label_names
            .iter()
            .map(|_| OVERFLOW_LABEL_VALUE.to_owned())
            .collect();
        let mut h = DefaultHasher::new();
        values
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .hash(&mut h);
        let key = h.finish();
        let mut children = self
            .children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = children.entry(key).or_default();
        if let Some(found) = slot.iter().find(|(k, _)| *k == values) {
            return found.1.clone();
        }
        let metric = (self.make)(self);
        slot.push((values, metric.clone()));
        metric
    }
}

impl<T: Metric> Collector for Family<T> {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        let children = self.children.read().unwrap_or_else(PoisonError::into_inner);
        let mut samples: Vec<Sample> = children
            .values()
            .flatten()
            .map(|(values, m)| Sample {
                labels: self
                    .label_names
                    .iter()
                    .cloned()
                    .zip(values.iter().cloned())
                    .collect(),
                value: m.value(),
            })
            .collect();
        samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        out.push(MetricFamily {
            name: self.name.clone(),
            help: self.help.clone(),
            kind: self.kind,
            samples,
        });
    }
}

macro_rules! vec_type {
    ($(#[$doc:meta])* $vec:ident, $metric:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $vec(Arc<Family<$metric>>);

        impl $vec {
            /// The child for these label values (in the order of the label names), created on
            /// first use. Keep the handle for hot paths: a lookup hashes the values.
            ///
            /// # Errors
            /// [`MetricsError::LabelCount`] when the number of values is wrong.
            pub fn with_label_values(&self, values: &[&str]) -> Result<$metric, MetricsError> {
                self.0.get(values)
            }

            /// Removes the child for these label values, so it is no longer exposed (a
            /// workload or route that is gone); a handle kept elsewhere keeps counting
            /// unseen. Returns whether it existed.
            pub fn remove_label_values(&self, values: &[&str]) -> bool {
                self.0.remove(values)
            }

            /// Removes every child whose label at position `index` (in the order of the
            /// label names) is `value`; returns how many.
            pub fn remove_matching(&self, index: usize, value: &str) -> usize {
                self.0.remove_matching(index, value)
            }
        }
    };
}

vec_type!(
    /// A counter per label-value combination.
    CounterVec,
    Counter
);
vec_type!(
    /// A gauge per label-value combination.
    GaugeVec,
    Gauge
);
vec_type!(
    /// A histogram per label-value combination.
    HistogramVec,
    Histogram
);

/// Holds metric families and collectors, and gathers them for exposition.
///
/// ```
/// use biv_availability::metrics::{Format, Registry};
/// let registry = Registry::new();
/// let requests = registry.counter_vec("http_requests", "Requests.", &["method"])?;
/// requests.with_label_values(&["GET"])?.inc();
/// let text = registry.encode(Format::Prometheus);
/// assert!(text.contains("http_requests_total{method=\"GET\"} 1\n"));
/// # Ok::<(), biv_availability::metrics::MetricsError>(())
/// ```
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<Inner>,
    series_limit: Option<usize>,
}

#[derive(Debug, Default)]
struct Inner {
    names: Vec<String>,
    collectors: Vec<Arc<dyn Collector>>,
}

impl Registry {
    /// An empty registry; each labelled family holds at most [`DEFAULT_SERIES_LIMIT`]
    /// label-value combinations.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry whose labelled families hold at most `limit` label-value combinations
    /// each (at least 1). Further combinations are not refused: they all count in one overflow
    /// series whose labels are [`OVERFLOW_LABEL_VALUE`], so a label fed from client input
    /// cannot grow memory or the scrape without bound, and sums over the family stay right.
    ///
    /// ```
    /// use biv_availability::metrics::{Format, Registry};
    /// let registry = Registry::with_series_limit(2);
    /// let by_user = registry.counter_vec("logins", "Logins.", &["user"])?;
    /// for user in ["ann", "bob", "cyd", "dan"] {
    ///     by_user.with_label_values(&[user])?.inc();
    /// }
    /// let text = registry.encode(Format::Prometheus);
    /// assert!(text.contains("logins_total{user=\"bob\"} 1\n"));
    /// assert!(text.contains("logins_total{user=\"__overflow__\"} 2\n"));
    /// assert!(!text.contains("cyd"));
    /// # Ok::<(), biv_availability::metrics::MetricsError>(())
    /// ```
    pub fn with_series_limit(limit: usize) -> Self {
        Registry {
            inner: Mutex::default(),
            series_limit: Some(limit.max(1)),
        }
    }

    fn family<T: Metric + 'static>(
        &self,
        name: &str,
        help: &str,
        kind: MetricKind,
        labels: &[&str],
        bounds: Arc<[f64]>,
        make: fn(&Family<T>) -> T,
    ) -> Result<Arc<Family<T>>, MetricsError> {
        if !valid_metric_name(name) || (kind == MetricKind::Counter && name.ends_with("_total")) {
            return Err(MetricsError::MetricName(name.to_owned()));
        }
        for (i, l) in labels.iter().enumerate() {
            if !valid_label_name(l)
                || (kind == MetricKind::Histogram && *l == "le")
                || labels[..i].contains(l)
            {
                return Err(MetricsError::LabelName((*l).to_owned()));
            }
        }
        let family = Arc::new(Family {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            label_names: labels.iter().map(|s| (*s).to_owned()).collect(),
            children: RwLock::new(HashMap::new()),
            make,
            bounds,
            series_limit: self.series_limit.unwrap_or(DEFAULT_SERIES_LIMIT),
            series: AtomicUsize::new(0),
        });
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // Every name the family writes (a counter's `_total`, a histogram's `_bucket`, `_sum`,
        // `_count`) must be free, or one exposition would hold two families under one name.
        let written: Vec<String> = match kind {
            MetricKind::Counter => vec![name.to_owned(), format!("{name}_total")],
            MetricKind::Histogram => ["", "_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{name}{suffix}"))
                .collect(),
            _ => vec![name.to_owned()],
        };
        if written.iter().any(|w| inner.names.contains(w)) {
            return Err(MetricsError::Duplicate(name.to_owned()));
        }
        inner.names.extend(written);
        inner.collectors.push(family.clone());
        Ok(family)
    }

    /// Registers a counter family. `name` is without `_total`; the encoders add it.
    ///
    /// # Errors
    /// [`MetricsError`] for an invalid or duplicate name.
    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<CounterVec, MetricsError> {
        self.family(
            name,
            help,
            MetricKind::Counter,
            labels,
            Arc::new([]),
            |_| Counter::default(),
        )
        .map(CounterVec)
    }

    /// Registers a counter without labels.
    ///
    /// # Errors
    /// [`MetricsError`] for an invalid or duplicate name.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, MetricsError> {
        self.counter_vec(name, help, &[])?.with_label_values(&[])
    }

    /// Registers a gauge family.
    ///
    /// # Errors
    /// [`MetricsError`] for an invalid or duplicate name.
    pub fn gauge_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<GaugeVec, MetricsError> {
        self.family(name, help, MetricKind::Gauge, labels, Arc::new([]), |_| {
            Gauge::default()
        })
        .map(GaugeVec)
    }

    /// Registers a gauge without labels.
    ///
    /// # Errors
    /// [`MetricsError`] for an invalid or duplicate name.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, MetricsError> {
        self.gauge_vec(name, help, &[])?.with_label_values(&[])
    }

    /// Registers a histogram family with bucket upper bounds `buckets` (`+Inf` is implied).
    ///
    /// # Errors
    /// [`MetricsError`] for an invalid or duplicate name, or bad buckets.
    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<HistogramVec, MetricsError> {
        if buckets.is_empty()
            || buckets.iter().any(|b| !b.is_finite())
            || buckets.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(MetricsError::Buckets);
        }
        self.family(
            name,
            help,
            MetricKind::Histogram,
            labels,
            buckets.into(),
            |f| Histogram::new(f.bounds.clone()),
        )
        .map(HistogramVec)
    }

    /// Registers a histogram without labels.
    ///
    /// # Errors
    /// [`MetricsError`] for an invalid or duplicate name, or bad buckets.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
    ) -> Result<Histogram, MetricsError> {
        self.histogram_vec(name, help, &[], buckets)?
            .with_label_values(&[])
    }

    /// Adds a collector that produces families at scrape time (e.g.
    /// [`ProcessCollector`](super::ProcessCollector)). Its names are not checked for duplicates.
    pub fn register_collector(&self, collector: Arc<dyn Collector>) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .collectors
            .push(collector);
    }

    /// Collects every family, in registration order.
    pub fn gather(&self) -> Vec<MetricFamily> {
        let collectors = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .collectors
            .clone();
        let mut out = Vec::new();
        for c in collectors {
            c.collect(&mut out);
        }
        out
    }

    /// Gathers and encodes in `format`.
    pub fn encode(&self, format: super::Format) -> String {
        super::encode(&self.gather(), format)
    }
}
