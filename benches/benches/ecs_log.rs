//! ECS formatting per event against tracing-subscriber's own JSON formatter (the formatter users
//! would pick instead), in the same run; and the full hot path (format, redact, submit) with
//! biv's PII redactor and the non-blocking writer sink.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use biv_availability::logging::{EcsLayer, ServiceInfo, WriterSink};
use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
use biv_core::{Finding, LogFlushError, LogRecord, LogSink, LogSubmitError, Redactor, SystemClock};
use criterion::{Criterion, criterion_group, criterion_main};
use tracing_subscriber::prelude::*;

/// Takes every record and drops it: measures the layer, not a writer.
#[derive(Debug)]
struct Discard;

impl LogSink for Discard {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        black_box(record);
        Ok(())
    }
    fn flush(&self, _timeout: Duration) -> Result<(), LogFlushError> {
        Ok(())
    }
}

/// Finds nothing: isolates formatting from redaction, as the baseline does no redaction.
#[derive(Debug)]
struct NoFindings;

impl Redactor for NoFindings {
    fn scan(&self, _text: &str) -> Vec<Finding> {
        Vec::new()
    }
}

fn event() {
    tracing::info!(
        user.id = "u-1042",
        http.request.method = "GET",
        url.path = "/patients/42/records",
        http.response.status_code = 200u64,
        event.duration = 1_250_000u64,
        "request served"
    );
}

fn ecs_log(c: &mut Criterion) {
    let mut group = c.benchmark_group("ecs_log");
    group.measurement_time(Duration::from_secs(5));

    let baseline = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::sink),
    );
    tracing::subscriber::with_default(baseline, || {
        group.bench_function("baseline_tracing_subscriber_json", |b| b.iter(event));
    });

    let service = || ServiceInfo::new("ehr-api").with_version("4.2.1");
    let ecs = tracing_subscriber::registry().with(EcsLayer::new(
        service(),
        Arc::new(NoFindings),
        Arc::new(Discard),
        Arc::new(SystemClock::new()),
    ));
    tracing::subscriber::with_default(ecs, || {
        group.bench_function("ecs_layer_format", |b| b.iter(event));
    });

    let redactor = PiiRedactor::new(&PiiConfig::default()).expect("redactor");
    let redacted = tracing_subscriber::registry().with(EcsLayer::new(
        service(),
        Arc::new(redactor),
        Arc::new(Discard),
        Arc::new(SystemClock::new()),
    ));
    tracing::subscriber::with_default(redacted, || {
        group.bench_function("ecs_layer_format_and_redact", |b| b.iter(event));
    });

    let sink = Arc::new(WriterSink::new(std::io::sink(), 1 << 20).expect("writer sink"));
    let full = tracing_subscriber::registry().with(EcsLayer::new(
        service(),
        Arc::new(PiiRedactor::new(&PiiConfig::default()).expect("redactor")),
        sink.clone(),
        Arc::new(SystemClock::new()),
    ));
    tracing::subscriber::with_default(full, || {
        group.bench_function("hot_path_emit_redact_submit", |b| b.iter(event));
    });
    let _ = sink.flush(Duration::from_secs(10));
    group.finish();
}

criterion_group!(benches, ecs_log);
criterion_main!(benches);
