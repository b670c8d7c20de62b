//! Building a [`Digest`]: from paths ([`DigestInput`], [`Digest::build`]) or piece by piece from
//! readers and events ([`DigestBuilder`]); its JSON form and hash.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use biv_core::{AuditEvent, Redactor};
use sha2::{Digest as _, Sha256};

use super::access::AccessTally;
use super::canonical::write_canonical;
use super::config::DigestConfig;
use super::counters::{CounterSnapshot, is_drop_counter};
use super::error::{DecodeError, DigestError, EncodeError};
use super::fingerprint::hex;
use super::lines::{BoundedLines, Line};
use super::logs::LogTally;
use super::model::{DIGEST_FORMAT, Digest, DropSection, DropSeries, LogFile};
use super::window::ReviewWindow;

/// What a digest is built from, by path: what a CLI collects from its arguments.
///
/// - log paths: ECS NDJSON files, or directories whose files (not recursive, names starting with
///   `.` skipped) are read in name order. Give the files of the window **and** of the seven
///   periods before it: the baseline for new error fingerprints and for heartbeat gaps at the
///   window start comes from them.
/// - audit paths: audit events as JSON lines (`docs/formats/audit-event.md`, as
///   `examples/audit-events.jsonl`), window and baseline.
/// - counter readings: Prometheus text scrapes from the start (optional) and end of the window.
///
/// ```no_run
/// use biv_availability::review::{Digest, DigestConfig, DigestInput, ReviewWindow};
/// use biv_core::Timestamp;
///
/// let input = DigestInput::from_paths(["/var/log/ehr-api"])
///     .with_audit_path("/var/lib/biv/audit-export.jsonl")
///     .with_counter_paths(Some("/var/lib/biv/metrics-start.prom"), "/var/lib/biv/metrics-end.prom");
/// let window = ReviewWindow::ending_at(Timestamp::parse_rfc3339("2026-11-26T06:00:00Z")?)?;
/// let digest = Digest::build(&input, window, &DigestConfig::default())?;
/// std::fs::write("digest.html", digest.to_html()?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DigestInput {
    log_paths: Vec<PathBuf>,
    audit_paths: Vec<PathBuf>,
    counters_before: Option<PathBuf>,
    counters_after: Option<PathBuf>,
    redactor: Option<Arc<dyn Redactor>>,
}

impl DigestInput {
    /// An input with no files yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An input reading these log files or directories.
    pub fn from_paths<P: Into<PathBuf>>(logs: impl IntoIterator<Item = P>) -> Self {
        DigestInput {
            log_paths: logs.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Adds a log file or directory.
    #[must_use]
    pub fn with_log_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_paths.push(path.into());
        self
    }

    /// Adds an audit JSON-lines file (or a directory of them).
    #[must_use]
    pub fn with_audit_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.audit_paths.push(path.into());
        self
    }

    /// Redacts the error examples with `redactor` ([`DigestBuilder::with_redactor`]).
    #[must_use]
    pub fn with_redactor(mut self, redactor: Arc<dyn Redactor>) -> Self {
        self.redactor = Some(redactor);
        self
    }

    /// Sets the counter scrapes (Prometheus text) from the start (optional) and end of the
    /// window.
    #[must_use]
    pub fn with_counter_paths<P: Into<PathBuf>>(
        mut self,
        before: Option<P>,
        after: impl Into<PathBuf>,
    ) -> Self {
        self.counters_before = before.map(Into::into);
        self.counters_after = Some(after.into());
        self
    }
}

impl Digest {
    /// Builds the digest of `window` from the files of `input`, streaming every file line by
    /// line.
    ///
    /// # Errors
    /// [`DigestError::Unreadable`] naming the file or directory that could not be read. Lines
    /// that are not ECS JSON or not audit events are counted in the digest, never an error.
    pub fn build(
        input: &DigestInput,
        window: ReviewWindow,
        config: &DigestConfig,
    ) -> Result<Digest, DigestError> {
        Self::build_with_events(input, window, config, [])
    }

    /// As [`Digest::build`], with `events` (e.g. read from a verified biv audit log) added to
    /// the audit events of the input's files.
    ///
    /// # Errors
    /// As [`Digest::build`].
    pub fn build_with_events<'a>(
        input: &DigestInput,
        window: ReviewWindow,
        config: &DigestConfig,
        events: impl IntoIterator<Item = &'a AuditEvent>,
    ) -> Result<Digest, DigestError> {
        let mut builder = DigestBuilder::new(window, config.clone());
        if let Some(redactor) = &input.redactor {
            builder = builder.with_redactor(redactor.clone());
        }
        builder.add_audit_events(events);
        for path in expand(&input.log_paths)? {
            builder.read_log_path(&path)?;
        }
        for path in expand(&input.audit_paths)? {
            builder.read_audit_path(&path)?;
        }
        if let Some(after) = &input.counters_after {
            let before = input
                .counters_before
                .as_deref()
                .map(CounterSnapshot::read_prometheus_path)
                .transpose()?;
            builder.set_counters(before, CounterSnapshot::read_prometheus_path(after)?);
        }
        Ok(builder.finish())
    }

    /// The JSON form, pretty-printed (members in declaration order).
    ///
    /// # Errors
    /// [`EncodeError`] if serde_json fails (it does not for a digest).
    pub fn to_json(&self) -> Result<String, EncodeError> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }

    /// The canonical JSON form (RFC 8785: no white space, members sorted), over which
    /// [`sha256_hex`](Digest::sha256_hex) is computed.
    ///
    /// # Errors
    /// [`EncodeError`] if serde_json fails (it does not for a digest).
    pub fn canonical_json(&self) -> Result<String, EncodeError> {
        let value = serde_json::to_value(self)?;
        let mut out = String::new();
        write_canonical(&mut out, &value);
        Ok(out)
    }

    /// SHA-256 of the canonical JSON form, as 64 lower-case hex digits: the value a reviewer
    /// quotes when signing off.
    ///
    /// # Errors
    /// [`EncodeError`] if serde_json fails (it does not for a digest).
    pub fn sha256_hex(&self) -> Result<String, EncodeError> {
        Ok(hex(&Sha256::digest(self.canonical_json()?.as_bytes())))
    }

    /// Reads a digest back from its JSON form (pretty or canonical).
    ///
    /// # Errors
    /// [`DecodeError::Json`] for text that is not a digest, [`DecodeError::Format`] for another
    /// format version.
    pub fn from_json(text: &str) -> Result<Digest, DecodeError> {
        let digest: Digest = serde_json::from_str(text)?;
        if digest.format != DIGEST_FORMAT {
            return Err(DecodeError::Format {
                found: digest.format,
                expected: DIGEST_FORMAT,
            });
        }
        Ok(digest)
    }
}

/// Builds a [`Digest`] from log readers, audit events and counter readings, in any order: the
/// result does not depend on the order in which files or events are given (unless a limit of
/// [`DigestConfig`] is reached: then the first values seen are kept).
///
/// ```
/// use biv_availability::review::{DigestBuilder, DigestConfig, ReviewWindow};
/// use biv_core::Timestamp;
///
/// let window = ReviewWindow::ending_at(Timestamp::parse_rfc3339("2026-11-26T06:00:00Z")?)?;
/// let mut builder = DigestBuilder::new(window, DigestConfig::default());
/// let log = concat!(
///     r#"{"@timestamp":"2026-11-26T01:00:00.000Z","log.level":"error","message":"lookup of mr-1 failed","ecs.version":"8.11.0","service.name":"ehr-api","event.dataset":"application"}"#, "\n",
///     r#"{"@timestamp":"2026-11-26T02:00:00.000Z","log.level":"error","message":"lookup of mr-2 failed","ecs.version":"8.11.0","service.name":"ehr-api","event.dataset":"application"}"#, "\n",
///     "garbage\n",
/// );
/// builder.read_log("app.log", log.as_bytes())?;
/// let digest = builder.finish();
/// assert_eq!(digest.logs.records, 2);
/// assert_eq!(digest.logs.unparseable, 1);
/// assert_eq!(digest.errors.fingerprints.len(), 1); // the same error twice
/// assert_eq!(digest.errors.fingerprints[0].count, 2);
/// assert!(digest.errors.fingerprints[0].new);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DigestBuilder {
    window: ReviewWindow,
    config: DigestConfig,
    logs: LogTally,
    access: AccessTally,
    counters: Option<(Option<CounterSnapshot>, CounterSnapshot)>,
    redactor: Option<Arc<dyn Redactor>>,
}

impl DigestBuilder {
    /// A builder for `window` with `config`.
    pub fn new(window: ReviewWindow, config: DigestConfig) -> Self {
        DigestBuilder {
            window,
            config,
            logs: LogTally::default(),
            access: AccessTally::default(),
            counters: None,
            redactor: None,
        }
    }

    /// Passes the example message of every error fingerprint through `redactor`: logs from
    /// services that do not redact, or from before they did, must not carry personal data into
    /// a document that is circulated.
    #[must_use]
    pub fn with_redactor(mut self, redactor: Arc<dyn Redactor>) -> Self {
        self.redactor = Some(redactor);
        self
    }

    /// Reads ECS NDJSON log lines from `reader`, listed in the digest under `name`.
    ///
    /// # Errors
    /// [`DigestError::Unreadable`] (with `name` as the path) when the reader fails.
    pub fn read_log(&mut self, name: &str, reader: impl Read) -> Result<(), DigestError> {
        let mut file = LogFile {
            path: name.to_owned(),
            ..LogFile::default()
        };
        let mut lines = BoundedLines::new(BufReader::new(reader), self.config.max_line_bytes);
        loop {
            match lines.next_line() {
                Ok(Some(line)) => {
                    self.logs
                        .add_line(&mut file, line, &self.window, &self.config);
                }
                Ok(None) => {
                    self.logs.add_file(file);
                    return Ok(());
                }
                Err(source) => {
                    return Err(DigestError::Unreadable {
                        path: PathBuf::from(name),
                        source,
                    });
                }
            }
        }
    }

    /// Reads an ECS NDJSON log file.
    ///
    /// # Errors
    /// [`DigestError::Unreadable`] naming the path.
    pub fn read_log_path(&mut self, path: &Path) -> Result<(), DigestError> {
        let file = open(path)?;
        self.read_log(&path.display().to_string(), file)
    }

    /// Adds audit events (window and baseline; others are ignored, duplicates counted once).
    pub fn add_audit_events<'a>(&mut self, events: impl IntoIterator<Item = &'a AuditEvent>) {
        for event in events {
            self.access.add(event, &self.window, &self.config);
        }
    }

    /// Reads audit events as JSON lines from `reader`; a line that is not a valid event is
    /// counted as unparseable.
    ///
    /// # Errors
    /// [`DigestError::Unreadable`] (with `name` as the path) when the reader fails.
    pub fn read_audit_jsonl(&mut self, name: &str, reader: impl Read) -> Result<(), DigestError> {
        let mut lines = BoundedLines::new(BufReader::new(reader), self.config.max_line_bytes);
        loop {
            let line = match lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => return Ok(()),
                Err(source) => {
                    return Err(DigestError::Unreadable {
                        path: PathBuf::from(name),
                        source,
                    });
                }
            };
            match line {
                Line::Text(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {}
                Line::Text(bytes) => match serde_json::from_slice::<AuditEvent>(bytes) {
                    Ok(event) if event.validate().is_ok() => {
                        self.access.add(&event, &self.window, &self.config);
                    }
                    _ => self.access.unparseable += 1,
                },
                Line::TooLong => self.access.unparseable += 1,
            }
        }
    }

    /// Reads an audit JSON-lines file.
    ///
    /// # Errors
    /// [`DigestError::Unreadable`] naming the path.
    pub fn read_audit_path(&mut self, path: &Path) -> Result<(), DigestError> {
        let file = open(path)?;
        self.read_audit_jsonl(&path.display().to_string(), file)
    }

    /// Sets the counter readings from the start (optional) and end of the window.
    pub fn set_counters(&mut self, before: Option<CounterSnapshot>, after: CounterSnapshot) {
        self.counters = Some((before, after));
    }

    /// The digest.
    pub fn finish(self) -> Digest {
        let (logs, mut errors, heartbeats) = self.logs.finish(&self.window, &self.config);
        if let Some(redactor) = &self.redactor {
            for fingerprint in &mut errors.fingerprints {
                if let std::borrow::Cow::Owned(clean) = redactor.redact(&fingerprint.example) {
                    fingerprint.example = clean;
                }
            }
        }
        Digest {
            format: DIGEST_FORMAT.to_owned(),
            window: self.window,
            baseline_start: self.window.baseline_start(),
            working_hours: self.config.working_hours.as_ref().map(|h| h.describe()),
            logs,
            errors,
            access: self.access.finish(&self.config),
            drops: drops(self.counters, &self.config.extra_drop_counters),
            heartbeats,
        }
    }
}

type SeriesKey = (String, BTreeMap<String, String>);

fn drops(
    counters: Option<(Option<CounterSnapshot>, CounterSnapshot)>,
    extra: &[String],
) -> DropSection {
    let Some((before, after)) = counters else {
        return DropSection::default();
    };
    let values = |snapshot: &CounterSnapshot| -> BTreeMap<SeriesKey, u64> {
        snapshot
            .readings()
            .iter()
            .filter(|r| is_drop_counter(&r.name, extra))
            .map(|r| ((r.name.clone(), r.labels.clone()), r.value))
            .collect()
    };
    let start = before.as_ref().map(values);
    let series = values(&after)
        .into_iter()
        .map(|((name, labels), value)| {
            let earlier = start
                .as_ref()
                .map(|s| s.get(&(name.clone(), labels.clone())).copied().unwrap_or(0));
            let increase = match earlier {
                // A counter that went down was reset (the process restarted): all of its
                // current value is new.
                Some(b) if value < b => value,
                Some(b) => value - b,
                None => value,
            };
            DropSeries {
                name,
                labels,
                before: earlier,
                after: value,
                increase,
            }
        })
        .collect();
    DropSection {
        checked: true,
        has_before: before.is_some(),
        skipped_lines: before.map_or(0, |b| b.skipped_lines()) + after.skipped_lines(),
        series,
    }
}

fn open(path: &Path) -> Result<File, DigestError> {
    File::open(path).map_err(|source| DigestError::Unreadable {
        path: path.to_path_buf(),
        source,
    })
}

/// Files as given, directories replaced by their files in name order.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DigestError> {
    let mut out = Vec::new();
    for path in paths {
        let unreadable = |source| DigestError::Unreadable {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        if !meta.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let is_file = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
            if is_file && !hidden {
                files.push(entry.path());
            }
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}
