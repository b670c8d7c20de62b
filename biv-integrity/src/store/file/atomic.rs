//! Durable file operations: atomic replacement, directory fsync, and the write, sync, truncate,
//! create and rename calls of the file store.
//!
//! Every call that changes a file of a log directory goes through the small wrappers here, so
//! the crate's unit tests can make any one of them fail ([`faults`], compiled only under
//! `#[cfg(test)]`; in other builds the check is an inlined `None` and the wrappers are the plain
//! `std` calls). The checkpoint history (`checkpoints.rs`) still calls `std` directly.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The kinds of file operation a fault plan can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    /// Creating a file.
    Create,
    /// Writing bytes (a failing write may have written a prefix, as a real ENOSPC does).
    Write,
    /// `fsync`/`fdatasync` of a file or a directory.
    Sync,
    /// `ftruncate`.
    Truncate,
    /// `rename`.
    Rename,
}

/// Writes all of `buf` at `offset` of `file` (which lives at `path`).
pub(crate) fn write_at(file: &File, path: &Path, buf: &[u8], offset: u64) -> io::Result<()> {
    if let Some(fault) = faults::hit(Op::Write, path) {
        // A full disk or a size limit lets part of a write through before failing.
        let _ = file.write_all_at(&buf[..buf.len() / 2], offset);
        return Err(fault);
    }
    file.write_all_at(buf, offset)
}

/// `fdatasync` of `file` (at `path`).
pub(crate) fn sync_data(file: &File, path: &Path) -> io::Result<()> {
    faults::hit(Op::Sync, path).map_or(Ok(()), Err)?;
    file.sync_data()
}

/// `fsync` of `file` (at `path`).
pub(crate) fn sync_all(file: &File, path: &Path) -> io::Result<()> {
    faults::hit(Op::Sync, path).map_or(Ok(()), Err)?;
    file.sync_all()
}

/// Truncates (or extends) `file` (at `path`) to `len` bytes.
pub(crate) fn set_len(file: &File, path: &Path, len: u64) -> io::Result<()> {
    faults::hit(Op::Truncate, path).map_or(Ok(()), Err)?;
    file.set_len(len)
}

/// Creates `path`, which must not exist, for reading and writing.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    faults::hit(Op::Create, path).map_or(Ok(()), Err)?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
}

/// Replaces `path` with `bytes` so that after a crash it holds either the old or the new content:
/// write a temporary file beside it, fsync it, rename it over `path`, fsync the directory.
///
/// On an error `path` holds the old content, except when only the final directory sync failed:
/// the new content is then in place but perhaps not durable. Callers treat every error alike
/// (the commit failed, nothing is acknowledged); a leftover temporary file is overwritten by
/// the next replacement.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("path has no parent directory"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        faults::hit(Op::Create, &tmp).map_or(Ok(()), Err)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        if let Some(fault) = faults::hit(Op::Write, &tmp) {
            let _ = f.write_all(&bytes[..bytes.len() / 2]);
            return Err(fault);
        }
        f.write_all(bytes)?;
        sync_all(&f, &tmp)?;
    }
    faults::hit(Op::Rename, path).map_or(Ok(()), Err)?;
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    faults::hit(Op::Sync, dir).map_or(Ok(()), Err)?;
    File::open(dir)?.sync_all()
}

#[cfg(not(test))]
mod faults {
    use super::Op;
    use std::io;
    use std::path::Path;

    /// Outside the crate's unit tests no operation ever fails on purpose.
    #[inline]
    pub(super) fn hit(_op: Op, _path: &Path) -> Option<io::Error> {
        None
    }
}

/// Fault injection for the crate's unit tests (`#[cfg(test)]` only).
///
/// A test arms a [`Plan`](faults::Plan) for one log directory; every wrapped operation on a
/// path under that directory is counted (in the order the store performs them), and the
/// plan's `at`-th one fails — with `EIO` for a sync, `ENOSPC` otherwise (a failing write first
/// writes half its bytes) — or, with `persistent`, that one and every later one. With `stall`
/// the operation is delayed instead of failed (a hung device). Plans are keyed by directory,
/// so tests running in parallel on other directories are not affected.
#[cfg(test)]
pub(crate) mod faults {
    use super::Op;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use std::time::Duration;

    /// Which operation fails, and how.
    #[derive(Debug, Clone)]
    pub(crate) struct Plan {
        /// The number (from 0) of the first counted operation that fails.
        pub(crate) at: u64,
        /// Whether every later counted operation fails too (a full disk, a dead device) or only
        /// that one (a transient error).
        pub(crate) persistent: bool,
        /// The kinds counted; empty counts every kind.
        pub(crate) kinds: Vec<Op>,
        /// Delay the operation this long instead of failing it.
        pub(crate) stall: Option<Duration>,
    }

    impl Plan {
        /// Fails only the `at`-th operation of any kind.
        pub(crate) fn once(at: u64) -> Plan {
            Plan {
                at,
                persistent: false,
                kinds: Vec::new(),
                stall: None,
            }
        }

        /// Fails the `at`-th operation of any kind and every one after it.
        pub(crate) fn from_on(at: u64) -> Plan {
            Plan {
                persistent: true,
                ..Plan::once(at)
            }
        }

        /// Fails nothing; only counts (to size a sweep).
        pub(crate) fn count_only() -> Plan {
            Plan::once(u64::MAX)
        }
    }

    struct Armed {
        dir: PathBuf,
        plan: Plan,
        seen: u64,
        fired: Vec<(Op, PathBuf)>,
    }

    static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());

    fn armed() -> std::sync::MutexGuard<'static, Vec<Armed>> {
        ARMED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Disarms its plan when dropped.
    #[derive(Debug)]
    pub(crate) struct Guard {
        dir: PathBuf,
    }

    impl Guard {
        /// Operations counted so far.
        pub(crate) fn seen(&self) -> u64 {
            armed()
                .iter()
                .find(|a| a.dir == self.dir)
                .map_or(0, |a| a.seen)
        }

        /// The operations that failed (or stalled) so far.
        pub(crate) fn fired(&self) -> Vec<(Op, PathBuf)> {
            armed()
                .iter()
                .find(|a| a.dir == self.dir)
                .map_or_else(Vec::new, |a| a.fired.clone())
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            armed().retain(|a| a.dir != self.dir);
        }
    }

    /// Arms `plan` for every path under `dir` until the guard is dropped.
    pub(crate) fn arm(dir: &Path, plan: Plan) -> Guard {
        let mut all = armed();
        all.retain(|a| a.dir != dir);
        all.push(Armed {
            dir: dir.to_path_buf(),
            plan,
            seen: 0,
            fired: Vec::new(),
        });
        Guard {
            dir: dir.to_path_buf(),
        }
    }

    pub(super) fn hit(op: Op, path: &Path) -> Option<io::Error> {
        let mut all = armed();
        let a = all.iter_mut().find(|a| path.starts_with(&a.dir))?;
        if !a.plan.kinds.is_empty() && !a.plan.kinds.contains(&op) {
            return None;
        }
        let n = a.seen;
        a.seen += 1;
        if n != a.plan.at && !(a.plan.persistent && n > a.plan.at) {
            return None;
        }
        a.fired.push((op, path.to_path_buf()));
        if let Some(stall) = a.plan.stall {
            drop(all);
            std::thread::sleep(stall);
            return None;
        }
        Some(match op {
            Op::Sync => io::Error::from_raw_os_error(5),
            _ => io::Error::from_raw_os_error(28),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("biv-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("state");
        write_atomically(&p, b"one").unwrap();
        write_atomically(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!dir.join("state.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_replacement_leaves_the_old_content() {
        let dir = std::env::temp_dir().join(format!("biv-atomic-fault-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("state");
        write_atomically(&p, b"old").unwrap();
        // Create, write, sync, rename, directory sync: failing any of the first four keeps the
        // old content; failing the last one leaves the new content in place.
        for at in 0..5 {
            let guard = faults::arm(&dir, faults::Plan::once(at));
            assert!(write_atomically(&p, b"new-content").is_err(), "op {at}");
            assert_eq!(guard.fired().len(), 1);
            drop(guard);
            let want: &[u8] = if at < 4 { b"old" } else { b"new-content" };
            assert_eq!(fs::read(&p).unwrap(), want, "op {at}");
            write_atomically(&p, b"old").unwrap();
        }
        let guard = faults::arm(&dir, faults::Plan::count_only());
        write_atomically(&p, b"old").unwrap();
        assert_eq!(guard.seen(), 5);
        drop(guard);
        fs::remove_dir_all(&dir).unwrap();
    }
}
