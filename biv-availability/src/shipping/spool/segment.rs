//! Segment files: names, the 16-byte header, listing, creating and scanning
//! (`docs/formats/log-spool.md`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::frame::{Decoded, FRAME_HEADER, decode_frame};

/// The first eight bytes of every segment.
pub(crate) const MAGIC: &[u8; 8] = b"BIVSPOOL";
/// The segment format version.
const VERSION: u32 = 1;
/// Bytes of the segment header: magic, version, CRC-32C of the first twelve bytes.
pub(crate) const HEADER_LEN: u64 = 16;
/// Permissions of every file the spool creates: owner only (records are redacted, but they
/// are still logs of a healthcare service).
pub(crate) const FILE_MODE: u32 = 0o600;
/// The file-name suffix of segments.
const SUFFIX: &str = ".seg";

/// The header every segment starts with.
pub(crate) fn header() -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Whether `bytes` start with a valid segment header.
pub(crate) fn header_ok(bytes: &[u8]) -> bool {
    bytes.get(..16).is_some_and(|h| h == header())
}

/// The path of segment `id` in `dir`: twenty decimal digits and `.seg`.
pub(crate) fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SUFFIX}"))
}

/// The ids of the segments in `dir`, ascending. Other files are ignored.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(SUFFIX) else {
            continue;
        };
        if stem.len() == 20
            && stem.bytes().all(|b| b.is_ascii_digit())
            && let Ok(id) = stem.parse::<u64>()
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// The total size in bytes of the segments in `dir`.
pub(crate) fn total_bytes(dir: &Path) -> io::Result<u64> {
    let mut total = 0u64;
    for id in list(dir)? {
        match std::fs::metadata(path(dir, id)) {
            Ok(meta) => total = total.saturating_add(meta.len()),
            // Deleted by the shipper between the listing and the stat.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Creates segment `id` with its header, made durable (file and directory entry).
pub(crate) fn create(dir: &Path, id: u64) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path(dir, id))?;
    file.write_all(&header())?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What scanning a segment's frames found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Whole, valid frames from the header on.
    pub(crate) frames: u64,
    /// The offset just after the last valid frame.
    pub(crate) valid_end: u64,
    /// What follows `valid_end`.
    pub(crate) tail: Tail,
}

/// The bytes after a segment's last valid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// None: the segment ends with a whole frame.
    Clean,
    /// A frame cut short (a write that did not finish), of this many bytes.
    Torn(u64),
    /// A whole frame that fails its check (or an impossible length); this many bytes from it
    /// to the end of the file.
    Corrupt(u64),
}

/// Scans `bytes`, a whole segment file including its header.
pub(crate) fn scan(bytes: &[u8]) -> Scan {
    let mut at = HEADER_LEN as usize;
    let mut frames = 0;
    let tail = loop {
        let Some(rest) = bytes.get(at..) else {
            break Tail::Clean;
        };
        if rest.is_empty() {
            break Tail::Clean;
        }
        match decode_frame(rest) {
            Decoded::Frame { len, .. } => {
                at += len;
                frames += 1;
            }
            Decoded::Incomplete => break Tail::Torn(rest.len() as u64),
            Decoded::Corrupt => break Tail::Corrupt(rest.len() as u64),
        }
    };
    Scan {
        frames,
        valid_end: at as u64,
        tail,
    }
}

/// Reads up to `want` bytes of `file` from `offset` (fewer at the end of the file).
pub(crate) fn read_at(file: &File, offset: u64, want: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The length a frame header at the start of `bytes` announces (header included), if the
/// header is there.
pub(crate) fn announced_len(bytes: &[u8]) -> Option<usize> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    Some(FRAME_HEADER + len as usize)
}

#[cfg(test)]
mod tests {
    use super::super::frame::frame_of;
    use super::*;

    #[test]
    fn names_sort_by_id_and_other_files_are_ignored() {
        let dir = std::env::temp_dir().join(format!("biv-seg-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for id in [10, 2, 1_000_000] {
            create(&dir, id).unwrap();
        }
        std::fs::write(dir.join("ack"), b"x").unwrap();
        std::fs::write(dir.join("12.seg"), b"x").unwrap();
        assert_eq!(list(&dir).unwrap(), vec![2, 10, 1_000_000]);
        assert!(path(&dir, 2).ends_with("00000000000000000002.seg"));
        assert_eq!(total_bytes(&dir).unwrap(), 3 * HEADER_LEN);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scan_finds_clean_torn_and_corrupt_tails() {
        let rec = biv_testkit_record();
        let frame = frame_of(&rec);
        let mut seg = header().to_vec();
        seg.extend_from_slice(&frame);
        seg.extend_from_slice(&frame);
        let whole = seg.len() as u64;
        assert_eq!(
            scan(&seg),
            Scan {
                frames: 2,
                valid_end: whole,
                tail: Tail::Clean
            }
        );
        let mut torn = seg.clone();
        torn.extend_from_slice(&frame[..frame.len() - 3]);
        assert_eq!(scan(&torn).tail, Tail::Torn(frame.len() as u64 - 3));
        assert_eq!(scan(&torn).valid_end, whole);
        let mut corrupt = seg;
        let second = HEADER_LEN as usize + frame.len() + FRAME_HEADER + 5;
        corrupt[second] ^= 0x40;
        let s = scan(&corrupt);
        assert_eq!(s.frames, 1);
        assert_eq!(s.tail, Tail::Corrupt(frame.len() as u64));
    }

    fn biv_testkit_record() -> biv_core::LogRecord {
        biv_core::LogRecord::new(
            biv_core::RecordId::from_bytes([3; 16]),
            biv_core::Timestamp::UNIX_EPOCH,
            biv_core::Level::Info,
            biv_core::Dataset::System,
            r#"{"message":"segment"}"#,
        )
        .unwrap()
    }
}
