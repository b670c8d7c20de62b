//! A blind index value against a raw HMAC-SHA256 of the same input, in the same run.

use std::hint::black_box;

use biv_confidentiality::blind_index::{BlindIndex, IndexRootKey, IndexSpec, Normalizer};
use biv_core::SecretBytes;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

fn bench(c: &mut Criterion) {
    let root = IndexRootKey::new(1, SecretBytes::new(vec![7; 32])).expect("key");
    let spec = IndexSpec::new(
        "zorg-noord",
        "patients",
        "email",
        "email_lower",
        Normalizer::EmailLower,
        32,
    )
    .expect("spec");
    let index = BlindIndex::new(&root, &spec).expect("index");
    let key = [9u8; 32];
    let input = "jan.jansen@example.nl";
    let prepared = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("key");

    let mut group = c.benchmark_group("blind_index");
    group.bench_function("biv_compute_email_32bits", |b| {
        b.iter(|| index.compute(black_box(input)).expect("valid"))
    });
    group.bench_function("baseline_hmac_sha256_keyed_per_call", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&key)).expect("key");
            mac.update(black_box(input).as_bytes());
            mac.finalize().into_bytes()
        })
    });
    group.bench_function("baseline_hmac_sha256_prepared_key", |b| {
        b.iter(|| {
            let mut mac = prepared.clone();
            mac.update(black_box(input).as_bytes());
            mac.finalize().into_bytes()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
