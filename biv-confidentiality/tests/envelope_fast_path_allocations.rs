//! Proof of issue 3's "the cache-hit path allocates nothing but the output".
//!
//! A counting global allocator (`stats_alloc`, wrapping the system allocator; see the comment
//! in Cargo.toml for why it is a crate and not an `unsafe impl` here) counts every allocation
//! and reallocation of this test binary. The binary holds this one test, so no other test
//! thread allocates while a region is measured; the Tokio runtime used to warm the cache is
//! dropped before measuring. Each fast-path call on a cache hit must make exactly one
//! allocation — its output: the ciphertext `Vec`, or the plaintext buffer inside the
//! `SecretBytes` — and no reallocation. The trait path is measured too, to show what its
//! boxed futures cost.

use std::alloc::System;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore,
};
use biv_core::{Context, Encryptor, SystemClock};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 200;

/// Polls a future once: a cache hit completes without waiting.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cache hit had to wait"),
    }
}

/// Allocations and reallocations made by `f`, run `ROUNDS` times; what `f` returns is
/// dropped inside the region (frees are not counted).
fn count<T>(mut f: impl FnMut() -> T) -> (usize, usize) {
    let region = Region::new(GLOBAL);
    for _ in 0..ROUNDS {
        drop(std::hint::black_box(f()));
    }
    let change = region.change();
    (change.allocations, change.reallocations)
}

fn context(row: &str) -> Context {
    Context::new()
        .with("tenant", "zorg-noord")
        .and_then(|c| c.with("table", "patients"))
        .and_then(|c| c.with("column", "diagnosis"))
        .and_then(|c| c.with("subject", "hmac-sha256:t1-2026:9f86d081884c7d65"))
        .and_then(|c| c.with("row", row))
        .expect("context")
}

#[test]
fn a_cache_hit_allocates_only_its_output() {
    let dir = std::env::temp_dir().join(format!("biv-enc-allocs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ring = LocalKeyring::create(
        dir.join("root.json"),
        "local:test",
        &KeyringPolicy::development(),
    )
    .expect("keyring");
    let enc = EnvelopeEncryptor::new(
        Arc::new(ring),
        Arc::new(MemoryKeyStore::new()),
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    );
    let field = [0x42u8; 64];
    let ctx = context("0192f3a4-5b6c-7d8e-9f00-112233445566");
    // A context whose associated data is longer than the stack buffer (512 bytes).
    let big_ctx = context(&"r".repeat(600));

    // Warm up: the data key is created, wrapped, stored and cached (this allocates), and
    // every lazy initialisation (the randomness source, thread locals) happens now.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let ct = rt
        .block_on(enc.encrypt_unboxed(&field, &ctx))
        .expect("encrypt");
    let big_ct = rt
        .block_on(enc.encrypt_unboxed(&field, &big_ctx))
        .expect("encrypt");
    drop(rt);
    for _ in 0..8 {
        let c = enc.encrypt_cached(&field, &ctx).expect("encrypt");
        let p = enc.decrypt_cached(&ct, &ctx).expect("decrypt");
        assert!(c.is_some() && p.is_some(), "the key is cached");
        let _ = ready(enc.encrypt(&field, &ctx)).expect("encrypt");
        let _ = ready(enc.decrypt(&ct, &ctx)).expect("decrypt");
    }
    assert_eq!(
        enc.decrypt_cached(&big_ct, &big_ctx)
            .expect("decrypt")
            .expect("cached")
            .expose_secret(),
        field
    );

    // The fast path: one allocation per call (the output), no reallocation.
    let one_each = (ROUNDS, 0);
    assert_eq!(
        count(|| enc
            .encrypt_cached(&field, &ctx)
            .expect("encrypt")
            .expect("hit")),
        one_each,
        "encrypt_cached"
    );
    assert_eq!(
        count(|| enc
            .decrypt_cached(&ct, &ctx)
            .expect("decrypt")
            .expect("hit")),
        one_each,
        "decrypt_cached"
    );
    assert_eq!(
        count(|| ready(enc.encrypt_unboxed(&field, &ctx)).expect("encrypt")),
        one_each,
        "encrypt_unboxed"
    );
    assert_eq!(
        count(|| ready(enc.decrypt_unboxed(&ct, &ctx)).expect("decrypt")),
        one_each,
        "decrypt_unboxed"
    );
    // The output's size is exact: a ciphertext is the plaintext plus 39 bytes, a plaintext
    // buffer holds nothing more (no slack to zeroize or to leak through `capacity`).
    let out = enc
        .encrypt_cached(&field, &ctx)
        .expect("encrypt")
        .expect("hit");
    assert_eq!((out.len(), out.capacity()), (64 + 39, 64 + 39));

    // A context past the stack buffer costs one more allocation (its associated data), as
    // documented; still no reallocation.
    assert_eq!(
        count(|| enc
            .encrypt_cached(&field, &big_ctx)
            .expect("encrypt")
            .expect("hit")),
        (2 * ROUNDS, 0),
        "encrypt_cached with a 600-byte row id"
    );
    assert_eq!(
        count(|| enc
            .decrypt_cached(&big_ct, &big_ctx)
            .expect("decrypt")
            .expect("hit")),
        (2 * ROUNDS, 0),
        "decrypt_cached with a 600-byte row id"
    );

    // The `Encryptor` trait (async_trait) boxes each future: one allocation more per call.
    assert_eq!(
        count(|| ready(enc.encrypt(&field, &ctx)).expect("encrypt")),
        (2 * ROUNDS, 0),
        "Encryptor::encrypt"
    );
    assert_eq!(
        count(|| ready(enc.decrypt(&ct, &ctx)).expect("decrypt")),
        (2 * ROUNDS, 0),
        "Encryptor::decrypt"
    );

    let _ = std::fs::remove_dir_all(&dir);
}
