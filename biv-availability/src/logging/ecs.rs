//! [`EcsLayer`]: a `tracing` layer that writes every event as one ECS JSON line, redacted.

use std::borrow::Cow;
use std::cell::RefCell;

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use zeroize::Zeroize;

use super::trace_ids::TraceIds;
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
/// With the cargo feature `otel`, an event inside a `tracing` span that carries an OpenTelemetry
/// span context (put there by `tracing-opentelemetry`'s layer in the same subscriber, or attached
/// by the host) also gets `trace.id` and `span.id` (lowercase hex, 32 and 16 digits). Events
/// outside spans skip that lookup entirely.
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
    /// `,"ecs.version":…,"service.name":…` and the other `service.*` pairs, JSON-escaped once.
    constant: String,
    redactor: Arc<dyn Redactor>,
    sink: Arc<dyn LogSink>,
    clock: Arc<dyn Clock>,
    default_dataset: Dataset,
    ids: RecordIds,
    drops: Arc<DropCounters>,
    /// Finds `trace.id` / `span.id` of events inside spans.
    #[cfg(feature = "otel")]
    otel: super::trace_ids::OtelIds,
}

impl EcsLayer {
    /// A layer for `service`, redacting with `redactor`, writing to `sink`.
    pub fn new(
        service: ServiceInfo,
        redactor: Arc<dyn Redactor>,
        sink: Arc<dyn LogSink>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut constant = String::new();
        push_pair(&mut constant, "ecs.version", ECS_VERSION);
        push_pair(&mut constant, "service.name", &service.name);
        for (key, value) in [
            ("service.version", &service.version),
            ("service.environment", &service.environment),
            ("service.node.name", &service.node),
        ] {
            if let Some(v) = value {
                push_pair(&mut constant, key, v);
            }
        }
        EcsLayer {
            constant,
            redactor,
            sink,
            clock,
            default_dataset: Dataset::Application,
            ids: RecordIds::new(),
            drops: Arc::default(),
            #[cfg(feature = "otel")]
            otel: super::trace_ids::OtelIds::default(),
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
        fields: &mut Fields,
        dataset: Dataset,
        now: biv_core::Timestamp,
        trace: Option<&TraceIds>,
    ) -> String {
        let redactor = &*self.redactor;
        let mut out = String::with_capacity(
            128 + self.constant.len()
                + target.len()
                + fields.text.len()
                + 24 * fields.values.len()
                + trace.map_or(0, |_| TRACE_KEYS_LEN),
        );
        out.push_str("{\"@timestamp\":\"");
        push_rfc3339_millis(&mut out, now, &mut fields.date);
        out.push_str("\",\"log.level\":");
        push_json_string(&mut out, level.as_str());
        if let Some(message) = fields.message.clone() {
            out.push_str(",\"message\":");
            push_json_string(&mut out, &redactor.redact(fields.text_of(message)));
        }
        out.push_str(&self.constant);
        out.push_str(",\"event.dataset\":");
        push_json_string(&mut out, dataset.as_str());
        out.push_str(",\"log.logger\":");
        push_json_string(&mut out, target);
        if let Some(ids) = trace {
            // Hex digits need no escaping.
            out.push_str(",\"trace.id\":\"");
            out.push_str(ids.trace_id());
            out.push_str("\",\"span.id\":\"");
            out.push_str(ids.span_id());
            out.push('"');
        }

        // A key written twice would make Elasticsearch reject the line: the last value wins.
        // `dotted` holds indices into `fields.values`, in order of first appearance.
        let Fields {
            values,
            dotted,
            labels,
            text,
            error_message,
            ..
        } = fields;
        dotted.clear();
        labels.clear();
        for (i, (key, _)) in values.iter().enumerate() {
            let key = *key;
            if key == "event.dataset" {
                continue;
            }
            if let Some(label) = key.strip_prefix("labels.") {
                labels.push((sanitize_label(label), i));
            } else if key.contains('.')
                && !RESERVED.contains(&key)
                && !key.starts_with("service.")
                // The ids from the span context win over event fields of the same name.
                && (trace.is_none() || !matches!(key, "trace.id" | "span.id"))
            {
                match dotted.iter_mut().find(|j| values[**j].0 == key) {
                    Some(slot) => *slot = i,
                    None => dotted.push(i),
                }
            } else {
                labels.push((sanitize_label(key), i));
            }
        }
        let mut has_error_message = false;
        for &i in dotted.iter() {
            let (key, value) = &values[i];
            has_error_message |= *key == "error.message";
            out.push(',');
            push_json_string(&mut out, key);
            out.push(':');
            write_value(&mut out, value, text, redactor);
        }
        if let Some(message) = error_message
            && !has_error_message
        {
            out.push_str(",\"error.message\":");
            write_value(&mut out, &Value::Str(message.clone()), text, redactor);
        }
        if !labels.is_empty() {
            // Sorted by key; of equal keys the later field wins (the sort is stable).
            labels.sort_by(|a, b| a.0.cmp(&b.0));
            out.push_str(",\"labels\":{");
            let mut first = true;
            for (n, (k, i)) in labels.iter().enumerate() {
                if labels.get(n + 1).is_some_and(|next| next.0 == *k) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                push_json_string(&mut out, k);
                out.push(':');
                write_value(&mut out, &values[*i].1, text, redactor);
            }
            out.push('}');
        }
        out.push('}');
        out
    }

    fn handle(&self, event: &Event<'_>, fields: &mut Fields, trace: Option<&TraceIds>) {
        event.record(fields);
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
            .find(|(k, _)| *k == "event.dataset")
            .and_then(|(_, v)| match v {
                Value::Str(range) => match fields.text_of(range.clone()) {
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
        let line = self.encode(level, meta.target(), fields, dataset, now, trace);
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

/// Scratch text kept between events, at most; a larger buffer is released after its event.
const SCRATCH_KEEP_BYTES: usize = 64 * 1024;

thread_local! {
    /// Per-thread scratch space for visiting an event, reused so that a line costs one
    /// allocation (the line itself, which is handed to the sink).
    static SCRATCH: RefCell<Fields> = RefCell::new(Fields::default());
}

impl<S> Layer<S> for EcsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[cfg(feature = "otel")]
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.otel.register(subscriber);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        #[cfg(feature = "otel")]
        let trace = self.otel.lookup(event, &ctx);
        #[cfg(not(feature = "otel"))]
        let trace: Option<TraceIds> = {
            let _ = ctx;
            None
        };
        let trace = trace.as_ref();
        // An event logged while this thread is already inside `on_event` (from a redactor, a
        // sink or a `Debug` impl) gets fresh scratch space instead of the borrowed one.
        let handled = SCRATCH
            .try_with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut fields) => {
                    fields.reset();
                    self.handle(event, &mut fields, trace);
                    fields.wipe();
                    true
                }
                Err(_) => false,
            })
            .unwrap_or(false);
        if !handled {
            self.handle(event, &mut Fields::default(), trace);
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
    /// The raw (unredacted, unescaped) text, as a range of [`Fields::text`].
    Str(Range<usize>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

#[derive(Debug, Default)]
struct Fields {
    /// The raw text of every string value, back to back.
    text: String,
    message: Option<Range<usize>>,
    values: Vec<(&'static str, Value)>,
    /// The text of a field named `error` recorded as an error; becomes `error.message` unless
    /// the event sets that field itself.
    error_message: Option<Range<usize>>,
    /// Scratch for [`EcsLayer::encode`]: indices of the dotted fields to write.
    dotted: Vec<usize>,
    /// Scratch for [`EcsLayer::encode`]: sanitised label keys and the index of their value.
    labels: Vec<(Cow<'static, str>, usize)>,
    /// The last day's `YYYY-MM-DDT`, kept between events (see [`push_rfc3339_millis`]).
    date: Option<DateText>,
}

impl Fields {
    fn reset(&mut self) {
        self.text.clear();
        self.message = None;
        self.values.clear();
        self.error_message = None;
        self.dotted.clear();
        self.labels.clear();
    }

    /// Overwrites the raw (unredacted) values with zeros so personal data does not linger in
    /// the thread's scratch space between events, and gives back space a huge event took.
    fn wipe(&mut self) {
        self.text.zeroize();
        if self.text.capacity() > SCRATCH_KEEP_BYTES {
            self.text = String::new();
        }
    }

    fn text_of(&self, range: Range<usize>) -> &str {
        self.text.get(range).unwrap_or_default()
    }

    fn push_text(&mut self, value: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(value);
        start..self.text.len()
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let start = self.text.len();
        // Writing to a String cannot fail; a `Debug` impl that errs leaves what it wrote.
        let _ = write!(self.text, "{value:?}");
        let range = start..self.text.len();
        if field.name() == "message" {
            self.message = Some(range);
        } else {
            self.values.push((field.name(), Value::Str(range)));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let range = self.push_text(value);
        if field.name() == "message" {
            self.message = Some(range);
        } else {
            self.values.push((field.name(), Value::Str(range)));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.values.push((field.name(), Value::I64(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.values.push((field.name(), Value::U64(value)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.values.push((field.name(), Value::F64(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.values.push((field.name(), Value::Bool(value)));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let start = self.text.len();
        let _ = write!(self.text, "{value}");
        let range = start..self.text.len();
        if field.name() == "error" {
            self.error_message = Some(range.clone());
        }
        self.values.push((field.name(), Value::Str(range)));
    }
}

/// Length of `,"trace.id":"<32 hex>","span.id":"<16 hex>"`.
const TRACE_KEYS_LEN: usize = 75;

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
fn sanitize_label(key: &'static str) -> Cow<'static, str> {
    if !key.contains(['.', '*', '\\']) {
        return Cow::Borrowed(key);
    }
    Cow::Owned(
        key.chars()
            .map(|c| {
                if matches!(c, '.' | '*' | '\\') {
                    '_'
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// Appends `,"key":"value"`.
fn push_pair(out: &mut String, key: &str, value: &str) {
    out.push(',');
    push_json_string(out, key);
    out.push(':');
    push_json_string(out, value);
}

fn write_value(out: &mut String, value: &Value, text: &str, redactor: &dyn Redactor) {
    match value {
        Value::Str(range) => {
            push_json_string(
                out,
                &redactor.redact(text.get(range.clone()).unwrap_or_default()),
            );
        }
        // A number can be personal data too (a BSN logged as an integer): when the redactor
        // finds something in its decimal text, the redacted text is written instead.
        Value::I64(n) => {
            let mut buf = [0u8; 20];
            let digits = decimal(n.unsigned_abs(), &mut buf);
            if *n < 0 {
                let mut signed = [0u8; 21];
                signed[0] = b'-';
                let len = digits.len() + 1;
                signed[1..len].copy_from_slice(digits.as_bytes());
                push_number(
                    out,
                    std::str::from_utf8(&signed[..len]).unwrap_or_default(),
                    redactor,
                );
            } else {
                push_number(out, digits, redactor);
            }
        }
        Value::U64(n) => {
            let mut buf = [0u8; 20];
            push_number(out, decimal(*n, &mut buf), redactor);
        }
        Value::F64(n) if n.is_finite() => push_number(out, &n.to_string(), redactor),
        Value::F64(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// The decimal digits of `n`, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

fn push_number(out: &mut String, text: &str, redactor: &dyn Redactor) {
    if redactor.scan(text).is_empty() {
        out.push_str(text);
    } else {
        push_json_string(out, &redactor.redact(text));
    }
}

/// A day (days since 1970-01-01) and its text `YYYY-MM-DDT`.
type DateText = (i64, [u8; 11]);

/// Appends `now` as `YYYY-MM-DDTHH:MM:SS.mmmZ`, the text of [`Timestamp::to_rfc3339_millis`]
/// (biv_core::Timestamp), without its three intermediate allocations; the date part is computed
/// once per day and kept in `date`.
fn push_rfc3339_millis(out: &mut String, now: biv_core::Timestamp, date: &mut Option<DateText>) {
    let secs = now.unix_seconds();
    let day = secs.div_euclid(86_400);
    // Timestamps are limited to the years 0001–9999, so every part fits its width; a value out
    // of range would only produce wrong digits, never a panic.
    let digit = |v: u64| b'0' + (v % 10) as u8;
    let date = match date {
        Some((cached, text)) if *cached == day => text,
        _ => {
            let (y, m, d) = biv_core::civil_from_days(day);
            let y = y.unsigned_abs();
            let (m, d) = (u64::from(m), u64::from(d));
            let text = [
                digit(y / 1000),
                digit(y / 100),
                digit(y / 10),
                digit(y),
                b'-',
                digit(m / 10),
                digit(m),
                b'-',
                digit(d / 10),
                digit(d),
                b'T',
            ];
            &mut date.insert((day, text)).1
        }
    };
    out.push_str(std::str::from_utf8(date).unwrap_or_default());
    let sod = secs.rem_euclid(86_400).unsigned_abs();
    let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let ms = u64::from(now.subsec_nanos() / 1_000_000);
    let b = [
        digit(hh / 10),
        digit(hh),
        b':',
        digit(mm / 10),
        digit(mm),
        b':',
        digit(ss / 10),
        digit(ss),
        b'.',
        digit(ms / 100),
        digit(ms / 10),
        digit(ms),
        b'Z',
    ];
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

/// Appends `s` as a JSON string (escapes per RFC 8259; control characters as `\u00XX`).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    // Most values need no escaping: one branch-free pass, then a single copy.
    if !bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `run..i` lies on character boundaries.
        out.push_str(s.get(run..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(s.get(run..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_text_matches_biv_core() {
        // Without a cached date, with the same day cached, and with another day cached.
        let check = |t: biv_core::Timestamp| {
            let expected = t.to_rfc3339_millis();
            let mut date = None;
            for _ in 0..2 {
                let mut out = String::new();
                push_rfc3339_millis(&mut out, t, &mut date);
                assert_eq!(out, expected);
            }
            let mut other_day = Some((t.unix_seconds().div_euclid(86_400) + 1, *b"1999-12-31T"));
            let mut out = String::new();
            push_rfc3339_millis(&mut out, t, &mut other_day);
            assert_eq!(out, expected);
        };
        let mut secs = -62_135_596_800_i64;
        while secs <= 253_402_300_799 {
            for nanos in [0, 999_999, 1_000_000, 123_456_789, 999_999_999] {
                let Ok(t) = biv_core::Timestamp::from_unix_seconds(secs, nanos) else {
                    panic!("in range: {secs}");
                };
                check(t);
            }
            secs += 86_399 * 37 + 3_601;
        }
        for secs in [
            -62_135_596_800,
            -1,
            0,
            1,
            86_399,
            86_400,
            951_782_400,
            253_402_300_799,
        ] {
            let Ok(t) = biv_core::Timestamp::from_unix_seconds(secs, 999_999_999) else {
                panic!("in range: {secs}");
            };
            check(t);
        }
        // One cache across consecutive seconds that cross midnight.
        let mut date = None;
        for secs in 1_764_115_190..1_764_115_210 {
            let Ok(t) = biv_core::Timestamp::from_unix_seconds(secs, 5_000_000) else {
                panic!("in range: {secs}");
            };
            let mut out = String::new();
            push_rfc3339_millis(&mut out, t, &mut date);
            assert_eq!(out, t.to_rfc3339_millis());
        }
    }

    #[test]
    fn json_escaping_matches_the_char_by_char_form() {
        for s in [
            "",
            "plain",
            "é \"q\" \\ \n\r\t \u{1} \u{1f} ü€😀",
            "\u{7f}\u{0}x",
        ] {
            let mut expected = String::from('"');
            for c in s.chars() {
                match c {
                    '"' => expected.push_str("\\\""),
                    '\\' => expected.push_str("\\\\"),
                    '\n' => expected.push_str("\\n"),
                    '\r' => expected.push_str("\\r"),
                    '\t' => expected.push_str("\\t"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(expected, "\\u{:04x}", c as u32);
                    }
                    c => expected.push(c),
                }
            }
            expected.push('"');
            let mut out = String::new();
            push_json_string(&mut out, s);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn decimal_text_matches_display() {
        for n in [0u64, 1, 9, 10, 200, 1_250_000, u64::MAX] {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
        #[derive(Debug)]
        struct Nothing;
        impl Redactor for Nothing {
            fn scan(&self, _text: &str) -> Vec<biv_core::Finding> {
                Vec::new()
            }
        }
        for n in [0i64, 7, -7, 200, -1_250_000, i64::MAX, i64::MIN] {
            let mut out = String::new();
            write_value(&mut out, &Value::I64(n), "", &Nothing);
            assert_eq!(out, n.to_string());
        }
    }
}
