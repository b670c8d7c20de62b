//! Recording a promotion decision in the audit log.

use biv_core::{
    Actor, AuditAppendError, AuditEvent, AuditEventError, AuditReceipt, AuditSink,
    AuthorizationContext, EventAction, EventId, InvolvedObject, ObjectType, Outcome, SourceSystem,
    Timestamp,
};

use super::gate::{PromotionDecision, PromotionKind};

/// The action name of a recorded promotion.
pub const PROMOTE_ACTION: &str = "release.promote";

/// The action name of a recorded rollback.
pub const ROLLBACK_ACTION: &str = "release.rollback";

/// The authorisation protocol named in a recorded decision.
pub const GATE_PROTOCOL: &str = "biv-release-gate-v1";

/// Why a decision could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordDecisionError {
    /// The audit event could not be built.
    #[error(transparent)]
    Event(#[from] AuditEventError),
    /// The audit log did not record it: the deployment must not go ahead.
    #[error("the audit log did not record the decision: {0}")]
    Append(#[from] AuditAppendError),
}

/// Who records a decision, when and from which system; the event id is injected.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    id: EventId,
    time: Timestamp,
    recorder: Actor,
    source: SourceSystem,
}

impl DecisionRecord {
    /// The event's id, its time, the recording actor and the system.
    pub fn new(id: EventId, time: Timestamp, recorder: Actor, source: SourceSystem) -> Self {
        DecisionRecord {
            id,
            time,
            recorder,
            source,
        }
    }
}

fn check_code(check: super::GateCheck) -> String {
    serde_json::to_value(check)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The audit event of a decision: action `E` named [`PROMOTE_ACTION`] or [`ROLLBACK_ACTION`],
/// outcome `success` when allowed and `serious_failure` when refused; objects the artifact
/// (`artifact`, `artifact-digest`), its commit (`commit`, `git-commit`), the stage (`stage`,
/// `release-stage`), each test report (`evidence`, `junit-report`) and verdict (`verdict`,
/// `review-verdict`). The authorisation context names [`GATE_PROTOCOL`] and lists every rule
/// as `code` when met and `!code` when not.
///
/// # Errors
/// [`RecordDecisionError::Event`] when the event breaks a rule of [`AuditEvent`].
pub fn decision_event(
    record: &DecisionRecord,
    decision: &PromotionDecision,
) -> Result<AuditEvent, RecordDecisionError> {
    let action = match decision.kind {
        PromotionKind::Rollback => ROLLBACK_ACTION,
        _ => PROMOTE_ACTION,
    };
    let mut authorization = AuthorizationContext::new().with_protocol(GATE_PROTOCOL);
    for r in &decision.reasons {
        let code = check_code(r.check);
        authorization = authorization.with_check(if r.met { code } else { format!("!{code}") });
    }
    let mut builder = AuditEvent::builder(
        record.id,
        record.time,
        EventAction::Execute,
        action,
        record.recorder.clone(),
        record.source.clone(),
    )
    .outcome(if decision.allowed {
        Outcome::Success
    } else {
        Outcome::SeriousFailure
    })
    .authorization(authorization)
    .object(
        InvolvedObject::new(ObjectType::SystemObject, decision.artifact.digest())
            .with_role("artifact")
            .with_id_type("artifact-digest"),
    )
    .object(
        InvolvedObject::new(ObjectType::SystemObject, decision.artifact.commit())
            .with_role("commit")
            .with_id_type("git-commit"),
    )
    .object(
        InvolvedObject::new(ObjectType::SystemObject, &decision.stage)
            .with_role("stage")
            .with_id_type("release-stage"),
    );
    for digest in &decision.evidence {
        builder = builder.object(
            InvolvedObject::new(ObjectType::SystemObject, digest)
                .with_role("evidence")
                .with_id_type("junit-report"),
        );
    }
    for digest in &decision.verdicts {
        builder = builder.object(
            InvolvedObject::new(ObjectType::SystemObject, digest)
                .with_role("verdict")
                .with_id_type("review-verdict"),
        );
    }
    Ok(builder.build()?)
}

/// Records a decision, allowed or refused, through an [`AuditSink`]; returns once durable.
///
/// ```
/// use biv_core::{Actor, EventId, SourceSystem, Timestamp};
/// use biv_integrity::release::{
///     Artifact, DecisionRecord, GateState, PromotionRequest, decide, record_decision,
/// };
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sink = biv_testkit::InMemoryAuditSink::new();
/// let now = Timestamp::from_unix_seconds(1_790_000_000, 0)?;
/// let artifact = Artifact::new(format!("sha256:{}", "ab".repeat(32)), "c".repeat(40))?;
/// let request = PromotionRequest::new(artifact, "development", "dave");
/// let decision = decide(&GateState::new(Default::default()), &request, now);
/// let record = DecisionRecord::new(
///     EventId::from_bytes([9; 16]), now, Actor::new("dave"), SourceSystem::new("biv-release"));
/// record_decision(&sink, &record, &decision).await?;
/// assert_eq!(sink.events()[0].action_name.as_str(), "release.promote");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// [`RecordDecisionError`]; on [`RecordDecisionError::Append`] the deployment must not go ahead.
pub async fn record_decision(
    sink: &dyn AuditSink,
    record: &DecisionRecord,
    decision: &PromotionDecision,
) -> Result<AuditReceipt, RecordDecisionError> {
    let event = decision_event(record, decision)?;
    Ok(sink.append(&event).await?)
}
