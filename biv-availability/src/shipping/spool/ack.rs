//! The acknowledged position: the file `ack`, replaced atomically (temp file, fsync, rename,
//! directory fsync) so a crash leaves either the old or the new position, never half of one.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::segment::sync_dir;

/// The file name of the acknowledged position.
pub(crate) const ACK_FILE: &str = "ack";
/// The temporary file the next position is written to before the rename.
const ACK_TMP: &str = "ack.tmp";
/// The first eight bytes of the ack file.
const MAGIC: &[u8; 8] = b"BIVACK01";
/// Length of the ack file.
const LEN: usize = 28;

/// A place in the spool: a segment id and a byte offset in it. Everything before it has been
/// shipped (delivered, already present, or dead-lettered). Ordered by segment, then offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment id.
    pub segment: u64,
    /// The byte offset in the segment (16, just after the header, is its first frame).
    pub offset: u64,
}

impl Default for Position {
    /// The start of the spool: the first frame of segment 0 (the oldest segment present).
    fn default() -> Self {
        Position {
            segment: 0,
            offset: 16,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.segment, self.offset)
    }
}

/// The bytes of the ack file for `pos`.
pub(crate) fn encode(pos: Position) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&pos.segment.to_le_bytes());
    out[16..24].copy_from_slice(&pos.offset.to_le_bytes());
    let crc = crc32c::crc32c(&out[..24]);
    out[24..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The position in an ack file's bytes; `None` when they are not a valid ack file.
pub(crate) fn decode(bytes: &[u8]) -> Option<Position> {
    if bytes.len() != LEN || &bytes[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[24..28].try_into().ok()?);
    if crc32c::crc32c(&bytes[..24]) != crc {
        return None;
    }
    Some(Position {
        segment: u64::from_le_bytes(bytes[8..16].try_into().ok()?),
        offset: u64::from_le_bytes(bytes[16..24].try_into().ok()?),
    })
}

/// What the ack file in a spool directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// No ack file: nothing acknowledged yet.
    Missing,
    /// A valid position.
    At(Position),
    /// The file exists but is not a valid ack file.
    Invalid,
}

/// Reads the ack file in `dir`.
pub(crate) fn load(dir: &Path) -> io::Result<Stored> {
    match std::fs::read(dir.join(ACK_FILE)) {
        Ok(bytes) => Ok(decode(&bytes).map_or(Stored::Invalid, Stored::At)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Stored::Missing),
        Err(e) => Err(e),
    }
}

/// Stores `pos` durably: write `ack.tmp`, fsync it, rename it over `ack`, fsync the directory.
pub(crate) fn store(dir: &Path, pos: Position) -> io::Result<()> {
    let tmp = dir.join(ACK_TMP);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(super::segment::FILE_MODE)
        .open(&tmp)?;
    file.write_all(&encode(pos))?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(ACK_FILE))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_damage_is_seen() {
        let pos = Position {
            segment: 42,
            offset: 16 + 1000,
        };
        let bytes = encode(pos);
        assert_eq!(&bytes[..8], b"BIVACK01");
        assert_eq!(decode(&bytes), Some(pos));
        for i in 0..LEN {
            let mut bad = bytes;
            bad[i] ^= 0x10;
            assert_eq!(decode(&bad), None, "byte {i}");
        }
        assert_eq!(decode(&bytes[..27]), None);
    }

    #[test]
    fn store_replaces_the_file_and_leaves_no_temp_behind() {
        let dir = std::env::temp_dir().join(format!("biv-ack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load(&dir).unwrap(), Stored::Missing);
        let a = Position {
            segment: 1,
            offset: 16,
        };
        let b = Position {
            segment: 3,
            offset: 99,
        };
        store(&dir, a).unwrap();
        store(&dir, b).unwrap();
        assert_eq!(load(&dir).unwrap(), Stored::At(b));
        assert!(!dir.join(ACK_TMP).exists());
        std::fs::write(dir.join(ACK_FILE), b"garbage").unwrap();
        assert_eq!(load(&dir).unwrap(), Stored::Invalid);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
