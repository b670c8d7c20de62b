//! The log's key files: `log.key` (private, mode 0600) and `log.vkey` (public).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions};
use biv_integrity::tlog::{Ed25519Signer, Ed25519Verifier};
use zeroize::Zeroizing;

pub(super) fn key_path(dir: &Path, key: Option<&Path>) -> PathBuf {
    key.map_or_else(|| dir.join("log.key"), Path::to_path_buf)
}

pub(super) fn vkey_path(dir: &Path) -> PathBuf {
    dir.join("log.vkey")
}

/// Generates a key for `origin` from the operating system's random source and writes it,
/// refusing to overwrite an existing key.
pub(super) fn create(
    dir: &Path,
    origin: &str,
    key: Option<&Path>,
) -> Result<Ed25519Signer, String> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut_slice()).map_err(|e| format!("no randomness for the key: {e}"))?;
    let signer =
        Ed25519Signer::from_seed(origin, &seed).map_err(|e| format!("origin {origin:?}: {e}"))?;
    let path = key_path(dir, key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = signer.to_skey();
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|()| {
            std::fs::write(vkey_path(dir), format!("{}\n", signer.verifier().to_vkey()))
                .map_err(|e| format!("{}: {e}", vkey_path(dir).display()))
        });
    if let Err(e) = written {
        // A half-written key must not block the next `init`.
        remove_created(dir, key);
        return Err(e);
    }
    Ok(signer)
}

/// Removes the key files `create` made, after an `init` that failed: nothing was signed with
/// the key that anyone keeps, and a retry must be able to start again.
pub(super) fn remove_created(dir: &Path, key: Option<&Path>) {
    let _ = std::fs::remove_file(key_path(dir, key));
    let _ = std::fs::remove_file(vkey_path(dir));
}

/// Loads the private key.
pub(in crate::commands) fn load(dir: &Path, key: Option<&Path>) -> Result<CheckpointKey, String> {
    let path = key_path(dir, key);
    let text = Zeroizing::new(
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let signer = Ed25519Signer::from_skey(text.trim())
        .map_err(|e| format!("{}: not a signing key: {e}", path.display()))?;
    Ok(CheckpointKey::ed25519(signer))
}

/// Loads a verifier key given as text, or from `<dir>/log.vkey`.
pub(super) fn verifier(dir: &Path, vkey: Option<&str>) -> Result<Ed25519Verifier, String> {
    let text = match vkey {
        Some(t) => t.to_owned(),
        None => std::fs::read_to_string(vkey_path(dir))
            .map_err(|e| format!("{}: {e}", vkey_path(dir).display()))?,
    };
    Ed25519Verifier::from_vkey(text.trim()).map_err(|e| format!("not a verifier key: {e}"))
}

/// Opens the audit log in `dir` for appending as `biv audit append` does (the key at
/// `<dir>/log.key`): how `biv release` and `biv drift` record their decisions.
pub(in crate::commands) fn open_log(dir: &Path) -> Result<FileLog, String> {
    let key = load(dir, None)?;
    FileLog::open(dir, key, FileLogOptions::default())
        .map_err(|e| format!("audit log {}: {e}", dir.display()))
}
