//! Access decisions, NEN 7513 records and break-glass around decryption, with the real
//! envelope encryptor and the test kit's audit sink and notifier.

use std::sync::Arc;

use biv_confidentiality::access::{
    AccessRequest, GuardedDecryptor, GuardedReadError, RolePolicy, RoleRule,
};
use biv_confidentiality::envelope::from_text;
use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore,
};
use biv_core::{
    Actor, Context, DecryptError, Encryptor, EventAction, Outcome, Severity, SubjectRef,
};
use biv_testkit::{InMemoryAuditSink, InMemoryNotifier, ManualClock};

struct World {
    enc: Arc<EnvelopeEncryptor>,
    audit: Arc<InMemoryAuditSink>,
    notifier: Arc<InMemoryNotifier>,
    guard: GuardedDecryptor,
    subject: SubjectRef,
    ctx: Context,
    _dir: tempdir::TempDir,
}

mod tempdir {
    /// A directory removed on drop.
    pub(crate) struct TempDir(pub(crate) std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn world(tag: &str) -> World {
    let dir = std::env::temp_dir().join(format!("biv-access-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let clock = Arc::new(ManualClock::default());
    let root = LocalKeyring::create(
        dir.join("root.json"),
        "local:test",
        &KeyringPolicy::new("test"),
    )
    .expect("keyring");
    let enc = Arc::new(EnvelopeEncryptor::new(
        Arc::new(root),
        Arc::new(MemoryKeyStore::new()),
        clock.clone(),
        CacheConfig::default(),
    ));
    let audit = Arc::new(InMemoryAuditSink::new());
    let notifier = Arc::new(InMemoryNotifier::new());
    let policy = RolePolicy::new(
        vec![
            RoleRule::new("physician", &["treatment"], true),
            RoleRule::new("billing-clerk", &["billing"], false),
        ],
        &["physician"],
    );
    let guard = GuardedDecryptor::new(
        enc.clone(),
        Arc::new(policy),
        audit.clone(),
        notifier.clone(),
        clock,
    );
    let subject =
        SubjectRef::parse("hmac-sha256:t1:9f86d081884c7d659a2feaa0c55ad015").expect("subject");
    let ctx = Context::new()
        .with("tenant", "t1")
        .and_then(|c| c.with("table", "patients"))
        .and_then(|c| c.with("column", "diagnosis"))
        .and_then(|c| c.with("subject", subject.as_str()))
        .expect("context");
    World {
        enc,
        audit,
        notifier,
        guard,
        subject,
        ctx,
        _dir: tempdir::TempDir(dir),
    }
}

fn physician() -> Actor {
    Actor::new("u-1042").with_role("physician")
}

#[tokio::test]
async fn a_permitted_read_returns_plaintext_and_is_recorded() {
    let w = world("permit");
    let stored = w.enc.encrypt(b"J45.0 asthma", &w.ctx).await.unwrap();
    let req = AccessRequest::new(
        physician(),
        "treatment",
        w.subject.clone(),
        w.ctx.clone(),
        "ehr-api",
    )
    .with_treatment_relation();
    assert_eq!(
        w.guard.read(&req, &stored).await.unwrap().expose_secret(),
        b"J45.0 asthma"
    );
    let events = w.audit.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.action, e.outcome, e.break_glass),
        (EventAction::Read, Outcome::Success, false)
    );
    assert_eq!(e.subject.as_ref(), Some(&w.subject));
    assert_eq!(e.purpose_of_use.as_deref(), Some("treatment"));
    assert_eq!(e.objects[0].id, "patients.diagnosis");
    assert!(
        e.authorization
            .as_ref()
            .unwrap()
            .protocol
            .as_deref()
            .unwrap()
            .starts_with("role-policy:physician")
    );
    assert!(w.notifier.alerts().is_empty());
}

#[tokio::test]
async fn a_refused_read_decrypts_nothing_and_records_the_refusal() {
    let w = world("deny");
    let stored = w.enc.encrypt(b"J45.0 asthma", &w.ctx).await.unwrap();
    let no_relation = AccessRequest::new(
        physician(),
        "treatment",
        w.subject.clone(),
        w.ctx.clone(),
        "ehr-api",
    );
    match w.guard.read(&no_relation, &stored).await {
        Err(GuardedReadError::Denied { reason }) => assert_eq!(reason, "no-treatment-relation"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let clerk = AccessRequest::new(
        Actor::new("u-6001").with_role("billing-clerk"),
        "treatment",
        w.subject.clone(),
        w.ctx.clone(),
        "ehr-api",
    );
    assert!(matches!(
        w.guard.read(&clerk, &stored).await,
        Err(GuardedReadError::Denied { .. })
    ));
    let events = w.audit.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.outcome == Outcome::SeriousFailure));
    assert_eq!(
        events[0].authorization.as_ref().unwrap().checks,
        vec!["no-treatment-relation".to_owned()]
    );
}

#[tokio::test]
async fn break_glass_is_allowed_flagged_sealed_and_alerted() {
    let w = world("glass");
    let stored = w.enc.encrypt(b"penicillin allergy", &w.ctx).await.unwrap();
    let reason = "patient unconscious at the emergency department";
    let req = AccessRequest::new(
        physician(),
        "treatment",
        w.subject.clone(),
        w.ctx.clone(),
        "ehr-api",
    )
    .break_glass(reason);
    assert_eq!(
        w.guard.read(&req, &stored).await.unwrap().expose_secret(),
        b"penicillin allergy"
    );
    let e = &w.audit.events()[0];
    assert!(e.break_glass);
    assert_eq!(
        e.authorization.as_ref().unwrap().protocol.as_deref(),
        Some("break-glass")
    );
    // The reason is in the record, sealed for the patient, not in clear.
    let detail = e.detail.as_ref().expect("sealed reason");
    assert!(!detail.as_str().contains("unconscious"));
    let reason_ctx = Context::new()
        .with("subject", w.subject.as_str())
        .and_then(|c| c.with("tenant", "t1"))
        .and_then(|c| c.with("table", "audit"))
        .and_then(|c| c.with("column", "break_glass_reason"))
        .unwrap();
    let opened = w
        .enc
        .decrypt(&from_text(detail.as_str()).unwrap(), &reason_ctx)
        .await
        .unwrap();
    assert_eq!(opened.expose_secret(), reason.as_bytes());
    let alerts = w.notifier.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].name(), alerts[0].severity()),
        ("BivBreakGlassAccess", Severity::Critical)
    );

    let blank = AccessRequest::new(
        physician(),
        "treatment",
        w.subject.clone(),
        w.ctx.clone(),
        "ehr-api",
    )
    .break_glass("   ");
    match w.guard.read(&blank, &stored).await {
        Err(GuardedReadError::Denied { reason }) => {
            assert_eq!(reason, "break-glass-without-reason")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn no_record_no_plaintext() {
    let w = world("fail-closed");
    let stored = w.enc.encrypt(b"secret diagnosis", &w.ctx).await.unwrap();
    w.audit.set_unavailable(true);
    let req = AccessRequest::new(
        physician(),
        "treatment",
        w.subject.clone(),
        w.ctx.clone(),
        "ehr-api",
    )
    .with_treatment_relation();
    assert!(matches!(
        w.guard.read(&req, &stored).await,
        Err(GuardedReadError::NotRecorded(_))
    ));
}

#[tokio::test]
async fn failed_and_shredded_reads_are_recorded_and_say_so() {
    let w = world("fail");
    let stored = w.enc.encrypt(b"x", &w.ctx).await.unwrap();
    let other_row = w.ctx.clone().with("row", "r-2").unwrap();
    let req = AccessRequest::new(
        physician(),
        "treatment",
        w.subject.clone(),
        other_row,
        "ehr-api",
    )
    .with_treatment_relation();
    assert!(matches!(
        w.guard.read(&req, &stored).await,
        Err(GuardedReadError::Decrypt(DecryptError::Failed))
    ));
    w.enc
        .shred(b"t1", w.subject.as_str().as_bytes())
        .await
        .unwrap();
    let req = AccessRequest::new(
        physician(),
        "treatment",
        w.subject.clone(),
        w.ctx.clone(),
        "ehr-api",
    )
    .with_treatment_relation();
    assert!(matches!(
        w.guard.read(&req, &stored).await,
        Err(GuardedReadError::Decrypt(DecryptError::KeyDestroyed))
    ));
    let outcomes: Vec<Outcome> = w.audit.events().iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, vec![Outcome::MinorFailure, Outcome::MinorFailure]);
}
