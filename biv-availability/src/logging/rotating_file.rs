//! [`RotatingFile`]: the log file [`WriterSink`](super::WriterSink) writes to, rotated by size
//! and by UTC day the way Filebeat and rsyslog follow (rename, then create; never copy and
//! truncate).
//!
//! Names: the active file keeps its name (`app.ndjson`); a rotation renames `app.ndjson.(k-1)` to
//! `app.ndjson.k` down to `app.ndjson` → `app.ndjson.1`, deletes what lies beyond `keep`, and
//! creates a fresh `app.ndjson`. A reader holding the old file open reads it to its end (the
//! bytes never move), and one that identifies files by inode or by fingerprint recognises a
//! renamed file as the one it was reading.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::metrics::{Collector, MetricFamily, MetricKind, Sample, SampleValue};
use biv_core::{Clock, Timestamp};

/// After a rotation failed, the next attempt waits this long (by the injected clock); until then
/// lines go on into the current file.
pub const ROTATION_RETRY: Duration = Duration::from_secs(10);

/// Where and when a [`RotatingFile`] rotates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotatingFileConfig {
    /// The active file (`/var/log/ehr/app.ndjson`); rotated files get `.1`, `.2`, … appended.
    pub path: PathBuf,
    /// Rotate before a line would make the file larger than this; `None`: no size limit. A
    /// single line longer than the limit gets a file of its own.
    pub max_bytes: Option<u64>,
    /// Rotate at the first write on a new UTC day.
    pub daily: bool,
    /// Rotated files kept (at least 1); the oldest beyond this is deleted.
    pub keep: usize,
    /// Permission bits of the files created (and of the active file when opened): `0o640`.
    pub mode: u32,
}

impl RotatingFileConfig {
    /// `path` with the defaults: rotate daily and at 128 MiB, keep 14 rotated files, mode `0640`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RotatingFileConfig {
            path: path.into(),
            max_bytes: Some(128 * 1024 * 1024),
            daily: true,
            keep: 14,
            mode: 0o640,
        }
    }

    /// Sets the size limit (`None`: rotate by day only).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: Option<u64>) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Rotates, or not, at the first write of each UTC day.
    #[must_use]
    pub fn with_daily(mut self, daily: bool) -> Self {
        self.daily = daily;
        self
    }

    /// Sets how many rotated files are kept.
    #[must_use]
    pub fn with_keep(mut self, keep: usize) -> Self {
        self.keep = keep;
        self
    }

    /// Sets the permission bits of the log files.
    #[must_use]
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// The name of rotated file `k` (1 = the newest).
    pub fn rotated_path(&self, k: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{k}"));
        PathBuf::from(name)
    }
}

/// Why [`RotatingFile::open`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotatingFileError {
    /// The configuration cannot work.
    #[error("invalid rotating file configuration: {0}")]
    Config(&'static str),
    /// The active file cannot be opened, given its mode, or have a torn last line ended.
    #[error("cannot open log file {path}: {source}")]
    Open {
        /// The active file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

/// Rotations of a [`RotatingFile`], shared with whoever watches it. As a metrics
/// [`Collector`] it exposes `biv_log_file_rotations_total` and
/// `biv_log_file_rotation_failures_total`: a failure loses nothing (lines go on into the current
/// file) but lets the file grow past its limit, so alert on its increase.
#[derive(Debug, Default)]
pub struct RotationStats {
    rotations: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl RotationStats {
    /// Rotations done.
    pub fn rotations(&self) -> u64 {
        self.rotations.load(Ordering::Relaxed)
    }

    /// Rotation attempts that failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The error of the last failed attempt, cleared by the next rotation that succeeds.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_last_error(&self, error: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }
}

impl Collector for RotationStats {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        for (name, help, value) in [
            (
                "biv_log_file_rotations",
                "Log file rotations done.",
                self.rotations(),
            ),
            (
                "biv_log_file_rotation_failures",
                "Log file rotations that failed; lines went on into the current file.",
                self.failures(),
            ),
        ] {
            out.push(
                MetricFamily::new(name, help, MetricKind::Counter)
                    .with_sample(Sample::new(Vec::new(), SampleValue::Counter(value))),
            );
        }
    }
}

/// A log file that rotates by size and by UTC day, for [`WriterSink`](super::WriterSink):
/// writes go straight to the file (the sink already batches), a line is never split across two
/// files, and a rotation first `fsync`s the old file, renames (`app.ndjson` → `app.ndjson.1`, the
/// older ones one number up, the one beyond `keep` deleted), creates the new file with the
/// configured mode and `fsync`s the directory.
///
/// A rotation that fails (a read-only directory, a full disk) is counted in
/// [`RotationStats`]; lines go on into the current file and the rotation is tried again after
/// [`ROTATION_RETRY`]. A write that fails is returned to the sink, which counts the records it
/// held as lost (`biv_log_records_lost_total`).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use biv_availability::logging::{RotatingFile, RotatingFileConfig, WriterSink};
/// use biv_core::{LogSink, SystemClock};
///
/// let dir = std::env::temp_dir().join(format!("biv-rotating-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let config = RotatingFileConfig::new(dir.join("app.ndjson")).with_max_bytes(Some(1 << 20)).with_keep(3);
/// let file = RotatingFile::open(config, Arc::new(SystemClock::new()))?;
/// let rotations = file.stats(); // a metrics Collector
/// let sink = WriterSink::new(file, 1024)?;
/// sink.submit(biv_testkit::sample_log_record(1))?;
/// sink.flush(Duration::from_secs(5))?;
/// assert_eq!(std::fs::read_to_string(dir.join("app.ndjson"))?.lines().count(), 1);
/// assert_eq!(rotations.failures(), 0);
/// # drop(sink); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RotatingFile {
    config: RotatingFileConfig,
    clock: Arc<dyn Clock>,
    file: File,
    /// Bytes in the current file.
    size: u64,
    /// The UTC day (days since 1970-01-01) the current file belongs to.
    day: i64,
    /// The last byte written was not a line end: no rotation until the line is complete.
    mid_line: bool,
    /// The current file was renamed away but its successor could not be created yet.
    renamed: bool,
    /// After a failed rotation: no new attempt before this instant.
    retry_at: Option<Timestamp>,
    stats: Arc<RotationStats>,
}

fn utc_day(t: Timestamp) -> i64 {
    t.unix_seconds().div_euclid(86_400)
}

/// The length of the first line of `buf` with its `\n`, or `None` when `buf` holds no line end.
fn line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n').map(|i| i + 1)
}

/// Opens (creating) the active file for appending and reading, with exactly `mode`.
fn open_active(path: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(mode)
        .open(path)?;
    // The umask may have narrowed (or the file predates) the mode: set it exactly.
    if file.metadata()?.permissions().mode() & 0o7777 != mode {
        file.set_permissions(Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// `Ok` when removed or already absent.
fn remove_if_present(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl RotatingFile {
    /// Opens (or creates) `config.path` for appending. An existing file is continued; its UTC
    /// day is that of its last modification, and a last line a crash left without its `\n` is
    /// ended first, so the next record starts on a line of its own.
    ///
    /// # Errors
    /// [`RotatingFileError::Config`] for a path without a file name, `max_bytes` of 0 or `keep`
    /// of 0; [`RotatingFileError::Open`] when the file cannot be opened or given its mode.
    pub fn open(
        config: RotatingFileConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RotatingFileError> {
        if config.path.file_name().is_none() {
            return Err(RotatingFileError::Config("the path names no file"));
        }
        if config.max_bytes == Some(0) {
            return Err(RotatingFileError::Config("max_bytes must be at least 1"));
        }
        if config.keep == 0 {
            return Err(RotatingFileError::Config(
                "keep must be at least 1 (a reader may still be reading the rotated file)",
            ));
        }
        let open_error = |source| RotatingFileError::Open {
            path: config.path.clone(),
            source,
        };
        let mut file = open_active(&config.path, config.mode).map_err(open_error)?;
        let meta = file.metadata().map_err(open_error)?;
        let today = utc_day(clock.now());
        let mut size = meta.len();
        let day = match meta.modified() {
            Ok(modified) if size > 0 => modified
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs() / 86_400).ok())
                .unwrap_or(today),
            _ => today,
        };
        if size > 0 {
            let mut last = [0u8; 1];
            file.read_exact_at(&mut last, size - 1)
                .map_err(open_error)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(open_error)?;
                size += 1;
            }
        }
        Ok(RotatingFile {
            config,
            clock,
            file,
            size,
            day,
            mid_line: false,
            renamed: false,
            retry_at: None,
            stats: Arc::default(),
        })
    }

    /// The rotation counters (share them with a metrics registry).
    pub fn stats(&self) -> Arc<RotationStats> {
        Arc::clone(&self.stats)
    }

    /// The configuration.
    pub fn config(&self) -> &RotatingFileConfig {
        &self.config
    }

    /// Rotates when the day changed or the first line of `buf` does not fit, unless a failed
    /// attempt is waiting for its retry time.
    fn rotate_if_due(&mut self, buf: &[u8]) {
        let now = self.clock.now();
        let today = utc_day(now);
        if self.size == 0 {
            // An empty file is not worth a rotation; it simply belongs to today.
            self.day = today;
            return;
        }
        let first_line = line_end(buf).unwrap_or(buf.len()) as u64;
        let by_day = self.config.daily && today != self.day;
        let by_size = self
            .config
            .max_bytes
            .is_some_and(|max| self.size.saturating_add(first_line) > max);
        if !(by_day || by_size) {
            return;
        }
        if let Some(at) = self.retry_at
            && now < at
        {
            return;
        }
        match self.try_rotate() {
            Ok(file) => {
                self.file = file;
                self.size = 0;
                self.day = today;
                self.renamed = false;
                self.retry_at = None;
                self.stats.rotations.fetch_add(1, Ordering::Relaxed);
                self.stats.set_last_error(None);
            }
            Err(e) => {
                self.retry_at = now.checked_add(ROTATION_RETRY);
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                self.stats.set_last_error(Some(format!(
                    "rotating {}: {e}",
                    self.config.path.display()
                )));
            }
        }
    }

    /// Makes the current file durable, moves the names along and creates the new active file.
    fn try_rotate(&mut self) -> io::Result<File> {
        self.file.sync_all()?;
        if !self.renamed {
            let keep = self.config.keep;
            // Delete the oldest: the one in the last kept slot, and any a larger `keep` left.
            remove_if_present(&self.config.rotated_path(keep))?;
            let mut k = keep + 1;
            while remove_if_present(&self.config.rotated_path(k))? {
                k += 1;
            }
            for k in (1..keep).rev() {
                match std::fs::rename(self.config.rotated_path(k), self.config.rotated_path(k + 1))
                {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.config.path, self.config.rotated_path(1))?;
            self.renamed = true;
        }
        let file = open_active(&self.config.path, self.config.mode)?;
        // The renames and the new name are durable once the directory is; a failure here
        // loses nothing that is written, so it does not undo the rotation.
        if let Some(dir) = self.config.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(file)
    }

    /// How much of `buf` (at a line start) goes into the current file: the whole lines that fit
    /// under `max_bytes`, at least the first line (alone in a fresh file, or while rotation is
    /// failing), or everything when there is no limit or rotation is failing.
    fn fitting_prefix(&self, buf: &[u8]) -> usize {
        let Some(max) = self.config.max_bytes else {
            return buf.len();
        };
        if self.retry_at.is_some() || self.size.saturating_add(buf.len() as u64) <= max {
            return buf.len();
        }
        let room = max.saturating_sub(self.size);
        let mut end = 0;
        for (i, &b) in buf.iter().enumerate() {
            if i as u64 >= room {
                break;
            }
            if b == b'\n' {
                end = i + 1;
            }
        }
        if end == 0 {
            line_end(buf).unwrap_or(buf.len())
        } else {
            end
        }
    }
}

impl Write for RotatingFile {
    /// Writes a prefix of `buf` that keeps lines whole within one file; the caller writes the
    /// rest (as [`Write::write_all`] and the sink do), which may go into a fresh file.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let take = if self.mid_line {
            // Finish the line in the file that holds its start.
            line_end(buf).unwrap_or(buf.len())
        } else {
            self.rotate_if_due(buf);
            self.fitting_prefix(buf)
        };
        let n = self.file.write(&buf[..take])?;
        self.size = self.size.saturating_add(n as u64);
        if let Some(last) = n.checked_sub(1).and_then(|i| buf.get(i)) {
            self.mid_line = *last != b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
