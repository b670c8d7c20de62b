//! The log's checkpoint key and the anchors that hold its checkpoints outside the log.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use biv_core::BackendError;

use crate::tlog::{
    Checkpoint, CheckpointError, CheckpointOpenError, Ed25519Signer, Hash, NoteSignError,
    NoteSigner, NoteVerifier, SignedCheckpoint,
};

/// Why a checkpoint could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointSignError {
    /// The checkpoint text is invalid (e.g. an origin with a newline).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The signer failed.
    #[error(transparent)]
    Sign(#[from] NoteSignError),
}

/// Signs this log's checkpoints and verifies them: the log's origin with its signer and
/// verifier. A capability: the key may live in a file, an HSM or a KMS behind [`NoteSigner`].
///
/// ```
/// use biv_integrity::store::CheckpointKey;
/// use biv_integrity::tlog::Ed25519Signer;
///
/// let origin = "biv.zorg-noord/ehr/audit";
/// let key = CheckpointKey::ed25519(Ed25519Signer::from_seed(origin, &[7; 32])?);
/// assert_eq!(key.origin(), origin);
/// # Ok::<(), biv_integrity::tlog::KeyParseError>(())
/// ```
#[derive(Clone)]
pub struct CheckpointKey {
    origin: String,
    signer: Arc<dyn NoteSigner>,
    verifier: Arc<dyn NoteVerifier>,
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl CheckpointKey {
    /// A key from any signer and the matching verifier; `origin` is the checkpoints' first line.
    pub fn new(
        origin: impl Into<String>,
        signer: Arc<dyn NoteSigner>,
        verifier: Arc<dyn NoteVerifier>,
    ) -> Self {
        CheckpointKey {
            origin: origin.into(),
            signer,
            verifier,
        }
    }

    /// An Ed25519 key whose name is the origin (the c2sp.org convention).
    pub fn ed25519(signer: Ed25519Signer) -> Self {
        let verifier = Arc::new(signer.verifier());
        CheckpointKey {
            origin: signer.name().to_owned(),
            signer: Arc::new(signer),
            verifier,
        }
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier (for `vkey` output and checks).
    pub fn verifier(&self) -> &dyn NoteVerifier {
        &*self.verifier
    }

    pub(crate) fn sign(
        &self,
        size: u64,
        root: Hash,
    ) -> Result<SignedCheckpoint, CheckpointSignError> {
        Ok(Checkpoint::new(&self.origin, size, root)?.sign(&[&*self.signer])?)
    }

    pub(crate) fn open(&self, bytes: &[u8]) -> Result<SignedCheckpoint, CheckpointOpenError> {
        SignedCheckpoint::open(bytes, &self.origin, &[&*self.verifier])
    }
}

/// A second party that keeps the log's checkpoints where the log's operator cannot rewrite them:
/// a directory on other storage, a witness, write-once media.
///
/// The log publishes every checkpoint it signs; on start it refuses to run when its tree is not
/// consistent with the newest checkpoint the anchor holds, which exposes a rollback or
/// truncation by an insider.
pub trait CheckpointAnchor: Send + Sync + fmt::Debug {
    /// Publishes a signed checkpoint (the anchor keeps the newest).
    ///
    /// # Errors
    /// A [`BackendError`] when the anchor cannot be reached; the log counts it and retries with
    /// its next checkpoint.
    fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), BackendError>;

    /// The newest checkpoint the anchor holds, as published.
    ///
    /// # Errors
    /// A [`BackendError`] when the anchor cannot be read.
    fn latest(&self) -> Result<Option<Vec<u8>>, BackendError>;

    /// Publishes a signed checkpoint with access to the log's consistency proofs, for anchors
    /// that must prove the new checkpoint extends the one they hold (a c2sp.org/tlog-witness
    /// witness). The stores call this one; the default ignores `proofs` and calls
    /// [`CheckpointAnchor::publish`].
    ///
    /// # Errors
    /// As [`CheckpointAnchor::publish`].
    fn publish_with_proofs(
        &self,
        checkpoint: &SignedCheckpoint,
        proofs: &dyn ConsistencyProver,
    ) -> Result<(), BackendError> {
        let _ = proofs;
        self.publish(checkpoint)
    }
}

/// The one capability a witness needs from the log it anchors: RFC 6962 consistency proofs
/// between two tree sizes (at most the size being published).
///
/// [`FileLog`](super::FileLog) and [`FileLogReader`](super::FileLogReader) implement it; the
/// file store hands its own tree to [`CheckpointAnchor::publish_with_proofs`].
pub trait ConsistencyProver: Send + Sync + fmt::Debug {
    /// The consistency proof from the tree of `old` entries to the tree of `new` entries
    /// (`0 < old <= new`; empty when `old == new`).
    ///
    /// # Errors
    /// A [`BackendError`] when the tree cannot be read or `new` is past the log.
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, BackendError>;
}

/// A [`CheckpointAnchor`] that keeps the newest checkpoint in a file `checkpoint` in a directory
/// (mount it from other storage, or sync it to write-once storage). It never replaces a
/// checkpoint by one of a smaller tree.
#[derive(Debug, Clone)]
pub struct DirectoryAnchor {
    dir: PathBuf,
}

impl DirectoryAnchor {
    /// An anchor in `dir` (created when the first checkpoint is published).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        DirectoryAnchor {
            dir: dir.as_ref().to_path_buf(),
        }
    }
}

impl CheckpointAnchor for DirectoryAnchor {
    fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), BackendError> {
        std::fs::create_dir_all(&self.dir).map_err(BackendError::new)?;
        if let Some(bytes) = self.latest()? {
            let current = SignedCheckpoint::parse(&bytes).map_err(|e| {
                BackendError::msg(format!("the anchor holds an unreadable checkpoint: {e}"))
            })?;
            let (held, new) = (current.checkpoint(), checkpoint.checkpoint());
            if held.origin() == new.origin()
                && held.size() == new.size()
                && held.root() != new.root()
            {
                // Two different roots for one size: a fork. Keep the evidence, refuse the new one.
                return Err(BackendError::msg(format!(
                    "the anchor holds another root for size {}: the log forked",
                    new.size()
                )));
            }
            if held.size() > new.size() {
                return Ok(());
            }
        }
        super::file::write_atomically(&self.dir.join("checkpoint"), &checkpoint.to_bytes())
            .map_err(BackendError::new)
    }

    fn latest(&self) -> Result<Option<Vec<u8>>, BackendError> {
        match std::fs::read(self.dir.join("checkpoint")) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BackendError::new(e)),
        }
    }
}
