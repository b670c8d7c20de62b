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

use crate::store::border::Border;
use crate::store::hashing::node_hash;

/// Number of levels kept: enough for 2^63 leaves.
const MAX_LEVELS: usize = 64;

fn level_path(dir: &Path, level: usize) -> PathBuf {
    dir.join(format!("level-{level:02}"))
}

/// Read access to the level files for a given committed tree size.
#[derive(Debug)]
pub(crate) struct LevelReader {
    dir: PathBuf,
    files: Vec<File>,
}

impl LevelReader {
    pub(crate) fn open(dir: &Path) -> io::Result<LevelReader> {
        let mut files = Vec::new();
        for level in 0..MAX_LEVELS {
            match File::open(level_path(dir, level)) {
                Ok(f) => files.push(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(e),
            }
        }
        Ok(LevelReader {
            dir: dir.to_path_buf(),
            files,
        })
    }

    /// The hash of the perfect subtree at `level`, position `index`.
    pub(crate) fn node(&mut self, level: usize, index: u64) -> io::Result<[u8; 32]> {
        while self.files.len() <= level {
            // A level created after this reader was opened.
            let f = File::open(level_path(&self.dir, self.files.len()))?;
            self.files.push(f);
        }
        let mut buf = [0u8; 32];
        self.files[level].read_exact_at(&mut buf, index * 32)?;
        Ok(buf)
    }

    /// MTH of leaves `[start, end)`, reading only complete-subtree records (RFC 6962 split).
    pub(crate) fn range_hash(&mut self, start: u64, end: u64) -> io::Result<[u8; 32]> {
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.node(n.trailing_zeros() as usize, start / n);
        }
        // k = largest power of two smaller than n; the left part [start, start+k) is aligned
        // whenever start is aligned to k, which holds for every range a proof asks for.
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        let left = self.range_hash(start, start + k)?;
        let right = self.range_hash(start + k, end)?;
        Ok(node_hash(&left, &right))
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
    border: Border,
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
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(level_path(dir, level))?;
            let count = size >> level;
            let want = count * 32;
            let have = f.metadata()?.len();
            if have < want {
                return Ok(None);
            }
            if have > want {
                f.set_len(want)?;
                f.sync_all()?;
            }
            if count % 2 == 1 {
                let mut buf = [0u8; 32];
                f.read_exact_at(&mut buf, (count - 1) * 32)?;
                border_hashes.push(buf);
            }
            files.push(f);
            written.push(want);
            level += 1;
        }
        let border = Border::from_hashes(size, &border_hashes)
            .ok_or_else(|| io::Error::other("tree levels do not match the size"))?;
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
            .append(leaf, |level, _, hash| completed.push((level, hash)));
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
        for ((file, pending), written) in self
            .files
            .iter()
            .zip(&mut self.pending)
            .zip(&mut self.written)
        {
            if pending.is_empty() {
                continue;
            }
            file.write_all_at(pending, *written)?;
            *written += pending.len() as u64;
            pending.clear();
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.write()?;
        self.files.iter().try_for_each(File::sync_data)
    }

    /// The root of the tree as appended so far (pending records included).
    pub(crate) fn root(&self) -> [u8; 32] {
        self.border.root()
    }

    /// Leaves appended so far.
    pub(crate) fn size(&self) -> u64 {
        self.border.size()
    }
}
