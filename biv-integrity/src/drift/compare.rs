//! Comparing a manifest with a live directory.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::{
    ContentHasher, MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Manifest, ManifestSource,
    PathPatterns, SecretKey, constant_time_eq,
};

/// How a directory is checked: paths to ignore, and the key of secret entries.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    ignore: PathPatterns,
    key: Option<SecretKey>,
}

impl CheckOptions {
    /// Nothing ignored, no key.
    pub fn new() -> Self {
        CheckOptions::default()
    }

    /// Paths left out on both sides (a directory matched as `dir/` is not entered).
    pub fn with_ignore(mut self, ignore: PathPatterns) -> Self {
        self.ignore = ignore;
        self
    }

    /// The key of the manifest's `hmac_sha256` entries.
    pub fn with_key(mut self, key: SecretKey) -> Self {
        self.key = Some(key);
        self
    }
}

/// A file whose mode differs from the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModeChange {
    /// The path.
    pub path: String,
    /// The manifest's mode.
    pub expected: String,
    /// The live mode.
    pub actual: String,
}

/// The differences between a manifest and a directory; every list sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftReport {
    /// The manifest's commit.
    pub source: ManifestSource,
    /// The directory checked.
    pub dir: String,
    /// Whether there is no drift.
    pub clean: bool,
    /// Live files not in the manifest (non-UTF-8 names shown lossily).
    pub added: Vec<String>,
    /// Manifest files missing from the directory.
    pub removed: Vec<String>,
    /// Files whose content (for symlinks, target) differs.
    pub changed: Vec<String>,
    /// Files whose mode differs.
    pub mode_changed: Vec<ModeChange>,
    /// Entries that are neither regular files, directories nor symlinks (FIFOs, sockets,
    /// devices), or could not be read.
    pub not_regular: Vec<String>,
}

impl DriftReport {
    /// The number of differences.
    pub fn count(&self) -> usize {
        self.added.len()
            + self.removed.len()
            + self.changed.len()
            + self.mode_changed.len()
            + self.not_regular.len()
    }

    /// A one-line summary: `N added, N removed, N changed, N mode changed, N not regular`.
    pub fn summary(&self) -> String {
        format!(
            "{} added, {} removed, {} changed, {} mode changed, {} not regular",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.mode_changed.len(),
            self.not_regular.len()
        )
    }
}

/// Why a directory could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest has secret entries but no key was given.
    #[error("{0:?} is stored as a keyed hash but no secret key was given")]
    NoSecretKey(String),
}

enum Live {
    File { mode: &'static str, path: PathBuf },
    Symlink { target: Vec<u8> },
    Other,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckError + '_ {
    move |source| CheckError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn walk(
    root: &Path,
    rel: &str,
    opts: &CheckOptions,
    out: &mut BTreeMap<String, Live>,
    added_lossy: &mut Vec<String>,
) -> Result<(), CheckError> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let reader = std::fs::read_dir(&dir).map_err(io_err(&dir))?;
    for item in reader {
        let item = item.map_err(io_err(&dir))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            let lossy = name.to_string_lossy();
            added_lossy.push(if rel.is_empty() {
                lossy.into_owned()
            } else {
                format!("{rel}/{lossy}")
            });
            continue;
        };
        let path = if rel.is_empty() {
            name.to_owned()
        } else {
            format!("{rel}/{name}")
        };
        let full = item.path();
        let meta = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            if opts.ignore.matches(&path) || opts.ignore.matches(&format!("{path}/")) {
                continue;
            }
            walk(root, &path, opts, out, added_lossy)?;
            continue;
        }
        if opts.ignore.matches(&path) {
            continue;
        }
        let live = if ft.is_symlink() {
            let target = std::fs::read_link(&full).map_err(io_err(&full))?;
            Live::Symlink {
                target: target.into_os_string().into_encoded_bytes(),
            }
        } else if ft.is_file() {
            Live::File {
                mode: if is_executable(&meta) {
                    MODE_EXECUTABLE
                } else {
                    MODE_FILE
                },
                path: full,
            }
        } else {
            Live::Other
        };
        out.insert(path, live);
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

fn hash_file(path: &Path, mut hasher: ContentHasher) -> Result<Option<String>, CheckError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish_hex())
}

/// Compares the manifest with the directory `dir`, walked without following symlinks.
///
/// ```
/// use biv_integrity::drift::{CheckOptions, Manifest, check_dir};
/// let dir = std::env::temp_dir().join(format!("biv-drift-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a.toml"), b"")?;
/// let m = Manifest::from_json(br#"{"version":1,"source":{"repo":"cfg",
///   "rev":"0123456789abcdef0123456789abcdef01234567"},"entries":[{"path":"a.toml",
///   "mode":"100644","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}"#)?;
/// let report = check_dir(&m, &dir, &CheckOptions::new())?;
/// assert!(report.clean);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`CheckError`] when the directory cannot be read or a secret entry has no key.
pub fn check_dir(
    manifest: &Manifest,
    dir: &Path,
    opts: &CheckOptions,
) -> Result<DriftReport, CheckError> {
    let mut live = BTreeMap::new();
    let mut added = Vec::new();
    walk(dir, "", opts, &mut live, &mut added)?;
    let mut report = DriftReport {
        source: manifest.source.clone(),
        dir: dir.display().to_string(),
        clean: false,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        mode_changed: Vec::new(),
        not_regular: Vec::new(),
    };
    for entry in &manifest.entries {
        if opts.ignore.matches(&entry.path) {
            continue;
        }
        let Some(found) = live.remove(&entry.path) else {
            report.removed.push(entry.path.clone());
            continue;
        };
        let hasher = match (&entry.hmac_sha256, &opts.key) {
            (Some(_), Some(key)) => key.hasher(),
            (Some(_), None) => return Err(CheckError::NoSecretKey(entry.path.clone())),
            (None, _) => ContentHasher::plain(),
        };
        let (mode, digest) = match found {
            Live::File { mode, path } => (mode, hash_file(&path, hasher)?),
            Live::Symlink { target } => {
                let mut hasher = hasher;
                hasher.update(&target);
                (MODE_SYMLINK, hasher.finish_hex())
            }
            Live::Other => {
                report.not_regular.push(entry.path.clone());
                continue;
            }
        };
        if mode != entry.mode {
            report.mode_changed.push(ModeChange {
                path: entry.path.clone(),
                expected: entry.mode.clone(),
                actual: mode.to_owned(),
            });
        }
        let expected = entry
            .hmac_sha256
            .as_deref()
            .or(entry.sha256.as_deref())
            .unwrap_or_default();
        if !digest.is_some_and(|d| constant_time_eq(&d, expected)) {
            report.changed.push(entry.path.clone());
        }
    }
    for (path, found) in live {
        match found {
            Live::Other => report.not_regular.push(path),
            _ => added.push(path),
        }
    }
    added.sort();
    report.added = added;
    report.not_regular.sort();
    report.clean = report.count() == 0;
    Ok(report)
}
