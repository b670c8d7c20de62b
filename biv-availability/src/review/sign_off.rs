//! The reviewer's sign-off of a digest, recorded as an audit event.

use std::sync::Arc;

use biv_core::{
    AccessPoint, Actor, AuditEvent, AuditReceipt, AuditSink, EventAction, EventId, InvolvedObject,
    ObjectType, Redactor, SourceSystem, Timestamp,
};
use sha2::{Digest as _, Sha256};

use super::error::SignOffError;
use super::fingerprint::hex;
use super::model::Digest;

/// The audit action name of a sign-off (`EventTypeCode`), in the style of the other action
/// names (`record.read`, `audit.patient-report`).
pub const SIGN_OFF_ACTION: &str = "log-review.sign-off";

/// The purpose of use of a sign-off event.
pub const SIGN_OFF_PURPOSE: &str = "log-review";

/// A reviewer's sign-off: who, when, remarks, and the SHA-256 of the digest they reviewed
/// (shown in the digest and given by [`Digest::sha256_hex`]).
///
/// ```
/// use biv_availability::review::SignOff;
/// use biv_core::Timestamp;
///
/// let sign_off = SignOff::new("u-9001", Timestamp::parse_rfc3339("2026-11-26T08:15:00Z")?, "ab".repeat(32))
///     .with_role("security-officer")
///     .with_remarks("Break-glass of 25 Nov checked with the ward.");
/// assert_eq!(sign_off.reviewer, "u-9001");
/// # Ok::<(), biv_core::TimestampError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignOff {
    /// The reviewer's user id.
    pub reviewer: String,
    /// The reviewer's role code (e.g. `security-officer`, `developer`).
    pub role: Option<String>,
    /// When they signed.
    pub signed_at: Timestamp,
    /// Free-text remarks (kept out of the audit event; see [`SignOffRecorder`]).
    pub remarks: String,
    /// The SHA-256 of the digest they reviewed, as 64 hex digits.
    pub digest_sha256: String,
}

impl SignOff {
    /// A sign-off by `reviewer` at `signed_at` of the digest whose hash is `digest_sha256`.
    pub fn new(
        reviewer: impl Into<String>,
        signed_at: Timestamp,
        digest_sha256: impl Into<String>,
    ) -> Self {
        SignOff {
            reviewer: reviewer.into(),
            role: None,
            signed_at,
            remarks: String::new(),
            digest_sha256: digest_sha256.into(),
        }
    }

    /// Sets the reviewer's role code.
    #[must_use]
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Sets the remarks.
    #[must_use]
    pub fn with_remarks(mut self, remarks: impl Into<String>) -> Self {
        self.remarks = remarks.into();
        self
    }
}

/// A recorded sign-off.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignOffRecord {
    /// The audit event recorded.
    pub event: AuditEvent,
    /// The sink's receipt.
    pub receipt: AuditReceipt,
    /// The remarks whose hash the event holds (redacted when a redactor was set): keep them with
    /// the digest, so anyone can check them against the event.
    pub remarks: String,
}

/// Records sign-offs through an [`AuditSink`] as events of [`SIGN_OFF_ACTION`].
///
/// The event (action `E`, execute) names the reviewer as `user`, has purpose
/// [`SIGN_OFF_PURPOSE`], no subject, and these involved objects:
///
/// | type | role | id_type | id |
/// |---|---|---|---|
/// | `system_object` | `report` | `log-review-digest` | `sha256:` + the digest's hash |
/// | `other` | `resource` | `review-window` | `START/END` (RFC 3339, the window) |
/// | `other` | `remarks` | `sha256` | `sha256:` + SHA-256 of the remarks (only when there are remarks) |
///
/// Audit event text members hold codes and ids, never prose (docs/formats/audit-event.md), so
/// the remarks stay out of the event: it holds only their hash. With a [`Redactor`] set
/// ([`with_redactor`](SignOffRecorder::with_redactor)) the remarks are redacted first, and the
/// hash is over the redacted text that [`SignOffRecord::remarks`] returns. The event id is
/// derived from the digest hash, reviewer and time (a UUIDv8 of SHA-256), so recording the same
/// sign-off twice is refused by the sink as a duplicate.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::review::{DigestBuilder, DigestConfig, ReviewWindow, SignOff, SignOffRecorder};
/// use biv_core::{SourceSystem, Timestamp};
/// use biv_testkit::InMemoryAuditSink;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let window = ReviewWindow::ending_at(Timestamp::parse_rfc3339("2026-11-26T06:00:00Z")?)?;
/// let digest = DigestBuilder::new(window, DigestConfig::default()).finish();
/// let sink = Arc::new(InMemoryAuditSink::new());
/// let recorder = SignOffRecorder::new(sink.clone(), SourceSystem::new("biv-cli"));
///
/// let at = Timestamp::parse_rfc3339("2026-11-26T08:15:00Z")?;
/// let wrong = SignOff::new("u-9001", at, "00".repeat(32));
/// assert!(digest.sign_off(&wrong, &recorder).await.is_err()); // not the digest reviewed
///
/// let sign_off = SignOff::new("u-9001", at, digest.sha256_hex()?).with_remarks("all checked");
/// let record = digest.sign_off(&sign_off, &recorder).await?;
/// assert_eq!(record.event.action_name.as_str(), "log-review.sign-off");
/// assert_eq!(sink.events().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SignOffRecorder {
    sink: Arc<dyn AuditSink>,
    source: SourceSystem,
    redactor: Option<Arc<dyn Redactor>>,
    access_point: Option<AccessPoint>,
}

impl SignOffRecorder {
    /// Records through `sink`, naming `source` as the reporting system.
    pub fn new(sink: Arc<dyn AuditSink>, source: SourceSystem) -> Self {
        SignOffRecorder {
            sink,
            source,
            redactor: None,
            access_point: None,
        }
    }

    /// Redacts the remarks before hashing them.
    #[must_use]
    pub fn with_redactor(mut self, redactor: Arc<dyn Redactor>) -> Self {
        self.redactor = Some(redactor);
        self
    }

    /// Sets where the reviewer signed from.
    #[must_use]
    pub fn with_access_point(mut self, access_point: AccessPoint) -> Self {
        self.access_point = Some(access_point);
        self
    }

    /// The event a sign-off becomes, and the (redacted) remarks it hashes, without recording
    /// it (for callers that append through their own runtime).
    ///
    /// # Errors
    /// [`SignOffError::MalformedHash`], [`SignOffError::DigestMismatch`],
    /// [`SignOffError::EmptyReviewer`], [`SignOffError::BeforeWindowEnd`],
    /// [`SignOffError::Encode`], [`SignOffError::Event`].
    pub fn event(
        &self,
        digest: &Digest,
        sign_off: &SignOff,
    ) -> Result<(AuditEvent, String), SignOffError> {
        let expected = sign_off.digest_sha256.trim().to_ascii_lowercase();
        if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SignOffError::MalformedHash);
        }
        let actual = digest.sha256_hex()?;
        if expected != actual {
            return Err(SignOffError::DigestMismatch { expected, actual });
        }
        let reviewer = sign_off.reviewer.trim();
        if reviewer.is_empty() {
            return Err(SignOffError::EmptyReviewer);
        }
        if sign_off.signed_at < digest.window.end() {
            return Err(SignOffError::BeforeWindowEnd {
                signed_at: sign_off.signed_at,
                window_end: digest.window.end(),
            });
        }
        let remarks = match &self.redactor {
            Some(r) => r.redact(&sign_off.remarks).into_owned(),
            None => sign_off.remarks.clone(),
        };
        let mut user = Actor::new(reviewer);
        if let Some(role) = &sign_off.role {
            user = user.with_role(role.clone());
        }
        let mut builder = AuditEvent::builder(
            event_id(&actual, reviewer, sign_off.signed_at),
            sign_off.signed_at,
            EventAction::Execute,
            SIGN_OFF_ACTION,
            user,
            self.source.clone(),
        )
        .purpose_of_use(SIGN_OFF_PURPOSE)
        .object(
            InvolvedObject::new(ObjectType::SystemObject, format!("sha256:{actual}"))
                .with_role("report")
                .with_id_type("log-review-digest"),
        )
        .object(
            InvolvedObject::new(
                ObjectType::Other,
                format!("{}/{}", digest.window.start(), digest.window.end()),
            )
            .with_role("resource")
            .with_id_type("review-window"),
        );
        if !remarks.trim().is_empty() {
            builder = builder.object(
                InvolvedObject::new(
                    ObjectType::Other,
                    format!("sha256:{}", hex(&Sha256::digest(remarks.as_bytes()))),
                )
                .with_role("remarks")
                .with_id_type("sha256"),
            );
        }
        if let Some(access_point) = &self.access_point {
            builder = builder.access_point(access_point.clone());
        }
        Ok((builder.build()?, remarks))
    }

    /// Checks the sign-off against `digest` and records it.
    ///
    /// # Errors
    /// Those of [`event`](SignOffRecorder::event), and [`SignOffError::Append`] when the sink
    /// did not record it.
    pub async fn record(
        &self,
        digest: &Digest,
        sign_off: &SignOff,
    ) -> Result<SignOffRecord, SignOffError> {
        let (event, remarks) = self.event(digest, sign_off)?;
        let receipt = self.sink.append(&event).await?;
        Ok(SignOffRecord {
            event,
            receipt,
            remarks,
        })
    }
}

impl Digest {
    /// Checks `sign_off` against this digest and records it through `recorder`
    /// ([`SignOffRecorder::record`]).
    ///
    /// # Errors
    /// See [`SignOffRecorder::record`].
    pub async fn sign_off(
        &self,
        sign_off: &SignOff,
        recorder: &SignOffRecorder,
    ) -> Result<SignOffRecord, SignOffError> {
        recorder.record(self, sign_off).await
    }
}

/// A UUIDv8 (RFC 9562) from SHA-256 of the digest hash, reviewer and time.
fn event_id(digest_sha256: &str, reviewer: &str, at: Timestamp) -> EventId {
    let mut hasher = Sha256::new();
    for part in [
        "biv-log-review-sign-off/v1",
        digest_sha256,
        reviewer,
        &at.to_string(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    let hash = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    EventId::from_bytes(bytes)
}
