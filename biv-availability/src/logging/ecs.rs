//! [`EcsLayer`]: a `tracing` layer that writes every event as one ECS JSON line, redacted.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{Collector, MetricFamily, MetricKind, Sample, SampleValue};
use biv_core::{Clock, Dataset, Level, LogRecord, LogSink, RecordId, Redactor};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The ECS version the lines declare.
pub const ECS_VERSION: &str = "8.11.0";

/// Who is logging: becomes `service.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceInfo {
    /// `service.name`.
    pub name: String,
    /// `service.version`.
    pub version: Option<String>,
    /// `service.environment` (production, acceptance, …).
    pub environment: Option<String>,
    /// `service.node.name` (the pod or host).
    pub node: Option<String>,
}

impl ServiceInfo {
    /// A service by name.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceInfo {
            name: name.into(),
            version: None,
            environment: None,
            node: None,
        }
    }

    /// Sets the version.
    #[must_use]
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the environment.
    #[must_use]
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }
}

/// Counters of records the layer could not hand to its sink, by reason.
#[derive(Debug, Default)]
pub struct DropCounters {
    full: AtomicU64,
    closed: AtomicU64,
    backend: AtomicU64,
    encoding: AtomicU64,
}

impl DropCounters {
    /// Dropped because the sink was full, closed, failed, or the record could not be framed.
    pub fn snapshot(&self) -> [(&'static str, u64); 4] {
        [
            ("full", self.full.load(Ordering::Relaxed)),
            ("closed", self.closed.load(Ordering::Relaxed)),
            ("backend", self.backend.load(Ordering::Relaxed)),
            ("encoding", self.encoding.load(Ordering::Relaxed)),
        ]
    }

    /// All drops together.
    pub fn total(&self) -> u64 {
        self.snapshot().iter().map(|(_, n)| n).sum()
    }
}

/// Exposes the counters as `biv_log_records_dropped_total{reason}`, one series per reason, so an
/// alert can fire on any loss:
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::logging::DropCounters;
/// use biv_availability::metrics::{Format, Registry, encode};
///
/// let registry = Registry::new();
/// registry.register_collector(Arc::new(DropCounters::default()));
/// let text = encode(&registry.gather(), Format::Prometheus);
/// assert!(text.contains("biv_log_records_dropped_total{reason=\"full\"} 0"));
/// ```
impl Collector for DropCounters {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        let mut family = MetricFamily::new(
            "biv_log_records_dropped",
            "Log records the ECS layer could not hand to its sink, by reason.",
            MetricKind::Counter,
        );
        for (reason, count) in self.snapshot() {
            family = family.with_sample(Sample::new(
                vec![("reason".to_owned(), reason.to_owned())],
                SampleValue::Counter(count),
            ));
        }
        out.push(family);
    }
}

/// A `tracing_subscriber::Layer` that turns each event into one ECS JSON line
/// (elastic/ecs-logging: `@timestamp` first, `log.level` second, `message` third, `ecs.version`,
/// dotted top-level keys), passes every text value through a [`Redactor`] before it leaves the
/// process, and hands the line to a [`LogSink`]. It never blocks on the sink: a refused record
/// is counted by reason ([`EcsLayer::drops`]).
///
/// Fields: `event.dataset` (on the event, or the layer's default: `application`), `labels.*`
/// (keys sanitised: `.`, `*`, `\` become `_`), any dotted ECS field (`http.request.method`,
/// `user.id`, `error.message`, …), and other fields under `labels`.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::logging::{EcsLayer, ServiceInfo};
/// use biv_core::{Finding, PiiKind, Redactor, SystemClock};
/// use biv_testkit::InMemoryLogSink;
/// use tracing_subscriber::prelude::*;
///
/// #[derive(Debug)]
/// struct NineDigits; // a toy redactor: masks every 9-digit run
/// impl Redactor for NineDigits {
///     fn scan(&self, text: &str) -> Vec<Finding> {
///         let b = text.as_bytes();
///         (0..b.len().saturating_sub(8)).filter(|&i| b[i..i + 9].iter().all(u8::is_ascii_digit))
///             .take(1).map(|i| Finding::new(PiiKind::Bsn, i, i + 9, 0.9)).collect()
///     }
/// }
///
/// let sink = Arc::new(InMemoryLogSink::new());
/// let layer = EcsLayer::new(ServiceInfo::new("ehr-api"), Arc::new(NineDigits), sink.clone(), Arc::new(SystemClock::new()));
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || tracing::info!(user.id = "u-1", "lookup of 111222333"));
/// let line = &sink.lines()[0];
/// assert!(line.starts_with(r#"{"@timestamp":""#));
/// assert!(line.contains(r#""message":"lookup of [BSN]""#));
/// ```
#[derive(Debug)]
pub struct EcsLayer {
    service: ServiceInfo,
    redactor: Arc<dyn Redactor>,
    sink: Arc<dyn LogSink>,
    clock: Arc<dyn Clock>,
    default_dataset: Dataset,
    ids: RecordIds,
    drops: Arc<DropCounters>,
}

impl EcsLayer {
    /// A layer for `service`, redacting with `redactor`, writing to `sink`.
    pub fn new(
        service: ServiceInfo,
        redactor: Arc<dyn Redactor>,
        sink: Arc<dyn LogSink>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        EcsLayer {
            service,
            redactor,
            sink,
            clock,
            default_dataset: Dataset::Application,
            ids: RecordIds::new(),
            drops: Arc::default(),
        }
    }

    /// Sets the dataset of events that do not name one.
    #[must_use]
    pub fn with_default_dataset(mut self, dataset: Dataset) -> Self {
        self.default_dataset = dataset;
        self
    }

    /// The drop counters (share them with a metrics exporter).
    pub fn drops(&self) -> Arc<DropCounters> {
        Arc::clone(&self.drops)
    }

    fn encode(
        &self,
        level: Level,
        target: &str,
        fields: &Fields,
        dataset: Dataset,
        now: biv_core::Timestamp,
    ) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        push_pair(&mut out, "@timestamp", &now.to_rfc3339_millis(), true);
        push_pair(&mut out, "log.level", level.as_str(), false);
        if let Some(message) = &fields.message {
            push_pair(&mut out, "message", &self.redactor.redact(message), false);
        }
        push_pair(&mut out, "ecs.version", ECS_VERSION, false);
        push_pair(&mut out, "service.name", &self.service.name, false);
        for (key, value) in [
            ("service.version", &self.service.version),
            ("service.environment", &self.service.environment),
            ("service.node.name", &self.service.node),
        ] {
            if let Some(v) = value {
                push_pair(&mut out, key, v, false);
            }
        }
        push_pair(&mut out, "event.dataset", dataset.as_str(), false);
        push_pair(&mut out, "log.logger", target, false);
        let mut labels = BTreeMap::new();
        // A key written twice would make Elasticsearch reject the line: the last value wins.
        let mut dotted: Vec<(&str, &Value)> = Vec::new();
        for (key, value) in &fields.values {
            if key == "event.dataset" {
                continue;
            }
            if let Some(label) = key.strip_prefix("labels.") {
                labels.insert(sanitize_label(label), value);
            } else if key.contains('.')
                && !RESERVED.contains(&key.as_str())
                && !key.starts_with("service.")
            {
                match dotted.iter_mut().find(|(k, _)| *k == key.as_str()) {
                    Some(slot) => slot.1 = value,
                    None => dotted.push((key, value)),
                }
            } else {
                labels.insert(sanitize_label(key), value);
            }
        }
        if let Some(message) = &fields.error_message
            && !dotted.iter().any(|(k, _)| *k == "error.message")
        {
            dotted.push(("error.message", message));
        }
        for (key, value) in dotted {
            push_value(&mut out, key, value, &*self.redactor);
        }
        if !labels.is_empty() {
            out.push_str(",\"labels\":{");
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(&mut out, k);
                out.push(':');
                write_value(&mut out, v, &*self.redactor);
            }
            out.push('}');
        }
        out.push('}');
        out
    }
}

impl<S> Layer<S> for EcsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::INFO => Level::Info,
            tracing::Level::DEBUG => Level::Debug,
            _ => Level::Trace,
        };
        let dataset = fields
            .values
            .iter()
            .find(|(k, _)| k == "event.dataset")
            .and_then(|(_, v)| match v {
                Value::Str(s) => match s.as_str() {
                    "access" => Some(Dataset::Access),
                    "system" => Some(Dataset::System),
                    "audit" => Some(Dataset::Audit),
                    "application" => Some(Dataset::Application),
                    _ => None,
                },
                _ => None,
            })
            .unwrap_or(self.default_dataset);
        let now = self.clock.now();
        let line = self.encode(level, meta.target(), &fields, dataset, now);
        match LogRecord::new(self.ids.next(), now, level, dataset, line) {
            Ok(record) => {
                if let Err(e) = self.sink.submit(record) {
                    let counter = match e.reason() {
                        "full" => &self.drops.full,
                        "closed" => &self.drops.closed,
                        _ => &self.drops.backend,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => {
                self.drops.encoding.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Record ids: a random per-process prefix and a counter, unique without coordination.
#[derive(Debug)]
struct RecordIds {
    prefix: [u8; 8],
    counter: AtomicU64,
}

impl RecordIds {
    fn new() -> Self {
        let mut prefix = [0u8; 8];
        // Without randomness the prefix falls back to the process id and start time, which is
        // still unique per process on one host.
        if getrandom::fill(&mut prefix).is_err() {
            let pid = u64::from(std::process::id());
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            prefix = (pid << 32 | u64::from(nanos)).to_be_bytes();
        }
        RecordIds {
            prefix,
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> RecordId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.prefix);
        id[8..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        RecordId::from_bytes(id)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

#[derive(Debug, Default)]
struct Fields {
    message: Option<String>,
    values: Vec<(String, Value)>,
    /// The text of a field named `error` recorded as an error; becomes `error.message` unless
    /// the event sets that field itself.
    error_message: Option<Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.values
                .push((field.name().to_owned(), Value::Str(text)));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.values
                .push((field.name().to_owned(), Value::Str(value.to_owned())));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.values
            .push((field.name().to_owned(), Value::I64(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.values
            .push((field.name().to_owned(), Value::U64(value)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.values
            .push((field.name().to_owned(), Value::F64(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.values
            .push((field.name().to_owned(), Value::Bool(value)));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.values
            .push((field.name().to_owned(), Value::Str(value.to_string())));
        if field.name() == "error" {
            self.error_message = Some(Value::Str(value.to_string()));
        }
    }
}

/// Keys the layer writes itself; an event field with one of these names goes under `labels`, so
/// a line never holds a key twice.
const RESERVED: [&str; 5] = [
    "@timestamp",
    "log.level",
    "ecs.version",
    "event.dataset",
    "log.logger",
];

/// ECS `labels` keys may not hold `.`, `*` or `\`.
fn sanitize_label(key: &str) -> String {
    key.chars()
        .map(|c| {
            if matches!(c, '.' | '*' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn push_pair(out: &mut String, key: &str, value: &str, first: bool) {
    if !first {
        out.push(',');
    }
    push_json_string(out, key);
    out.push(':');
    push_json_string(out, value);
}

fn push_value(out: &mut String, key: &str, value: &Value, redactor: &dyn Redactor) {
    out.push(',');
    push_json_string(out, key);
    out.push(':');
    write_value(out, value, redactor);
}

fn write_value(out: &mut String, value: &Value, redactor: &dyn Redactor) {
    match value {
        Value::Str(s) => push_json_string(out, &redactor.redact(s)),
        // A number can be personal data too (a BSN logged as an integer): when the redactor
        // finds something in its decimal text, the redacted text is written instead.
        Value::I64(n) => push_number(out, &n.to_string(), redactor),
        Value::U64(n) => push_number(out, &n.to_string(), redactor),
        Value::F64(n) if n.is_finite() => push_number(out, &n.to_string(), redactor),
        Value::F64(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

fn push_number(out: &mut String, text: &str, redactor: &dyn Redactor) {
    if redactor.scan(text).is_empty() {
        out.push_str(text);
    } else {
        push_json_string(out, &redactor.redact(text));
    }
}

/// Appends `s` as a JSON string (escapes per RFC 8259; control characters as `\u00XX`).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
