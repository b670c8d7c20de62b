//! The envelope encryptor with its key store and cache: round trips, binding, shredding,
//! caching and single-flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use biv_confidentiality::envelope::inspect;
use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, FileKeyStore, KeyState, KeyStore, KeyStoreError, KeyringPolicy,
    LocalKeyring, MemoryKeyStore, StoredKey, SubjectKey,
};
use biv_core::{
    Context, DecryptError, EncryptError, Encryptor, KeyProvider, SecretBytes, Timestamp,
    UnwrapError, WrapError, WrappedKey,
};
use biv_testkit::ManualClock;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-enc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Counts unwraps, to see the cache and single-flight at work.
#[derive(Debug)]
struct Counting {
    inner: LocalKeyring,
    unwraps: AtomicUsize,
}

#[async_trait]
impl KeyProvider for Counting {
    fn kek_id(&self) -> &str {
        self.inner.kek_id()
    }
    fn current_version(&self) -> u32 {
        self.inner.current_version()
    }
    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        self.inner.wrap_key(key, aad).await
    }
    async fn unwrap_key(&self, w: &WrappedKey, aad: &[u8]) -> Result<SecretBytes, UnwrapError> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.inner.unwrap_key(w, aad).await
    }
}

fn provider(name: &str) -> Arc<Counting> {
    let dir = temp_dir(name);
    Arc::new(Counting {
        inner: LocalKeyring::create(
            dir.join("root.json"),
            "local:test",
            &KeyringPolicy::development(),
        )
        .expect("keyring"),
        unwraps: AtomicUsize::new(0),
    })
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::from_unix_seconds(1_800_000_000, 0).expect("time"),
    ))
}

fn ctx(tenant: &str, subject: &str) -> Context {
    Context::new()
        .with("tenant", tenant)
        .and_then(|c| c.with("table", "patients"))
        .and_then(|c| c.with("column", "bsn"))
        .and_then(|c| c.with("subject", subject))
        .expect("context")
}

#[tokio::test]
async fn one_key_per_subject_and_binding() {
    let p = provider("binding");
    let enc = EnvelopeEncryptor::new(
        p.clone(),
        Arc::new(MemoryKeyStore::new()),
        clock(),
        CacheConfig::default(),
    );
    let a1 = enc.encrypt(b"123456782", &ctx("t1", "p-1")).await.unwrap();
    let a2 = enc.encrypt(b"111222333", &ctx("t1", "p-1")).await.unwrap();
    let b = enc.encrypt(b"123456782", &ctx("t1", "p-2")).await.unwrap();
    let c = enc.encrypt(b"123456782", &ctx("t2", "p-1")).await.unwrap();
    let id = |ct: &[u8]| inspect(ct).unwrap().key_id;
    assert_eq!(id(&a1), id(&a2));
    assert_ne!(id(&a1), id(&b));
    assert_ne!(id(&a1), id(&c));
    assert_eq!(
        enc.decrypt(&a2, &ctx("t1", "p-1"))
            .await
            .unwrap()
            .expose_secret(),
        b"111222333"
    );
    for wrong in [
        ctx("t1", "p-2"),
        ctx("t2", "p-1"),
        ctx("t1", "p-1").with("row", "9").unwrap(),
    ] {
        assert!(
            matches!(enc.decrypt(&a1, &wrong).await, Err(DecryptError::Failed)),
            "{wrong:?}"
        );
    }
    let no_subject = Context::new().with("tenant", "t1").unwrap();
    assert!(matches!(
        enc.encrypt(b"x", &no_subject).await,
        Err(EncryptError::MissingContextField("subject"))
    ));
    assert!(matches!(
        enc.encrypt(b"x", &Context::new()).await,
        Err(EncryptError::MissingContextField("tenant"))
    ));
    assert!(matches!(
        enc.decrypt(&a1, &no_subject).await,
        Err(DecryptError::Failed)
    ));
    // An unknown key id is the opaque failure, not "destroyed".
    let mut unknown = a1.clone();
    unknown[3] ^= 1;
    assert!(matches!(
        enc.decrypt(&unknown, &ctx("t1", "p-1")).await,
        Err(DecryptError::Failed)
    ));
    let debug = format!("{enc:?}");
    assert!(
        debug.contains("EnvelopeEncryptor") && !debug.contains("p-1"),
        "{debug}"
    );
}

#[tokio::test]
async fn shredding_destroys_the_subject_only() {
    let store = Arc::new(MemoryKeyStore::new());
    let enc = EnvelopeEncryptor::new(
        provider("shred"),
        store.clone(),
        clock(),
        CacheConfig::default(),
    );
    let gone = enc.encrypt(b"123456782", &ctx("t1", "p-1")).await.unwrap();
    let kept = enc.encrypt(b"111222333", &ctx("t1", "p-2")).await.unwrap();
    let receipt = enc.shred(b"t1", b"p-1").await.unwrap();
    assert_eq!(receipt.key_ids, vec![inspect(&gone).unwrap().key_id]);
    assert!(matches!(
        enc.decrypt(&gone, &ctx("t1", "p-1")).await,
        Err(DecryptError::KeyDestroyed)
    ));
    assert!(matches!(
        enc.encrypt(b"x", &ctx("t1", "p-1")).await,
        Err(EncryptError::KeyDestroyed)
    ));
    assert_eq!(
        enc.decrypt(&kept, &ctx("t1", "p-2"))
            .await
            .unwrap()
            .expose_secret(),
        b"111222333"
    );
    assert!(matches!(
        store.get(receipt.key_ids[0]).await.unwrap().unwrap().state,
        KeyState::Destroyed
    ));
    // Shredding again, or a subject that never had a key, is fine and blocks new keys.
    assert!(enc.shred(b"t1", b"p-1").await.unwrap().key_ids.is_empty());
    enc.shred(b"t1", b"never").await.unwrap();
    assert!(matches!(
        enc.encrypt(b"x", &ctx("t1", "never")).await,
        Err(EncryptError::KeyDestroyed)
    ));
}

#[tokio::test]
async fn another_process_sees_a_shred_within_its_cache_ttl() {
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let p = provider("ttl");
    let clock_b = clock();
    let a = EnvelopeEncryptor::new(p.clone(), store.clone(), clock(), CacheConfig::default());
    let b = EnvelopeEncryptor::new(
        p.clone(),
        store.clone(),
        clock_b.clone(),
        CacheConfig::default().with_ttl(Duration::from_secs(60)),
    );
    let ct = a.encrypt(b"123456782", &ctx("t1", "p-1")).await.unwrap();
    b.decrypt(&ct, &ctx("t1", "p-1")).await.unwrap();
    a.shred(b"t1", b"p-1").await.unwrap();
    assert!(
        b.decrypt(&ct, &ctx("t1", "p-1")).await.is_ok(),
        "b still has the key cached"
    );
    clock_b.advance(Duration::from_secs(61));
    assert!(matches!(
        b.decrypt(&ct, &ctx("t1", "p-1")).await,
        Err(DecryptError::KeyDestroyed)
    ));
}

#[tokio::test]
async fn cache_hits_skip_the_provider_and_the_cache_is_bounded() {
    let p = provider("cache");
    let c = clock();
    let enc = EnvelopeEncryptor::new(
        p.clone(),
        Arc::new(MemoryKeyStore::new()),
        c.clone(),
        CacheConfig::default()
            .with_max_entries(3)
            .with_ttl(Duration::from_secs(10))
            .with_max_uses(1000),
    );
    let ct = enc.encrypt(b"v", &ctx("t1", "p-0")).await.unwrap();
    let before = p.unwraps.load(Ordering::SeqCst);
    for _ in 0..50 {
        enc.decrypt(&ct, &ctx("t1", "p-0")).await.unwrap();
        enc.encrypt(b"v", &ctx("t1", "p-0")).await.unwrap();
    }
    assert_eq!(p.unwraps.load(Ordering::SeqCst), before, "all hits");
    c.advance(Duration::from_secs(11));
    enc.decrypt(&ct, &ctx("t1", "p-0")).await.unwrap();
    assert_eq!(
        p.unwraps.load(Ordering::SeqCst),
        before + 1,
        "expired, unwrapped once more"
    );
    for i in 1..10 {
        enc.encrypt(b"v", &ctx("t1", &format!("p-{i}")))
            .await
            .unwrap();
    }
    assert!(enc.cached_keys() <= 3, "{}", enc.cached_keys());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_unwrap_once() {
    let p = provider("flight");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let writer = EnvelopeEncryptor::new(p.clone(), store.clone(), clock(), CacheConfig::default());
    let ct = writer
        .encrypt(b"123456782", &ctx("t1", "p-1"))
        .await
        .unwrap();
    let reader = Arc::new(EnvelopeEncryptor::new(
        p.clone(),
        store,
        clock(),
        CacheConfig::default(),
    ));
    let before = p.unwraps.load(Ordering::SeqCst);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (r, ct) = (reader.clone(), ct.clone());
            tokio::spawn(async move { r.decrypt(&ct, &ctx("t1", "p-1")).await.map(|p| p.len()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 9);
    }
    assert_eq!(p.unwraps.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn a_tampered_stored_key_fails_closed() {
    let store = Arc::new(MemoryKeyStore::new());
    let p = provider("tampered");
    let enc = EnvelopeEncryptor::new(p.clone(), store.clone(), clock(), CacheConfig::default());
    let ct = enc.encrypt(b"v", &ctx("t1", "p-1")).await.unwrap();
    let key_id = inspect(&ct).unwrap().key_id;
    // Move p-1's wrapped key to p-2 in a fresh store: the wrap's AAD binds the subject.
    let stolen = store.get(key_id).await.unwrap().unwrap();
    let KeyState::Active(w) = stolen.state else {
        panic!("active")
    };
    let other = Arc::new(MemoryKeyStore::new());
    other
        .insert_if_absent(StoredKey::active(key_id, b"t1", b"p-2", w))
        .await
        .unwrap();
    let enc2 = EnvelopeEncryptor::new(p, other, clock(), CacheConfig::default());
    assert!(matches!(
        enc2.decrypt(&ct, &ctx("t1", "p-2")).await,
        Err(DecryptError::Failed)
    ));
}

#[tokio::test]
async fn the_file_store_keeps_keys_and_shreds_across_restarts() {
    let dir = temp_dir("filestore");
    let p = provider("filestore-kek");
    let ct = {
        let store = Arc::new(FileKeyStore::open(dir.join("keys")).unwrap());
        let enc = EnvelopeEncryptor::new(p.clone(), store, clock(), CacheConfig::default());
        enc.encrypt(b"123456782", &ctx("t1", "p-1")).await.unwrap()
    };
    let kept = {
        let store = Arc::new(FileKeyStore::open(dir.join("keys")).unwrap());
        let enc = EnvelopeEncryptor::new(p.clone(), store, clock(), CacheConfig::default());
        assert_eq!(
            enc.decrypt(&ct, &ctx("t1", "p-1"))
                .await
                .unwrap()
                .expose_secret(),
            b"123456782"
        );
        let kept = enc.encrypt(b"k", &ctx("t1", "p-2")).await.unwrap();
        enc.shred(b"t1", b"p-1").await.unwrap();
        kept
    };
    let store = Arc::new(FileKeyStore::open(dir.join("keys")).unwrap());
    assert_eq!(
        store.current_for(b"t1", b"p-1").await.unwrap(),
        SubjectKey::Destroyed
    );
    let record = std::fs::read_to_string(
        dir.join("keys")
            .join(format!("{:016x}.json", inspect(&ct).unwrap().key_id)),
    )
    .unwrap();
    assert!(
        record.contains("destroyed") && !record.contains("wrapped"),
        "{record}"
    );
    let enc = EnvelopeEncryptor::new(p, store, clock(), CacheConfig::default());
    assert!(matches!(
        enc.decrypt(&ct, &ctx("t1", "p-1")).await,
        Err(DecryptError::KeyDestroyed)
    ));
    assert_eq!(
        enc.decrypt(&kept, &ctx("t1", "p-2"))
            .await
            .unwrap()
            .expose_secret(),
        b"k"
    );
    assert!(
        std::fs::read_dir(dir.join("keys"))
            .unwrap()
            .all(|e| { !e.unwrap().file_name().to_string_lossy().starts_with('.') })
    );
    // While the store is open, a second one (another process) is refused.
    assert!(matches!(
        FileKeyStore::open(dir.join("keys")),
        Err(KeyStoreError::Locked(_))
    ));
    drop(enc);
    std::fs::write(dir.join("keys").join("0000000000000001.json"), "{}").unwrap();
    assert!(matches!(
        FileKeyStore::open(dir.join("keys")),
        Err(KeyStoreError::Malformed(_))
    ));
}
