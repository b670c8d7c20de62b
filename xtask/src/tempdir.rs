//! The run's temp dir: created fresh, removed at the end unless `--keep` was given.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Context, Result};

/// A fresh directory `biv-test-<pid>-<nanos>` under the system temp dir.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Creates the directory; `keep` leaves it in place when the guard is dropped.
    pub(crate) fn create(keep: bool) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("biv-test-{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        let dir = Self { path, keep };
        // The `postgres` user must be able to reach its subdirectory whatever the umask; the
        // dir holds test data only.
        std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("setting permissions on {}", dir.path.display()))?;
        Ok(dir)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory now (or says where it was kept).
    pub(crate) fn finish(mut self) -> Result<()> {
        self.cleanup()
    }

    fn cleanup(&mut self) -> Result<()> {
        if self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let path = std::mem::take(&mut self.path);
        if self.keep {
            println!("xtask: kept the temp dir {}", path.display());
            return Ok(());
        }
        std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(err) = self.cleanup() {
            eprintln!("xtask: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_unless_kept() {
        let dir = TempDir::create(false).unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        drop(dir);
        assert!(!path.exists());

        let kept = TempDir::create(true).unwrap();
        let path = kept.path().to_path_buf();
        kept.finish().unwrap();
        assert!(path.is_dir());
        std::fs::remove_dir_all(path).unwrap();
    }
}
