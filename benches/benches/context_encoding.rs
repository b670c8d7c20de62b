//! Encoding an encryption context canonically, against the baseline a host would otherwise
//! reach for: `serde_json` of a sorted map.

use std::collections::BTreeMap;
use std::hint::black_box;

use biv_core::Context;
use criterion::{Criterion, criterion_group, criterion_main};

fn fields() -> [(&'static str, &'static str); 5] {
    [
        ("tenant", "zorg-noord"),
        ("table", "patients"),
        ("column", "bsn"),
        (
            "subject",
            "hmac-sha256:t1-2026:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        ),
        ("row", "0192f3a4-5b6c-7d8e-9f00-112233445566"),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("context_encoding");
    let mut ctx = Context::new();
    for (k, v) in fields() {
        ctx = ctx.with(k, v).expect("valid field");
    }
    let map: BTreeMap<&str, &str> = fields().into_iter().collect();
    group.bench_function("biv_canonical", |b| {
        b.iter(|| black_box(&ctx).to_canonical_bytes())
    });
    group.bench_function("baseline_serde_json_btreemap", |b| {
        b.iter(|| serde_json::to_vec(black_box(&map)).expect("serializable"))
    });
    group.bench_function("biv_build_and_encode", |b| {
        b.iter(|| {
            let mut ctx = Context::new();
            for (k, v) in fields() {
                ctx = ctx.with(k, v).expect("valid field");
            }
            ctx.to_canonical_bytes()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
