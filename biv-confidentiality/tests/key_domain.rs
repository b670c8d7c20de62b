//! Per-tenant domain keys: root KEK → versioned domain key per tenant → data keys.

#![allow(
    clippy::unwrap_used,
    reason = "shared test helpers: a failed unwrap is a failed test with its location"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use biv_confidentiality::envelope::inspect;
use biv_confidentiality::keys::{
    CacheConfig, DataKeyWrapper, DomainKeyError, DomainKeyring, EnvelopeEncryptor, KeyStore,
    KeyringPolicy, LocalKeyring, MemoryKeyStore, PgKeyStore, domain_kek_id,
};
use biv_core::{
    Context, DecryptError, Encryptor, KeyProvider, SecretBytes, SystemClock, UnwrapError,
    WrapError, WrappedKey,
};

fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{tag}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn ring() -> Arc<LocalKeyring> {
    let dir = std::env::temp_dir().join(unique("biv-domain"));
    std::fs::create_dir_all(&dir).unwrap();
    Arc::new(
        LocalKeyring::create(
            dir.join("root.json"),
            "local:root",
            &KeyringPolicy::development(),
        )
        .unwrap(),
    )
}

struct Setup {
    root: Arc<LocalKeyring>,
    domain_store: Arc<dyn KeyStore>,
    data_store: Arc<dyn KeyStore>,
}

impl Setup {
    fn new() -> Self {
        Setup {
            root: ring(),
            domain_store: Arc::new(MemoryKeyStore::new()),
            data_store: Arc::new(MemoryKeyStore::new()),
        }
    }

    fn domains_over(&self, root: Arc<dyn KeyProvider>) -> Arc<DomainKeyring> {
        Arc::new(DomainKeyring::new(
            root,
            self.domain_store.clone(),
            Arc::new(SystemClock::new()),
            Duration::from_secs(600),
        ))
    }

    fn domains(&self) -> Arc<DomainKeyring> {
        self.domains_over(self.root.clone())
    }

    fn encryptor(&self, domains: Arc<DomainKeyring>) -> EnvelopeEncryptor {
        EnvelopeEncryptor::with_wrapper(
            domains,
            self.data_store.clone(),
            Arc::new(SystemClock::new()),
            CacheConfig::default(),
        )
    }

    /// A new process: fresh caches over the same stores and root key.
    fn cold(&self) -> EnvelopeEncryptor {
        self.encryptor(self.domains())
    }

    async fn wrapping_of(&self, ct: &[u8]) -> WrappedKey {
        let id = inspect(ct).unwrap().key_id;
        self.data_store
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .state
            .wrapped()
            .cloned()
            .unwrap()
    }
}

fn ctx(tenant: &str, subject: &str) -> Context {
    Context::new()
        .with("tenant", tenant)
        .and_then(|c| c.with("subject", subject))
        .and_then(|c| c.with("column", "dx"))
        .unwrap()
}

#[tokio::test]
async fn data_keys_are_wrapped_under_their_tenants_domain_key() {
    let s = Setup::new();
    let domains = s.domains();
    let enc = s.encryptor(domains.clone());
    let a = enc.encrypt(b"a", &ctx("t1", "p-1")).await.unwrap();
    let b = enc.encrypt(b"b", &ctx("t2", "p-1")).await.unwrap();
    let wa = s.wrapping_of(&a).await;
    let wb = s.wrapping_of(&b).await;
    assert_eq!((wa.kek_id(), wa.kek_version()), ("domain:7431", 1));
    assert_eq!(wb.kek_id(), domain_kek_id(b"t2"));
    // One domain key per tenant, each wrapped under the root KEK.
    let rows = s.domain_store.scan(None, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.state.wrapped().map(WrappedKey::kek_id) == Some("local:root"))
    );
    assert_eq!(domains.versions(b"t1").await.unwrap(), vec![1]);
    // A data key wrapped for t1 does not unwrap as t2's.
    let aad = b"some aad";
    let w = domains
        .wrap(b"t1", &SecretBytes::new(vec![3; 32]), aad)
        .await
        .unwrap();
    assert!(domains.unwrap(b"t2", &w, aad).await.is_err());
    assert!(matches!(
        domains.unwrap(b"t1", &w, b"other aad").await,
        Err(UnwrapError::Failed)
    ));
    assert_eq!(
        domains
            .unwrap(b"t1", &w, aad)
            .await
            .unwrap()
            .expose_secret(),
        &[3; 32]
    );
    // A cold process reads everything.
    let cold = s.cold();
    assert_eq!(
        cold.decrypt(&a, &ctx("t1", "p-1"))
            .await
            .unwrap()
            .expose_secret(),
        b"a"
    );
    assert!(matches!(
        cold.decrypt(&a, &ctx("t2", "p-1")).await,
        Err(DecryptError::Failed)
    ));
}

#[tokio::test]
async fn a_root_rotation_rewraps_only_the_domain_keys() {
    let s = Setup::new();
    let domains = s.domains();
    let enc = s.encryptor(domains.clone());
    let mut stored = Vec::new();
    for t in ["t1", "t2", "t3"] {
        for p in ["p-1", "p-2"] {
            let c = ctx(t, p);
            stored.push((enc.encrypt(p.as_bytes(), &c).await.unwrap(), c));
        }
    }
    let data_before = s.data_store.scan(None, 100).await.unwrap();
    s.root.rotate().unwrap();
    let r = domains.rewrap_domain_keys().await.unwrap();
    assert_eq!((r.scanned, r.rewrapped), (3, 3));
    assert_eq!(domains.rewrap_domain_keys().await.unwrap().rewrapped, 0);
    // The six data keys were not touched.
    assert_eq!(s.data_store.scan(None, 100).await.unwrap(), data_before);
    assert_eq!(enc.rewrap_all().await.unwrap().rewrapped, 0);
    assert!(s.root.retire(1).unwrap());
    let cold = s.cold();
    for (ct, c) in &stored {
        assert_eq!(
            cold.decrypt(ct, c).await.unwrap().expose_secret(),
            c.get("subject").unwrap()
        );
    }
}

#[tokio::test]
async fn a_tenant_rotation_moves_that_tenants_data_keys() {
    let s = Setup::new();
    let domains = s.domains();
    let enc = s.encryptor(domains.clone());
    assert!(matches!(
        domains.rotate_tenant(b"t1").await,
        Err(DomainKeyError::NoKey)
    ));
    let a = enc.encrypt(b"a", &ctx("t1", "p-1")).await.unwrap();
    let b = enc.encrypt(b"b", &ctx("t2", "p-1")).await.unwrap();
    assert_eq!(domains.rotate_tenant(b"t1").await.unwrap(), 2);
    // A new data key of t1 is wrapped under version 2 at once.
    let c = enc.encrypt(b"c", &ctx("t1", "p-2")).await.unwrap();
    assert_eq!(s.wrapping_of(&c).await.kek_version(), 2);
    let r = enc.rewrap_all().await.unwrap();
    assert_eq!((r.rewrapped, r.already_current), (1, 2));
    assert_eq!(s.wrapping_of(&a).await.kek_version(), 2);
    assert_eq!(s.wrapping_of(&b).await.kek_version(), 1);
    let cold = s.cold();
    for (ct, t, p, plain) in [
        (&a, "t1", "p-1", b"a"),
        (&b, "t2", "p-1", b"b"),
        (&c, "t1", "p-2", b"c"),
    ] {
        assert_eq!(
            cold.decrypt(ct, &ctx(t, p)).await.unwrap().expose_secret(),
            plain
        );
    }
    assert_eq!(domains.versions(b"t1").await.unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn data_keys_from_before_domain_keys_still_decrypt_and_are_moved() {
    let s = Setup::new();
    let plain = EnvelopeEncryptor::new(
        s.root.clone(),
        s.data_store.clone(),
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    );
    let c = ctx("t1", "p-1");
    let ct = plain.encrypt(b"legacy", &c).await.unwrap();
    assert_eq!(s.wrapping_of(&ct).await.kek_id(), "local:root");
    let enc = s.cold();
    assert_eq!(
        enc.decrypt(&ct, &c).await.unwrap().expose_secret(),
        b"legacy"
    );
    let r = enc.rewrap_all().await.unwrap();
    assert_eq!(r.rewrapped, 1);
    assert_eq!(s.wrapping_of(&ct).await.kek_id(), "domain:7431");
    assert_eq!(
        s.cold().decrypt(&ct, &c).await.unwrap().expose_secret(),
        b"legacy"
    );
}

/// A root provider that wraps the wrong key when armed.
#[derive(Debug)]
struct Lying {
    inner: Arc<LocalKeyring>,
    armed: AtomicBool,
}

#[async_trait]
impl KeyProvider for Lying {
    fn kek_id(&self) -> &str {
        self.inner.kek_id()
    }
    fn current_version(&self) -> u32 {
        self.inner.current_version()
    }
    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        if self.armed.load(Ordering::SeqCst) {
            return self
                .inner
                .wrap_key(&SecretBytes::new(vec![0; key.len()]), aad)
                .await;
        }
        self.inner.wrap_key(key, aad).await
    }
    async fn unwrap_key(&self, w: &WrappedKey, aad: &[u8]) -> Result<SecretBytes, UnwrapError> {
        self.inner.unwrap_key(w, aad).await
    }
}

#[tokio::test]
async fn a_domain_key_rewrap_that_fails_verification_keeps_the_old_wrapping() {
    let s = Setup::new();
    let lying = Arc::new(Lying {
        inner: s.root.clone(),
        armed: AtomicBool::new(false),
    });
    let domains = s.domains_over(lying.clone());
    let enc = s.encryptor(domains.clone());
    let c = ctx("t1", "p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    let before = s.domain_store.scan(None, 10).await.unwrap();
    s.root.rotate().unwrap();
    lying.armed.store(true, Ordering::SeqCst);
    assert!(matches!(
        domains.rewrap_domain_keys().await,
        Err(DomainKeyError::VerifyFailed { .. })
    ));
    assert_eq!(s.domain_store.scan(None, 10).await.unwrap(), before);
    assert_eq!(
        s.cold().decrypt(&ct, &c).await.unwrap().expose_secret(),
        b"x"
    );
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn domain_and_data_keys_in_postgresql() {
    let url = biv_testkit::servers::postgres_url();
    let s = Setup {
        root: ring(),
        domain_store: Arc::new(PgKeyStore::connect(&url, &unique("domains")).await.unwrap()),
        data_store: Arc::new(PgKeyStore::connect(&url, &unique("keys")).await.unwrap()),
    };
    let domains = s.domains();
    let enc = s.encryptor(domains.clone());
    let c = ctx("t1", "p-1");
    let ct = enc.encrypt(b"pg", &c).await.unwrap();
    assert_eq!(domains.rotate_tenant(b"t1").await.unwrap(), 2);
    assert_eq!(enc.rewrap_all().await.unwrap().rewrapped, 1);
    s.root.rotate().unwrap();
    assert_eq!(domains.rewrap_domain_keys().await.unwrap().rewrapped, 2);
    assert!(s.root.retire(1).unwrap());
    assert_eq!(
        s.cold().decrypt(&ct, &c).await.unwrap().expose_secret(),
        b"pg"
    );
}

#[tokio::test]
async fn old_domain_key_versions_are_retired_after_the_rewrap() {
    let s = Setup::new();
    let domains = s.domains();
    let enc = s.encryptor(domains.clone());
    let c = ctx("t1", "p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    domains.rotate_tenant(b"t1").await.unwrap();
    // Retiring version 1 before the rewrap strands the data key: refused, not silently wrong.
    assert!(matches!(
        domains.set_min_version(b"t1", 2).await.unwrap(),
        biv_confidentiality::keys::MinVersionOutcome::Set { .. }
    ));
    assert!(matches!(
        s.cold().decrypt(&ct, &c).await,
        Err(DecryptError::KeyUnavailable(_))
    ));
    // Lower it again, rewrap, then retire for good.
    domains.set_min_version(b"t1", 1).await.unwrap();
    assert_eq!(enc.rewrap_all().await.unwrap().rewrapped, 1);
    let status = enc.key_status().await.unwrap();
    assert_eq!(status.by_kek.get(&(domain_kek_id(b"t1"), 1)), None);
    domains.set_min_version(b"t1", 2).await.unwrap();
    assert_eq!(
        s.cold().decrypt(&ct, &c).await.unwrap().expose_secret(),
        b"x"
    );
    assert_eq!(domains.versions(b"t1").await.unwrap(), vec![1, 2]);
}
