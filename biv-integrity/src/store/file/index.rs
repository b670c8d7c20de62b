//! `index`: one 32-byte record per entry — where it is and which event it holds.
//!
//! Record: `u64be offset in segment ‖ u32be length ‖ u32be segment ordinal ‖ 16-byte event id`.
//! Derived data, rebuilt from the segments when it does not match the committed state.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::atomic::{set_len, sync_all, sync_data, write_at};

pub(crate) const INDEX_FILE: &str = "index";
pub(crate) const RECORD_BYTES: u64 = 32;

/// Where one entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) segment: u32,
    pub(crate) event_id: [u8; 16],
}

impl Location {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.segment.to_be_bytes());
        out.extend_from_slice(&self.event_id);
    }

    fn decode(b: &[u8; 32]) -> Location {
        let mut id = [0u8; 16];
        id.copy_from_slice(&b[16..32]);
        Location {
            offset: u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            len: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            segment: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            event_id: id,
        }
    }
}

/// The index file, appended by the writer and read by anyone.
#[derive(Debug)]
pub(crate) struct Index {
    file: File,
    path: PathBuf,
    written: u64,
    pending: Vec<u8>,
}

impl Index {
    /// Opens the index for `size` committed entries, cutting records past it. `Ok(None)` when it
    /// holds fewer records than that: the caller rebuilds it.
    pub(crate) fn open(dir: &Path, size: u64) -> io::Result<Option<Index>> {
        let path = dir.join(INDEX_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let want = size * RECORD_BYTES;
        let have = file.metadata()?.len();
        if have < want {
            return Ok(None);
        }
        if have > want {
            set_len(&file, &path, want)?;
            sync_all(&file, &path)?;
        }
        Ok(Some(Index {
            file,
            path,
            written: want,
            pending: Vec::new(),
        }))
    }

    /// Empties the index (before a rebuild).
    pub(crate) fn truncate(dir: &Path) -> io::Result<Index> {
        let path = dir.join(INDEX_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        Ok(Index {
            file,
            path,
            written: 0,
            pending: Vec::new(),
        })
    }

    pub(crate) fn push(&mut self, loc: &Location) {
        loc.encode(&mut self.pending);
    }

    /// Writes the pending records (to the page cache).
    pub(crate) fn write(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            write_at(&self.file, &self.path, &self.pending, self.written)?;
            self.written += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.write()?;
        sync_data(&self.file, &self.path)
    }

    /// The record of entry `index` (written, not necessarily synced).
    pub(crate) fn location(&self, index: u64) -> io::Result<Location> {
        read_location(&self.file, index)
    }

    /// Every committed record's event id, in order.
    pub(crate) fn event_ids(&self) -> io::Result<Vec<[u8; 16]>> {
        let mut all = vec![0u8; usize::try_from(self.written).map_err(io::Error::other)?];
        self.file.read_exact_at(&mut all, 0)?;
        Ok(all
            .chunks_exact(32)
            .map(|c| {
                let mut id = [0u8; 16];
                id.copy_from_slice(&c[16..32]);
                id
            })
            .collect())
    }
}

/// Reads one record from an index file.
pub(crate) fn read_location(file: &File, index: u64) -> io::Result<Location> {
    let mut buf = [0u8; 32];
    file.read_exact_at(&mut buf, index * RECORD_BYTES)?;
    Ok(Location::decode(&buf))
}
