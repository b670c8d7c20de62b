//! # biv-core: the vocabulary of biv
//!
//! biv puts the Dutch BIV model — *Beschikbaarheid, Integriteit, Vertrouwelijkheid*:
//! availability, integrity, confidentiality — into code a health-care service embeds to meet
//! ISO 27001, NEN 7510 and NEN 7513. This crate is the small, stable part every other biv crate
//! and every host shares: the plug-in traits and the types that cross between them. It does no
//! I/O and implements no cryptography.
//!
//! | trait | what it does | implemented by |
//! |---|---|---|
//! | [`Monitor`] | one health check | biv-availability (TCP, HTTP, PostgreSQL, disk, …) |
//! | [`LogSink`] | carries encoded log records out of the process | biv-availability (stdout/file, spool → Elasticsearch, syslog) |
//! | [`Notifier`] | delivers an [`Alert`] | biv-availability (Alertmanager, webhook) |
//! | [`AuditSink`] | records an [`AuditEvent`] durably, returns an [`AuditReceipt`] | biv-integrity (Merkle log: file, PostgreSQL) |
//! | [`Reviewer`] | judges a [`Change`] into a [`Verdict`] | biv-integrity (six-eyes) |
//! | [`Encryptor`] | encrypts a field bound to a [`Context`] | biv-confidentiality (envelope encryption) |
//! | [`KeyProvider`] | wraps keys under a root key | biv-confidentiality (local keyring, PKCS#11) |
//! | [`Redactor`] | finds and removes personal data in text | biv-confidentiality (BSN, IBAN, …) |
//! | [`Clock`] | the current time | [`SystemClock`]; `biv_testkit::ManualClock` in tests |
//!
//! Every trait is `Send + Sync + Debug`; the async ones use `async-trait` so `Arc<dyn Trait>`
//! works, and each has forwarding impls for `Arc<T>` and `Box<T>`. Capabilities are injected:
//! there is no global default and no implementation is chosen by a Cargo feature.
//! The conformance test kit for implementations is the `biv-testkit` crate.
//!
//! ## Errors
//! Each operation has its own `#[non_exhaustive]` error type ([`AuditAppendError`],
//! [`DecryptError`], [`NotifyError`], …), `Send + Sync + 'static`. Causes outside biv travel as
//! a [`BackendError`]. Decryption failures are one opaque [`DecryptError::Failed`].
//!
//! ## Example
//! A host wires the pillars together through these traits:
//! ```
//! use std::sync::Arc;
//! use biv_core::{Actor, AuditEvent, AuditSink, Clock, EventAction, EventId, SourceSystem};
//!
//! #[derive(Debug)]
//! struct RecordService {
//!     audit: Arc<dyn AuditSink>,
//!     clock: Arc<dyn Clock>,
//! }
//!
//! impl RecordService {
//!     async fn read(&self, id: EventId, user: &str) -> Result<(), Box<dyn std::error::Error>> {
//!         let event = AuditEvent::builder(id, self.clock.now(), EventAction::Read, "record.read",
//!             Actor::new(user), SourceSystem::new("ehr-api")).build()?;
//!         self.audit.append(&event).await?; // fail closed: no receipt, no read
//!         Ok(())
//!     }
//! }
//! ```
//!
//! ## Supported Rust versions
//! The minimum is Rust 1.89 (edition 2024). Raising it is not a breaking change under SemVer.

mod alert;
mod audit;
mod controls;
mod encryption;
mod error;
mod health;
mod log;
mod redact;
mod review;
mod time;

pub use alert::{Alert, AlertError, Notifier, NotifyError, Severity};
pub use audit::{
    AccessPoint, AccessPointKind, ActionName, Actor, AuditAppendError, AuditEvent,
    AuditEventBuilder, AuditEventError, AuditReceipt, AuditSink, AuthorizationContext, EventAction,
    EventId, InvolvedObject, ObjectType, Outcome, SealedDetail, SourceSystem, SubjectRef,
};
pub use controls::{Control, ControlId, Framework, UnknownControl};
pub use encryption::{
    Context, ContextError, DecryptError, EncryptError, Encryptor, KeyProvider, SecretBytes,
    UnwrapError, WrapError, WrappedKey,
};
pub use error::{BackendError, InvalidName};
pub use health::{CheckResult, Monitor, Status};
pub use log::{
    Dataset, Level, LogFlushError, LogRecord, LogRecordError, LogSink, LogSubmitError,
    MAX_LOG_RECORD_BYTES, RecordId,
};
pub use redact::{Finding, PiiKind, Redactor, mask_findings};
pub use review::{
    Change, ChangeKind, CheckConclusion, CheckRun, Commit, Decision, Identity, IgnoredReview,
    InputDigest, Reason, ReasonCode, Review, ReviewError, ReviewState, Reviewer, Verdict,
};
pub use time::{Clock, SystemClock, Timestamp, TimestampError, civil_from_days, days_from_civil};

/// Compile-time check that every error type is `Send + Sync + 'static`, as hosts rely on it.
#[cfg(test)]
mod error_bounds {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn errors_are_send_sync_static() {
        use super::*;
        assert_error::<AlertError>();
        assert_error::<NotifyError>();
        assert_error::<AuditAppendError>();
        assert_error::<AuditEventError>();
        assert_error::<ContextError>();
        assert_error::<DecryptError>();
        assert_error::<EncryptError>();
        assert_error::<WrapError>();
        assert_error::<UnwrapError>();
        assert_error::<BackendError>();
        assert_error::<InvalidName>();
        assert_error::<LogRecordError>();
        assert_error::<LogSubmitError>();
        assert_error::<LogFlushError>();
        assert_error::<ReviewError>();
        assert_error::<TimestampError>();
        assert_error::<UnknownControl>();
    }
}
