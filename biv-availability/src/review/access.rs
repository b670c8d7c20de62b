//! Reading the audit log for review: break-glass, denied, exports, access outside working hours
//! and users who accessed many more distinct subjects than usual.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};

use biv_core::{AuditEvent, EventId, Outcome, Timestamp};

use super::config::DigestConfig;
use super::model::{AccessFinding, AccessKind, AccessSection};
use super::window::{BASELINE_PERIODS, Period, ReviewWindow};

/// The first access of a user to a subject in the window.
#[derive(Debug, Clone)]
struct FirstAccess {
    time: Timestamp,
    id: EventId,
    role: Option<String>,
    action_name: String,
    outcome: Outcome,
    subject: String,
}

/// Everything counted from the audit events so far.
#[derive(Debug, Default)]
pub(crate) struct AccessTally {
    events: u64,
    baseline_events: u64,
    duplicates: u64,
    pub(crate) unparseable: u64,
    seen: HashSet<EventId>,
    findings: Vec<AccessFinding>,
    /// user → subject hash → first access in the window.
    window_subjects: BTreeMap<String, BTreeMap<u64, FirstAccess>>,
    /// user → per baseline period, the subject hashes.
    baseline_subjects: BTreeMap<String, Vec<HashSet<u64>>>,
}

impl AccessTally {
    pub(crate) fn add(&mut self, event: &AuditEvent, window: &ReviewWindow, config: &DigestConfig) {
        let period = window.classify(event.time);
        if period == Period::Outside {
            return;
        }
        if !self.seen.insert(event.id) {
            self.duplicates += 1;
            return;
        }
        let counted = event.outcome == Outcome::Success;
        let subject = event.subject.as_ref().map(|s| s.as_str().to_owned());
        match period {
            Period::Baseline(i) => {
                self.baseline_events += 1;
                if let (true, Some(subject)) = (counted, &subject) {
                    let periods = self
                        .baseline_subjects
                        .entry(event.user.id.clone())
                        .or_insert_with(|| vec![HashSet::new(); BASELINE_PERIODS as usize]);
                    if let Some(set) = periods.get_mut(i) {
                        set.insert(subject_key(subject));
                    }
                }
            }
            Period::Window => {
                self.events += 1;
                self.check(event, subject.as_deref(), config);
                if let (true, Some(subject)) = (counted, subject) {
                    let first = FirstAccess {
                        time: event.time,
                        id: event.id,
                        role: event.user.role.clone(),
                        action_name: event.action_name.as_str().to_owned(),
                        outcome: event.outcome,
                        subject,
                    };
                    let accesses = self
                        .window_subjects
                        .entry(event.user.id.clone())
                        .or_default();
                    let slot = accesses
                        .entry(subject_key(&first.subject))
                        .or_insert_with(|| first.clone());
                    if (first.time, first.id) < (slot.time, slot.id) {
                        *slot = first;
                    }
                }
            }
            Period::Outside => {}
        }
    }

    /// The per-event rules.
    fn check(&mut self, event: &AuditEvent, subject: Option<&str>, config: &DigestConfig) {
        let action = event.action_name.as_str();
        let mut push = |kind, reason: String| {
            self.findings.push(AccessFinding {
                kind,
                event_id: event.id,
                time: event.time,
                user: event.user.id.clone(),
                role: event.user.role.clone(),
                action_name: action.to_owned(),
                outcome: event.outcome,
                subject: subject.map(str::to_owned),
                reason,
            });
        };
        let purpose = event
            .purpose_of_use
            .as_deref()
            .map(|p| format!(", purpose {p}"))
            .unwrap_or_default();
        if event.break_glass {
            let protocol = event
                .authorization
                .as_ref()
                .and_then(|a| a.protocol.as_deref())
                .unwrap_or("(none)");
            push(
                AccessKind::BreakGlass,
                format!("break-glass {action} under protocol {protocol}{purpose}"),
            );
        }
        if event.outcome == Outcome::SeriousFailure {
            push(
                AccessKind::Denied,
                format!("{action} refused (serious_failure){purpose}"),
            );
        }
        if config.is_export(action) {
            push(
                AccessKind::Export,
                format!("{action}: data left the system{purpose}"),
            );
        }
        if let Some(hours) = &config.working_hours
            && subject.is_some()
            && !hours.contains(event.time)
        {
            push(
                AccessKind::OutsideWorkingHours,
                format!(
                    "{action} at {} local time, outside {}",
                    hours.local_text(event.time),
                    hours.describe()
                ),
            );
        }
    }

    pub(crate) fn finish(mut self, config: &DigestConfig) -> AccessSection {
        let periods = u64::from(BASELINE_PERIODS);
        for (user, accesses) in &self.window_subjects {
            let distinct = accesses.len() as u64;
            let baseline_total: u64 = self
                .baseline_subjects
                .get(user)
                .map_or(0, |p| p.iter().map(|s| s.len() as u64).sum());
            // The n-th distinct subject at which each rule first holds.
            let absolute_at = config.many_subjects_absolute.saturating_add(1);
            let relative_at = config
                .many_subjects_minimum
                .max(config.many_subjects_factor.saturating_mul(baseline_total) / periods + 1);
            let crossed_at = absolute_at.min(relative_at);
            if distinct < crossed_at {
                continue;
            }
            let mut ordered: Vec<&FirstAccess> = accesses.values().collect();
            ordered.sort_by_key(|a| (a.time, a.id));
            let index = usize::try_from(crossed_at.saturating_sub(1)).unwrap_or(usize::MAX);
            let Some(crossing) = ordered.get(index) else {
                continue;
            };
            let tenths = baseline_total.saturating_mul(10) / periods;
            let average = format!("{}.{}", tenths / 10, tenths % 10);
            let rule = if distinct >= absolute_at {
                format!("more than the limit of {}", config.many_subjects_absolute)
            } else {
                format!(
                    "more than {}× the baseline average",
                    config.many_subjects_factor
                )
            };
            self.findings.push(AccessFinding {
                kind: AccessKind::ManySubjects,
                event_id: crossing.id,
                time: crossing.time,
                user: user.clone(),
                role: crossing.role.clone(),
                action_name: crossing.action_name.clone(),
                outcome: crossing.outcome,
                subject: Some(crossing.subject.clone()),
                reason: format!(
                    "{distinct} distinct subjects in the window, {rule} (baseline average {average} per period); this access was number {crossed_at}"
                ),
            });
        }
        self.findings.sort_by_key(|a| (a.kind, a.time, a.event_id));
        AccessSection {
            events: self.events,
            baseline_events: self.baseline_events,
            duplicates: self.duplicates,
            unparseable: self.unparseable,
            rules: rules(config),
            findings: self.findings,
        }
    }
}

/// The rules in words, for the digest.
fn rules(config: &DigestConfig) -> Vec<String> {
    let mut rules = vec![
        "break-glass: every event with break_glass = true".to_owned(),
        "denied: every event with outcome serious_failure".to_owned(),
        format!("exports: action names {}", config.export_actions.join(", ")),
        format!(
            "many subjects: a user with more than {} distinct subjects (successful events), or at least {} and more than {}× their average per period over the 7 periods before",
            config.many_subjects_absolute,
            config.many_subjects_minimum,
            config.many_subjects_factor
        ),
    ];
    rules.push(match &config.working_hours {
        Some(hours) => format!(
            "outside working hours: events with a subject outside {}",
            hours.describe()
        ),
        None => "outside working hours: not checked".to_owned(),
    });
    rules
}

/// A compact key for a subject reference, only to count distinct subjects (never shown).
fn subject_key(subject: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    subject.hash(&mut hasher);
    hasher.finish()
}
