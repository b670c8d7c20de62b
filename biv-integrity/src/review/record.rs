//! Recording a verdict in the audit log.

use biv_core::{
    Actor, AuditAppendError, AuditEvent, AuditEventError, AuditReceipt, AuditSink,
    AuthorizationContext, Change, Decision, EventAction, EventId, InvolvedObject, ObjectType,
    Outcome, SourceSystem, Timestamp, Verdict,
};

use super::github::sha256_hex;
use crate::audit::canonical_json;

/// The action name of a recorded verdict.
pub const REVIEW_ACTION: &str = "change.review";

/// The authorisation protocol named in a recorded verdict.
pub const REVIEW_PROTOCOL: &str = "biv-six-eyes-v1";

/// Why a verdict could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordVerdictError {
    /// The verdict was not made from this change's inputs.
    #[error(
        "the verdict's input digests differ from the change's: it was not made from this change"
    )]
    InputsDiffer,
    /// The verdict has no canonical JSON form.
    #[error("the verdict has no canonical JSON form: {0}")]
    Canonical(String),
    /// The audit event could not be built.
    #[error(transparent)]
    Event(#[from] AuditEventError),
    /// The audit log did not record it; the host must treat the verdict as not recorded.
    #[error("the audit log did not record the verdict: {0}")]
    Append(#[from] AuditAppendError),
}

/// Who records a verdict, when and from which system.
///
/// The event id is injected like every capability: the host makes it (UUID v4 or v7).
#[derive(Debug, Clone)]
pub struct VerdictRecord {
    id: EventId,
    time: Timestamp,
    recorder: Actor,
    source: SourceSystem,
}

impl VerdictRecord {
    /// The event's id, its time, the recording actor (e.g. the CI job's account) and the system.
    pub fn new(id: EventId, time: Timestamp, recorder: Actor, source: SourceSystem) -> Self {
        VerdictRecord {
            id,
            time,
            recorder,
            source,
        }
    }
}

/// Lower-case hex SHA-256 of the verdict's canonical JSON (RFC 8785): what the audit event binds.
///
/// # Errors
/// [`RecordVerdictError::Canonical`] if the verdict cannot be put in canonical form.
pub fn verdict_digest(verdict: &Verdict) -> Result<String, RecordVerdictError> {
    let value =
        serde_json::to_value(verdict).map_err(|e| RecordVerdictError::Canonical(e.to_string()))?;
    let bytes = canonical_json(&value).map_err(|e| RecordVerdictError::Canonical(e.to_string()))?;
    Ok(sha256_hex(&bytes))
}

/// The audit event for a verdict on a change: action `E` named [`REVIEW_ACTION`], outcome
/// `success` when approved and `serious_failure` when rejected, and as involved objects the
/// change (`role` `change`), its head commit (`head-commit`), the verdict's digest
/// (`verdict`, id `sha256:…` of [`verdict_digest`]) and every input digest (`input`, id
/// `NAME@sha256:HEX`). The authorisation context names [`REVIEW_PROTOCOL`] and lists the
/// verdict's reason codes.
///
/// # Errors
/// [`RecordVerdictError`] when the verdict was not made from this change, or the event breaks
/// a rule of [`AuditEvent`].
pub fn verdict_event(
    record: &VerdictRecord,
    change: &Change,
    verdict: &Verdict,
) -> Result<AuditEvent, RecordVerdictError> {
    if verdict.inputs != change.inputs {
        return Err(RecordVerdictError::InputsDiffer);
    }
    let outcome = match verdict.decision {
        Decision::Approved => Outcome::Success,
        _ => Outcome::SeriousFailure,
    };
    let mut authorization = AuthorizationContext::new().with_protocol(REVIEW_PROTOCOL);
    let mut codes: Vec<String> = Vec::new();
    for reason in &verdict.reasons {
        let code = serde_json::to_value(reason.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    for code in codes {
        authorization = authorization.with_check(code);
    }
    let kind = serde_json::to_value(change.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut builder = AuditEvent::builder(
        record.id,
        record.time,
        EventAction::Execute,
        REVIEW_ACTION,
        record.recorder.clone(),
        record.source.clone(),
    )
    .outcome(outcome)
    .authorization(authorization)
    .object(
        InvolvedObject::new(ObjectType::SystemObject, &change.id)
            .with_role("change")
            .with_id_type(format!("{kind}-change")),
    )
    .object(
        InvolvedObject::new(ObjectType::SystemObject, &change.head_sha)
            .with_role("head-commit")
            .with_id_type("git-commit"),
    )
    .object(
        InvolvedObject::new(
            ObjectType::SystemObject,
            format!("sha256:{}", verdict_digest(verdict)?),
        )
        .with_role("verdict")
        .with_id_type("review-verdict"),
    );
    for input in &change.inputs {
        builder = builder.object(
            InvolvedObject::new(
                ObjectType::SystemObject,
                format!("{}@sha256:{}", input.name, input.sha256),
            )
            .with_role("input")
            .with_id_type("input-digest"),
        );
    }
    Ok(builder.build()?)
}

/// Records a verdict through an [`AuditSink`] and returns the receipt once it is durable.
///
/// ```
/// use biv_core::{Actor, EventId, Reviewer, SourceSystem, Timestamp};
/// use biv_integrity::review::{SixEyes, VerdictRecord, record_verdict};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sink = biv_testkit::InMemoryAuditSink::new();
/// let change = biv_testkit::sample_change(&[]);
/// let verdict = SixEyes::default().review(&change)?;
/// let record = VerdictRecord::new(
///     EventId::from_bytes([7; 16]),
///     Timestamp::from_unix_seconds(1_790_000_000, 0)?,
///     Actor::new("ci:github-actions"),
///     SourceSystem::new("biv-review"),
/// );
/// let receipt = record_verdict(&sink, &record, &change, &verdict).await?;
/// assert_eq!(receipt.index(), 0);
/// assert_eq!(sink.events()[0].action_name.as_str(), "change.review");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// [`RecordVerdictError`]: see [`verdict_event`], and [`RecordVerdictError::Append`] when the
/// log did not record it (fail closed: treat the verdict as unrecorded).
pub async fn record_verdict(
    sink: &dyn AuditSink,
    record: &VerdictRecord,
    change: &Change,
    verdict: &Verdict,
) -> Result<AuditReceipt, RecordVerdictError> {
    let event = verdict_event(record, change, verdict)?;
    Ok(sink.append(&event).await?)
}
