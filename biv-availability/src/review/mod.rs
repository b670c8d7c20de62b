//! The daily log review (issue 7, item 6): a digest of the last 24 hours of logs and audit
//! events for the developers and the security officer, and their sign-off as an audit event
//! (ISO 27001 A.8.15/A.8.16, NEN 7510, NEN 7513 review of access).
//!
//! The digest of a [`ReviewWindow`] holds:
//! - counts of the ECS log records by `log.level`, `service.name` and `event.dataset`, and per
//!   file the lines that were not ECS JSON or were too long;
//! - **error fingerprints** ([`error_fingerprint`]): errors grouped after their numbers, ids
//!   and quoted values are replaced ([`normalize_error_text`]), **new** when not seen in the
//!   seven periods before the window;
//! - from the audit log: **break-glass** access, **denied** actions, **exports**, access outside
//!   [`WorkingHours`], and users who accessed **many more distinct subjects** than usual —
//!   subjects only as their pseudonyms;
//! - **drop counters** that rose, from [`CounterSnapshot`]s of the metrics;
//! - **heartbeat gaps** (see [`crate::logging::Heartbeat`]).
//!
//! It is written as Markdown, HTML or JSON; the SHA-256 of its canonical JSON identifies it, and
//! a reviewer's [`SignOff`] quoting that hash is recorded through an `AuditSink` by a
//! [`SignOffRecorder`]. The time is always given, never read from the system clock.
//!
//! ```
//! use biv_availability::review::{DigestBuilder, DigestConfig, ReviewWindow};
//! use biv_core::Timestamp;
//!
//! let window = ReviewWindow::ending_at(Timestamp::parse_rfc3339("2026-11-26T06:00:00Z")?)?;
//! let mut builder = DigestBuilder::new(window, DigestConfig::default());
//! builder.read_log("app.log", &br#"{"@timestamp":"2026-11-26T05:00:00.000Z","log.level":"error","message":"<b>db down</b>","ecs.version":"8.11.0","service.name":"ehr-api"}"#[..])?;
//! let digest = builder.finish();
//!
//! let html = digest.to_html()?;
//! assert!(html.contains("&lt;b&gt;db down&lt;/b&gt;"));
//! let markdown = digest.to_markdown()?;
//! assert!(markdown.contains(&digest.sha256_hex()?));
//! let json = digest.to_json()?;
//! assert_eq!(biv_availability::review::Digest::from_json(&json)?, digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! docs/log-review.md describes the sections and rules for reviewers and auditors.

mod access;
mod canonical;
mod config;
mod counters;
mod digest;
mod ecs_line;
mod error;
mod fingerprint;
mod html;
mod lines;
mod logs;
mod markdown;
mod model;
mod render;
mod sign_off;
mod window;

pub use config::DigestConfig;
pub use counters::{CounterReading, CounterSnapshot, is_drop_counter};
pub use digest::{DigestBuilder, DigestInput};
pub use error::{
    DecodeError, DigestError, EncodeError, SignOffError, WindowError, WorkingHoursError,
};
pub use fingerprint::{MAX_NORMALIZED_INPUT_CHARS, error_fingerprint, normalize_error_text};
pub use model::{
    AccessFinding, AccessKind, AccessSection, DIGEST_FORMAT, Digest, DropSection, DropSeries,
    ErrorFingerprint, ErrorSection, GapKind, HeartbeatGapEntry, HeartbeatSection, HeartbeatSource,
    KeyCount, LogFile, LogSection,
};
pub use sign_off::{SIGN_OFF_ACTION, SIGN_OFF_PURPOSE, SignOff, SignOffRecord, SignOffRecorder};
pub use window::{BASELINE_PERIODS, DAY, LocalTime, ReviewWindow, WorkingHours};
