//! Field encryption: encrypt + decrypt of a 64-byte field in format v1 with a cached data key,
//! against the baseline of raw `aes-gcm` seal + open with a fresh `getrandom` nonce and the same
//! associated data, in the same run. The Encryptor rows poll its futures directly (a cache
//! hit never waits), so no runtime overhead is counted: through the `Encryptor` trait (boxed
//! futures), through the inherent unboxed `async fn`s, and through the synchronous cache-hit
//! methods.

use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use biv_confidentiality::envelope::DataKey;
use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore,
};
use biv_core::{Context, Encryptor, SecretBytes, SystemClock};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn context() -> Context {
    Context::new()
        .with("tenant", "zorg-noord")
        .and_then(|c| c.with("table", "patients"))
        .and_then(|c| c.with("column", "diagnosis"))
        .and_then(|c| c.with("subject", "hmac-sha256:t1-2026:9f86d081884c7d65"))
        .and_then(|c| c.with("row", "0192f3a4-5b6c-7d8e-9f00-112233445566"))
        .expect("valid context")
}

/// Polls a future that completes without waiting (a cache hit never waits), so the bench
/// measures the encryptor and not a runtime's `block_on`.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cache hit had to wait"),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope_64B");
    group.throughput(Throughput::Elements(1));
    let field = [0x42u8; 64];
    let ctx = context();
    let key_bytes = SecretBytes::new(vec![7; 32]);

    // The baseline: what a host would write by hand with the same primitive.
    let raw = Aes256Gcm::new_from_slice(key_bytes.expose_secret()).expect("32-byte key");
    let mut aad = vec![0u8; 23 + 4];
    aad.extend_from_slice(&ctx.to_canonical_bytes());
    group.bench_function("baseline_raw_aes_gcm_seal_open_getrandom", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 12];
            getrandom::fill(&mut nonce).expect("randomness");
            let nonce = Nonce::from(nonce);
            let sealed = raw
                .encrypt(
                    &nonce,
                    Payload {
                        msg: black_box(&field),
                        aad: &aad,
                    },
                )
                .expect("seal");
            raw.decrypt(
                &nonce,
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            )
            .expect("open")
        })
    });

    let key = DataKey::new(1, &key_bytes).expect("key");
    group.bench_function("biv_data_key_encrypt_decrypt", |b| {
        b.iter(|| {
            let ct = key.encrypt(black_box(&field), &ctx).expect("encrypt");
            key.decrypt(&ct, &ctx).expect("decrypt")
        })
    });

    // The full Encryptor on a cache hit: cache lookup, boxed futures, format v1.
    let dir = std::env::temp_dir().join(format!("biv-bench-envelope-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ring = LocalKeyring::create(
        dir.join("root.json"),
        "local:bench",
        &KeyringPolicy::development(),
    )
    .expect("keyring");
    let enc = EnvelopeEncryptor::new(
        Arc::new(ring),
        Arc::new(MemoryKeyStore::new()),
        Arc::new(SystemClock::new()),
        CacheConfig::default().with_max_uses(u64::MAX),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(enc.encrypt(&field, &ctx))
        .expect("warm the cache");
    group.bench_function("biv_envelope_encryptor_cached", |b| {
        b.iter(|| {
            let ct = ready(enc.encrypt(black_box(&field), &ctx)).expect("encrypt");
            ready(enc.decrypt(&ct, &ctx)).expect("decrypt")
        })
    });
    group.bench_function("biv_envelope_encryptor_cached_encrypt_only", |b| {
        b.iter(|| ready(enc.encrypt(black_box(&field), &ctx)).expect("encrypt"))
    });

    // The fast path for hosts holding the concrete type: the same operations as inherent
    // `async fn`s, futures not boxed (polled directly, as above), and the synchronous
    // cache-only methods.
    group.bench_function("biv_envelope_encryptor_unboxed", |b| {
        b.iter(|| {
            let ct = ready(enc.encrypt_unboxed(black_box(&field), &ctx)).expect("encrypt");
            ready(enc.decrypt_unboxed(&ct, &ctx)).expect("decrypt")
        })
    });
    group.bench_function("biv_envelope_encryptor_sync_cached", |b| {
        b.iter(|| {
            let ct = enc
                .encrypt_cached(black_box(&field), &ctx)
                .expect("encrypt")
                .expect("cached");
            enc.decrypt_cached(&ct, &ctx)
                .expect("decrypt")
                .expect("cached")
        })
    });
    group.bench_function("biv_envelope_encryptor_unboxed_encrypt_only", |b| {
        b.iter(|| ready(enc.encrypt_unboxed(black_box(&field), &ctx)).expect("encrypt"))
    });
    group.bench_function("biv_envelope_encryptor_sync_cached_encrypt_only", |b| {
        b.iter(|| {
            enc.encrypt_cached(black_box(&field), &ctx)
                .expect("encrypt")
                .expect("cached")
        })
    });
    group.finish();

    // Criterion runs its rows one after another, so on a shared machine a change of load
    // between two rows moves their ratio. `BIV_ENVELOPE_PAIRED=<rounds>` adds an interleaved
    // measurement: every round times each variant for a batch, in rotating order, so load hits
    // all variants of a round alike; it prints per variant the fastest round and the median of
    // the per-round ratios to the baseline. Run it alone with a filter that matches no row:
    // `BIV_ENVELOPE_PAIRED=150 cargo bench -p biv-benches --bench envelope -- paired`.
    if let Some(rounds) = std::env::var("BIV_ENVELOPE_PAIRED")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let seal_open = || {
            let mut nonce = [0u8; 12];
            getrandom::fill(&mut nonce).expect("randomness");
            let nonce = Nonce::from(nonce);
            let payload = Payload {
                msg: black_box(&field[..]),
                aad: &aad,
            };
            let sealed = raw.encrypt(&nonce, payload).expect("seal");
            let payload = Payload {
                msg: &sealed,
                aad: &aad,
            };
            drop(black_box(raw.decrypt(&nonce, payload).expect("open")));
        };
        let variants: [(&str, &dyn Fn()); 8] = [
            ("baseline seal + open", &seal_open),
            ("DataKey", &|| {
                let ct = key.encrypt(black_box(&field), &ctx).expect("encrypt");
                drop(black_box(key.decrypt(&ct, &ctx).expect("decrypt")));
            }),
            ("Encryptor trait", &|| {
                let ct = ready(enc.encrypt(black_box(&field), &ctx)).expect("encrypt");
                drop(black_box(ready(enc.decrypt(&ct, &ctx)).expect("decrypt")));
            }),
            ("unboxed", &|| {
                let ct = ready(enc.encrypt_unboxed(black_box(&field), &ctx)).expect("encrypt");
                drop(black_box(
                    ready(enc.decrypt_unboxed(&ct, &ctx)).expect("decrypt"),
                ));
            }),
            ("sync cached", &|| {
                let ct = enc
                    .encrypt_cached(black_box(&field), &ctx)
                    .expect("encrypt");
                let ct = ct.expect("cached");
                drop(black_box(enc.decrypt_cached(&ct, &ctx).expect("decrypt")));
            }),
            ("encrypt only: trait", &|| {
                drop(black_box(ready(enc.encrypt(black_box(&field), &ctx))));
            }),
            ("encrypt only: unboxed", &|| {
                drop(black_box(ready(
                    enc.encrypt_unboxed(black_box(&field), &ctx),
                )));
            }),
            ("encrypt only: sync cached", &|| {
                drop(black_box(enc.encrypt_cached(black_box(&field), &ctx)));
            }),
        ];
        paired(&variants, rounds.max(1));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The interleaved measurement behind `BIV_ENVELOPE_PAIRED`; the first variant is the baseline.
fn paired(variants: &[(&str, &dyn Fn())], rounds: usize) {
    const BATCH: u32 = 2_000;
    let mut ns = vec![Vec::with_capacity(rounds); variants.len()];
    for (_, f) in variants {
        (0..BATCH).for_each(|_| f());
    }
    for round in 0..rounds {
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let start = std::time::Instant::now();
            (0..BATCH).for_each(|_| (variants[i].1)());
            ns[i].push(start.elapsed().as_secs_f64() * 1e9 / f64::from(BATCH));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("\npaired, {rounds} rounds of {BATCH} iterations per variant");
    println!(
        "{:<28} {:>8} {:>8} {:>14}",
        "variant", "min ns", "med ns", "ratio (median)"
    );
    for (i, (name, _)) in variants.iter().enumerate() {
        let ratios = (0..rounds).map(|r| ns[i][r] / ns[0][r]).collect();
        let min = ns[i].iter().copied().fold(f64::MAX, f64::min);
        println!(
            "{name:<28} {min:>8.0} {:>8.0} {:>14.3}",
            median(ns[i].clone()),
            median(ratios)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
