//! Metric updates against a raw `AtomicU64::fetch_add` baseline, and detector throughput, in the
//! same run.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use biv_availability::anomaly::{
    Detector, EwmaZScore, Exhaustion, HoltForecast, Limit, LinearWindow,
};
use biv_availability::metrics::{DEFAULT_BUCKETS, Format, Registry};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn metrics(c: &mut Criterion) {
    let registry = Registry::new();
    let counter = registry.counter("bench_hits", "Hits.").expect("counter");
    let vec = registry
        .counter_vec(
            "bench_requests",
            "Requests.",
            &["method", "route", "status"],
        )
        .expect("vec");
    let child = vec
        .with_label_values(&["GET", "/patients/{id}", "200"])
        .expect("labels");
    let histogram = registry
        .histogram("bench_latency_seconds", "Latency.", &DEFAULT_BUCKETS)
        .expect("histogram");
    let raw = AtomicU64::new(0);

    let mut group = c.benchmark_group("metrics");
    group.bench_function("baseline_atomic_fetch_add", |b| {
        b.iter(|| black_box(&raw).fetch_add(1, Ordering::Relaxed))
    });
    group.bench_function("counter_inc", |b| b.iter(|| black_box(&counter).inc()));
    group.bench_function("counter_vec_child_inc", |b| {
        b.iter(|| black_box(&child).inc())
    });
    group.bench_function("counter_vec_lookup_and_inc", |b| {
        b.iter(|| {
            vec.with_label_values(black_box(&["GET", "/patients/{id}", "200"]))
                .expect("labels")
                .inc()
        })
    });
    group.bench_function("histogram_observe", |b| {
        b.iter(|| histogram.observe(black_box(0.042)))
    });
    for i in 0..200 {
        vec.with_label_values(&["GET", &format!("/r{i}"), "200"])
            .expect("labels")
            .inc();
    }
    group.bench_function("encode_prometheus_204_series", |b| {
        b.iter(|| registry.encode(black_box(Format::Prometheus)))
    });
    group.finish();
}

fn detectors(c: &mut Criterion) {
    const N: u64 = 10_000;
    let mut group = c.benchmark_group("detectors");
    group.throughput(Throughput::Elements(N));
    let series: Vec<f64> = (0..N).map(|i| 50.0 + (i % 17) as f64 * 0.5).collect();
    group.bench_function(BenchmarkId::new("baseline_sum", N), |b| {
        b.iter(|| black_box(&series).iter().sum::<f64>())
    });
    group.bench_function(BenchmarkId::new("ewma_zscore", N), |b| {
        let mut d = EwmaZScore::new(0.05).expect("alpha");
        b.iter(|| {
            for (i, &v) in series.iter().enumerate() {
                black_box(d.update(i as f64, v));
            }
        })
    });
    group.bench_function(BenchmarkId::new("holt_forecast", N), |b| {
        let mut d = HoltForecast::new(0.3, 0.1, 10.0, Limit::Above(100.0)).expect("factors");
        b.iter(|| {
            for (i, &v) in series.iter().enumerate() {
                black_box(d.update(i as f64, v));
            }
        })
    });
    group.bench_function(BenchmarkId::new("exhaustion_window_120", N), |b| {
        let mut d = Exhaustion::new(
            Limit::Below(0.0),
            Duration::from_secs(3600),
            120,
            Duration::from_secs(1_000_000),
        );
        let mut t = 0.0;
        b.iter(|| {
            for &v in &series {
                t += 15.0;
                black_box(d.update(t, v));
            }
        })
    });
    group.bench_function(BenchmarkId::new("linear_window_push_120", N), |b| {
        let mut w = LinearWindow::new(120, Duration::from_secs(1_000_000));
        let mut t = 0.0;
        b.iter(|| {
            for &v in &series {
                t += 15.0;
                black_box(w.push(t, v));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, metrics, detectors);
criterion_main!(benches);
