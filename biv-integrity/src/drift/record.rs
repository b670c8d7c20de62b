//! Recording drift in the audit log and raising an alert.

use biv_core::{
    Actor, Alert, AlertError, AuditAppendError, AuditEvent, AuditEventError, AuditReceipt,
    AuditSink, EventAction, EventId, InvolvedObject, ObjectType, Outcome, Severity, SourceSystem,
    Timestamp,
};

use super::compare::DriftReport;

/// The action name of a recorded drift check.
pub const DRIFT_ACTION: &str = "config.drift";

/// The name of the drift alert.
pub const DRIFT_ALERT: &str = "BivConfigDrift";

/// Why a drift check could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordDriftError {
    /// The audit event could not be built.
    #[error(transparent)]
    Event(#[from] AuditEventError),
    /// The audit log did not record it.
    #[error("the audit log did not record the drift check: {0}")]
    Append(#[from] AuditAppendError),
}

/// Who records a check, when and from which system; the event id is injected.
#[derive(Debug, Clone)]
pub struct DriftRecord {
    id: EventId,
    time: Timestamp,
    recorder: Actor,
    source: SourceSystem,
}

impl DriftRecord {
    /// The event's id, its time, the recording actor and the system.
    pub fn new(id: EventId, time: Timestamp, recorder: Actor, source: SourceSystem) -> Self {
        DriftRecord {
            id,
            time,
            recorder,
            source,
        }
    }
}

/// The audit event of a check: action `E` named [`DRIFT_ACTION`], outcome `success` when clean
/// and `serious_failure` on drift; objects the commit (`commit`, `git-commit`), the directory
/// (`directory`, `config-dir`) and every drifted path (`config-path`) with role `added`,
/// `removed`, `changed`, `mode-changed` or `not-regular`.
///
/// # Errors
/// [`RecordDriftError::Event`] when the event breaks a rule of [`AuditEvent`].
pub fn drift_event(
    record: &DriftRecord,
    report: &DriftReport,
) -> Result<AuditEvent, RecordDriftError> {
    let mut builder = AuditEvent::builder(
        record.id,
        record.time,
        EventAction::Execute,
        DRIFT_ACTION,
        record.recorder.clone(),
        record.source.clone(),
    )
    .outcome(if report.clean {
        Outcome::Success
    } else {
        Outcome::SeriousFailure
    })
    .object(
        InvolvedObject::new(ObjectType::SystemObject, &report.source.rev)
            .with_role("commit")
            .with_id_type("git-commit"),
    )
    .object(
        InvolvedObject::new(ObjectType::SystemObject, &report.dir)
            .with_role("directory")
            .with_id_type("config-dir"),
    );
    let groups: [(&str, Vec<&String>); 5] = [
        ("added", report.added.iter().collect()),
        ("removed", report.removed.iter().collect()),
        ("changed", report.changed.iter().collect()),
        (
            "mode-changed",
            report.mode_changed.iter().map(|m| &m.path).collect(),
        ),
        ("not-regular", report.not_regular.iter().collect()),
    ];
    for (role, paths) in groups {
        for path in paths {
            builder = builder.object(
                InvolvedObject::new(ObjectType::SystemObject, path.as_str())
                    .with_role(role)
                    .with_id_type("config-path"),
            );
        }
    }
    Ok(builder.build()?)
}

/// Records a drift check, clean or not, through an [`AuditSink`]; returns once durable.
///
/// ```
/// use biv_core::{Actor, EventId, SourceSystem, Timestamp};
/// use biv_integrity::drift::{CheckOptions, DriftRecord, Manifest, check_dir, record_drift};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("biv-drift-rec-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("extra.toml"), b"x")?;
/// let m = Manifest::from_json(br#"{"version":1,"source":{"repo":"cfg",
///   "rev":"0123456789abcdef0123456789abcdef01234567"},"entries":[]}"#)?;
/// let report = check_dir(&m, &dir, &CheckOptions::new())?;
/// let sink = biv_testkit::InMemoryAuditSink::new();
/// let now = Timestamp::from_unix_seconds(1_790_000_000, 0)?;
/// let record = DriftRecord::new(
///     EventId::from_bytes([9; 16]), now, Actor::new("ops"), SourceSystem::new("biv-drift"));
/// record_drift(&sink, &record, &report).await?;
/// assert_eq!(sink.events()[0].action_name.as_str(), "config.drift");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// [`RecordDriftError`].
pub async fn record_drift(
    sink: &dyn AuditSink,
    record: &DriftRecord,
    report: &DriftReport,
) -> Result<AuditReceipt, RecordDriftError> {
    let event = drift_event(record, report)?;
    Ok(sink.append(&event).await?)
}

/// The alert for a report with drift ([`DRIFT_ALERT`], critical, label `dir` — the checked
/// directory identifies the alert, so checks of other directories never resolve it and a new
/// manifest commit does not orphan it — annotations `summary`, `description` and `rev`);
/// `None` when the report is clean. [`drift_resolved`] is its resolution.
///
/// # Errors
/// [`AlertError`] when a label cannot be built.
pub fn drift_alert(report: &DriftReport, now: Timestamp) -> Result<Option<Alert>, AlertError> {
    if report.clean {
        return Ok(None);
    }
    let alert = Alert::new(DRIFT_ALERT, Severity::Critical, now)?
        .with_label("dir", report.dir.clone())?
        .with_annotation("summary", format!("configuration drift in {}", report.dir))
        .with_annotation("rev", report.source.rev.clone())
        .with_annotation(
            "description",
            format!(
                "{} differs from commit {}: {}",
                report.dir,
                report.source.rev,
                report.summary()
            ),
        );
    Ok(Some(alert))
}

/// The resolution, at `now`, of the drift alert for the directory of `report` (same labels as
/// [`drift_alert`]), to send when a check comes back clean.
///
/// # Errors
/// [`AlertError`] when a label cannot be built.
pub fn drift_resolved(report: &DriftReport, now: Timestamp) -> Result<Alert, AlertError> {
    Alert::new(DRIFT_ALERT, Severity::Critical, now)?
        .with_label("dir", report.dir.clone())?
        .resolved_at(now)
}
