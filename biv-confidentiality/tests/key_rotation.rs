//! Rotation: root KEK versions and verified rewrap, subject data key versions, the header-only
//! `needs_reencrypt`, and the minimum decryption version.

#![allow(
    clippy::unwrap_used,
    reason = "shared test helpers: a failed unwrap is a failed test with its location"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use biv_confidentiality::envelope::inspect;
use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, KeyState, KeyStore, KeyringPolicy, LocalKeyring,
    MemoryKeyStore, MinVersionOutcome, NeedsReencryptError, RewrapError, RotateError, StoredKey,
    data_key_aad, key_retired,
};
use biv_core::{
    Context, DecryptError, Encryptor, KeyProvider, SecretBytes, SystemClock, UnwrapError,
    WrapError, WrappedKey,
};
use proptest::prelude::*;

fn unique_dir(tag: &str) -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "biv-rot-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn ring(tag: &str) -> Arc<LocalKeyring> {
    Arc::new(
        LocalKeyring::create(
            unique_dir(tag).join("root.json"),
            "local:test",
            &KeyringPolicy::development(),
        )
        .expect("keyring"),
    )
}

fn encryptor(provider: Arc<dyn KeyProvider>, store: Arc<dyn KeyStore>) -> EnvelopeEncryptor {
    EnvelopeEncryptor::new(
        provider,
        store,
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    )
}

fn ctx(subject: &str) -> Context {
    Context::new()
        .with("tenant", "t1")
        .and_then(|c| c.with("table", "patients"))
        .and_then(|c| c.with("column", "diagnosis"))
        .and_then(|c| c.with("subject", subject))
        .expect("context")
}

/// How a misbehaving provider breaks rewraps once the KEK has rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Wraps a different (random) key: the new wrapping unwraps, but to the wrong key.
    WrongKey,
    /// Returns a corrupted blob: the new wrapping does not unwrap at all.
    Corrupt,
}

#[derive(Debug)]
struct Faulty {
    inner: Arc<LocalKeyring>,
    fault: Fault,
    armed: AtomicBool,
    unwraps: AtomicUsize,
    /// When set, only the key whose wrapping AAD this is gets the fault.
    only: std::sync::Mutex<Option<Vec<u8>>>,
}

impl Faulty {
    /// Arms the fault for the data key `key_id` of subject `p-1` only.
    fn fail_only(&self, key_id: u64) {
        *self.only.lock().unwrap() = Some(data_key_aad(key_id, b"t1", b"p-1"));
    }
}

#[async_trait]
impl KeyProvider for Faulty {
    fn kek_id(&self) -> &str {
        self.inner.kek_id()
    }
    fn current_version(&self) -> u32 {
        self.inner.current_version()
    }
    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        let targeted = self
            .only
            .lock()
            .unwrap()
            .as_deref()
            .is_none_or(|only| only == aad);
        if !self.armed.load(Ordering::SeqCst) || !targeted {
            return self.inner.wrap_key(key, aad).await;
        }
        match self.fault {
            Fault::WrongKey => {
                self.inner
                    .wrap_key(&SecretBytes::new(vec![0x5a; key.len()]), aad)
                    .await
            }
            Fault::Corrupt => {
                let w = self.inner.wrap_key(key, aad).await?;
                let mut blob = w.blob().to_vec();
                blob[14] ^= 1;
                Ok(WrappedKey::new(w.kek_id(), w.kek_version(), blob))
            }
        }
    }
    async fn unwrap_key(&self, w: &WrappedKey, aad: &[u8]) -> Result<SecretBytes, UnwrapError> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        self.inner.unwrap_key(w, aad).await
    }
}

fn faulty(tag: &str, fault: Fault) -> Arc<Faulty> {
    Arc::new(Faulty {
        inner: ring(tag),
        fault,
        armed: AtomicBool::new(false),
        unwraps: AtomicUsize::new(0),
        only: std::sync::Mutex::new(None),
    })
}

#[tokio::test]
async fn kek_rotation_rewraps_every_key_and_leaves_ciphertexts_alone() {
    let root = ring("kek");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let enc = encryptor(root.clone(), store.clone());
    let mut stored = Vec::new();
    for i in 0..7 {
        let c = ctx(&format!("p-{i}"));
        stored.push((
            enc.encrypt(format!("dx {i}").as_bytes(), &c).await.unwrap(),
            c,
        ));
    }
    assert_eq!(root.rotate().unwrap(), 2);
    let status = enc.key_status().await.unwrap();
    assert_eq!(status.by_kek.get(&("local:test".into(), 1)), Some(&7));

    let report = enc.rewrap_all().await.unwrap();
    assert_eq!((report.scanned, report.rewrapped), (7, 7));
    assert_eq!(report.next, None);
    let status = enc.key_status().await.unwrap();
    assert_eq!(status.by_kek.get(&("local:test".into(), 1)), None);
    assert_eq!(status.by_kek.get(&("local:test".into(), 2)), Some(&7));
    assert_eq!(status.active, 7);

    // Nothing is wrapped under version 1 any more: destroy it, and a cold encryptor (no cache)
    // still reads every unchanged ciphertext.
    assert!(root.retire(1).unwrap());
    let cold = encryptor(root.clone(), store.clone());
    for (i, (ct, c)) in stored.iter().enumerate() {
        let plain = cold.decrypt(ct, c).await.unwrap();
        assert_eq!(plain.expose_secret(), format!("dx {i}").as_bytes());
    }
    // Idempotent.
    let again = enc.rewrap_all().await.unwrap();
    assert_eq!((again.rewrapped, again.already_current), (0, 7));
}

#[tokio::test]
async fn rewrap_batches_continue_from_the_cursor() {
    let root = ring("batch");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let enc = encryptor(root.clone(), store.clone());
    for i in 0..5 {
        enc.encrypt(b"x", &ctx(&format!("p-{i}"))).await.unwrap();
    }
    root.rotate().unwrap();
    let first = enc.rewrap_batch(None, 2).await.unwrap();
    assert_eq!((first.scanned, first.rewrapped), (2, 2));
    let next = first.next.expect("more to do");
    let second = enc.rewrap_batch(Some(next), 2).await.unwrap();
    assert_eq!(second.rewrapped, 2);
    let third = enc.rewrap_batch(second.next, 2).await.unwrap();
    assert_eq!((third.rewrapped, third.next), (1, None));
    assert_eq!(
        enc.key_status()
            .await
            .unwrap()
            .by_kek
            .get(&("local:test".into(), 2)),
        Some(&5)
    );
}

async fn failed_verification_keeps_the_old_wrapping(fault: Fault) {
    let provider = faulty("verify", fault);
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let enc = encryptor(provider.clone(), store.clone());
    let c = ctx("p-1");
    let ct = enc.encrypt(b"allergy: penicillin", &c).await.unwrap();
    let key_id = inspect(&ct).unwrap().key_id;
    let before = store.get(key_id).await.unwrap().unwrap();
    let other = enc.encrypt(b"other", &ctx("p-2")).await.unwrap();
    let other_id = inspect(&other).unwrap().key_id;

    provider.inner.rotate().unwrap();
    provider.armed.store(true, Ordering::SeqCst);
    // The key is reported as failed, and the rewrap goes on with the others.
    provider.fail_only(key_id);
    let report = enc.rewrap_all().await.unwrap();
    assert_eq!(
        (report.failed, report.failed_keys.clone()),
        (1, vec![key_id])
    );
    assert_eq!(report.rewrapped, 1, "the other key moved on");
    assert_eq!(
        store
            .get(other_id)
            .await
            .unwrap()
            .unwrap()
            .state
            .wrapped()
            .map(WrappedKey::kek_version),
        Some(2)
    );
    // The old wrapping is untouched and still opens the data in a cold encryptor.
    assert_eq!(store.get(key_id).await.unwrap().unwrap(), before);
    let cold = encryptor(provider.clone(), store.clone());
    assert_eq!(
        cold.decrypt(&ct, &c).await.unwrap().expose_secret(),
        b"allergy: penicillin"
    );
    // Once the provider behaves, the failed key's rewrap goes through.
    provider.armed.store(false, Ordering::SeqCst);
    let again = enc.rewrap_all().await.unwrap();
    assert_eq!((again.rewrapped, again.failed), (1, 0));
    let after = store.get(key_id).await.unwrap().unwrap();
    assert_eq!(after.state.wrapped().map(WrappedKey::kek_version), Some(2));
}

#[tokio::test]
async fn a_rewrap_to_the_wrong_key_is_refused() {
    failed_verification_keeps_the_old_wrapping(Fault::WrongKey).await;
}

#[tokio::test]
async fn a_rewrap_that_does_not_unwrap_is_refused() {
    failed_verification_keeps_the_old_wrapping(Fault::Corrupt).await;
}

#[tokio::test]
async fn rewrap_counts_destroyed_and_foreign_keys_and_leaves_them() {
    let root = ring("skip");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let enc = encryptor(root.clone(), store.clone());
    enc.encrypt(b"a", &ctx("p-1")).await.unwrap();
    enc.encrypt(b"b", &ctx("p-2")).await.unwrap();
    enc.shred(b"t1", b"p-2").await.unwrap();
    let foreign = WrappedKey::new("pkcs11:other", 1, vec![1; 60]);
    store
        .insert_if_absent(StoredKey::active(7, b"t1", b"p-9", foreign.clone()))
        .await
        .unwrap();
    root.rotate().unwrap();
    let r = enc.rewrap_all().await.unwrap();
    assert_eq!(
        (r.scanned, r.rewrapped, r.destroyed, r.foreign),
        (3, 1, 1, 1)
    );
    assert_eq!(
        store.get(7).await.unwrap().unwrap().state,
        KeyState::Active(foreign)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rewraps_lose_nothing() {
    let root = ring("race");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let a = Arc::new(encryptor(root.clone(), store.clone()));
    let b = Arc::new(encryptor(root.clone(), store.clone()));
    let mut stored = Vec::new();
    for i in 0..40 {
        let c = ctx(&format!("p-{i}"));
        stored.push((a.encrypt(b"same", &c).await.unwrap(), c));
    }
    root.rotate().unwrap();
    let (ra, rb) = tokio::join!(
        {
            let a = a.clone();
            async move { a.rewrap_all().await.unwrap() }
        },
        {
            let b = b.clone();
            async move { b.rewrap_all().await.unwrap() }
        }
    );
    // Each key was rewrapped once; whoever lost the compare-and-swap counted a conflict or
    // found it already current.
    assert_eq!(ra.rewrapped + rb.rewrapped, 40);
    assert_eq!(
        ra.rewrapped + ra.conflicts + ra.already_current,
        40,
        "{ra:?}"
    );
    root.retire(1).unwrap();
    let cold = encryptor(root.clone(), store.clone());
    for (ct, c) in &stored {
        assert_eq!(cold.decrypt(ct, c).await.unwrap().expose_secret(), b"same");
    }
}

#[tokio::test]
async fn subject_rotation_versions_and_minimum_decryption_version() {
    let root = ring("subject");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let enc = encryptor(root.clone(), store.clone());
    let c = ctx("p-1");
    assert!(matches!(
        enc.rotate_subject(b"t1", b"p-1").await,
        Err(RotateError::NoKey)
    ));
    let v1 = enc.encrypt(b"v1 data", &c).await.unwrap();
    let r = enc.rotate_subject(b"t1", b"p-1").await.unwrap();
    assert_eq!((r.previous_version, r.version), (1, 2));
    assert_eq!(r.previous_key_id, inspect(&v1).unwrap().key_id);
    let v2 = enc.encrypt(b"v2 data", &c).await.unwrap();
    assert_eq!(
        inspect(&v2).unwrap().key_id,
        r.key_id,
        "new writes use the new key"
    );
    assert!(enc.needs_reencrypt(&v1, &c).await.unwrap());
    assert!(!enc.needs_reencrypt(&v2, &c).await.unwrap());
    // Both versions decrypt until the minimum is raised.
    assert_eq!(
        enc.decrypt(&v1, &c).await.unwrap().expose_secret(),
        b"v1 data"
    );

    assert_eq!(
        enc.set_min_decryption_version(b"t1", b"p-1", 3)
            .await
            .unwrap(),
        MinVersionOutcome::AboveCurrent { current: 2 }
    );
    assert!(matches!(
        enc.set_min_decryption_version(b"t1", b"p-1", 2)
            .await
            .unwrap(),
        MinVersionOutcome::Set { .. }
    ));
    for e in [&enc, &encryptor(root.clone(), store.clone())] {
        let err = e.decrypt(&v1, &c).await.unwrap_err();
        let retired = key_retired(&err).expect("typed KeyRetired");
        assert_eq!((retired.key_id, retired.version), (r.previous_key_id, 1));
        assert!(!format!("{err:?}").contains("v1 data"));
        assert_eq!(
            e.decrypt(&v2, &c).await.unwrap().expose_secret(),
            b"v2 data"
        );
    }
    // A retired key answers the same whatever the context, so it cannot be used to test
    // guesses of the subject.
    let wrong = enc.decrypt(&v1, &ctx("p-2")).await.unwrap_err();
    assert_eq!(
        key_retired(&wrong).map(|r| r.key_id),
        Some(r.previous_key_id)
    );
    // Lowering the minimum brings version 1 back.
    enc.set_min_decryption_version(b"t1", b"p-1", 1)
        .await
        .unwrap();
    assert_eq!(
        enc.decrypt(&v1, &c).await.unwrap().expose_secret(),
        b"v1 data"
    );

    // Shredding destroys every version.
    let receipt = enc.shred(b"t1", b"p-1").await.unwrap();
    assert_eq!(receipt.key_ids.len(), 2);
    for ct in [&v1, &v2] {
        assert!(matches!(
            enc.decrypt(ct, &c).await,
            Err(DecryptError::KeyDestroyed)
        ));
    }
    assert!(matches!(
        enc.rotate_subject(b"t1", b"p-1").await,
        Err(RotateError::KeyDestroyed)
    ));
    assert!(matches!(
        enc.needs_reencrypt(&v1, &c).await,
        Err(NeedsReencryptError::KeyDestroyed)
    ));
}

#[tokio::test]
async fn retire_superseded_retires_every_old_version_of_the_tenant() {
    let root = ring("superseded");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let enc = encryptor(root.clone(), store.clone());
    let mut old = Vec::new();
    for i in 0..3 {
        let c = ctx(&format!("p-{i}"));
        old.push((enc.encrypt(b"x", &c).await.unwrap(), c));
        enc.rotate_subject(b"t1", format!("p-{i}").as_bytes())
            .await
            .unwrap();
    }
    let other = Context::new()
        .with("tenant", "t2")
        .and_then(|c| c.with("subject", "p-0"))
        .unwrap();
    let other_ct = enc.encrypt(b"y", &other).await.unwrap();
    enc.rotate_subject(b"t2", b"p-0").await.unwrap();

    assert_eq!(enc.retire_superseded(b"t1").await.unwrap(), 3);
    for (ct, c) in &old {
        assert!(key_retired(&enc.decrypt(ct, c).await.unwrap_err()).is_some());
    }
    // Another tenant is not touched.
    assert_eq!(
        enc.decrypt(&other_ct, &other)
            .await
            .unwrap()
            .expose_secret(),
        b"y"
    );
    assert_eq!(enc.retire_superseded(b"t1").await.unwrap(), 0);
}

#[tokio::test]
async fn needs_reencrypt_reads_only_the_header() {
    let provider = faulty("header", Fault::Corrupt);
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let writer = encryptor(provider.clone(), store.clone());
    let c = ctx("p-1");
    let ct = writer.encrypt(b"x", &c).await.unwrap();
    writer.rotate_subject(b"t1", b"p-1").await.unwrap();
    let before = provider.unwraps.load(Ordering::SeqCst);
    let cold = encryptor(provider.clone(), store.clone());
    assert!(cold.needs_reencrypt(&ct, &c).await.unwrap());
    // Even a ciphertext whose body is garbage: only the header counts.
    let mut garbage = ct.clone();
    let last = garbage.len() - 1;
    garbage[last] ^= 0xff;
    assert!(cold.needs_reencrypt(&garbage, &c).await.unwrap());
    assert_eq!(provider.unwraps.load(Ordering::SeqCst), before, "no unwrap");
    assert!(matches!(
        cold.needs_reencrypt(&ct[..10], &c).await,
        Err(NeedsReencryptError::Malformed)
    ));
    let no_subject = Context::new().with("tenant", "t1").unwrap();
    assert!(matches!(
        cold.needs_reencrypt(&ct, &no_subject).await,
        Err(NeedsReencryptError::MissingContextField("subject"))
    ));
    // A subject without any key: nothing can be current.
    assert!(cold.needs_reencrypt(&ct, &ctx("p-new")).await.unwrap());
}

#[tokio::test]
async fn a_concurrent_rotation_is_reported() {
    let root = ring("concurrent-rotate");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let a = encryptor(root.clone(), store.clone());
    let b = encryptor(root.clone(), store.clone());
    a.encrypt(b"x", &ctx("p-1")).await.unwrap();
    // b reads the current key, a rotates, then b's rotation is based on a stale key: the
    // store's compare-and-swap refuses it. (Simulated by rotating through the store.)
    let r = a.rotate_subject(b"t1", b"p-1").await.unwrap();
    let stale = StoredKey::active_version(
        99,
        b"t1",
        b"p-1",
        2,
        WrappedKey::new("local:test", 1, vec![0; 60]),
    );
    assert!(matches!(
        store.insert_rotated(r.previous_key_id, stale).await.unwrap(),
        biv_confidentiality::keys::InsertOutcome::Existing(k) if k.key_id == r.key_id
    ));
    let r2 = b.rotate_subject(b"t1", b"p-1").await.unwrap();
    assert_eq!((r2.previous_key_id, r2.version), (r.key_id, 3));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any plaintext survives any number of KEK rotations with a rewrap after each, with the
    /// old versions destroyed, and its ciphertext is never changed.
    #[test]
    fn rewrap_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..200),
                         rotations in 1usize..4, subjects in 1usize..4) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let root = ring("prop");
            let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
            let enc = encryptor(root.clone(), store.clone());
            let mut stored = Vec::new();
            for s in 0..subjects {
                let c = ctx(&format!("p-{s}"));
                stored.push((enc.encrypt(&plaintext, &c).await.unwrap(), c));
            }
            for _ in 0..rotations {
                let old = root.current_version();
                root.rotate().unwrap();
                let r = enc.rewrap_all().await.unwrap();
                prop_assert_eq!(r.rewrapped, subjects as u64);
                prop_assert!(root.retire(old).unwrap());
            }
            let cold = encryptor(root.clone(), store.clone());
            for (ct, c) in &stored {
                let back = cold.decrypt(ct, c).await.unwrap();
                prop_assert_eq!(back.expose_secret(), plaintext.as_slice());
            }
            Ok(())
        })?;
    }
}

/// A host store written against the first `KeyStore` trait: no rotation methods.
#[derive(Debug, Default)]
struct FirstGenerationStore(MemoryKeyStore);

#[async_trait]
impl KeyStore for FirstGenerationStore {
    async fn get(
        &self,
        id: u64,
    ) -> Result<Option<StoredKey>, biv_confidentiality::keys::KeyStoreError> {
        self.0.get(id).await
    }
    async fn current_for(
        &self,
        t: &[u8],
        s: &[u8],
    ) -> Result<biv_confidentiality::keys::SubjectKey, biv_confidentiality::keys::KeyStoreError>
    {
        self.0.current_for(t, s).await
    }
    async fn insert_if_absent(
        &self,
        k: StoredKey,
    ) -> Result<biv_confidentiality::keys::InsertOutcome, biv_confidentiality::keys::KeyStoreError>
    {
        self.0.insert_if_absent(k).await
    }
    async fn destroy_subject(
        &self,
        t: &[u8],
        s: &[u8],
    ) -> Result<Vec<u64>, biv_confidentiality::keys::KeyStoreError> {
        self.0.destroy_subject(t, s).await
    }
}

#[tokio::test]
async fn a_store_without_rotation_support_fails_closed() {
    let root = ring("first-gen");
    let enc = encryptor(root.clone(), Arc::new(FirstGenerationStore::default()));
    let c = ctx("p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    assert_eq!(enc.decrypt(&ct, &c).await.unwrap().expose_secret(), b"x");
    match enc.rotate_subject(b"t1", b"p-1").await {
        Err(e @ RotateError::Unavailable(_)) => {
            assert!(e.to_string().contains("insert_rotated"), "{e}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    root.rotate().unwrap();
    assert!(matches!(
        enc.rewrap_all().await,
        Err(RewrapError::Store(
            biv_confidentiality::keys::KeyStoreError::Unsupported("scan")
        ))
    ));
}

#[test]
#[ignore = "server: softhsm2; run by cargo xtask test"]
fn rewrap_under_a_new_pkcs11_kek_version_then_destroy_the_old_one() {
    use biv_confidentiality::keys::{Pkcs11Config, Pkcs11Module, Pkcs11Provider};
    let token = biv_testkit::servers::softhsm2();
    let module = Pkcs11Module::load(&token.module).expect("load SoftHSM2");
    let label = format!(
        "t-rewrap-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let config = || {
        Pkcs11Config::new(
            token.token_label.clone(),
            SecretBytes::from_slice(token.user_pin.as_bytes()),
            label.clone(),
            format!("pkcs11:{label}"),
        )
    };
    let provider = Arc::new(Pkcs11Provider::init(&module, config()).expect("init"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
        let enc = encryptor(provider.clone(), store.clone());
        let mut stored = Vec::new();
        for i in 0..3 {
            let c = ctx(&format!("p-{i}"));
            stored.push((enc.encrypt(b"in the HSM", &c).await.unwrap(), c));
        }
        assert_eq!(provider.generate_kek().unwrap(), 2);
        let r = enc.rewrap_all().await.unwrap();
        assert_eq!(r.rewrapped, 3);
        assert!(
            enc.key_status()
                .await
                .unwrap()
                .by_kek
                .keys()
                .all(|(_, v)| *v == 2)
        );
        assert!(provider.destroy_version(1).unwrap());
        // Another process opening the token finds version 2 only, and reads everything.
        let reopened = Arc::new(Pkcs11Provider::open(&module, config()).expect("open"));
        let cold = encryptor(reopened, store.clone());
        for (ct, c) in &stored {
            assert_eq!(
                cold.decrypt(ct, c).await.unwrap().expose_secret(),
                b"in the HSM"
            );
        }
    });
}
