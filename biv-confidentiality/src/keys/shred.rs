//! Complete crypto-shredding: data keys, caches, blind-index values and the audit record.

use std::fmt;
use std::sync::Arc;

use biv_core::{
    Actor, AuditAppendError, AuditEvent, AuditEventError, AuditReceipt, AuditSink, BackendError,
    EventAction, EventId, InvolvedObject, ObjectType, Outcome, SourceSystem, SubjectRef,
};

use super::encryptor::{EnvelopeEncryptor, ShredError, ShredReceipt};
use crate::blind_index::BlindIndexEraser;

/// Who asks to shred which subject, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShredRequest {
    /// The tenant (the context's `tenant` value).
    pub tenant: Vec<u8>,
    /// The subject (the context's `subject` value, pseudonymous).
    pub subject: Vec<u8>,
    /// The subject as the audit log refers to it (a keyed pseudonym, never a BSN).
    pub subject_ref: SubjectRef,
    /// The operator or system that shreds.
    pub actor: Actor,
    /// The purpose recorded, e.g. `erasure-request` (GDPR art. 17).
    pub purpose: String,
}

impl ShredRequest {
    /// A request with purpose `erasure-request`.
    pub fn new(
        tenant: impl Into<Vec<u8>>,
        subject: impl Into<Vec<u8>>,
        subject_ref: SubjectRef,
        actor: Actor,
    ) -> Self {
        ShredRequest {
            tenant: tenant.into(),
            subject: subject.into(),
            subject_ref,
            actor,
            purpose: "erasure-request".to_owned(),
        }
    }

    /// Sets the recorded purpose.
    #[must_use]
    pub fn with_purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = purpose.into();
        self
    }
}

/// What happened to the subject's blind-index values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlindIndexErasure {
    /// The host's eraser deleted this many values.
    Erased {
        /// Values deleted.
        values: u64,
    },
}

/// What a complete shred destroyed, and the proof it was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShredReport {
    /// The data keys destroyed (ids, time).
    pub keys: ShredReceipt,
    /// The blind-index values deleted.
    pub blind_index: BlindIndexErasure,
    /// The audit log's receipt for the `subject.shred` event.
    pub audit: AuditReceipt,
}

/// Why a complete shred did not finish. [`CompleteShredError::NotStarted`],
/// [`CompleteShredError::Keys`], [`CompleteShredError::InvalidRequest`] and
/// [`CompleteShredError::NoRandomness`] mean nothing was destroyed; [`CompleteShredError::BlindIndex`]
/// and [`CompleteShredError::NotRecorded`] mean the keys **are** destroyed (the receipt says
/// which). Retry the shred to finish the rest — it is idempotent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompleteShredError {
    /// The data keys could not be destroyed; nothing else was attempted. The failed attempt was
    /// recorded if the audit log could take it.
    #[error("data keys not destroyed: {0}")]
    Keys(#[source] ShredError),
    /// The keys were destroyed but the host's eraser failed: blind-index values may remain.
    /// The event was recorded with outcome minor failure when `audit` is `Some`.
    #[error("data keys destroyed, but the blind-index values were not erased: {source}")]
    BlindIndex {
        /// The keys destroyed.
        receipt: Box<ShredReceipt>,
        /// The audit receipt, if the event could be recorded.
        audit: Option<AuditReceipt>,
        /// The eraser's error.
        #[source]
        source: BackendError,
    },
    /// The audit log did not take the record of the shred about to start, so nothing was
    /// destroyed (fail closed: no erasure without its record).
    #[error("shred not started: the audit log did not take its record: {source}")]
    NotStarted {
        /// The audit sink's error.
        #[source]
        source: AuditAppendError,
    },
    /// Keys and index values are gone, but the audit log did not take the closing record (the
    /// `subject.shred.start` record is in the log).
    #[error("subject shredded, but the audit record failed: {source}")]
    NotRecorded {
        /// The keys destroyed.
        receipt: Box<ShredReceipt>,
        /// The blind-index values deleted.
        blind_index: BlindIndexErasure,
        /// The audit sink's error.
        #[source]
        source: AuditAppendError,
    },
    /// The audit event could not be built (an empty actor id, …); nothing was done.
    #[error("invalid shred request: {0}")]
    InvalidRequest(#[from] AuditEventError),
    /// No randomness for the audit event id; nothing was done.
    #[error("no randomness for the audit event id")]
    NoRandomness,
}

/// Crypto-shreds data subjects completely: records a NEN 7513 `E` (execute) event
/// `subject.shred.start` through the [`AuditSink`] — durable before anything irreversible
/// happens, and nothing happens without it — then destroys every data key version in the key
/// store, purges them from the encryptor's cache, deletes the subject's blind-index values
/// through the host's [`BlindIndexEraser`], and records the `D` event `subject.shred` naming
/// each destroyed key. Afterwards the subject's ciphertexts
/// fail with [`DecryptError::KeyDestroyed`](biv_core::DecryptError::KeyDestroyed).
///
/// Not covered (see `docs/key-management.md`): key-store backups (until the root KEK version
/// that wrapped them is destroyed — shred epochs), other processes' caches (until their TTL),
/// plaintext copies outside biv, and legal retention duties that may forbid shredding.
///
/// ```
/// use std::sync::Arc;
/// use biv_confidentiality::blind_index::BlindIndexEraser;
/// use biv_confidentiality::keys::*;
/// use biv_core::{Actor, BackendError, Context, DecryptError, Encryptor, SubjectRef, SystemClock};
/// use biv_testkit::InMemoryAuditSink;
///
/// #[derive(Debug)]
/// struct NoIndexes;
/// #[async_trait::async_trait]
/// impl BlindIndexEraser for NoIndexes {
///     async fn erase_subject(&self, _: &[u8], _: &[u8]) -> Result<u64, BackendError> { Ok(0) }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// # let dir = std::env::temp_dir().join(format!("biv-doc-shredder-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
/// let ring = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::development())?;
/// let enc = Arc::new(EnvelopeEncryptor::new(Arc::new(ring), Arc::new(MemoryKeyStore::new()),
///     Arc::new(SystemClock::new()), CacheConfig::default()));
/// let audit = Arc::new(InMemoryAuditSink::new());
/// let shredder = Shredder::new(Arc::clone(&enc), Arc::new(NoIndexes), audit.clone(), "ehr-api");
///
/// let ctx = Context::new().with("tenant", "t1")?.with("subject", "p-1")?;
/// let ct = enc.encrypt(b"diabetes", &ctx).await?;
/// let request = ShredRequest::new("t1", "p-1", SubjectRef::parse("hmac-sha256:t1:0123456789abcdef")?,
///     Actor::new("dpo-1"));
/// let report = shredder.shred(&request).await?;
/// assert_eq!(report.keys.key_ids.len(), 1);
/// assert!(matches!(enc.decrypt(&ct, &ctx).await, Err(DecryptError::KeyDestroyed)));
/// let names: Vec<_> = audit.events().iter().map(|e| e.action_name.to_string()).collect();
/// assert_eq!(names, ["subject.shred.start", "subject.shred"]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Shredder {
    encryptor: Arc<EnvelopeEncryptor>,
    eraser: Arc<dyn BlindIndexEraser>,
    audit: Arc<dyn AuditSink>,
    source_system: String,
}

impl fmt::Debug for Shredder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shredder")
            .field("encryptor", &self.encryptor)
            .field("eraser", &self.eraser)
            .field("audit", &self.audit)
            .field("source_system", &self.source_system)
            .finish()
    }
}

impl Shredder {
    /// A shredder over the encryptor, the host's eraser and the audit sink; `source_system`
    /// names the reporting system in the audit events.
    pub fn new(
        encryptor: Arc<EnvelopeEncryptor>,
        eraser: Arc<dyn BlindIndexEraser>,
        audit: Arc<dyn AuditSink>,
        source_system: impl Into<String>,
    ) -> Self {
        Shredder {
            encryptor,
            eraser,
            audit,
            source_system: source_system.into(),
        }
    }

    /// Shreds one subject: the start record, keys, caches, blind-index values, the closing
    /// record.
    ///
    /// # Errors
    /// [`CompleteShredError`]: a failure of any step is returned, never swallowed; retry.
    pub async fn shred(&self, request: &ShredRequest) -> Result<ShredReport, CompleteShredError> {
        // Build (and validate) the events before anything irreversible happens.
        let attempt = self.event(request, "subject.shred", &[], Outcome::SeriousFailure)?;
        let start = self.start_event(request)?;
        // Fail closed: no key is destroyed unless the log holds the record that it is about to be.
        self.audit
            .append(&start)
            .await
            .map_err(|source| CompleteShredError::NotStarted { source })?;
        let receipt = match self
            .encryptor
            .shred(&request.tenant, &request.subject)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // The failure is what is returned; recording the attempt is best effort.
                let _ = self.audit.append(&attempt).await;
                return Err(CompleteShredError::Keys(e));
            }
        };
        let erased = self
            .eraser
            .erase_subject(&request.tenant, &request.subject)
            .await;
        let outcome = if erased.is_ok() {
            Outcome::Success
        } else {
            Outcome::MinorFailure
        };
        // Every destroyed key of the subject, not only those destroyed now: a retry after a
        // failed audit append must record what the first attempt destroyed.
        let mut destroyed = self
            .encryptor
            .destroyed_keys(&request.tenant, &request.subject)
            .await
            .unwrap_or_default();
        for id in &receipt.key_ids {
            if !destroyed.contains(id) {
                destroyed.push(*id);
            }
        }
        destroyed.sort_unstable();
        let event = self.event(request, "subject.shred", &destroyed, outcome)?;
        let recorded = self.audit.append(&event).await;
        match (erased, recorded) {
            (Ok(values), Ok(audit)) => Ok(ShredReport {
                keys: receipt,
                blind_index: BlindIndexErasure::Erased { values },
                audit,
            }),
            (Ok(values), Err(source)) => Err(CompleteShredError::NotRecorded {
                receipt: Box::new(receipt),
                blind_index: BlindIndexErasure::Erased { values },
                source,
            }),
            (Err(source), audit) => Err(CompleteShredError::BlindIndex {
                receipt: Box::new(receipt),
                audit: audit.ok(),
                source,
            }),
        }
    }

    /// The record that a shred is about to run: action E (the erasure procedure started), the
    /// subject, operator and purpose, and what it will erase — no destruction is claimed yet.
    fn start_event(&self, request: &ShredRequest) -> Result<AuditEvent, CompleteShredError> {
        let keys = InvolvedObject::new(ObjectType::SystemObject, "data-keys")
            .with_role("security-resource")
            .with_id_type("biv-data-key");
        let index = InvolvedObject::new(ObjectType::SystemObject, "blind-index")
            .with_role("resource")
            .with_id_type("biv-blind-index-values");
        Ok(AuditEvent::builder(
            new_event_id()?,
            self.encryptor.clock.now(),
            EventAction::Execute,
            "subject.shred.start",
            request.actor.clone(),
            SourceSystem::new(self.source_system.clone()),
        )
        .outcome(Outcome::Success)
        .subject(request.subject_ref.clone())
        .purpose_of_use(request.purpose.clone())
        .object(keys)
        .object(index)
        .build()?)
    }

    fn event(
        &self,
        request: &ShredRequest,
        name: &str,
        key_ids: &[u64],
        outcome: Outcome,
    ) -> Result<AuditEvent, CompleteShredError> {
        let mut builder = AuditEvent::builder(
            new_event_id()?,
            self.encryptor.clock.now(),
            EventAction::Delete,
            name,
            request.actor.clone(),
            SourceSystem::new(self.source_system.clone()),
        )
        .outcome(outcome)
        .subject(request.subject_ref.clone())
        .purpose_of_use(request.purpose.clone());
        for key_id in key_ids {
            let mut object =
                InvolvedObject::new(ObjectType::SystemObject, format!("{key_id:016x}"))
                    .with_role("security-resource")
                    .with_id_type("biv-data-key");
            object.lifecycle = Some("destruction".into());
            builder = builder.object(object);
        }
        let mut index = InvolvedObject::new(ObjectType::SystemObject, "blind-index")
            .with_role("resource")
            .with_id_type("biv-blind-index-values");
        index.lifecycle = Some("destruction".into());
        Ok(builder.object(index).build()?)
    }
}

/// A random (RFC 9562 version 4) event id.
fn new_event_id() -> Result<EventId, CompleteShredError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| CompleteShredError::NoRandomness)?;
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    Ok(EventId::from_bytes(id))
}
