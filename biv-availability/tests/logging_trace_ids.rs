//! With the `otel` feature, the ECS layer writes `trace.id` / `span.id` of the OpenTelemetry span
//! an event belongs to (tracing-opentelemetry's layer), and nothing for events outside spans.
#![cfg(feature = "otel")]

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use biv_availability::logging::{EcsLayer, ServiceInfo};
use biv_core::{Finding, Redactor, Timestamp};
use biv_testkit::{InMemoryLogSink, ManualClock};
use opentelemetry::KeyValue;
use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer,
};
use serde_json::Value;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;

#[derive(Debug)]
struct NoPii;

impl Redactor for NoPii {
    fn scan(&self, _text: &str) -> Vec<Finding> {
        Vec::new()
    }
}

/// A tracer that numbers what it starts — a root span opens trace `…a0000n`, every span gets id
/// `…1000n` — and remembers each span as (name, trace id, span id) in lowercase hex. (The SDK's
/// tracer would do as well, but its `trace` feature brings a second `rand` into the tree.)
#[derive(Debug, Clone, Default)]
struct NumberingTracer {
    next: Arc<AtomicU64>,
    started: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Tracer for NumberingTracer {
    type Span = TestSpan;

    fn build_with_context(
        &self,
        builder: SpanBuilder,
        parent_cx: &opentelemetry::Context,
    ) -> TestSpan {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let parent = parent_cx.span().span_context().clone();
        let trace_id = if parent.is_valid() {
            parent.trace_id()
        } else {
            TraceId::from_bytes((0xa_0000 + u128::from(n)).to_be_bytes())
        };
        let span_id = SpanId::from_bytes((0x1_0000 + n).to_be_bytes());
        self.started.lock().expect("tracer lock").push((
            builder.name.to_string(),
            format!("{:032x}", u128::from_be_bytes(trace_id.to_bytes())),
            format!("{:016x}", u64::from_be_bytes(span_id.to_bytes())),
        ));
        TestSpan(SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ))
    }
}

/// A span that only has its context.
#[derive(Debug)]
struct TestSpan(SpanContext);

impl opentelemetry::trace::Span for TestSpan {
    fn add_event_with_timestamp<T>(&mut self, _: T, _: SystemTime, _: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
    }
    fn span_context(&self) -> &SpanContext {
        &self.0
    }
    fn is_recording(&self) -> bool {
        true
    }
    fn set_attribute(&mut self, _: KeyValue) {}
    fn set_status(&mut self, _: Status) {}
    fn update_name<T>(&mut self, _: T)
    where
        T: Into<Cow<'static, str>>,
    {
    }
    fn add_link(&mut self, _: SpanContext, _: Vec<KeyValue>) {}
    fn end_with_timestamp(&mut self, _: SystemTime) {}
}

/// The ECS lines as written, the same parsed, and the finished OpenTelemetry spans.
type Run = (Vec<String>, Vec<Value>, Vec<(String, String, String)>);

/// Runs `f` under a subscriber with the OpenTelemetry layer (the numbering tracer) and the ECS
/// layer; returns the ECS lines, parsed, and the OpenTelemetry spans started.
fn run(context_activation: bool, f: impl FnOnce()) -> Run {
    let tracer = NumberingTracer::default();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer.clone())
        .with_context_activation(context_activation);
    let sink = Arc::new(InMemoryLogSink::new());
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-26T09:30:00Z").expect("timestamp"),
    ));
    let ecs = EcsLayer::new(
        ServiceInfo::new("ehr-api"),
        Arc::new(NoPii),
        sink.clone(),
        clock,
    );
    let subscriber = tracing_subscriber::registry().with(otel).with(ecs);
    tracing::subscriber::with_default(subscriber, f);
    let spans = tracer.started.lock().expect("tracer lock").clone();
    let lines = sink.lines();
    let parsed = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("ECS line is JSON"))
        .collect();
    (lines, parsed, spans)
}

fn ids(line: &Value) -> (Option<&str>, Option<&str>) {
    (line["trace.id"].as_str(), line["span.id"].as_str())
}

fn span<'a>(spans: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    let s = spans
        .iter()
        .find(|s| s.0 == name)
        .unwrap_or_else(|| panic!("span {name} started"));
    (&s.1, &s.2)
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn events_in_nested_spans_carry_the_innermost_span_and_the_shared_trace() {
    let (raw, lines, spans) = run(true, || {
        tracing::info!("before");
        let outer = tracing::info_span!("outer");
        let _o = outer.enter();
        tracing::info!("in outer");
        {
            let inner = tracing::info_span!("inner");
            let _i = inner.enter();
            tracing::warn!("in inner");
        }
        tracing::info!("back in outer");
        drop(_o);
        drop(outer);
        tracing::info!("after");
    });
    assert_eq!(lines.len(), 5, "{raw:?}");
    let (trace, outer) = span(&spans, "outer");
    let (inner_trace, inner) = span(&spans, "inner");
    assert_eq!(inner_trace, trace, "one trace");
    assert_ne!(inner, outer);
    assert!(
        is_lower_hex(trace, 32) && trace != "0".repeat(32),
        "{trace}"
    );
    assert!(is_lower_hex(outer, 16) && is_lower_hex(inner, 16));

    assert_eq!(ids(&lines[0]), (None, None), "{}", raw[0]);
    assert_eq!(ids(&lines[1]), (Some(trace), Some(outer)), "{}", raw[1]);
    assert_eq!(ids(&lines[2]), (Some(trace), Some(inner)), "{}", raw[2]);
    assert_eq!(ids(&lines[3]), (Some(trace), Some(outer)), "{}", raw[3]);
    assert_eq!(ids(&lines[4]), (None, None), "{}", raw[4]);
    // Written right after the layer's own keys, before the event's fields.
    assert!(
        raw[2].contains(&format!(
            r#""log.logger":"logging_trace_ids","trace.id":"{trace}","span.id":"{inner}"}}"#
        )),
        "{}",
        raw[2]
    );
}

#[test]
fn a_remote_parent_from_traceparent_sets_the_trace_id() {
    // traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 (W3C example)
    let remote = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("trace id"),
        SpanId::from_hex("00f067aa0ba902b7").expect("span id"),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let (raw, lines, spans) = run(true, move || {
        let request = tracing::info_span!("request");
        request
            .set_parent(opentelemetry::Context::new().with_remote_span_context(remote))
            .expect("parent set before the span starts");
        let _r = request.enter();
        tracing::info!(user.id = "u-1", "lookup");
    });
    let (trace, request) = span(&spans, "request");
    assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        ids(&lines[0]),
        (Some("4bf92f3577b34da6a3ce929d0e0e4736"), Some(request)),
        "{}",
        raw[0]
    );
    assert_ne!(
        request, "00f067aa0ba902b7",
        "the span's own id, not the parent's"
    );
    assert_eq!(lines[0]["user.id"], "u-1");
}

#[test]
fn explicit_parents_and_layers_without_context_activation_read_the_span_extensions() {
    for activation in [true, false] {
        let (raw, lines, spans) = run(activation, || {
            let job = tracing::info_span!("job");
            // Not entered: only the span's own OpenTelemetry data can tell its ids.
            tracing::info!(parent: &job, "queued");
            let _j = job.enter();
            let step = tracing::info_span!("step");
            let _s = step.enter();
            tracing::info!("working");
        });
        let (trace, job) = span(&spans, "job");
        let (_, step) = span(&spans, "step");
        assert_eq!(
            ids(&lines[0]),
            (Some(trace), Some(job)),
            "activation {activation}: {}",
            raw[0]
        );
        assert_eq!(
            ids(&lines[1]),
            (Some(trace), Some(step)),
            "activation {activation}: {}",
            raw[1]
        );
    }
}

#[test]
fn outside_tracing_spans_the_otel_context_is_not_consulted() {
    // An OpenTelemetry context attached by hand, with no `tracing` span around the event: the
    // layer does not look at OpenTelemetry at all on this path (it stays as fast as without the
    // feature), so the line carries no ids.
    let attached = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("trace id"),
        SpanId::from_hex("b7ad6b7169203331").expect("span id"),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let (raw, lines, _) = run(true, move || {
        let _cx = opentelemetry::Context::new()
            .with_remote_span_context(attached.clone())
            .attach();
        tracing::info!("no span");
        // Inside a tracing span the ids are looked up: `plain` continues the attached trace.
        let plain = tracing::info_span!("plain");
        let _p = plain.enter();
        tracing::info!("in span");
    });
    assert_eq!(ids(&lines[0]), (None, None), "{}", raw[0]);
    assert_eq!(
        ids(&lines[1]).0,
        Some("0af7651916cd43dd8448eb211c80319c"),
        "{}",
        raw[1]
    );
}

#[test]
fn event_fields_named_trace_id_never_duplicate_the_key() {
    let (raw, lines, spans) = run(true, || {
        tracing::info!(trace.id = "from-field", "outside");
        let s = tracing::info_span!("s");
        let _s = s.enter();
        tracing::info!(trace.id = "from-field", span.id = "also", "inside");
    });
    // Outside spans an event may set `trace.id` itself (hosts without OpenTelemetry do).
    assert_eq!(lines[0]["trace.id"], "from-field", "{}", raw[0]);
    // Inside, the span context wins and the event's values go under labels.
    let (trace, id) = span(&spans, "s");
    assert_eq!(ids(&lines[1]), (Some(trace), Some(id)), "{}", raw[1]);
    assert_eq!(lines[1]["labels"]["trace_id"], "from-field");
    assert_eq!(lines[1]["labels"]["span_id"], "also");
    assert_eq!(raw[1].matches(r#""trace.id""#).count(), 1, "{}", raw[1]);
}

#[test]
fn spans_without_a_valid_context_write_no_ids() {
    // No OpenTelemetry layer at all: spans carry no context, so no ids (and nothing breaks).
    let sink = Arc::new(InMemoryLogSink::new());
    let clock = Arc::new(ManualClock::default());
    let ecs = EcsLayer::new(
        ServiceInfo::new("ehr-api"),
        Arc::new(NoPii),
        sink.clone(),
        clock,
    );
    tracing::subscriber::with_default(tracing_subscriber::registry().with(ecs), || {
        let s = tracing::info_span!("s");
        let _s = s.enter();
        tracing::info!("inside");
        tracing::info!(parent: &s, "explicit");
    });
    let lines = sink.lines();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert!(
            !line.contains("trace.id") && !line.contains("span.id"),
            "{line}"
        );
    }
}
