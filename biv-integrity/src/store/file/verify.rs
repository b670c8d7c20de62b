//! Full verification of a file log: every frame, every leaf hash, the root.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::audit::MAX_ENTRY_BYTES;
use crate::tlog::{CompactRange, Hash, NoteVerifier, SignedCheckpoint, leaf_hash, tree_root};

use super::checkpoints;
use super::frame;
use super::levels::LevelReader;
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
    verify_full_at(dir, state, &[]).map(|(root, _)| root)
}

/// Roots of the tree at given sizes.
pub(crate) type RootsAt = Vec<(u64, Hash)>;

/// [`verify_full`], also returning the root — recomputed from the re-hashed entries, never from
/// the stored tree — at each of `sizes` (at most `state.size`), for checking signed checkpoints.
pub(crate) fn verify_full_at(
    dir: &Path,
    state: &TreeState,
    sizes: &[u64],
) -> Result<([u8; 32], RootsAt), VerifyError> {
    let io = |what: String| move |source| VerifyError::Io { what, source };
    let mut wanted: Vec<u64> = sizes.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut wanted = wanted.into_iter().peekable();
    let mut roots = Vec::new();
    let mut take_roots = |border: &CompactRange, roots: &mut Vec<(u64, Hash)>| {
        while let Some(&size) = wanted.peek() {
            if size != border.size() {
                break;
            }
            roots.push((size, border.root()));
            wanted.next();
        }
    };
    let mut leaves = File::open(dir.join("tree").join("level-00"))
        .map_err(io("opening tree/level-00".into()))?;
    let mut border = CompactRange::new();
    take_roots(&border, &mut roots);
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
            if leaf.as_bytes()[..] != stored[stored_pos..stored_pos + 32] {
                return Err(VerifyError::Leaf { index });
            }
            stored_pos += 32;
            border.push(leaf).map_err(|_| VerifyError::Count {
                first: info.first,
                expected: info.count,
                found: u64::MAX,
            })?;
            take_roots(&border, &mut roots);
        }
    }
    let root = border.root().to_bytes();
    if hex(&root) != state.root || border.size() != state.size {
        return Err(VerifyError::Root {
            size: border.size(),
            expected: state.root.clone(),
            computed: hex(&root),
        });
    }
    Ok((root, roots))
}

/// What an offline verification checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Committed entries.
    pub size: u64,
    /// The committed root.
    pub root: Hash,
    /// Whether every entry was re-read and re-hashed.
    pub full: bool,
    /// Signed checkpoints checked (the log's history plus a trusted one, if given).
    pub checkpoints: usize,
    /// The size of the newest signed checkpoint.
    pub latest_checkpoint: Option<u64>,
}

/// Why an offline verification failed, beyond the entry-level [`VerifyError`]s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirVerifyError {
    /// No log in the directory.
    #[error("{0} holds no audit log (no state.json)")]
    NotALog(String),
    /// A committed segment is missing, replaced or of the wrong size.
    #[error("segment {first}: {what}")]
    Segment {
        /// The segment's first entry.
        first: u64,
        /// What is wrong.
        what: String,
    },
    /// An entry, frame or the root failed.
    #[error(transparent)]
    Entries(#[from] VerifyError),
    /// A checkpoint does not verify or does not match the tree; `position` counts from 0 in the
    /// log's history, or is `None` for the trusted checkpoint.
    #[error("checkpoint {} (size {size}): {what}", position.map_or_else(|| "given as trusted".to_owned(), |p| format!("#{p} of the history")))]
    Checkpoint {
        /// Position in the history, `None` for the trusted one.
        position: Option<usize>,
        /// The checkpoint's size, when it could be read.
        size: u64,
        /// What failed.
        what: String,
    },
}

/// Verifies a log directory without opening it for writing (no lock, nothing changed), as an
/// auditor does with only the log's origin and verifier key.
///
/// It covers the state the writer recorded last (in `state.json`), which every signed
/// checkpoint is covered by; a log that crashed is checked as far as it was recorded, and its
/// newest entries after that once it is opened again (recovery adopts them).
///
/// Checks the recorded segments' presence, identity and size; the root of the tree (from the
/// stored tree files, or with `full` by re-reading and re-hashing every entry); every signed
/// checkpoint in the log's history (signature, origin, size not past the log, root at its size);
/// and, if given, a checkpoint the auditor trusts from an earlier visit, which the log must
/// extend.
///
/// # Errors
/// [`DirVerifyError`] naming the first segment, entry or checkpoint that fails.
pub fn verify_dir(
    dir: &Path,
    origin: &str,
    verifier: &dyn NoteVerifier,
    full: bool,
    trusted: Option<&[u8]>,
) -> Result<VerifyReport, DirVerifyError> {
    // The history first, then the state: only recorded states are signed, so every checkpoint
    // read before the state is covered by it even while a writer keeps appending.
    let history = checkpoints::all(dir).map_err(|e| DirVerifyError::Checkpoint {
        position: None,
        size: 0,
        what: e.to_string(),
    })?;
    let state = TreeState::load(dir)
        .map_err(|e| DirVerifyError::Segment {
            first: 0,
            what: format!("state.json: {e}"),
        })?
        .ok_or_else(|| DirVerifyError::NotALog(dir.display().to_string()))?;
    let last = state.segments.len().saturating_sub(1);
    for (i, seg) in state.segments.iter().enumerate() {
        let meta = std::fs::metadata(segment_path(dir, seg.first)).map_err(|e| {
            DirVerifyError::Segment {
                first: seg.first,
                what: format!("missing or unreadable: {e}"),
            }
        })?;
        if meta.dev() != seg.dev || meta.ino() != seg.ino {
            return Err(DirVerifyError::Segment {
                first: seg.first,
                what: "replaced by another file".into(),
            });
        }
        if meta.len() < seg.bytes || (i < last && meta.len() != seg.bytes) {
            return Err(DirVerifyError::Segment {
                first: seg.first,
                what: format!("{} bytes, {} committed", meta.len(), seg.bytes),
            });
        }
    }
    // Open every checkpoint (signature, origin, size not past the log).
    let mut checkpoints: Vec<(Option<usize>, SignedCheckpoint)> = Vec::new();
    for (position, bytes) in history.iter().enumerate() {
        let cp = SignedCheckpoint::open(bytes, origin, &[verifier]).map_err(|e| {
            DirVerifyError::Checkpoint {
                position: Some(position),
                size: 0,
                what: e.to_string(),
            }
        })?;
        checkpoints.push((Some(position), cp));
    }
    if let Some(bytes) = trusted {
        let cp = SignedCheckpoint::open(bytes, origin, &[verifier]).map_err(|e| {
            DirVerifyError::Checkpoint {
                position: None,
                size: 0,
                what: e.to_string(),
            }
        })?;
        checkpoints.push((None, cp));
    }
    let mut latest: Option<u64> = None;
    for (position, cp) in &checkpoints {
        let size = cp.checkpoint().size();
        if size > state.size {
            return Err(DirVerifyError::Checkpoint {
                position: *position,
                size,
                what: format!(
                    "covers more entries than the log holds ({}): truncated or rolled back",
                    state.size
                ),
            });
        }
        if position.is_some() {
            if latest.is_some_and(|l| size < l) {
                return Err(DirVerifyError::Checkpoint {
                    position: *position,
                    size,
                    what: "smaller than an earlier checkpoint".into(),
                });
            }
            latest = Some(size);
        }
    }
    if latest.is_none() && state.size > 0 {
        return Err(DirVerifyError::Checkpoint {
            position: None,
            size: state.size,
            what: "the log has no signed checkpoint".into(),
        });
    }
    // The roots the checkpoints sign: in full mode recomputed from the re-hashed entries (the
    // stored tree is not trusted), otherwise read from the stored tree.
    let tree = LevelReader::new(&dir.join("tree"));
    let (root, computed): (Hash, Vec<(u64, Hash)>) = if full {
        let sizes: Vec<u64> = checkpoints
            .iter()
            .map(|(_, cp)| cp.checkpoint().size())
            .collect();
        let (root, roots) = verify_full_at(dir, &state, &sizes)?;
        (Hash::from_bytes(root), roots)
    } else {
        let root = tree_root(&tree, state.size).map_err(|e| VerifyError::Io {
            what: "reading the tree".into(),
            source: io::Error::other(e.to_string()),
        })?;
        if hex(&root.to_bytes()) != state.root {
            return Err(VerifyError::Root {
                size: state.size,
                expected: state.root.clone(),
                computed: root.to_hex(),
            }
            .into());
        }
        let mut roots = Vec::new();
        for (position, cp) in &checkpoints {
            let size = cp.checkpoint().size();
            let at = tree_root(&tree, size).map_err(|e| DirVerifyError::Checkpoint {
                position: *position,
                size,
                what: e.to_string(),
            })?;
            roots.push((size, at));
        }
        (root, roots)
    };
    for (position, cp) in &checkpoints {
        let size = cp.checkpoint().size();
        let at = computed.iter().find(|(s, _)| *s == size).map(|(_, r)| *r);
        if at.as_ref() != Some(cp.checkpoint().root()) {
            return Err(DirVerifyError::Checkpoint {
                position: *position,
                size,
                what: "the tree at this size has another root: the log was rewritten".into(),
            });
        }
    }
    Ok(VerifyReport {
        size: state.size,
        root,
        full,
        checkpoints: checkpoints.len(),
        latest_checkpoint: latest,
    })
}

/// Reads every committed entry from the segments (read-only, no lock), checking frames.
pub(crate) fn read_entries(
    dir: &Path,
    each: &mut dyn FnMut(u64, &[u8]),
) -> Result<u64, VerifyError> {
    let state = TreeState::load(dir)
        .map_err(|source| VerifyError::Io {
            what: "reading state.json".into(),
            source,
        })?
        .ok_or_else(|| VerifyError::Io {
            what: "reading state.json".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
    for info in &state.segments {
        let bytes =
            std::fs::read(segment_path(dir, info.first)).map_err(|source| VerifyError::Io {
                what: format!("reading segment {}", info.first),
                source,
            })?;
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
        for (k, range) in scan.entries.iter().enumerate() {
            each(info.first + k as u64, &bytes[range.clone()]);
        }
    }
    Ok(state.size)
}
