//! [`DigestConfig`]: the rules and limits of a digest.

use std::time::Duration;

use crate::logging::HEARTBEAT_INTERVAL;

use super::window::WorkingHours;

/// The rules and limits of a digest. Start from [`DigestConfig::default`] and change what your
/// deployment needs:
///
/// ```
/// use biv_availability::review::DigestConfig;
///
/// let mut config = DigestConfig::default();
/// config.many_subjects_absolute = 80; // a large outpatient clinic
/// config.working_hours = None;         // a 24/7 ward: do not list night access
/// assert_eq!(config.many_subjects_factor, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DigestConfig {
    /// The heartbeat interval the services use ([`HEARTBEAT_INTERVAL`], one minute).
    pub heartbeat_interval: Duration,
    /// Access to a subject outside these hours is listed (default
    /// [`WorkingHours::office_hours_nl`]; `None` lists none).
    pub working_hours: Option<WorkingHours>,
    /// A user who accessed more distinct subjects than this in the window is listed (default 50).
    pub many_subjects_absolute: u64,
    /// A user who accessed more than this many times their baseline average of distinct subjects
    /// per period is listed (default 3)…
    pub many_subjects_factor: u64,
    /// …provided they accessed at least this many (default 10), so a user going from 1 to 4
    /// patients is not listed.
    pub many_subjects_minimum: u64,
    /// Action names that take data out of the system. `*.x` matches every name ending in `.x`;
    /// other entries match exactly. Default: `*.export`, `*.print`, `*.copy`, `*.transfer`.
    pub export_actions: Vec<String>,
    /// `log.level` values counted as errors (default `error`, `critical`, `fatal`, `alert`,
    /// `emergency`: ECS loggers other than biv's use the syslog names).
    pub error_levels: Vec<String>,
    /// More counter names to treat as drop counters, besides biv's own
    /// ([`is_drop_counter`](crate::review::is_drop_counter)).
    pub extra_drop_counters: Vec<String>,
    /// Longest log or audit line read, in bytes (default 1 MiB, biv-core's
    /// `MAX_LOG_RECORD_BYTES`); longer lines are skipped and counted.
    pub max_line_bytes: usize,
    /// Most distinct error fingerprints kept (default 10,000); further error records are counted
    /// as ungrouped. Bounds memory on a hostile log.
    pub max_fingerprints: usize,
    /// Most distinct values kept per count (services, datasets, levels; default 1,000); the rest
    /// count as `(other)`.
    pub max_keys: usize,
    /// Most processes whose heartbeats are tracked (default 1,000).
    pub max_heartbeat_sources: usize,
    /// Characters of an example message, and of a normalised pattern, kept (default 500).
    pub max_example_chars: usize,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            heartbeat_interval: HEARTBEAT_INTERVAL,
            working_hours: Some(WorkingHours::office_hours_nl()),
            many_subjects_absolute: 50,
            many_subjects_factor: 3,
            many_subjects_minimum: 10,
            export_actions: ["*.export", "*.print", "*.copy", "*.transfer"]
                .map(str::to_owned)
                .to_vec(),
            error_levels: ["error", "critical", "fatal", "alert", "emergency"]
                .map(str::to_owned)
                .to_vec(),
            extra_drop_counters: Vec::new(),
            max_line_bytes: biv_core::MAX_LOG_RECORD_BYTES,
            max_fingerprints: 10_000,
            max_keys: 1_000,
            max_heartbeat_sources: 1_000,
            max_example_chars: 500,
        }
    }
}

impl DigestConfig {
    pub(crate) fn is_export(&self, action_name: &str) -> bool {
        self.export_actions
            .iter()
            .any(|pattern| match pattern.strip_prefix('*') {
                Some(suffix) => action_name.ends_with(suffix),
                None => action_name == pattern,
            })
    }

    pub(crate) fn is_error_level(&self, level: &str) -> bool {
        self.error_levels.iter().any(|l| l == level)
    }
}
