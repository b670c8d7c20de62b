//! Segment files: `segments/<first index, 20 digits>.seg`, each a run of entry frames.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::atomic::{create_new, sync_all, sync_data, sync_dir, write_at};
use super::state::SegmentInfo;

pub(crate) const SEGMENTS_DIR: &str = "segments";

pub(crate) fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(SEGMENTS_DIR).join(format!("{first:020}.seg"))
}

/// The segment the writer appends to.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) info: SegmentInfo,
    pub(crate) ordinal: u32,
}

impl ActiveSegment {
    /// Creates the segment whose first entry is `first`, durably (file and directory entry).
    pub(crate) fn create(dir: &Path, first: u64, ordinal: u32) -> io::Result<ActiveSegment> {
        let path = segment_path(dir, first);
        let file = create_new(&path)?;
        sync_all(&file, &path)?;
        sync_dir(&dir.join(SEGMENTS_DIR))?;
        let meta = file.metadata()?;
        Ok(ActiveSegment {
            file,
            path,
            info: SegmentInfo {
                first,
                count: 0,
                bytes: 0,
                dev: meta.dev(),
                ino: meta.ino(),
            },
            ordinal,
        })
    }

    /// Reopens the last committed segment for appending.
    pub(crate) fn reopen(dir: &Path, info: SegmentInfo, ordinal: u32) -> io::Result<ActiveSegment> {
        let path = segment_path(dir, info.first);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        Ok(ActiveSegment {
            file,
            path,
            info,
            ordinal,
        })
    }

    /// Writes `frames` (holding `count` entries) after the committed bytes and syncs them.
    ///
    /// On an error nothing is counted and the writer stops: whatever reached the file past the
    /// committed bytes is found by recovery, which adopts its whole frames and cuts the rest.
    pub(crate) fn append(&mut self, frames: &[u8], count: u64) -> io::Result<()> {
        write_at(&self.file, &self.path, frames, self.info.bytes)?;
        sync_data(&self.file, &self.path)?;
        self.info.bytes += frames.len() as u64;
        self.info.count += count;
        Ok(())
    }

    /// Whether the file at the segment's path is still the file being written.
    pub(crate) fn still_in_place(&self, dir: &Path) -> io::Result<bool> {
        let on_disk = std::fs::metadata(segment_path(dir, self.info.first))?;
        Ok(on_disk.dev() == self.info.dev && on_disk.ino() == self.info.ino)
    }
}

/// Reads `len` bytes at `offset` of a segment.
pub(crate) fn read_at(file: &File, offset: u64, len: u32) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// The segment files present on disk, by first index, sorted.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut firsts = Vec::new();
    for entry in std::fs::read_dir(dir.join(SEGMENTS_DIR))? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".seg")
            && stem.len() == 20
            && let Ok(first) = stem.parse::<u64>()
        {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}
