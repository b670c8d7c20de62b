//! `state.json`: the recorded size, root and segment list (the active segment may hold committed
//! frames after it; recovery adopts them), replaced atomically.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::atomic::write_atomically;

pub(crate) const STATE_FILE: &str = "state.json";
const FORMAT: &str = "biv-audit-file/v1";

/// One segment file as of the recorded state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegmentInfo {
    /// Index of its first entry.
    pub(crate) first: u64,
    /// Entries recorded in it (the active segment may hold committed frames after them).
    pub(crate) count: u64,
    /// Bytes recorded in it.
    pub(crate) bytes: u64,
    /// Device and inode when it was created: a replaced file has another.
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// The recorded state of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TreeState {
    pub(crate) format: String,
    pub(crate) size: u64,
    /// Lower-case hex of the root at `size`.
    pub(crate) root: String,
    pub(crate) segments: Vec<SegmentInfo>,
    /// Entries whose index records and tree levels are durable. Those past it are replayed
    /// from the segments on open.
    pub(crate) derived: u64,
}

impl TreeState {
    pub(crate) fn empty(root: &[u8; 32]) -> Self {
        TreeState {
            format: FORMAT.to_owned(),
            size: 0,
            root: hex(root),
            segments: Vec::new(),
            derived: 0,
        }
    }

    pub(crate) fn load(dir: &Path) -> io::Result<Option<TreeState>> {
        let bytes = match std::fs::read(dir.join(STATE_FILE)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let state: TreeState = serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{STATE_FILE}: {e}"))
        })?;
        if state.format != FORMAT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{STATE_FILE}: unknown format {:?}", state.format),
            ));
        }
        Ok(Some(state))
    }

    pub(crate) fn store(&self, dir: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_atomically(&dir.join(STATE_FILE), &bytes)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
