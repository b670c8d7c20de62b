//! The gathered form of metrics, input of the encoders.

/// The metric type, as in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets with a sum and a count.
    Histogram,
}

/// One series' value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SampleValue {
    /// An integer counter.
    Counter(u64),
    /// A floating-point counter (e.g. CPU seconds).
    FloatCounter(f64),
    /// A gauge.
    Gauge(f64),
    /// Cumulative `(le, count)` buckets ending with `+Inf`, the sum and the count.
    Histogram {
        /// Cumulative buckets; the last has `le = +Inf` and equals `count`.
        buckets: Vec<(f64, u64)>,
        /// Sum of the observations.
        sum: f64,
        /// Number of observations.
        count: u64,
    },
}

/// One series: its labels (in order) and value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// Label names and values.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: SampleValue,
}

impl Sample {
    /// A series with `labels` and `value`.
    pub fn new(labels: Vec<(String, String)>, value: SampleValue) -> Self {
        Sample { labels, value }
    }
}

/// A metric family: name (a counter's without `_total`), help, type and series.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricFamily {
    /// The name; for counters without the `_total` suffix.
    pub name: String,
    /// The help text.
    pub help: String,
    /// The type.
    pub kind: MetricKind,
    /// The series.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// A family without series.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricKind) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// Adds a series.
    #[must_use]
    pub fn with_sample(mut self, sample: Sample) -> Self {
        self.samples.push(sample);
        self
    }
}
