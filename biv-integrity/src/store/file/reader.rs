//! Read-only access to a log directory: what auditors and reports use on a live log.

use std::path::{Path, PathBuf};

use super::checkpoints;
use super::levels::LevelReader;
use super::state::TreeState;
use super::verify::{VerifyError, read_entries};
use super::{ProveError, ReadError};
use crate::tlog::{Hash, consistency_proof, inclusion_proof, leaf_hash, tree_root};

/// A read-only view of a log directory as of its recorded state. It takes no lock and changes
/// nothing, so it works beside the running writer.
///
/// The writer records its state in `state.json` before it signs a checkpoint, at least once a
/// second while entries arrive, shortly after they stop, and when it closes: a reader beside a
/// running writer sees every entry a signed checkpoint covers, and the newest ones within
/// about a second. [`FileLog::checkpoint_now`](super::FileLog::checkpoint_now) records it at
/// once.
///
/// ```
/// # use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions, FileLogReader};
/// # use biv_integrity::tlog::Ed25519Signer;
/// # let dir = std::env::temp_dir().join(format!("biv-doc-reader-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # let key = CheckpointKey::ed25519(Ed25519Signer::from_seed("biv.example/audit", &[1; 32])?);
/// let log = FileLog::create(&dir, key, FileLogOptions::default())?;
/// log.append_blocking(&biv_testkit::sample_event(1))?;
/// log.checkpoint_now()?; // signed, and recorded for readers
/// let reader = FileLogReader::open(&dir)?; // beside the writer
/// assert_eq!(reader.size(), 1);
/// assert!(reader.entry(0)?.starts_with(b"biv-audit/v1\n"));
/// # drop(log); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileLogReader {
    dir: PathBuf,
    state: TreeState,
    tree: LevelReader,
}

impl FileLogReader {
    /// Reads the committed state of the log in `dir`.
    ///
    /// # Errors
    /// [`VerifyError::Io`] when there is no log or its state cannot be read.
    pub fn open(dir: &Path) -> Result<FileLogReader, VerifyError> {
        let state = TreeState::load(dir)
            .map_err(|source| VerifyError::Io {
                what: "reading state.json".into(),
                source,
            })?
            .ok_or_else(|| VerifyError::Io {
                what: format!("{} holds no audit log", dir.display()),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        Ok(FileLogReader {
            dir: dir.to_path_buf(),
            tree: LevelReader::new(&dir.join("tree")),
            state,
        })
    }

    /// Committed entries.
    pub fn size(&self) -> u64 {
        self.state.size
    }

    /// The committed root.
    ///
    /// # Errors
    /// [`ProveError`] when the tree cannot be read.
    pub fn root(&self) -> Result<Hash, ProveError> {
        Ok(tree_root(&self.tree, self.state.size)?)
    }

    /// The entry at `index`, exactly the bytes that were hashed, checked against its stored leaf
    /// hash.
    ///
    /// # Errors
    /// [`ReadError`]: past the log, unreadable, or not matching its leaf hash.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, ReadError> {
        if index >= self.state.size {
            return Err(ReadError::OutOfRange {
                index,
                size: self.state.size,
            });
        }
        let io = |source| ReadError::Io { index, source };
        // The index and the tree are derived files: normally current, but after a crash they may
        // lag until the writer reopens the log. Then read the entry from its segment's frames.
        let located = std::fs::File::open(self.dir.join(super::index::INDEX_FILE))
            .and_then(|f| super::index::read_location(&f, index))
            .ok()
            .and_then(|loc| {
                let info = self.state.segments.get(loc.segment as usize)?;
                let file =
                    std::fs::File::open(super::segments::segment_path(&self.dir, info.first))
                        .ok()?;
                super::segments::read_at(&file, loc.offset, loc.len).ok()
            });
        let entry = match located {
            Some(e) => e,
            None => {
                let mut found = None;
                read_entries(&self.dir, &mut |i, bytes| {
                    if i == index {
                        found = Some(bytes.to_vec());
                    }
                })
                .map_err(|e| io(std::io::Error::other(e.to_string())))?;
                found.ok_or_else(|| io(std::io::Error::from(std::io::ErrorKind::NotFound)))?
            }
        };
        let stored = self.tree.node(0, index).map_err(io)?;
        if leaf_hash(&entry).to_bytes() != stored {
            return Err(ReadError::Corrupt { index });
        }
        Ok(entry)
    }

    fn check(&self, size: u64) -> Result<(), ProveError> {
        if size > self.state.size {
            return Err(ProveError::BeyondCommitted {
                size,
                committed: self.state.size,
            });
        }
        Ok(())
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    ///
    /// # Errors
    /// [`ProveError`].
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProveError> {
        self.check(size)?;
        Ok(inclusion_proof(&self.tree, index, size)?)
    }

    /// The consistency proof from `old` to `new` entries.
    ///
    /// # Errors
    /// [`ProveError`].
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProveError> {
        self.check(new)?;
        Ok(consistency_proof(&self.tree, old, new)?)
    }

    /// Every signed checkpoint in the history, oldest first.
    ///
    /// # Errors
    /// An I/O error reading the history.
    pub fn checkpoints(&self) -> std::io::Result<Vec<Vec<u8>>> {
        Ok(checkpoints::all(&self.dir)?)
    }
}
