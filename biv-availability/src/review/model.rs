//! The digest's data: what the Markdown, HTML and JSON forms show. Every list is sorted, so the
//! same input gives the same bytes.

use std::collections::BTreeMap;

use biv_core::{EventId, Outcome, Timestamp};
use serde::{Deserialize, Serialize};

use super::window::ReviewWindow;

/// The format the JSON form declares; [`Digest::from_json`](crate::review::Digest::from_json)
/// refuses others.
pub const DIGEST_FORMAT: &str = "biv-log-review-digest/1";

/// The daily log review digest. Build one with [`Digest::build`](crate::review::Digest::build)
/// or a [`DigestBuilder`](crate::review::DigestBuilder); write it with
/// [`to_markdown`](Digest::to_markdown), [`to_html`](Digest::to_html) or
/// [`to_json`](Digest::to_json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Digest {
    /// [`DIGEST_FORMAT`].
    pub format: String,
    /// The reviewed period.
    pub window: ReviewWindow,
    /// The start of the baseline (seven window lengths before the window).
    pub baseline_start: Timestamp,
    /// Working hours applied to access, in words (`None`: not checked).
    pub working_hours: Option<String>,
    /// Log records counted.
    pub logs: LogSection,
    /// Error fingerprints.
    pub errors: ErrorSection,
    /// Findings from the audit log.
    pub access: AccessSection,
    /// Drop and loss counters.
    pub drops: DropSection,
    /// Heartbeats and their gaps.
    pub heartbeats: HeartbeatSection,
}

/// A key and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KeyCount {
    /// The value (`(none)` when the field was absent, `(other)` for values beyond the limit).
    pub key: String,
    /// How many records in the window had it.
    pub count: u64,
}

/// What was read from one log file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LogFile {
    /// The path (or the name given to a reader).
    pub path: String,
    /// Non-blank lines read.
    pub lines: u64,
    /// Records in the window.
    pub in_window: u64,
    /// Records in the baseline.
    pub in_baseline: u64,
    /// Records outside both.
    pub outside: u64,
    /// Lines that were not ECS JSON (no JSON object, no `@timestamp` or `log.level`, not UTF-8).
    pub unparseable: u64,
    /// Lines longer than the cap, skipped.
    pub over_long: u64,
}

/// Counts of the log records in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LogSection {
    /// Each file read, by path.
    pub files: Vec<LogFile>,
    /// Records in the window.
    pub records: u64,
    /// Records in the baseline.
    pub baseline_records: u64,
    /// Lines that were not ECS JSON, over all files.
    pub unparseable: u64,
    /// Lines over the length cap, over all files.
    pub over_long: u64,
    /// Records by `log.level`, most severe first.
    pub by_level: Vec<KeyCount>,
    /// Records by `service.name`, most first.
    pub by_service: Vec<KeyCount>,
    /// Records by `event.dataset`, most first.
    pub by_dataset: Vec<KeyCount>,
}

/// One error fingerprint seen in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ErrorFingerprint {
    /// 16 hex digits ([`error_fingerprint`](crate::review::error_fingerprint)).
    pub fingerprint: String,
    /// Not seen in the baseline.
    pub new: bool,
    /// `error.type`, normalised.
    pub error_type: Option<String>,
    /// `message`, normalised.
    pub message_pattern: Option<String>,
    /// `error.message`, normalised.
    pub error_message_pattern: Option<String>,
    /// Occurrences in the window.
    pub count: u64,
    /// Occurrences in the baseline.
    pub baseline_count: u64,
    /// The first occurrence in the window.
    pub first_seen: Timestamp,
    /// The last occurrence in the window.
    pub last_seen: Timestamp,
    /// The services it occurred in.
    pub services: Vec<String>,
    /// The message (or `error.message`) of the first occurrence, as the log holds it (redacted
    /// by the ECS layer), shortened to the configured length.
    pub example: String,
}

/// The error records in the window, grouped by fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ErrorSection {
    /// Levels counted as errors.
    pub levels: Vec<String>,
    /// Error records in the window.
    pub records: u64,
    /// Fingerprints: new ones first, then by count (most first), then by fingerprint.
    pub fingerprints: Vec<ErrorFingerprint>,
    /// Error records not grouped because the fingerprint limit was reached.
    pub ungrouped: u64,
}

/// Why an access is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccessKind {
    /// Access through the emergency (break-glass) procedure.
    BreakGlass,
    /// A refused action (outcome `serious_failure`).
    Denied,
    /// Data left the system: an export, print, copy or transfer.
    Export,
    /// A user accessed many more distinct subjects than usual, or more than the absolute limit.
    ManySubjects,
    /// Access to a subject's data outside working hours.
    OutsideWorkingHours,
}

impl AccessKind {
    /// Every kind, in the order the digest lists them.
    pub const ALL: [AccessKind; 5] = [
        AccessKind::BreakGlass,
        AccessKind::Denied,
        AccessKind::Export,
        AccessKind::ManySubjects,
        AccessKind::OutsideWorkingHours,
    ];

    /// A heading for the kind.
    pub fn title(&self) -> &'static str {
        match self {
            AccessKind::BreakGlass => "Break-glass access",
            AccessKind::Denied => "Denied access",
            AccessKind::Export => "Exports",
            AccessKind::ManySubjects => "Many distinct subjects",
            AccessKind::OutsideWorkingHours => "Outside working hours",
        }
    }
}

/// One access listed for review. The subject appears only as its pseudonymous reference; the
/// user's display name is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AccessFinding {
    /// Why it is listed.
    pub kind: AccessKind,
    /// The audit event (for [`AccessKind::ManySubjects`]: the access that crossed the limit).
    pub event_id: EventId,
    /// When.
    pub time: Timestamp,
    /// The user id.
    pub user: String,
    /// The user's role code.
    pub role: Option<String>,
    /// The host's action name.
    pub action_name: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The subject's pseudonymous reference.
    pub subject: Option<String>,
    /// The reason in words.
    pub reason: String,
}

/// The audit events of the window, and what stands out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AccessSection {
    /// Audit events in the window.
    pub events: u64,
    /// Audit events in the baseline.
    pub baseline_events: u64,
    /// Events given twice (same id), counted once.
    pub duplicates: u64,
    /// Audit lines that were not audit events.
    pub unparseable: u64,
    /// The rules applied, in words.
    pub rules: Vec<String>,
    /// Findings by kind ([`AccessKind::ALL`] order), then time, then event id.
    pub findings: Vec<AccessFinding>,
}

/// One drop or loss counter series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DropSeries {
    /// The sample name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The value at the start (`None`: no earlier reading; the increase is then the value since
    /// the process started).
    pub before: Option<u64>,
    /// The value at the end.
    pub after: u64,
    /// How much it rose (after a counter reset: the value after).
    pub increase: u64,
}

/// The drop and loss counters. Each should be zero: a rise means records were lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DropSection {
    /// Whether counter readings were given at all.
    pub checked: bool,
    /// Whether a reading from the start of the window was given.
    pub has_before: bool,
    /// Lines of the readings that were not samples.
    pub skipped_lines: u64,
    /// Every drop counter series, by name and labels.
    pub series: Vec<DropSeries>,
}

impl DropSection {
    /// The series that rose.
    pub fn rose(&self) -> impl Iterator<Item = &DropSeries> {
        self.series.iter().filter(|s| s.increase > 0)
    }
}

/// A process whose heartbeats were seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HeartbeatSource {
    /// `service.name`.
    pub service: String,
    /// `service.node.name` (empty when absent).
    pub node: String,
    /// Beats in the window.
    pub beats: u64,
    /// The first beat in the window.
    pub first: Timestamp,
    /// The last beat in the window.
    pub last: Timestamp,
}

/// What kind of heartbeat gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GapKind {
    /// Sequence numbers are missing: records were lost.
    Missing,
    /// Consecutive beats, but too far apart: the process stalled or the pipeline lagged.
    Late,
    /// The sequence started again after a pause: the process restarted.
    Restart,
    /// No beat from the start of the window (and none shortly before it) until the first one.
    Leading,
    /// No beat from the last one until the end of the window.
    Trailing,
}

/// A stretch without heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HeartbeatGapEntry {
    /// `service.name`.
    pub service: String,
    /// `service.node.name` (empty when absent).
    pub node: String,
    /// What kind.
    pub kind: GapKind,
    /// The last beat before the gap (or the window start).
    pub from: Timestamp,
    /// The first beat after it (or the window end).
    pub to: Timestamp,
    /// Sequence numbers missing in between.
    pub missing_beats: u64,
}

/// Heartbeats in the window and the gaps between them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HeartbeatSection {
    /// The expected interval in seconds.
    pub interval_seconds: u64,
    /// Processes that beat in the window, by service and node.
    pub sources: Vec<HeartbeatSource>,
    /// Gaps, by service, node and time.
    pub gaps: Vec<HeartbeatGapEntry>,
    /// Beats not tracked because a limit was reached (too many processes or beats).
    pub untracked: u64,
}
