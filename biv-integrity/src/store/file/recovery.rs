//! Creating a log directory, and opening one after a clean stop, a crash or a failed write.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use super::atomic::{create_new, set_len, sync_all, sync_data, sync_dir, write_at};
use super::checkpoints::History;
use super::frame;
use super::index::{Index, Location};
use super::levels::{LevelReader, LevelWriter};
use super::lock::{DirLock, LockError};
use super::segments::{self, ActiveSegment, SEGMENTS_DIR, segment_path};
use super::state::{SegmentInfo, TreeState, hex};
use super::writer::Committed;
use crate::audit::{MAX_ENTRY_BYTES, decode_entry};
use crate::store::checkpoint_key::{CheckpointAnchor, CheckpointKey};
use crate::tlog::{Hash, SignedCheckpoint, tree_root};
use crate::tlog::{empty_root, leaf_hash};

const TREE_DIR: &str = "tree";

/// Why a log could not be created or opened. Each variant says what is wrong and where; a log
/// that does not match its own committed state is never opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another writer has the log open.
    #[error("audit log {0} is locked by another writer")]
    Locked(String),
    /// `create` found a log already there.
    #[error("{0} already holds an audit log")]
    AlreadyExists(String),
    /// `open` found no log there.
    #[error("{0} holds no audit log (no state.json)")]
    NotALog(String),
    /// A committed segment file is gone.
    #[error("segment starting at entry {first} is missing")]
    SegmentMissing {
        /// Index of the segment's first entry.
        first: u64,
    },
    /// A committed segment file was replaced by another file.
    #[error("segment starting at entry {first} was replaced (different file identity)")]
    SegmentReplaced {
        /// Index of the segment's first entry.
        first: u64,
    },
    /// A committed segment is shorter than committed, or a sealed one longer.
    #[error("segment starting at entry {first} has {found} bytes, {expected} committed")]
    SegmentSize {
        /// Index of the segment's first entry.
        first: u64,
        /// Committed bytes.
        expected: u64,
        /// Bytes on disk.
        found: u64,
    },
    /// A sealed segment's last frame is not the committed entry the index and the tree hold
    /// for it: the file was replaced or rewritten (or, less likely, the derived `index` or
    /// `tree/` files are damaged — removing both makes the next open rebuild them from the
    /// segments, and then a changed segment shows as a root or checkpoint mismatch).
    #[error(
        "segment starting at entry {first} does not end with the committed entry {index}: {what}"
    )]
    SegmentContent {
        /// Index of the segment's first entry.
        first: u64,
        /// Index of the segment's last committed entry.
        index: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A segment file the state does not list, other than the empty file of an unfinished roll
    /// right after the last entry.
    #[error("unexpected segment file starting at entry {first}")]
    UnexpectedSegment {
        /// Index of the file's first entry.
        first: u64,
    },
    /// Committed bytes do not parse as frames.
    #[error(
        "corrupt frame at byte {offset} of the segment starting at entry {first} (entry {index}): {what}"
    )]
    CorruptFrame {
        /// Index of the segment's first entry.
        first: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// Index of the entry that should start there.
        index: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// Adoption after the recorded state stopped at a damaged frame, and whole frames follow
    /// it. An unfinished commit can leave that (its pages reach the disk in any order; when the
    /// damage is zeros to the end of its 4 KiB page — a page never written — it is taken for
    /// that and cut without this error), but so can damage to entries committed after the last
    /// record: nothing is cut unless the log is opened with [`FileLogOptions::with_damaged_tail_cut`](super::FileLogOptions::with_damaged_tail_cut),
    /// which moves them into `quarantine/`.
    #[error(
        "the active segment starting at entry {first} is damaged at byte {offset} (entry {index}) and {whole_frames} whole frames follow: entries committed after the last recorded state may be damaged; nothing was cut"
    )]
    DamagedTail {
        /// Index of the segment's first entry.
        first: u64,
        /// Byte offset of the damage in the segment.
        offset: u64,
        /// Index of the entry that should start there.
        index: u64,
        /// Whole frames found after the damage (in its first 8 MiB).
        whole_frames: u64,
    },
    /// Two entries carry the same event id (the writer refuses duplicates).
    #[error("entry {index} repeats the event id of an earlier entry")]
    DuplicateEvent {
        /// Index of the later entry.
        index: u64,
    },
    /// The tree recomputed from the files does not have the committed root.
    #[error(
        "recomputed root {computed} at size {size} does not match the committed root {expected}"
    )]
    RootMismatch {
        /// The committed size.
        size: u64,
        /// The committed root (hex).
        expected: String,
        /// The recomputed root (hex).
        computed: String,
    },
    /// The newest checkpoint in the log's history does not open with the log's key.
    #[error("the newest signed checkpoint does not verify: {0}")]
    CheckpointInvalid(String),
    /// A log with entries has no signed checkpoint.
    #[error("the log has {size} entries but no signed checkpoint")]
    CheckpointMissing {
        /// The committed size.
        size: u64,
    },
    /// A signed checkpoint (the log's own, or the anchor's when `anchored`) covers more entries
    /// than the log holds: the log was truncated or rolled back.
    #[error("a signed checkpoint{} covers {checkpoint_size} entries but the log holds {size}: truncated or rolled back", if *anchored { " held by the anchor" } else { "" })]
    CheckpointAhead {
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// The log's size.
        size: u64,
        /// Whether the checkpoint came from the anchor.
        anchored: bool,
    },
    /// The tree at a signed checkpoint's size has another root: the log was rewritten.
    #[error("the tree at size {checkpoint_size} does not match the signed checkpoint{}", if *anchored { " held by the anchor" } else { "" })]
    CheckpointMismatch {
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// Whether the checkpoint came from the anchor.
        anchored: bool,
    },
    /// The anchor could not be read.
    #[error("the checkpoint anchor could not be read: {0}")]
    Anchor(String),
    /// A relocated log failed the full verification it must pass before it is used.
    #[error("the relocated log does not verify: {0}")]
    Verify(#[from] super::verify::VerifyError),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> OpenError {
    let what = what.into();
    move |source| OpenError::Io { what, source }
}

/// Everything the writer needs, after creation or recovery.
pub(crate) struct Opened {
    pub(crate) lock: DirLock,
    pub(crate) committed: Committed,
    pub(crate) segment: ActiveSegment,
    pub(crate) sealed: Vec<SegmentInfo>,
    pub(crate) index: Index,
    pub(crate) levels: LevelWriter,
    pub(crate) history: History,
    pub(crate) last_checkpoint: Option<SignedCheckpoint>,
    pub(crate) ids: HashSet<[u8; 16]>,
    /// Entries whose derived records are durable.
    pub(crate) derived: u64,
    /// What recovery adopted and cut.
    pub(crate) recovery: Recovery,
}

/// What opening a log found after its recorded state, and did with it
/// ([`FileLog::recovery`](super::FileLog::recovery)).
///
/// ```
/// # use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions};
/// # use biv_integrity::tlog::Ed25519Signer;
/// # let dir = std::env::temp_dir().join(format!("biv-doc-recovery-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # let key = || Ok::<_, Box<dyn std::error::Error>>(CheckpointKey::ed25519(Ed25519Signer::from_seed("biv.example/audit", &[1; 32])?));
/// drop(FileLog::create(&dir, key()?, FileLogOptions::default())?);
/// let log = FileLog::open(&dir, key()?, FileLogOptions::default())?;
/// let found = log.recovery();
/// assert_eq!((found.adopted_entries, found.cut_bytes), (0, 0)); // closed cleanly
/// if found.whole_frames_cut > 0 {
///     eprintln!("audit log recovery cut {} whole frames: see quarantine/", found.whole_frames_cut);
/// }
/// # drop(log); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Entries committed after the recorded state and adopted (none after a clean close).
    pub adopted_entries: u64,
    /// Bytes cut from the end of the active segment into `quarantine/`: a commit that never
    /// finished (none after a clean close).
    pub cut_bytes: u64,
    /// Whole frames with matching checksums found inside the cut bytes, after the damage that
    /// stopped adoption: after a page of an unfinished commit that never reached the disk, or
    /// when the log was opened with
    /// [`FileLogOptions::with_damaged_tail_cut`](super::FileLogOptions::with_damaged_tail_cut)
    /// (see [`OpenError::DamagedTail`]). Their entries are in `quarantine/`; a host should
    /// report a non-zero count.
    pub whole_frames_cut: u64,
}

fn lock(dir: &Path) -> Result<DirLock, OpenError> {
    DirLock::acquire(dir).map_err(|e| match e {
        LockError::Held => OpenError::Locked(dir.display().to_string()),
        LockError::Io(source) => OpenError::Io {
            what: format!("locking {}", dir.display()),
            source,
        },
    })
}

pub(crate) fn create(dir: &Path, key: &CheckpointKey) -> Result<Opened, OpenError> {
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let lock = lock(dir)?;
    if TreeState::load(dir)
        .map_err(io_err("reading state.json"))?
        .is_some()
    {
        return Err(OpenError::AlreadyExists(dir.display().to_string()));
    }
    if dir.join(SEGMENTS_DIR).exists() {
        if !failed_creation(dir).map_err(io_err("reading the log directory"))? {
            return Err(OpenError::AlreadyExists(dir.display().to_string()));
        }
        // Only an empty first segment can be there; it is created again below.
        match std::fs::remove_file(segment_path(dir, 0)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing an empty segment")(e)),
        }
    }
    std::fs::create_dir_all(dir.join(SEGMENTS_DIR)).map_err(io_err("creating segments/"))?;
    std::fs::create_dir_all(dir.join(TREE_DIR)).map_err(io_err("creating tree/"))?;
    let segment = ActiveSegment::create(dir, 0, 0).map_err(io_err("creating the first segment"))?;
    let index = Index::truncate(dir).map_err(io_err("creating the index"))?;
    let levels = LevelWriter::open(&dir.join(TREE_DIR), 0)
        .map_err(io_err("creating the tree"))?
        .ok_or_else(|| OpenError::Io {
            what: "creating the tree".into(),
            source: io::Error::other("fresh tree not empty"),
        })?;
    let root = empty_root().to_bytes();
    let state = TreeState {
        segments: vec![segment.info.clone()],
        ..TreeState::empty(&root)
    };
    state.store(dir).map_err(io_err("writing state.json"))?;
    let mut history = History::open(dir)
        .map_err(|e| OpenError::CheckpointInvalid(e.to_string()))?
        .history;
    // The empty tree's checkpoint, so a new log has a signed head from the start.
    let first = key
        .sign(0, Hash::from_bytes(root))
        .map_err(|e| OpenError::CheckpointInvalid(e.to_string()))?;
    history
        .append(&first.to_bytes())
        .map_err(io_err("recording the first checkpoint"))?;
    sync_dir(dir).map_err(io_err("syncing the log directory"))?;
    Ok(Opened {
        lock,
        recovery: Recovery::default(),
        derived: 0,
        committed: Committed {
            size: 0,
            root,
            state,
            checkpoint: Some(first.clone()),
            anchor_failures: 0,
            checkpoint_failures: 0,
        },
        segment,
        sealed: Vec::new(),
        index,
        levels,
        history,
        last_checkpoint: Some(first),
        ids: HashSet::new(),
    })
}

/// Whether `dir` (which has no `state.json`) holds only what a creation that failed before
/// its first commit leaves: no signed checkpoint, and no segment file but an empty first one.
/// Nothing was ever acknowledged there, so creating the log may start again. Anything else
/// (a segment with bytes, another segment, a checkpoint) is a log that lost its state: refused.
fn failed_creation(dir: &Path) -> io::Result<bool> {
    match std::fs::metadata(dir.join(super::checkpoints::CHECKPOINTS_FILE)) {
        Ok(meta) if meta.len() > 0 => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    for entry in std::fs::read_dir(dir.join(SEGMENTS_DIR))? {
        let entry = entry?;
        if entry.file_name() != format!("{:020}.seg", 0).as_str() || entry.metadata()?.len() > 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn open(
    dir: &Path,
    key: &CheckpointKey,
    anchor: Option<&dyn CheckpointAnchor>,
    rebind: bool,
    cut_damaged_tail: bool,
) -> Result<Opened, OpenError> {
    if !dir.is_dir() {
        return Err(OpenError::NotALog(dir.display().to_string()));
    }
    let lock = lock(dir)?;
    let mut state = TreeState::load(dir)
        .map_err(io_err("reading state.json"))?
        .ok_or_else(|| OpenError::NotALog(dir.display().to_string()))?;
    if rebind {
        rebind_segments(dir, &mut state)?;
    }
    let Some(mut active_info) = state.segments.last().cloned() else {
        return Err(OpenError::Io {
            what: "reading state.json".into(),
            source: io::Error::other("no segments listed"),
        });
    };
    // Phase 1 changes nothing the log's record holds: it checks the segments, replays the
    // derived files, and checks the tree against its root, its own newest checkpoint and the
    // anchor. Only when all of that passed does phase 2 cut what was never committed.
    let unlisted = check_segments(dir, &state)?;
    let active = check_active(dir, &active_info)?;
    if active.whole_frames_cut > 0 && !active.damage_is_unwritten_page && !cut_damaged_tail {
        return Err(OpenError::DamagedTail {
            first: active_info.first,
            offset: active_info.bytes + active.adopted_bytes,
            index: active_info.first + active_info.count + active.adopted,
            whole_frames: active.whole_frames_cut,
        });
    }
    // Frames after the recorded state are committed too: a commit is durable once its frames
    // are synced, and `state.json` is recorded only now and then. They are adopted here and
    // checked like every other entry below (replayed, decoded, no duplicate event id, the
    // checkpoints and the anchor against the whole size).
    let (stored_size, stored_root) = (state.size, state.root.clone());
    if active.adopted > 0
        && let Some(last) = state.segments.last_mut()
    {
        last.count += active.adopted;
        last.bytes += active.adopted_bytes;
        state.size += active.adopted;
        active_info = last.clone();
    }
    let uncommitted = check_unlisted(dir, &unlisted, state.size, cut_damaged_tail)?;

    let tree_dir = dir.join(TREE_DIR);
    let derived = state.derived.min(state.size);
    let levels = LevelWriter::open(&tree_dir, derived).map_err(io_err("opening the tree"))?;
    let index = Index::open(dir, derived).map_err(io_err("opening the index"))?;
    let (mut levels, mut index, from) = match (levels, index) {
        (Some(l), Some(i)) => (l, i, derived),
        _ => {
            // Shorter than their durable mark: rebuild both from the first entry.
            LevelWriter::reset(&tree_dir).map_err(io_err("clearing the tree"))?;
            let levels = LevelWriter::open(&tree_dir, 0)
                .map_err(io_err("opening the tree"))?
                .ok_or_else(|| OpenError::Io {
                    what: "rebuilding the tree".into(),
                    source: io::Error::other("tree not empty after reset"),
                })?;
            (
                levels,
                Index::truncate(dir).map_err(io_err("clearing the index"))?,
                0,
            )
        }
    };
    replay(dir, &state, from, &mut levels, &mut index)?;
    let root = levels.root();
    let root_at_stored = if stored_size == state.size {
        root
    } else {
        tree_root(&LevelReader::new(&tree_dir), stored_size)
            .map_err(|e| OpenError::Io {
                what: "computing the recorded root".into(),
                source: io::Error::other(e.to_string()),
            })?
            .to_bytes()
    };
    if hex(&root_at_stored) != stored_root {
        return Err(OpenError::RootMismatch {
            size: stored_size,
            expected: stored_root,
            computed: hex(&root_at_stored),
        });
    }
    state.root = hex(&root);
    check_sealed_tails(dir, &state, &index, &LevelReader::new(&tree_dir))?;
    let ids = unique_ids(&index, state.size)?;
    let opened_history =
        History::open(dir).map_err(|e| OpenError::CheckpointInvalid(e.to_string()))?;
    let (history, latest) = (opened_history.history, opened_history.latest);
    let tree = LevelReader::new(&tree_dir);
    let last_checkpoint = match latest {
        Some(bytes) => {
            let cp = key
                .open(&bytes)
                .map_err(|e| OpenError::CheckpointInvalid(e.to_string()))?;
            check_checkpoint(&tree, &cp, state.size, false)?;
            Some(cp)
        }
        None if state.size > 0 => return Err(OpenError::CheckpointMissing { size: state.size }),
        None => None,
    };
    if let Some(anchor) = anchor
        && let Some(bytes) = anchor
            .latest()
            .map_err(|e| OpenError::Anchor(e.to_string()))?
    {
        let cp = key
            .open(&bytes)
            .map_err(|e| OpenError::Anchor(format!("its checkpoint does not verify: {e}")))?;
        check_checkpoint(&tree, &cp, state.size, true)?;
    }
    if active.adopted > 0 {
        make_durable(dir, &active_info, &active.adopted_frames)?;
    }
    cut_uncommitted(
        dir,
        &active_info,
        &uncommitted,
        &active.tail,
        &history,
        opened_history.torn_tail.as_deref(),
    )?;
    // The derived files were replayed and synced up to the whole size.
    state.derived = state.size;
    if state.size != stored_size && !rebind {
        // Record the adopted entries (a relocated log records its state only after its full
        // verification, in `open_relocated`).
        state.store(dir).map_err(io_err("writing state.json"))?;
    }
    let recovery = Recovery {
        adopted_entries: active.adopted,
        cut_bytes: active.tail.len() as u64,
        whole_frames_cut: active.whole_frames_cut,
    };
    let ordinal = u32::try_from(state.segments.len() - 1).unwrap_or(u32::MAX);
    let segment = ActiveSegment::reopen(dir, active_info, ordinal)
        .map_err(io_err("opening the active segment"))?;
    let sealed = state.segments[..state.segments.len() - 1].to_vec();
    Ok(Opened {
        lock,
        derived: state.size,
        committed: Committed {
            size: state.size,
            root,
            state,
            checkpoint: last_checkpoint.clone(),
            anchor_failures: 0,
            checkpoint_failures: 0,
        },
        segment,
        sealed,
        index,
        levels,
        history,
        last_checkpoint,
        ids,
        recovery,
    })
}

/// The event ids of all `size` entries, which must be distinct: the writer refuses duplicates,
/// so a repeated id (in frames adopted after the recorded state, say) was not written by it.
fn unique_ids(index: &Index, size: u64) -> Result<HashSet<[u8; 16]>, OpenError> {
    let all = index.event_ids().map_err(io_err("reading the index"))?;
    let mut ids = HashSet::with_capacity(all.len());
    for (position, id) in all.into_iter().enumerate() {
        if !ids.insert(id) {
            return Err(OpenError::DuplicateEvent {
                index: position as u64,
            });
        }
    }
    if ids.len() as u64 != size {
        return Err(OpenError::Io {
            what: "reading the index".into(),
            source: io::Error::other(format!("{} records for {size} entries", ids.len())),
        });
    }
    Ok(ids)
}

/// Writes the adopted frames again and syncs them before the state records them. They may have
/// been in the page cache only (the writer was killed between its write and its sync), or the
/// sync that failed may have left them clean in the cache but not on the disk; a sync alone
/// would not write those.
fn make_durable(dir: &Path, active: &SegmentInfo, adopted: &[u8]) -> Result<(), OpenError> {
    let path = segment_path(dir, active.first);
    let offset = active.bytes - adopted.len() as u64;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(io_err("opening the active segment"))?;
    write_at(&f, &path, adopted, offset).map_err(io_err("writing the adopted frames"))?;
    sync_data(&f, &path).map_err(io_err("syncing the adopted frames"))
}

/// A signed checkpoint must not be ahead of the log, and the tree at its size must have its root.
fn check_checkpoint(
    tree: &LevelReader,
    cp: &SignedCheckpoint,
    size: u64,
    anchored: bool,
) -> Result<(), OpenError> {
    let checkpoint_size = cp.checkpoint().size();
    if checkpoint_size > size {
        return Err(OpenError::CheckpointAhead {
            checkpoint_size,
            size,
            anchored,
        });
    }
    let root = tree_root(tree, checkpoint_size).map_err(|e| OpenError::Io {
        what: "computing a past root".into(),
        source: io::Error::other(e.to_string()),
    })?;
    if &root != cp.checkpoint().root() {
        return Err(OpenError::CheckpointMismatch {
            checkpoint_size,
            anchored,
        });
    }
    Ok(())
}

/// Records the current file identity of every committed segment (after a restore or a move to
/// other storage); the caller verifies the whole log before trusting it.
fn rebind_segments(dir: &Path, state: &mut TreeState) -> Result<(), OpenError> {
    for seg in &mut state.segments {
        let meta = std::fs::metadata(segment_path(dir, seg.first)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OpenError::SegmentMissing { first: seg.first },
            _ => OpenError::Io {
                what: format!("reading segment {}", seg.first),
                source: e,
            },
        })?;
        seg.dev = meta.dev();
        seg.ino = meta.ino();
    }
    // Not stored here: the caller stores the new identities only after a full verification.
    Ok(())
}

/// Every recorded segment is present, the same file, and of the recorded size (the active one
/// at least); returns the unlisted segment files that start at or after the recorded size
/// (checked by [`check_unlisted`] once the adopted frames are known).
fn check_segments(dir: &Path, state: &TreeState) -> Result<Vec<u64>, OpenError> {
    let last = state.segments.len() - 1;
    for (i, seg) in state.segments.iter().enumerate() {
        let meta = match std::fs::metadata(segment_path(dir, seg.first)) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(OpenError::SegmentMissing { first: seg.first });
            }
            Err(e) => return Err(io_err(format!("reading segment {}", seg.first))(e)),
        };
        if meta.dev() != seg.dev || meta.ino() != seg.ino {
            return Err(OpenError::SegmentReplaced { first: seg.first });
        }
        let short = meta.len() < seg.bytes;
        let long_sealed = i < last && meta.len() != seg.bytes;
        if short || long_sealed {
            return Err(OpenError::SegmentSize {
                first: seg.first,
                expected: seg.bytes,
                found: meta.len(),
            });
        }
    }
    let known: HashSet<u64> = state.segments.iter().map(|s| s.first).collect();
    let mut uncommitted = Vec::new();
    for first in segments::list(dir).map_err(io_err("listing segments"))? {
        if known.contains(&first) {
            continue;
        }
        if first >= state.size {
            uncommitted.push(first);
        } else {
            return Err(OpenError::UnexpectedSegment { first });
        }
    }
    Ok(uncommitted)
}

/// The writer lists a new segment in `state.json` before it writes a frame there, so an unlisted
/// segment can only be the empty file of a roll cut short by a crash, starting right after the
/// last (adopted) entry. Anything else was not left by the writer — except, when the caller
/// allowed a damaged tail to be cut, an empty one further on (the roll happened after frames
/// that the damage now hides).
fn check_unlisted(
    dir: &Path,
    unlisted: &[u64],
    size: u64,
    cut_damaged_tail: bool,
) -> Result<Vec<u64>, OpenError> {
    for &first in unlisted {
        let len = std::fs::metadata(segment_path(dir, first))
            .map_err(io_err(format!("reading segment {first}")))?
            .len();
        let expected = first == size || (cut_damaged_tail && first > size);
        if !expected || len != 0 {
            return Err(OpenError::UnexpectedSegment { first });
        }
    }
    Ok(unlisted.to_vec())
}

/// Beyond identity and size: every sealed segment must end with its last committed entry —
/// the index's record of that entry places it in this segment and ends it exactly at the
/// committed length, its frame there is whole with a matching checksum, and the entry hashes to
/// the leaf hash stored in the tree. One small read per segment (the active segment's frames
/// are all checked by [`check_active`]); `verify --full` checks every entry.
fn check_sealed_tails(
    dir: &Path,
    state: &TreeState,
    index: &Index,
    tree: &LevelReader,
) -> Result<(), OpenError> {
    let sealed = &state.segments[..state.segments.len().saturating_sub(1)];
    let mut buf = Vec::new();
    for (ordinal, seg) in sealed.iter().enumerate() {
        let Some(last) = (seg.first + seg.count)
            .checked_sub(1)
            .filter(|_| seg.count > 0)
        else {
            // A sealed segment is never empty; an empty one must have no bytes either.
            if seg.bytes != 0 {
                return Err(OpenError::SegmentSize {
                    first: seg.first,
                    expected: 0,
                    found: seg.bytes,
                });
            }
            continue;
        };
        let bad = |what| OpenError::SegmentContent {
            first: seg.first,
            index: last,
            what,
        };
        let at = index.location(last).map_err(io_err("reading the index"))?;
        if usize::try_from(at.segment).ok() != Some(ordinal) {
            return Err(bad("the index places that entry in another segment"));
        }
        let end = at.offset + u64::from(at.len);
        let Some(start) = at.offset.checked_sub(frame::HEADER_BYTES as u64) else {
            return Err(bad(
                "the index places that entry inside the first frame header",
            ));
        };
        if end != seg.bytes {
            return Err(bad("that entry does not end at the committed length"));
        }
        let file = std::fs::File::open(segment_path(dir, seg.first))
            .map_err(io_err(format!("reading segment {}", seg.first)))?;
        buf.resize(frame::HEADER_BYTES + at.len as usize, 0);
        file.read_exact_at(&mut buf, start)
            .map_err(io_err(format!("reading segment {}", seg.first)))?;
        let scan = frame::scan(&buf, MAX_ENTRY_BYTES);
        if let Some(stop) = scan.stopped {
            return Err(bad(stop.describe()));
        }
        let stored = tree.node(0, last).map_err(io_err("reading the tree"))?;
        if leaf_hash(&buf[frame::HEADER_BYTES..]).to_bytes() != stored {
            return Err(bad("the entry does not match its stored leaf hash"));
        }
    }
    Ok(())
}

/// The active segment past its recorded state.
struct ActiveTail {
    /// Whole frames with matching checksums right after the recorded bytes: commits made since
    /// `state.json` was last recorded.
    adopted: u64,
    adopted_bytes: u64,
    adopted_frames: Vec<u8>,
    /// What follows them: a torn or unsynced frame of an unfinished commit, never acknowledged
    /// — or damage to committed frames.
    tail: Vec<u8>,
    /// Whole frames found in `tail` after its damaged start.
    whole_frames_cut: u64,
    /// Whether the damage is zeros up to the end of its page: a page of the unfinished commit
    /// that never reached the disk (a file system shows those as zeros), not damage to written
    /// frames.
    damage_is_unwritten_page: bool,
}

/// The page size a torn commit is judged by: the smallest unit a file system writes back.
const PAGE_BYTES: u64 = 4096;

/// Checks the active segment's recorded bytes frame by frame, and finds the frames committed
/// after them and the torn tail after those (cut only after every other check passed).
fn check_active(dir: &Path, info: &SegmentInfo) -> Result<ActiveTail, OpenError> {
    let bytes = std::fs::read(segment_path(dir, info.first))
        .map_err(io_err("reading the active segment"))?;
    let committed = usize::try_from(info.bytes)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    check_frames(&bytes[..committed], info)?;
    let rest = &bytes[committed..];
    let scan = frame::scan(rest, MAX_ENTRY_BYTES);
    let damage = (committed + scan.valid_len) as u64;
    let to_page_end = PAGE_BYTES - damage % PAGE_BYTES;
    let tail = &rest[scan.valid_len..];
    let page_part = &tail[..tail
        .len()
        .min(usize::try_from(to_page_end).unwrap_or(usize::MAX))];
    Ok(ActiveTail {
        damage_is_unwritten_page: !page_part.is_empty() && page_part.iter().all(|&b| b == 0),
        adopted: scan.entries.len() as u64,
        adopted_bytes: scan.valid_len as u64,
        adopted_frames: rest[..scan.valid_len].to_vec(),
        whole_frames_cut: frame::whole_frames_within(
            &rest[scan.valid_len..],
            MAX_ENTRY_BYTES,
            crate::audit::ENTRY_PREFIX,
        ),
        tail: rest[scan.valid_len..].to_vec(),
    })
}

/// Moves what recovery removes into `quarantine/` (kept, synced) before removing it, so a refused
/// or mistaken recovery never destroys evidence.
fn quarantine(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), OpenError> {
    let qdir = dir.join("quarantine");
    std::fs::create_dir_all(&qdir).map_err(io_err("creating quarantine/"))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = qdir.join(format!("{stamp}-{name}"));
    let f = create_new(&path).map_err(io_err("writing quarantine/"))?;
    write_at(&f, &path, bytes, 0).map_err(io_err("writing quarantine/"))?;
    sync_all(&f, &path).map_err(io_err("syncing quarantine/"))?;
    sync_dir(&qdir).map_err(io_err("syncing quarantine/"))
}

/// After every check passed: quarantine and remove uncommitted segment files, the active
/// segment's uncommitted tail and the history's torn tail.
fn cut_uncommitted(
    dir: &Path,
    active: &SegmentInfo,
    uncommitted: &[u64],
    active_tail: &[u8],
    history: &History,
    history_tail: Option<&[u8]>,
) -> Result<(), OpenError> {
    for first in uncommitted {
        let path = segment_path(dir, *first);
        let bytes = std::fs::read(&path).map_err(io_err("reading an uncommitted segment"))?;
        quarantine(dir, &format!("segment-{first:020}.uncommitted"), &bytes)?;
        std::fs::remove_file(&path).map_err(io_err("removing an uncommitted segment"))?;
        sync_dir(&dir.join(SEGMENTS_DIR)).map_err(io_err("syncing segments/"))?;
    }
    if !active_tail.is_empty() {
        quarantine(
            dir,
            &format!("segment-{:020}-from-{}.tail", active.first, active.bytes),
            active_tail,
        )?;
        let path = segment_path(dir, active.first);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err("opening the active segment"))?;
        set_len(&f, &path, active.bytes).map_err(io_err("cutting the torn tail"))?;
        sync_all(&f, &path).map_err(io_err("syncing the active segment"))?;
    }
    if let Some(tail) = history_tail {
        quarantine(dir, "checkpoints.tail", tail)?;
        history
            .cut_tail()
            .map_err(io_err("cutting the checkpoint history's torn tail"))?;
    }
    Ok(())
}

fn check_frames(bytes: &[u8], info: &SegmentInfo) -> Result<frame::Scan, OpenError> {
    let scan = frame::scan(bytes, MAX_ENTRY_BYTES);
    if let Some(stop) = scan.stopped {
        return Err(OpenError::CorruptFrame {
            first: info.first,
            offset: scan.valid_len as u64,
            index: info.first + scan.entries.len() as u64,
            what: stop.describe(),
        });
    }
    if scan.entries.len() as u64 != info.count {
        return Err(OpenError::CorruptFrame {
            first: info.first,
            offset: scan.valid_len as u64,
            index: info.first + scan.entries.len() as u64,
            what: if (scan.entries.len() as u64) < info.count {
                "fewer entries than committed"
            } else {
                "more entries than committed"
            },
        });
    }
    Ok(scan)
}

/// Appends the index records and tree leaves of entries `from..state.size`, read from the
/// committed segments, and makes them durable.
fn replay(
    dir: &Path,
    state: &TreeState,
    from: u64,
    levels: &mut LevelWriter,
    index: &mut Index,
) -> Result<(), OpenError> {
    for (ordinal, info) in state.segments.iter().enumerate() {
        if info.first + info.count <= from {
            continue;
        }
        let bytes = std::fs::read(segment_path(dir, info.first))
            .map_err(io_err(format!("reading segment {}", info.first)))?;
        let committed = usize::try_from(info.bytes)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let scan = check_frames(&bytes[..committed], info)?;
        for (k, range) in scan.entries.iter().enumerate() {
            let index_no = info.first + k as u64;
            if index_no < from {
                continue;
            }
            let entry = &bytes[range.clone()];
            let event = decode_entry(entry).map_err(|e| OpenError::CorruptFrame {
                first: info.first,
                offset: range.start as u64,
                index: index_no,
                what: match e {
                    crate::audit::EntryDecodeError::NotCanonical => "entry is not canonical",
                    _ => "entry is not a valid audit event",
                },
            })?;
            index.push(&Location {
                offset: range.start as u64,
                len: u32::try_from(range.len()).unwrap_or(u32::MAX),
                segment: u32::try_from(ordinal).unwrap_or(u32::MAX),
                event_id: *event.id.as_bytes(),
            });
            levels
                .append_leaf(leaf_hash(entry).to_bytes())
                .map_err(io_err("replaying the tree"))?;
        }
    }
    index.sync().map_err(io_err("writing the index"))?;
    levels.sync().map_err(io_err("writing the tree"))?;
    Ok(())
}
