//! Full verification of a file log: every frame, every leaf hash, the root.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::audit::MAX_ENTRY_BYTES;
use crate::store::border::Border;
use crate::store::hashing::leaf_hash;

use super::frame;
use super::segments::segment_path;
use super::state::{TreeState, hex};

/// Why a log failed full verification. Every variant says where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A frame of a committed segment is damaged.
    #[error("entry {index}: {what} (segment {first}, byte {offset})")]
    Frame {
        /// The entry that should start there.
        index: u64,
        /// The segment's first entry.
        first: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A segment holds another number of entries than committed.
    #[error("segment {first} holds {found} entries, {expected} committed")]
    Count {
        /// The segment's first entry.
        first: u64,
        /// Committed entries.
        expected: u64,
        /// Entries found.
        found: u64,
    },
    /// An entry does not hash to the leaf stored for it.
    #[error("entry {index} does not match its stored leaf hash")]
    Leaf {
        /// The entry's index.
        index: u64,
    },
    /// The tree rebuilt from the entries has another root than committed.
    #[error("root recomputed from {size} entries is {computed}, committed {expected}")]
    Root {
        /// Entries hashed.
        size: u64,
        /// The committed root (hex).
        expected: String,
        /// The recomputed root (hex).
        computed: String,
    },
    /// A file could not be read.
    #[error("{what}: {source}")]
    Io {
        /// What was read.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Re-reads every committed segment, checks each frame, re-hashes each entry against the stored
/// leaf hash, rebuilds the tree and compares the root with the committed state.
pub(crate) fn verify_full(dir: &Path, state: &TreeState) -> Result<[u8; 32], VerifyError> {
    let io = |what: String| move |source| VerifyError::Io { what, source };
    let mut leaves = File::open(dir.join("tree").join("level-00"))
        .map_err(io("opening tree/level-00".into()))?;
    let mut border = Border::default();
    let mut stored = vec![0u8; 32 * 4096];
    let mut stored_len = 0usize;
    let mut stored_pos = 0usize;
    for info in &state.segments {
        let bytes = std::fs::read(segment_path(dir, info.first))
            .map_err(io(format!("reading segment {}", info.first)))?;
        let committed = usize::try_from(info.bytes)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let scan = frame::scan(&bytes[..committed], MAX_ENTRY_BYTES);
        if let Some(stop) = scan.stopped {
            return Err(VerifyError::Frame {
                index: info.first + scan.entries.len() as u64,
                first: info.first,
                offset: scan.valid_len as u64,
                what: stop.describe(),
            });
        }
        if scan.entries.len() as u64 != info.count {
            return Err(VerifyError::Count {
                first: info.first,
                expected: info.count,
                found: scan.entries.len() as u64,
            });
        }
        for (k, range) in scan.entries.iter().enumerate() {
            let index = info.first + k as u64;
            if stored_pos == stored_len {
                let want = usize::try_from((state.size - index).min(4096)).unwrap_or(4096) * 32;
                leaves
                    .read_exact(&mut stored[..want])
                    .map_err(io(format!("reading the leaf hash of entry {index}")))?;
                stored_len = want;
                stored_pos = 0;
            }
            let leaf = leaf_hash(&bytes[range.clone()]);
            if leaf[..] != stored[stored_pos..stored_pos + 32] {
                return Err(VerifyError::Leaf { index });
            }
            stored_pos += 32;
            border.append(leaf, |_, _, _| {});
        }
    }
    let root = border.root();
    if hex(&root) != state.root || border.size() != state.size {
        return Err(VerifyError::Root {
            size: border.size(),
            expected: state.root.clone(),
            computed: hex(&root),
        });
    }
    Ok(root)
}
