//! The tree's perfect-subtree hashes on disk, one file per level.
//!
//! `tree/level-LL` holds, as consecutive 32-byte records, the hash of every complete subtree of
//! 2^L leaves at aligned positions: record `i` is MTH(leaves[i·2^L, (i+1)·2^L)). Level 0 holds the
//! leaf hashes. Any node an inclusion or consistency proof needs is either one record or, at the
//! right edge, a fold of at most log2(n) records — O(log n) reads per proof.
//! These files are derived data: they can always be rebuilt from the segments.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use std::sync::Mutex;

use super::atomic::{set_len, sync_all, sync_data, write_at};

use crate::tlog::{CompactRange, Hash, NodeId, NodeSource, NodeSourceError};

/// Number of levels kept: enough for 2^63 leaves.
const MAX_LEVELS: usize = 64;

fn level_path(dir: &Path, level: usize) -> PathBuf {
    dir.join(format!("level-{level:02}"))
}

/// Read access to the level files, for proofs and roots of any committed size.
#[derive(Debug)]
pub(crate) struct LevelReader {
    dir: PathBuf,
    files: Mutex<Vec<File>>,
}

impl LevelReader {
    pub(crate) fn new(dir: &Path) -> LevelReader {
        LevelReader {
            dir: dir.to_path_buf(),
            files: Mutex::new(Vec::new()),
        }
    }

    /// The hash of the perfect subtree at `level`, position `index`.
    pub(crate) fn node(&self, level: usize, index: u64) -> io::Result<[u8; 32]> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while files.len() <= level {
            let f = File::open(level_path(&self.dir, files.len()))?;
            files.push(f);
        }
        let mut buf = [0u8; 32];
        files[level].read_exact_at(&mut buf, index * 32)?;
        Ok(buf)
    }
}

impl NodeSource for LevelReader {
    fn node_hash(&self, node: NodeId) -> Result<Hash, NodeSourceError> {
        match self.node(usize::from(node.level), node.index) {
            Ok(h) => Ok(Hash::from_bytes(h)),
            Err(e)
                if e.kind() == io::ErrorKind::UnexpectedEof
                    || e.kind() == io::ErrorKind::NotFound =>
            {
                Err(NodeSourceError::Missing { node })
            }
            Err(e) => Err(NodeSourceError::Backend {
                node,
                source: Box::new(e),
            }),
        }
    }
}

/// Append access, owned by the single writer.
#[derive(Debug)]
pub(crate) struct LevelWriter {
    dir: PathBuf,
    files: Vec<File>,
    pending: Vec<Vec<u8>>,
    /// Bytes durable in each level file.
    written: Vec<u64>,
    /// The compact range of the tree written so far.
    border: CompactRange,
}

impl LevelWriter {
    /// Opens the level files for a tree of `size` leaves, cutting off records past that size
    /// (left by a write that was never committed).
    ///
    /// Returns `Ok(None)` when a level file is shorter than `size` requires: the caller rebuilds.
    pub(crate) fn open(dir: &Path, size: u64) -> io::Result<Option<LevelWriter>> {
        std::fs::create_dir_all(dir)?;
        let mut files = Vec::new();
        let mut border_hashes = Vec::new();
        let mut written = Vec::new();
        let mut level = 0;
        while level == 0 || (level < MAX_LEVELS && (size >> level) > 0) {
            let path = level_path(dir, level);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            let count = size >> level;
            let want = count * 32;
            let have = f.metadata()?.len();
            if have < want {
                return Ok(None);
            }
            if have > want {
                set_len(&f, &path, want)?;
                sync_all(&f, &path)?;
            }
            if count % 2 == 1 {
                let mut buf = [0u8; 32];
                f.read_exact_at(&mut buf, (count - 1) * 32)?;
                border_hashes.push(Hash::from_bytes(buf));
            }
            files.push(f);
            written.push(want);
            level += 1;
        }
        // Collected from level 0 upwards; a compact range lists the largest subtree first.
        border_hashes.reverse();
        let border = CompactRange::from_parts(size, border_hashes).map_err(io::Error::other)?;
        Ok(Some(LevelWriter {
            dir: dir.to_path_buf(),
            pending: vec![Vec::new(); files.len()],
            written,
            files,
            border,
        }))
    }

    /// Removes every level file, to rebuild from the leaves.
    pub(crate) fn reset(dir: &Path) -> io::Result<()> {
        for level in 0..MAX_LEVELS {
            match std::fs::remove_file(level_path(dir, level)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Adds one leaf hash, completing whatever subtrees it completes.
    pub(crate) fn append_leaf(&mut self, leaf: [u8; 32]) -> io::Result<()> {
        let mut completed = Vec::new();
        self.border
            .push_with(Hash::from_bytes(leaf), |node, hash| {
                completed.push((usize::from(node.level), hash.to_bytes()));
            })
            .map_err(io::Error::other)?;
        for (level, hash) in completed {
            while self.files.len() <= level {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(level_path(&self.dir, self.files.len()))?;
                self.files.push(f);
                self.pending.push(Vec::new());
                self.written.push(0);
            }
            self.pending[level].extend_from_slice(&hash);
        }
        Ok(())
    }

    /// Writes the pending records (to the page cache; see [`LevelWriter::sync`]).
    pub(crate) fn write(&mut self) -> io::Result<()> {
        for (level, ((file, pending), written)) in self
            .files
            .iter()
            .zip(&mut self.pending)
            .zip(&mut self.written)
            .enumerate()
        {
            if pending.is_empty() {
                continue;
            }
            write_at(file, &level_path(&self.dir, level), pending, *written)?;
            *written += pending.len() as u64;
            pending.clear();
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.write()?;
        self.files
            .iter()
            .enumerate()
            .try_for_each(|(level, file)| sync_data(file, &level_path(&self.dir, level)))
    }

    /// The root of the tree as appended so far (pending records included).
    pub(crate) fn root(&self) -> [u8; 32] {
        self.border.root().to_bytes()
    }

    /// Leaves appended so far.
    pub(crate) fn size(&self) -> u64 {
        self.border.size()
    }
}
