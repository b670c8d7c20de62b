//! The fast path of `EnvelopeEncryptor` (inherent unboxed `async fn`s and synchronous
//! cache-hit methods) keeps every guarantee of the `Encryptor` path: same bytes and errors, a
//! miss is reported (never guessed), and TTL, maximum uses, shredding and rotation are obeyed.

use std::sync::Arc;
use std::time::Duration;

use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore,
};
use biv_core::{Context, DecryptError, EncryptError, Encryptor, Timestamp};
use biv_testkit::ManualClock;

fn setup(name: &str, cache: CacheConfig) -> (EnvelopeEncryptor, Arc<ManualClock>) {
    let dir = std::env::temp_dir().join(format!("biv-enc-fast-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ring = LocalKeyring::create(
        dir.join("root.json"),
        "local:test",
        &KeyringPolicy::development(),
    )
    .expect("keyring");
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_unix_seconds(1_800_000_000, 0).expect("time"),
    ));
    let enc = EnvelopeEncryptor::new(
        Arc::new(ring),
        Arc::new(MemoryKeyStore::new()),
        clock.clone(),
        cache,
    );
    (enc, clock)
}

fn ctx(subject: &str) -> Context {
    Context::new()
        .with("tenant", "t1")
        .and_then(|c| c.with("column", "bsn"))
        .and_then(|c| c.with("subject", subject))
        .expect("context")
}

#[tokio::test]
async fn fast_and_trait_paths_agree() {
    let (enc, _) = setup("agree", CacheConfig::default());
    let a = ctx("p-1");
    assert!(enc.encrypt_cached(b"x", &a).expect("encrypt").is_none());
    let ct = enc
        .encrypt_unboxed(b"123456782", &a)
        .await
        .expect("encrypt");
    let via_trait = Encryptor::encrypt(&enc, b"123456782", &a)
        .await
        .expect("encrypt");
    let cached = enc
        .encrypt_cached(b"123456782", &a)
        .expect("encrypt")
        .expect("hit");
    for c in [&ct, &via_trait, &cached] {
        assert_eq!(c.len(), 9 + 39);
        assert_eq!(c[3..11], ct[3..11], "one data key");
        let d1 = Encryptor::decrypt(&enc, c, &a).await.expect("decrypt");
        let d2 = enc.decrypt_unboxed(c, &a).await.expect("decrypt");
        let d3 = enc.decrypt_cached(c, &a).expect("decrypt").expect("hit");
        for d in [d1, d2, d3] {
            assert_eq!(d.expose_secret(), b"123456782");
        }
    }
    // Errors are those of the trait: a missing field, and one opaque failure.
    let no_subject = Context::new().with("tenant", "t1").expect("ctx");
    assert!(matches!(
        enc.encrypt_cached(b"x", &no_subject),
        Err(EncryptError::MissingContextField("subject"))
    ));
    assert!(matches!(
        enc.decrypt_cached(&ct, &no_subject),
        Err(DecryptError::Failed)
    ));
    // The cached key belongs to p-1: another subject's context fails opaquely, it is not a
    // miss (the trait path says the same).
    let b = ctx("p-2");
    assert!(matches!(
        enc.decrypt_cached(&ct, &b),
        Err(DecryptError::Failed)
    ));
    assert!(matches!(
        enc.decrypt_unboxed(&ct, &b).await,
        Err(DecryptError::Failed)
    ));
    let mut tampered = ct.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        enc.decrypt_cached(&tampered, &a),
        Err(DecryptError::Failed)
    ));
    assert!(matches!(
        enc.decrypt_cached(&ct[..10], &a),
        Err(DecryptError::Failed)
    ));
    // p-2 has no key yet: a miss, not an error.
    assert!(enc.encrypt_cached(b"x", &b).expect("encrypt").is_none());
}

#[tokio::test]
async fn ttl_and_max_uses_turn_hits_into_misses() {
    let (enc, clock) = setup(
        "ttl",
        CacheConfig::default()
            .with_ttl(Duration::from_secs(60))
            .with_max_uses(3),
    );
    let a = ctx("p-1");
    let ct = enc.encrypt_unboxed(b"A+", &a).await.expect("encrypt");
    // The load was not a use; three uses are allowed.
    for _ in 0..3 {
        assert!(enc.decrypt_cached(&ct, &a).expect("decrypt").is_some());
    }
    assert!(enc.decrypt_cached(&ct, &a).expect("decrypt").is_none());
    assert!(enc.encrypt_cached(b"A+", &a).expect("encrypt").is_none());
    // Reloaded by the async path, then expired by the clock.
    assert_eq!(
        enc.decrypt_unboxed(&ct, &a)
            .await
            .expect("decrypt")
            .expose_secret(),
        b"A+"
    );
    assert!(enc.decrypt_cached(&ct, &a).expect("decrypt").is_some());
    clock.advance(Duration::from_secs(61));
    assert!(enc.decrypt_cached(&ct, &a).expect("decrypt").is_none());
    assert_eq!(enc.cached_keys(), 0);
}

#[tokio::test]
async fn shred_and_rotation_reach_the_fast_path() {
    let (enc, _) = setup("shred", CacheConfig::default());
    let a = ctx("p-1");
    let old = enc.encrypt_unboxed(b"A+", &a).await.expect("encrypt");
    let r = enc.rotate_subject(b"t1", b"p-1").await.expect("rotate");
    let new = enc
        .encrypt_cached(b"A+", &a)
        .expect("encrypt")
        .expect("the new key is cached by the rotation");
    assert_eq!(new[3..11], r.key_id.to_be_bytes());
    assert_ne!(old[3..11], new[3..11]);
    // Retiring version 1: the old key is purged, and the async path reports it retired.
    enc.set_min_decryption_version(b"t1", b"p-1", 2)
        .await
        .expect("retire");
    assert!(enc.decrypt_cached(&old, &a).expect("decrypt").is_none());
    assert!(enc.decrypt_unboxed(&old, &a).await.is_err());
    // Shredding purges the cache: misses, then KeyDestroyed from the async path.
    enc.shred(b"t1", b"p-1").await.expect("shred");
    assert!(enc.encrypt_cached(b"A+", &a).expect("encrypt").is_none());
    assert!(enc.decrypt_cached(&new, &a).expect("decrypt").is_none());
    assert!(matches!(
        enc.decrypt_unboxed(&new, &a).await,
        Err(DecryptError::KeyDestroyed)
    ));
    assert!(matches!(
        enc.encrypt_unboxed(b"A+", &a).await,
        Err(EncryptError::KeyDestroyed)
    ));
}
