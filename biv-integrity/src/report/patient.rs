//! The NEN 7513 (ch. 9) access report for one patient: who accessed their record, when, why.

use biv_core::{AuditEvent, EventAction, Outcome, SubjectRef, Timestamp};
use serde::Serialize;

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatientReportError {
    /// `from` lies after `to`.
    #[error("the report period ends before it starts")]
    EmptyPeriod,
    /// No pseudonym to search for was given.
    #[error("a report needs at least one subject reference")]
    NoSubject,
}

/// One access to the patient's data, in the words NEN 7513 ch. 9 asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AccessRow {
    /// The entry's index in the audit log (so each row can be proven with an inclusion proof).
    pub log_index: u64,
    /// When.
    pub time: Timestamp,
    /// Who: the user id.
    pub user_id: String,
    /// The user's name, when recorded.
    pub user_name: Option<String>,
    /// The user's role.
    pub role: Option<String>,
    /// On whose behalf, when someone else was responsible.
    pub on_behalf_of: Option<String>,
    /// The organisation or site that reported it.
    pub organisation: Option<String>,
    /// The system that reported it.
    pub system: String,
    /// What was done: C, R, U, D or E.
    pub action: EventAction,
    /// What was done, in the system's words (e.g. `record.read`).
    pub action_name: String,
    /// Which data: the kinds and ids of the objects involved.
    pub data: Vec<String>,
    /// Why.
    pub purpose: Option<String>,
    /// The authorisation protocol applied.
    pub authorisation_protocol: Option<String>,
    /// The consent profile applied.
    pub consent_profile: Option<String>,
    /// Whether access was through the emergency procedure.
    pub break_glass: bool,
    /// Whether the access was granted and succeeded.
    pub outcome: Outcome,
}

/// Every access to one patient's data in a period, chronological, from verified log entries.
///
/// The caller passes entries that the log has verified (each read checks its leaf hash; a log
/// opens only when its tree matches its signed state), together with their indices, and the
/// log's size and root so the report says which log state it reflects.
///
/// ```
/// use biv_integrity::report::PatientReport;
/// use biv_testkit::sample_event;
///
/// let events: Vec<_> = (0..12).map(|n| (n, sample_event(n))).collect();
/// let patient = events[4].1.subject.clone().expect("sample events have a subject");
/// let report = PatientReport::build(&patient, None, None, events, 12, [0; 32])?;
/// assert_eq!(report.rows.len(), 1);
/// assert!(report.rows[0].break_glass);
/// assert!(report.to_html().contains("Noodtoegang"));
/// # Ok::<(), biv_integrity::report::PatientReportError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PatientReport {
    /// The patient, as the pseudonym the log uses (the first one asked for).
    pub subject: String,
    /// Every pseudonym the report searched for: one per subject-key version when the key
    /// rotated, so events from before and after a rotation are all found.
    pub subjects: Vec<String>,
    /// Start of the period (inclusive), if limited.
    pub from: Option<Timestamp>,
    /// End of the period (inclusive), if limited.
    pub to: Option<Timestamp>,
    /// The log size the report was built from.
    pub log_size: u64,
    /// The log root at that size (hex), to match against a signed checkpoint.
    pub log_root: String,
    /// The accesses, oldest first.
    pub rows: Vec<AccessRow>,
}

impl PatientReport {
    /// Builds the report from `(index, event)` pairs.
    ///
    /// # Errors
    /// [`PatientReportError::EmptyPeriod`] when `from` is after `to`.
    pub fn build(
        subject: &SubjectRef,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        events: impl IntoIterator<Item = (u64, AuditEvent)>,
        log_size: u64,
        log_root: [u8; 32],
    ) -> Result<PatientReport, PatientReportError> {
        PatientReport::build_for_any(
            std::slice::from_ref(subject),
            from,
            to,
            events,
            log_size,
            log_root,
        )
    }

    /// Builds the report of one patient known by several pseudonyms — one per version of the
    /// subject key (biv-confidentiality's `SubjectKeyring::all_refs`), so a key rotation does not
    /// hide the events recorded before it.
    ///
    /// ```
    /// use biv_integrity::report::PatientReport;
    /// use biv_testkit::sample_event;
    ///
    /// let events: Vec<_> = (0..12).map(|n| (n, sample_event(n))).collect();
    /// let a = events[4].1.subject.clone().expect("sample events have a subject");
    /// let b = events[7].1.subject.clone().expect("sample events have a subject");
    /// let report = PatientReport::build_for_any(&[a, b], None, None, events, 12, [0; 32])?;
    /// assert_eq!(report.rows.len(), 2);
    /// assert_eq!(report.subjects.len(), 2);
    /// # Ok::<(), biv_integrity::report::PatientReportError>(())
    /// ```
    ///
    /// # Errors
    /// [`PatientReportError::EmptyPeriod`] when `from` is after `to`;
    /// [`PatientReportError::NoSubject`] when `subjects` is empty.
    pub fn build_for_any(
        subjects: &[SubjectRef],
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        events: impl IntoIterator<Item = (u64, AuditEvent)>,
        log_size: u64,
        log_root: [u8; 32],
    ) -> Result<PatientReport, PatientReportError> {
        let Some(first) = subjects.first() else {
            return Err(PatientReportError::NoSubject);
        };
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(PatientReportError::EmptyPeriod);
        }
        let mut rows: Vec<AccessRow> = events
            .into_iter()
            .filter(|(_, e)| e.subject.as_ref().is_some_and(|s| subjects.contains(s)))
            .filter(|(_, e)| from.is_none_or(|f| e.time >= f) && to.is_none_or(|t| e.time <= t))
            .map(|(index, e)| row(index, e))
            .collect();
        rows.sort_by_key(|r| (r.time, r.log_index));
        let mut listed: Vec<String> = Vec::with_capacity(subjects.len());
        for s in subjects {
            let s = s.to_string();
            if !listed.contains(&s) {
                listed.push(s);
            }
        }
        Ok(PatientReport {
            subject: first.to_string(),
            subjects: listed,
            from,
            to,
            log_size,
            log_root: log_root.iter().map(|b| format!("{b:02x}")).collect(),
            rows,
        })
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and enums cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as a self-contained, readable HTML page (Dutch, for the patient).
    pub fn to_html(&self) -> String {
        super::html::render(self)
    }
}

fn row(index: u64, e: AuditEvent) -> AccessRow {
    let authz = e.authorization.as_ref();
    AccessRow {
        log_index: index,
        time: e.time,
        user_id: e.user.id.clone(),
        user_name: e.user.name.clone(),
        role: e.user.role.clone(),
        on_behalf_of: e
            .responsible_user
            .as_ref()
            .map(|r| match (&r.name, &r.role) {
                (Some(n), Some(role)) => format!("{n} ({role})"),
                (Some(n), None) => n.clone(),
                _ => r.id.clone(),
            }),
        organisation: e.source.site.clone(),
        system: e.source.system.clone(),
        action: e.action,
        action_name: e.action_name.to_string(),
        data: e
            .objects
            .iter()
            .map(|o| match &o.id_type {
                Some(kind) => format!("{kind} {}", o.id),
                None => o.id.clone(),
            })
            .collect(),
        purpose: e.purpose_of_use.clone(),
        authorisation_protocol: authz.and_then(|a| a.protocol.clone()),
        consent_profile: authz.and_then(|a| a.consent_profile.clone()),
        break_glass: e.break_glass,
        outcome: e.outcome,
    }
}
