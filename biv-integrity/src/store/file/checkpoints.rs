//! `checkpoints`: every checkpoint the log signed, in order, as CRC-framed signed notes.
//!
//! A checkpoint is signed only for a state already recorded in `state.json`, so the newest one
//! never claims more than the log holds; recovery requires the tree to match it.
//!
//! Only the last append can be torn by a crash. A damaged frame is therefore accepted as a torn
//! tail only when no valid frame follows it (and at most one frame's worth of bytes does);
//! anything else is corruption and is refused, never cut away — cutting it would drop newer
//! checkpoints and let the log sign a conflicting one.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::frame;

pub(crate) const CHECKPOINTS_FILE: &str = "checkpoints";
/// A signed note with a few cosignatures stays far below this.
const MAX_NOTE_BYTES: usize = 16 * 1024;

/// Why the history could not be used.
#[derive(Debug)]
pub(crate) enum HistoryError {
    /// A damaged frame with more than one frame's worth of bytes after it.
    Corrupt { offset: usize, what: &'static str },
    /// The file could not be read or written.
    Io(io::Error),
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryError::Corrupt { offset, what } => {
                write!(
                    f,
                    "the checkpoint history is damaged at byte {offset} ({what}) with more data after it"
                )
            }
            HistoryError::Io(e) => write!(f, "reading the checkpoint history: {e}"),
        }
    }
}

impl From<HistoryError> for io::Error {
    fn from(e: HistoryError) -> io::Error {
        match e {
            HistoryError::Io(e) => e,
            corrupt => io::Error::new(io::ErrorKind::InvalidData, corrupt.to_string()),
        }
    }
}

/// The notes of a history file and where its valid part ends.
pub(crate) struct Parsed {
    pub(crate) notes: Vec<Range<usize>>,
    pub(crate) valid_len: usize,
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, HistoryError> {
    let scan = frame::scan(bytes, MAX_NOTE_BYTES);
    if let Some(stop) = scan.stopped {
        let tail = &bytes[scan.valid_len..];
        // A torn write damages only the last frame, so no whole, valid frame can follow it.
        let valid_frame_follows = tail.len() > MAX_NOTE_BYTES + frame::HEADER_BYTES
            || (1..tail.len())
                .any(|at| !frame::scan(&tail[at..], MAX_NOTE_BYTES).entries.is_empty());
        if valid_frame_follows {
            return Err(HistoryError::Corrupt {
                offset: scan.valid_len,
                what: stop.describe(),
            });
        }
    }
    Ok(Parsed {
        notes: scan.entries,
        valid_len: scan.valid_len,
    })
}

fn read(dir: &Path) -> Result<Vec<u8>, HistoryError> {
    match std::fs::read(dir.join(CHECKPOINTS_FILE)) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(HistoryError::Io(e)),
    }
}

/// The append-only history of signed checkpoints.
#[derive(Debug)]
pub(crate) struct History {
    file: File,
    len: u64,
}

/// An opened history: its newest note, and a torn tail still to be cut (after recovery's checks).
pub(crate) struct Opened {
    pub(crate) history: History,
    pub(crate) latest: Option<Vec<u8>>,
    /// The bytes after the last whole frame, if any (never more than one frame).
    pub(crate) torn_tail: Option<Vec<u8>>,
}

impl History {
    /// Opens (creating) the history without changing it.
    pub(crate) fn open(dir: &Path) -> Result<Opened, HistoryError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(CHECKPOINTS_FILE))
            .map_err(HistoryError::Io)?;
        let bytes = read(dir)?;
        let parsed = parse(&bytes)?;
        let latest = parsed.notes.last().map(|r| bytes[r.clone()].to_vec());
        let torn_tail =
            (parsed.valid_len < bytes.len()).then(|| bytes[parsed.valid_len..].to_vec());
        Ok(Opened {
            history: History {
                file,
                len: parsed.valid_len as u64,
            },
            latest,
            torn_tail,
        })
    }

    /// Cuts the torn tail (its bytes were kept by the caller).
    pub(crate) fn cut_tail(&self) -> io::Result<()> {
        self.file.set_len(self.len)?;
        self.file.sync_all()
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

/// Every checkpoint in the history, oldest first (a torn tail is left out; a damaged frame in
/// the middle is an error).
pub(crate) fn all(dir: &Path) -> Result<Vec<Vec<u8>>, HistoryError> {
    let bytes = read(dir)?;
    let parsed = parse(&bytes)?;
    Ok(parsed
        .notes
        .iter()
        .map(|r| bytes[r.clone()].to_vec())
        .collect())
}
