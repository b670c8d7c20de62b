//! Complete crypto-shredding: keys, blind-index values through the host's hook, and the audit
//! record — every failure reported, none swallowed.

#![allow(
    clippy::unwrap_used,
    reason = "shared test helpers: a failed unwrap is a failed test with its location"
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use biv_confidentiality::blind_index::BlindIndexEraser;
use biv_confidentiality::keys::{
    BlindIndexErasure, CacheConfig, CompleteShredError, EnvelopeEncryptor, InsertOutcome, KeyStore,
    KeyStoreError, KeyringPolicy, LocalKeyring, MemoryKeyStore, ShredRequest, Shredder, StoredKey,
    SubjectKey,
};
use biv_core::{
    Actor, AuditAppendError, AuditEvent, AuditReceipt, AuditSink, BackendError, Context,
    DecryptError, Encryptor, EventAction, Outcome, SubjectRef, SystemClock,
};
use biv_testkit::InMemoryAuditSink;

fn unique_dir() -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "biv-shred-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn encryptor(store: Arc<dyn KeyStore>) -> Arc<EnvelopeEncryptor> {
    let ring = LocalKeyring::create(
        unique_dir().join("root.json"),
        "local:test",
        &KeyringPolicy::development(),
    )
    .expect("keyring");
    Arc::new(EnvelopeEncryptor::new(
        Arc::new(ring),
        store,
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    ))
}

fn ctx(subject: &str) -> Context {
    Context::new()
        .with("tenant", "t1")
        .and_then(|c| c.with("table", "patients"))
        .and_then(|c| c.with("column", "diagnosis"))
        .and_then(|c| c.with("subject", subject))
        .expect("context")
}

fn request(subject: &str) -> ShredRequest {
    ShredRequest::new(
        "t1",
        subject,
        SubjectRef::parse("hmac-sha256:t1:0123456789abcdef0123").expect("subject ref"),
        Actor::new("dpo-7").with_role("privacy-officer"),
    )
}

/// One row of the host's blind-index table: tenant, subject, index value.
type IndexRow = (Vec<u8>, Vec<u8>, u32);

/// The host's blind-index table.
#[derive(Debug, Default)]
struct IndexTable {
    rows: Mutex<Vec<IndexRow>>,
    fail: AtomicBool,
}

#[async_trait]
impl BlindIndexEraser for IndexTable {
    async fn erase_subject(&self, tenant: &[u8], subject: &[u8]) -> Result<u64, BackendError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(BackendError::msg("index table locked"));
        }
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|r| !(r.0 == tenant && r.1 == subject));
        Ok((before - rows.len()) as u64)
    }
}

fn index_with(rows: &[(&str, u32)]) -> Arc<IndexTable> {
    let t = IndexTable::default();
    for (s, v) in rows {
        t.rows
            .lock()
            .unwrap()
            .push((b"t1".to_vec(), s.as_bytes().to_vec(), *v));
    }
    Arc::new(t)
}

#[derive(Debug)]
struct DownAuditSink;

#[async_trait]
impl AuditSink for DownAuditSink {
    async fn append(&self, _: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        Err(AuditAppendError::Closed)
    }
}

/// A store whose shred fails.
#[derive(Debug, Default)]
struct BrokenShredStore(MemoryKeyStore);

#[async_trait]
impl KeyStore for BrokenShredStore {
    async fn get(&self, id: u64) -> Result<Option<StoredKey>, KeyStoreError> {
        self.0.get(id).await
    }
    async fn current_for(&self, t: &[u8], s: &[u8]) -> Result<SubjectKey, KeyStoreError> {
        self.0.current_for(t, s).await
    }
    async fn insert_if_absent(&self, k: StoredKey) -> Result<InsertOutcome, KeyStoreError> {
        self.0.insert_if_absent(k).await
    }
    async fn destroy_subject(&self, _: &[u8], _: &[u8]) -> Result<Vec<u64>, KeyStoreError> {
        Err(KeyStoreError::Io(std::io::Error::other("disk full")))
    }
}

#[tokio::test]
async fn a_complete_shred_destroys_keys_and_index_values_and_records_it() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let index = index_with(&[("p-1", 11), ("p-1", 12), ("p-2", 21)]);
    let audit = Arc::new(InMemoryAuditSink::new());
    let shredder = Shredder::new(enc.clone(), index.clone(), audit.clone(), "ehr-api");
    let c = ctx("p-1");
    let v1 = enc.encrypt(b"diagnosis: E11", &c).await.unwrap();
    let r = enc.rotate_subject(b"t1", b"p-1").await.unwrap();
    let v2 = enc.encrypt(b"diagnosis: E11.9", &c).await.unwrap();
    let other = enc.encrypt(b"other", &ctx("p-2")).await.unwrap();

    let report = shredder.shred(&request("p-1")).await.unwrap();
    let mut ids = report.keys.key_ids.clone();
    ids.sort_unstable();
    let mut expected = vec![r.previous_key_id, r.key_id];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert_eq!(report.blind_index, BlindIndexErasure::Erased { values: 2 });
    assert_eq!(report.audit.index(), 1, "after the start record");
    assert_eq!(index.rows.lock().unwrap().len(), 1, "p-2's value stays");
    for ct in [&v1, &v2] {
        assert!(matches!(
            enc.decrypt(ct, &c).await,
            Err(DecryptError::KeyDestroyed)
        ));
    }
    assert_eq!(
        enc.decrypt(&other, &ctx("p-2"))
            .await
            .unwrap()
            .expose_secret(),
        b"other"
    );

    let events = audit.events();
    assert_eq!(events.len(), 2);
    let start = &events[0];
    // The start record claims no destruction: the procedure ran, nothing was deleted yet.
    assert_eq!(start.action, EventAction::Execute);
    assert_eq!(start.action_name.as_str(), "subject.shred.start");
    assert!(start.objects.iter().all(|o| o.lifecycle.is_none()));
    assert_eq!(start.subject, events[1].subject);
    assert_ne!(start.id, events[1].id);
    let e = &events[1];
    assert_eq!(e.action, EventAction::Delete);
    assert_eq!(e.action_name.as_str(), "subject.shred");
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.user.id, "dpo-7");
    assert_eq!(e.purpose_of_use.as_deref(), Some("erasure-request"));
    assert_eq!(
        e.subject.as_ref().map(ToString::to_string).as_deref(),
        Some("hmac-sha256:t1:0123456789abcdef0123")
    );
    let object_ids: Vec<&str> = e.objects.iter().map(|o| o.id.as_str()).collect();
    for id in &expected {
        assert!(
            object_ids.contains(&format!("{id:016x}").as_str()),
            "{object_ids:?}"
        );
    }
    assert!(object_ids.contains(&"blind-index"));
    assert!(
        e.objects
            .iter()
            .all(|o| o.lifecycle.as_deref() == Some("destruction"))
    );
    // No key material or personal data in the report or the event.
    let text = format!("{report:?} {e:?}");
    assert!(!text.contains("E11"), "{text}");

    // A retry is idempotent: nothing more to destroy, recorded again — and the record still
    // names every destroyed key, so a retry after a failed append loses no evidence.
    let again = shredder.shred(&request("p-1")).await.unwrap();
    assert!(again.keys.key_ids.is_empty());
    assert_eq!(again.blind_index, BlindIndexErasure::Erased { values: 0 });
    assert_eq!(audit.events().len(), 4);
    let retried = &audit.events()[3];
    let retried_ids: Vec<&str> = retried.objects.iter().map(|o| o.id.as_str()).collect();
    for id in &expected {
        assert!(
            retried_ids.contains(&format!("{id:016x}").as_str()),
            "{retried_ids:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_eraser_is_reported_with_the_receipt_and_recorded() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let index = index_with(&[("p-1", 11)]);
    index.fail.store(true, Ordering::SeqCst);
    let audit = Arc::new(InMemoryAuditSink::new());
    let shredder = Shredder::new(enc.clone(), index.clone(), audit.clone(), "ehr-api");
    let c = ctx("p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    match shredder.shred(&request("p-1")).await {
        Err(CompleteShredError::BlindIndex {
            receipt,
            audit: recorded,
            source,
        }) => {
            assert_eq!(receipt.key_ids.len(), 1);
            assert!(recorded.is_some());
            assert_eq!(source.to_string(), "index table locked");
        }
        other => panic!("expected BlindIndex error, got {other:?}"),
    }
    // The keys are gone anyway, the index value is not, and the record says minor failure.
    assert!(matches!(
        enc.decrypt(&ct, &c).await,
        Err(DecryptError::KeyDestroyed)
    ));
    assert_eq!(index.rows.lock().unwrap().len(), 1);
    assert_eq!(audit.events()[1].outcome, Outcome::MinorFailure);
    // The retry finishes the job.
    index.fail.store(false, Ordering::SeqCst);
    let report = shredder.shred(&request("p-1")).await.unwrap();
    assert_eq!(report.blind_index, BlindIndexErasure::Erased { values: 1 });
    assert_eq!(audit.events()[3].outcome, Outcome::Success);
}

#[tokio::test]
async fn a_log_that_takes_no_record_stops_the_shred_before_anything_is_destroyed() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let index = index_with(&[("p-1", 11)]);
    let shredder = Shredder::new(
        enc.clone(),
        index.clone(),
        Arc::new(DownAuditSink),
        "ehr-api",
    );
    let c = ctx("p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    assert!(matches!(
        shredder.shred(&request("p-1")).await,
        Err(CompleteShredError::NotStarted {
            source: AuditAppendError::Closed
        })
    ));
    assert_eq!(enc.decrypt(&ct, &c).await.unwrap().expose_secret(), b"x");
    assert_eq!(index.rows.lock().unwrap().len(), 1, "eraser not called");
}

/// Takes the first `n` records, then refuses.
#[derive(Debug)]
struct FailsAfter {
    inner: InMemoryAuditSink,
    n: usize,
}

#[async_trait]
impl AuditSink for FailsAfter {
    async fn append(&self, e: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        if self.inner.events().len() >= self.n {
            return Err(AuditAppendError::Closed);
        }
        self.inner.append(e).await
    }
}

#[tokio::test]
async fn a_closing_record_failure_is_reported_not_swallowed() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let index = index_with(&[("p-1", 11)]);
    let audit = Arc::new(FailsAfter {
        inner: InMemoryAuditSink::new(),
        n: 1,
    });
    let shredder = Shredder::new(enc.clone(), index.clone(), audit.clone(), "ehr-api");
    let c = ctx("p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    match shredder.shred(&request("p-1")).await {
        Err(CompleteShredError::NotRecorded {
            receipt,
            blind_index,
            source: AuditAppendError::Closed,
        }) => {
            assert_eq!(receipt.key_ids.len(), 1);
            assert_eq!(blind_index, BlindIndexErasure::Erased { values: 1 });
        }
        other => panic!("expected NotRecorded, got {other:?}"),
    }
    assert!(matches!(
        enc.decrypt(&ct, &c).await,
        Err(DecryptError::KeyDestroyed)
    ));
    // The start record is in the log: the erasure is not unrecorded.
    let events = audit.inner.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action_name.as_str(), "subject.shred.start");
}

#[tokio::test]
async fn a_failing_key_store_stops_before_anything_else() {
    let enc = encryptor(Arc::new(BrokenShredStore::default()));
    let index = index_with(&[("p-1", 11)]);
    let audit = Arc::new(InMemoryAuditSink::new());
    let shredder = Shredder::new(enc.clone(), index.clone(), audit.clone(), "ehr-api");
    let c = ctx("p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    assert!(matches!(
        shredder.shred(&request("p-1")).await,
        Err(CompleteShredError::Keys(_))
    ));
    assert_eq!(index.rows.lock().unwrap().len(), 1, "eraser not called");
    let events = audit.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action_name.as_str(), "subject.shred.start");
    assert_eq!(events[1].outcome, Outcome::SeriousFailure);
    assert!(events[1].objects.iter().all(|o| o.id == "blind-index"));
    assert_eq!(enc.decrypt(&ct, &c).await.unwrap().expose_secret(), b"x");
}

#[tokio::test]
async fn an_invalid_request_destroys_nothing() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let index = index_with(&[("p-1", 11)]);
    let audit = Arc::new(InMemoryAuditSink::new());
    let shredder = Shredder::new(enc.clone(), index.clone(), audit.clone(), "ehr-api");
    let c = ctx("p-1");
    let ct = enc.encrypt(b"x", &c).await.unwrap();
    let mut bad = request("p-1");
    bad.actor = Actor::new("  ");
    assert!(matches!(
        shredder.shred(&bad).await,
        Err(CompleteShredError::InvalidRequest(_))
    ));
    assert_eq!(enc.decrypt(&ct, &c).await.unwrap().expose_secret(), b"x");
    assert!(audit.events().is_empty());
    assert_eq!(index.rows.lock().unwrap().len(), 1);
}
