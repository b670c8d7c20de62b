//! Counting ECS log lines: levels, services, datasets, error fingerprints and heartbeats.

use std::collections::{BTreeMap, BTreeSet};

use biv_core::Timestamp;

use super::config::DigestConfig;
use super::ecs_line::{self, EcsRecord};
use super::fingerprint::{error_fingerprint, normalize_error_text};
use super::lines::Line;
use super::model::{
    ErrorFingerprint, ErrorSection, GapKind, HeartbeatGapEntry, HeartbeatSection, HeartbeatSource,
    KeyCount, LogFile, LogSection,
};
use super::window::{BASELINE_PERIODS, Period, ReviewWindow};
use crate::logging::{HeartbeatSeen, heartbeat_gaps};

/// The key of a record without the field.
pub(crate) const NONE_KEY: &str = "(none)";
/// The key that collects values beyond the limit.
pub(crate) const OTHER_KEY: &str = "(other)";
/// Longest key kept (characters).
const MAX_KEY_CHARS: usize = 200;
/// Most services listed per fingerprint.
const MAX_SERVICES_PER_FINGERPRINT: usize = 50;
/// Most heartbeats kept over all sources.
const MAX_BEATS: usize = 1_000_000;
/// Levels in the order the digest lists them, most severe first.
const LEVEL_ORDER: [&str; 11] = [
    "emergency",
    "alert",
    "critical",
    "fatal",
    "error",
    "warn",
    "warning",
    "notice",
    "info",
    "debug",
    "trace",
];

#[derive(Debug)]
struct FingerprintCount {
    error_type: Option<String>,
    message_pattern: Option<String>,
    error_message_pattern: Option<String>,
    count: u64,
    first: Timestamp,
    last: Timestamp,
    services: BTreeSet<String>,
    example: String,
}

#[derive(Debug, Default)]
struct Beats {
    window: Vec<HeartbeatSeen>,
    /// The latest beat of the baseline.
    before: Option<HeartbeatSeen>,
}

/// Everything counted from the log lines so far.
#[derive(Debug, Default)]
pub(crate) struct LogTally {
    files: BTreeMap<String, LogFile>,
    by_level: BTreeMap<String, u64>,
    by_service: BTreeMap<String, u64>,
    by_dataset: BTreeMap<String, u64>,
    error_records: u64,
    ungrouped: u64,
    fingerprints: BTreeMap<String, FingerprintCount>,
    baseline_fingerprints: BTreeMap<String, u64>,
    beats: BTreeMap<(String, String), Beats>,
    beats_kept: usize,
    beats_untracked: u64,
}

impl LogTally {
    /// Counts one line of `file`.
    pub(crate) fn add_line(
        &mut self,
        file: &mut LogFile,
        line: Line<'_>,
        window: &ReviewWindow,
        config: &DigestConfig,
    ) {
        let bytes = match line {
            Line::TooLong => {
                file.lines += 1;
                file.over_long += 1;
                return;
            }
            Line::Text(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => return,
            Line::Text(bytes) => bytes,
        };
        file.lines += 1;
        let Some(record) = ecs_line::parse(bytes) else {
            file.unparseable += 1;
            return;
        };
        match window.classify(record.time) {
            Period::Window => {
                file.in_window += 1;
                self.count_in_window(record, config);
            }
            Period::Baseline(_) => {
                file.in_baseline += 1;
                self.count_in_baseline(record, config);
            }
            Period::Outside => file.outside += 1,
        }
    }

    /// Adds a file's counts (a path read twice is listed once, with both counts).
    pub(crate) fn add_file(&mut self, file: LogFile) {
        match self.files.get_mut(&file.path) {
            Some(known) => {
                known.lines += file.lines;
                known.in_window += file.in_window;
                known.in_baseline += file.in_baseline;
                known.outside += file.outside;
                known.unparseable += file.unparseable;
                known.over_long += file.over_long;
            }
            None => {
                self.files.insert(file.path.clone(), file);
            }
        }
    }

    fn count_in_window(&mut self, record: EcsRecord, config: &DigestConfig) {
        let service = record.service.as_deref().unwrap_or(NONE_KEY);
        bump(&mut self.by_level, &record.level, config.max_keys);
        bump(&mut self.by_service, service, config.max_keys);
        bump(
            &mut self.by_dataset,
            record.dataset.as_deref().unwrap_or(NONE_KEY),
            config.max_keys,
        );
        if let Some(sequence) = record.heartbeat {
            self.add_beat(&record, sequence, true, config);
        }
        if !config.is_error_level(&record.level) {
            return;
        }
        self.error_records += 1;
        let fingerprint = fingerprint_of(&record);
        let example = shorten(
            record
                .message
                .as_deref()
                .or(record.error_message.as_deref())
                .unwrap_or_default(),
            config.max_example_chars,
        );
        if let Some(seen) = self.fingerprints.get_mut(&fingerprint) {
            seen.count += 1;
            if (record.time, &example) < (seen.first, &seen.example) {
                seen.example = example;
            }
            seen.first = seen.first.min(record.time);
            seen.last = seen.last.max(record.time);
            if seen.services.len() < MAX_SERVICES_PER_FINGERPRINT {
                seen.services.insert(shorten(service, MAX_KEY_CHARS));
            }
            return;
        }
        if self.fingerprints.len() >= config.max_fingerprints {
            self.ungrouped += 1;
            return;
        }
        let pattern = |text: &Option<String>| {
            text.as_deref()
                .map(|t| shorten(&normalize_error_text(t), config.max_example_chars))
                .filter(|t| !t.is_empty())
        };
        self.fingerprints.insert(
            fingerprint,
            FingerprintCount {
                error_type: pattern(&record.error_type),
                message_pattern: pattern(&record.message),
                error_message_pattern: pattern(&record.error_message),
                count: 1,
                first: record.time,
                last: record.time,
                services: BTreeSet::from([shorten(service, MAX_KEY_CHARS)]),
                example,
            },
        );
    }

    fn count_in_baseline(&mut self, record: EcsRecord, config: &DigestConfig) {
        if let Some(sequence) = record.heartbeat {
            self.add_beat(&record, sequence, false, config);
        }
        if !config.is_error_level(&record.level) {
            return;
        }
        let fingerprint = fingerprint_of(&record);
        let limit = config
            .max_fingerprints
            .saturating_mul(BASELINE_PERIODS as usize);
        let known = self.baseline_fingerprints.len();
        match self.baseline_fingerprints.get_mut(&fingerprint) {
            Some(n) => *n += 1,
            // Beyond the limit a baseline fingerprint is forgotten: the error may then be
            // flagged new, which errs towards review.
            None if known < limit => {
                self.baseline_fingerprints.insert(fingerprint, 1);
            }
            None => {}
        }
    }

    fn add_beat(&mut self, record: &EcsRecord, sequence: u64, in_window: bool, c: &DigestConfig) {
        let key = (
            shorten(record.service.as_deref().unwrap_or(NONE_KEY), MAX_KEY_CHARS),
            shorten(record.node.as_deref().unwrap_or_default(), MAX_KEY_CHARS),
        );
        if !self.beats.contains_key(&key) && self.beats.len() >= c.max_heartbeat_sources {
            self.beats_untracked += 1;
            return;
        }
        let seen = HeartbeatSeen::new(sequence, record.time);
        let beats = self.beats.entry(key).or_default();
        if in_window {
            if self.beats_kept < MAX_BEATS {
                beats.window.push(seen);
                self.beats_kept += 1;
            } else {
                self.beats_untracked += 1;
            }
        } else if beats
            .before
            .is_none_or(|b| (b.time, b.sequence) < (seen.time, seen.sequence))
        {
            beats.before = Some(seen);
        }
    }

    /// The log, error and heartbeat sections.
    pub(crate) fn finish(
        self,
        window: &ReviewWindow,
        config: &DigestConfig,
    ) -> (LogSection, ErrorSection, HeartbeatSection) {
        let files: Vec<LogFile> = self.files.into_values().collect();
        let sum = |f: fn(&LogFile) -> u64| files.iter().map(f).sum::<u64>();
        let logs = LogSection {
            records: sum(|f| f.in_window),
            baseline_records: sum(|f| f.in_baseline),
            unparseable: sum(|f| f.unparseable),
            over_long: sum(|f| f.over_long),
            by_level: by_level(self.by_level),
            by_service: by_count(self.by_service),
            by_dataset: by_count(self.by_dataset),
            files,
        };
        let baseline = self.baseline_fingerprints;
        let mut fingerprints: Vec<ErrorFingerprint> = self
            .fingerprints
            .into_iter()
            .map(|(fingerprint, f)| {
                let baseline_count = baseline.get(&fingerprint).copied().unwrap_or(0);
                ErrorFingerprint {
                    new: baseline_count == 0,
                    fingerprint,
                    error_type: f.error_type,
                    message_pattern: f.message_pattern,
                    error_message_pattern: f.error_message_pattern,
                    count: f.count,
                    baseline_count,
                    first_seen: f.first,
                    last_seen: f.last,
                    services: f.services.into_iter().collect(),
                    example: f.example,
                }
            })
            .collect();
        fingerprints.sort_by(|a, b| {
            (!a.new, std::cmp::Reverse(a.count), &a.fingerprint).cmp(&(
                !b.new,
                std::cmp::Reverse(b.count),
                &b.fingerprint,
            ))
        });
        let errors = ErrorSection {
            levels: config.error_levels.clone(),
            records: self.error_records,
            fingerprints,
            ungrouped: self.ungrouped,
        };
        let mut heartbeats = heartbeat_section(self.beats, window, config);
        heartbeats.untracked = self.beats_untracked;
        (logs, errors, heartbeats)
    }
}

fn heartbeat_section(
    beats: BTreeMap<(String, String), Beats>,
    window: &ReviewWindow,
    config: &DigestConfig,
) -> HeartbeatSection {
    let interval = config.heartbeat_interval;
    let tolerance = interval + interval / 2;
    let mut sources = Vec::new();
    let mut gaps = Vec::new();
    for ((service, node), mut beats) in beats {
        let entry = |kind, from, to, missing_beats| HeartbeatGapEntry {
            service: service.clone(),
            node: node.clone(),
            kind,
            from,
            to,
            missing_beats,
        };
        beats.window.sort_by_key(|b| (b.time, b.sequence));
        beats.window.dedup();
        let (Some(first), Some(last)) = (beats.window.first(), beats.window.last()) else {
            // Beat in the baseline, never in the window: it stopped (or its records were lost).
            if let Some(before) = beats.before {
                gaps.push(entry(GapKind::Trailing, before.time, window.end(), 0));
            }
            continue;
        };
        sources.push(HeartbeatSource {
            service: service.clone(),
            node: node.clone(),
            beats: u64::try_from(beats.window.len()).unwrap_or(u64::MAX),
            first: first.time,
            last: last.time,
        });
        let (first, last) = (*first, *last);
        match beats.before {
            None if first
                .time
                .duration_since(window.start())
                .is_some_and(|d| d > tolerance) =>
            {
                gaps.push(entry(GapKind::Leading, window.start(), first.time, 0));
            }
            _ => {}
        }
        let seen: Vec<HeartbeatSeen> = beats.before.into_iter().chain(beats.window).collect();
        for gap in heartbeat_gaps(&seen, interval) {
            let kind = if gap.missing > 0 {
                GapKind::Missing
            } else if gap.restarted {
                GapKind::Restart
            } else {
                GapKind::Late
            };
            gaps.push(entry(kind, gap.after.time, gap.before.time, gap.missing));
        }
        if window
            .end()
            .duration_since(last.time)
            .is_some_and(|d| d > tolerance)
        {
            gaps.push(entry(GapKind::Trailing, last.time, window.end(), 0));
        }
    }
    HeartbeatSection {
        interval_seconds: interval.as_secs(),
        sources,
        gaps,
        untracked: 0,
    }
}

fn fingerprint_of(record: &EcsRecord) -> String {
    error_fingerprint(
        record.error_type.as_deref(),
        record.message.as_deref(),
        record.error_message.as_deref(),
    )
}

/// Adds one to `key`, or to [`OTHER_KEY`] when `max` keys are taken.
fn bump(map: &mut BTreeMap<String, u64>, key: &str, max: usize) {
    let key = shorten(key, MAX_KEY_CHARS);
    if let Some(n) = map.get_mut(&key) {
        *n += 1;
    } else if map.len() < max {
        map.insert(key, 1);
    } else {
        *map.entry(OTHER_KEY.to_owned()).or_insert(0) += 1;
    }
}

fn by_count(map: BTreeMap<String, u64>) -> Vec<KeyCount> {
    let mut counts: Vec<KeyCount> = map
        .into_iter()
        .map(|(key, count)| KeyCount { key, count })
        .collect();
    // Stable: equal counts keep key order.
    counts.sort_by_key(|c| std::cmp::Reverse(c.count));
    counts
}

fn by_level(map: BTreeMap<String, u64>) -> Vec<KeyCount> {
    let mut counts: Vec<KeyCount> = map
        .into_iter()
        .map(|(key, count)| KeyCount { key, count })
        .collect();
    counts.sort_by_key(|c| {
        LEVEL_ORDER
            .iter()
            .position(|l| *l == c.key)
            .unwrap_or(LEVEL_ORDER.len())
    });
    counts
}

/// At most `max` characters of `text`, with `…` when shortened.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", text.get(..i).unwrap_or_default()),
        None => text.to_owned(),
    }
}
