//! `checkpoints`: every checkpoint the log signed, in order, as CRC-framed signed notes.
//!
//! A checkpoint is signed only for a state that is already committed, so the newest one never
//! claims more than the log holds; recovery requires the tree to match it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::frame;

pub(crate) const CHECKPOINTS_FILE: &str = "checkpoints";
/// A signed note with a few cosignatures stays far below this.
const MAX_NOTE_BYTES: usize = 16 * 1024;

/// The append-only history of signed checkpoints.
#[derive(Debug)]
pub(crate) struct History {
    file: File,
    len: u64,
}

impl History {
    /// Opens (creating) the history, cuts a torn tail, and returns it with its newest note.
    pub(crate) fn open(dir: &Path) -> io::Result<(History, Option<Vec<u8>>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(CHECKPOINTS_FILE))?;
        let bytes = std::fs::read(dir.join(CHECKPOINTS_FILE))?;
        let scan = frame::scan(&bytes, MAX_NOTE_BYTES);
        if scan.valid_len < bytes.len() {
            file.set_len(scan.valid_len as u64)?;
            file.sync_all()?;
        }
        let latest = scan.entries.last().map(|r| bytes[r.clone()].to_vec());
        Ok((
            History {
                file,
                len: scan.valid_len as u64,
            },
            latest,
        ))
    }

    /// Appends one signed note durably.
    pub(crate) fn append(&mut self, note: &[u8]) -> io::Result<()> {
        let mut framed = Vec::with_capacity(note.len() + frame::HEADER_BYTES);
        frame::encode_frame(note, &mut framed);
        self.file.write_all_at(&framed, self.len)?;
        self.file.sync_data()?;
        self.len += framed.len() as u64;
        Ok(())
    }
}

/// Every checkpoint in the history, oldest first (for auditors sampling consistency).
pub(crate) fn all(dir: &Path) -> io::Result<Vec<Vec<u8>>> {
    let bytes = match std::fs::read(dir.join(CHECKPOINTS_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let scan = frame::scan(&bytes, MAX_NOTE_BYTES);
    Ok(scan
        .entries
        .iter()
        .map(|r| bytes[r.clone()].to_vec())
        .collect())
}
