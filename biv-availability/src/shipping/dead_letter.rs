//! The dead-letter file: NDJSON, one line per record Elasticsearch refused for good and per
//! damaged spool region, made durable before the position past them is acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use biv_core::{LogRecord, Timestamp};
use serde_json::json;

use super::spool::CorruptRegion;

/// Appends dead letters to a file (created on first use).
#[derive(Debug)]
pub(crate) struct DeadLetters {
    path: PathBuf,
    file: Option<File>,
    unsynced: bool,
}

impl DeadLetters {
    pub(crate) fn new(path: impl AsRef<Path>) -> Self {
        DeadLetters {
            path: path.as_ref().to_path_buf(),
            file: None,
            unsynced: false,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&mut self, value: &serde_json::Value) -> io::Result<()> {
        if self.file.is_none() {
            let existed = self.path.exists();
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(super::spool::FILE_MODE)
                .open(&self.path)?;
            if !existed {
                // A new file survives a power loss only once its directory entry is durable.
                let dir = match self.path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir,
                    _ => Path::new("."),
                };
                super::spool::sync_dir(dir)?;
            }
            self.file = Some(file);
        }
        let mut line = value.to_string();
        line.push('\n');
        if let Some(file) = self.file.as_mut() {
            file.write_all(line.as_bytes())?;
        }
        self.unsynced = true;
        Ok(())
    }

    /// A record the receiver refused (`status`, with its error type and reason).
    pub(crate) fn record(
        &mut self,
        now: Timestamp,
        index: &str,
        record: &LogRecord,
        status: u16,
        error: Option<&(String, String)>,
    ) -> io::Result<()> {
        let (kind, reason) = error.map_or(("", ""), |(t, r)| (t.as_str(), r.as_str()));
        self.write_line(&json!({
            "@timestamp": now.to_rfc3339_millis(),
            "reason": "rejected",
            "_index": index,
            "_id": record.id().to_string(),
            "status": status,
            "error": { "type": kind, "reason": reason },
            "line": record.line(),
        }))
    }

    /// A damaged stretch of a segment that was skipped.
    pub(crate) fn corrupt(&mut self, now: Timestamp, region: &CorruptRegion) -> io::Result<()> {
        self.write_line(&json!({
            "@timestamp": now.to_rfc3339_millis(),
            "reason": if region.torn { "torn_frame" } else { "corrupt_frame" },
            "segment": region.segment,
            "offset": region.offset,
            "bytes": region.bytes,
        }))
    }

    /// Forces the lines written so far to disk.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        if self.unsynced
            && let Some(file) = self.file.as_ref()
        {
            file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}
