//! The gate's state in a JSON file, replaced atomically.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::gate::GateState;

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateFileError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Another process holds the state's lock.
    #[error("{path}: locked by another writer")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The file is not a gate state.
    #[error("{path}: not a release gate state: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateFileError + '_ {
    move |source| StateFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the state; `Ok(None)` when the file does not exist.
///
/// # Errors
/// [`StateFileError`] when it cannot be read, is not JSON of the state's shape, has another
/// version than 1 or an invalid policy.
pub fn load_state(path: &Path) -> Result<Option<GateState>, StateFileError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    parse_state(&bytes)
        .map(Some)
        .map_err(|message| StateFileError::Format {
            path: path.to_path_buf(),
            message,
        })
}

/// Parses and checks a stored state: JSON of the state's shape, version 1, a valid policy.
/// Shared by the file and the PostgreSQL store, so both accept exactly the same states.
pub(super) fn parse_state(bytes: &[u8]) -> Result<GateState, String> {
    let state: GateState = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if state.version != 1 {
        return Err(format!("version {} is not 1", state.version));
    }
    state.policy.validate().map_err(|e| e.to_string())?;
    Ok(state)
}

/// Writes the state atomically: a temporary file in the same directory, fsync, rename over
/// the file, fsync of the directory. A reader sees the old or the new state, never a mix.
///
/// ```
/// use biv_integrity::release::{GateState, load_state, save_state};
/// let dir = std::env::temp_dir().join(format!("biv-release-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("state.json");
/// save_state(&path, &GateState::new(Default::default()))?;
/// assert_eq!(load_state(&path)?, Some(GateState::new(Default::default())));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`StateFileError::Io`] when any step fails; the old file is then unchanged.
pub fn save_state(path: &Path, state: &GateState) -> Result<(), StateFileError> {
    let mut json = serde_json::to_vec_pretty(state).map_err(|e| StateFileError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    json.push(b'\n');
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_owned());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let written = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io_err(path))
}

/// An exclusive advisory lock (`flock`) on `<state file>.lock`, held while it lives, so two
/// writers cannot both read the state and each save their own arrival over the other's.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Takes the state's lock without waiting.
///
/// ```
/// use biv_integrity::release::lock_state;
/// let path = std::env::temp_dir().join(format!("biv-release-lock-doc-{}.json", std::process::id()));
/// let lock = lock_state(&path)?;
/// assert!(lock_state(&path).is_err());
/// drop(lock);
/// assert!(lock_state(&path).is_ok());
/// # std::fs::remove_file(format!("{}.lock", path.display()))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`StateFileError::Locked`] when another writer holds it, [`StateFileError::Io`] when the lock
/// file cannot be opened or locked.
pub fn lock_state(path: &Path) -> Result<StateLock, StateFileError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock = PathBuf::from(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(io_err(&lock))?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(StateFileError::Locked { path: lock }),
        Err(TryLockError::Error(e)) => Err(io_err(&lock)(e)),
    }
}
