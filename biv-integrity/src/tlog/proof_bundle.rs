//! Offline inclusion proofs (c2sp.org/tlog-proof, `.tlog-proof` files):
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]
//! index <decimal leaf index>
//! <base64 proof hash>            (zero or more, leaf's sibling first)
//!
//! <signed checkpoint, verbatim, with any cosignatures>
//! ```

use std::fmt;

use super::checkpoint::{CheckpointOpenError, SignedCheckpoint};
use super::encoding::{b64_decode, b64_encode, parse_canonical_u64};
use super::hash::{Hash, leaf_hash};
use super::keys::NoteVerifier;
use super::verify::{InclusionError, verify_inclusion};

/// First line of every proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most proof hashes a bundle may hold: an inclusion proof in a tree of fewer than 2^64 leaves
/// has at most 64.
pub const MAX_PROOF_HASHES: usize = 64;

/// A transparency-log proof: entry index, inclusion path and the signed checkpoint it leads to,
/// plus optional unauthenticated extra data.
///
/// ```
/// use biv_integrity::tlog::{Checkpoint, Ed25519Signer, MemoryTree, ProofBundle};
///
/// let origin = "biv.example/tenant-1/audit";
/// let log_key = Ed25519Signer::from_seed(origin, &[1; 32])?;
/// let mut tree = MemoryTree::new();
/// for entry in ["a", "b", "c", "d", "e"] {
///     tree.push_entry(entry.as_bytes())?;
/// }
/// let signed = Checkpoint::new(origin, tree.size(), tree.root())?.sign(&[&log_key])?;
/// let bundle = ProofBundle::new(2, tree.inclusion_proof(2, tree.size())?, signed);
///
/// let text = bundle.to_bytes();
/// let parsed = ProofBundle::parse(&text)?;
/// let verified = parsed.verify_entry(origin, &[&log_key.verifier()], b"c")?;
/// assert_eq!(verified.index(), 2);
/// assert!(parsed.verify_entry(origin, &[&log_key.verifier()], b"x").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProofBundle {
    extra: Option<Vec<u8>>,
    index: u64,
    path: Vec<Hash>,
    checkpoint: SignedCheckpoint,
}

/// Why a proof text is malformed; lines count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofBundleParseError {
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("line 1 must be {TLOG_PROOF_HEADER}")]
    MissingHeader,
    /// The extra data is not canonical standard base64.
    #[error("line {line}: extra data is not base64")]
    InvalidExtra {
        /// Line number.
        line: usize,
    },
    /// No `index` line.
    #[error("line {line}: expected \"index <n>\"")]
    MissingIndex {
        /// Line number.
        line: usize,
    },
    /// The index is not a decimal `u64` without leading zeros.
    #[error("line {line}: the index must be decimal without leading zeros")]
    InvalidIndex {
        /// Line number.
        line: usize,
    },
    /// A proof line is not base64 of a 32-byte hash.
    #[error("line {line}: a proof hash must be base64 of 32 bytes")]
    InvalidHash {
        /// Line number.
        line: usize,
    },
    /// More than [`MAX_PROOF_HASHES`] proof lines.
    #[error("more than {MAX_PROOF_HASHES} proof hashes")]
    TooManyHashes,
    /// A line is not valid UTF-8.
    #[error("line {line} is not valid UTF-8")]
    InvalidUtf8 {
        /// Line number.
        line: usize,
    },
    /// No blank line and checkpoint after the proof hashes.
    #[error("no blank line and checkpoint after the proof")]
    MissingCheckpoint,
    /// The checkpoint part is not a well-formed signed checkpoint.
    #[error("the checkpoint starting at line {line} is malformed")]
    Checkpoint {
        /// Line where the checkpoint starts.
        line: usize,
        /// What is wrong with it.
        #[source]
        source: CheckpointOpenError,
    },
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofBundleError {
    /// The checkpoint is not signed by a trusted log key, or is for another log.
    #[error("checkpoint not trusted")]
    Checkpoint(#[source] CheckpointOpenError),
    /// The entry is not at the index in the checkpointed tree.
    #[error("inclusion proof failed")]
    Inclusion(#[source] InclusionError),
}

/// A proof that verified: the entry is at `index` in the tree the trusted checkpoint describes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedProof {
    index: u64,
    checkpoint: SignedCheckpoint,
}

impl VerifiedProof {
    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The verified checkpoint (cosignatures unchecked: see
    /// [`crate::tlog::verify_cosignatures`]).
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }
}

impl ProofBundle {
    /// A proof of entry `index` with inclusion `path` in the tree of `checkpoint`.
    pub fn new(index: u64, path: Vec<Hash>, checkpoint: SignedCheckpoint) -> Self {
        ProofBundle {
            extra: None,
            index,
            path,
            checkpoint,
        }
    }

    /// Attaches opaque extra data (not authenticated by anything).
    pub fn with_extra(mut self, extra: Vec<u8>) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The extra data, if any.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion path, leaf's sibling first.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// The signed checkpoint (unverified until [`ProofBundle::verify`]).
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The proof text.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Parses a proof text, including its checkpoint (signatures are not checked here).
    ///
    /// # Errors
    /// [`ProofBundleParseError`] naming the line.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofBundleParseError> {
        let mut lines = Lines {
            rest: bytes,
            line: 0,
        };
        if lines.next_str()? != Some(TLOG_PROOF_HEADER) {
            return Err(ProofBundleParseError::MissingHeader);
        }
        let mut current = lines.next_str()?;
        let mut extra = None;
        if let Some(b64) = current.and_then(|l| l.strip_prefix("extra ")) {
            let line = lines.line;
            extra = Some(b64_decode(b64).ok_or(ProofBundleParseError::InvalidExtra { line })?);
            current = lines.next_str()?;
        }
        let line = lines.line;
        let index_text = current
            .and_then(|l| l.strip_prefix("index "))
            .ok_or(ProofBundleParseError::MissingIndex { line })?;
        let index =
            parse_canonical_u64(index_text).ok_or(ProofBundleParseError::InvalidIndex { line })?;
        let mut path = Vec::new();
        loop {
            match lines.next_str()? {
                None => return Err(ProofBundleParseError::MissingCheckpoint),
                Some("") => break,
                Some(text) => {
                    if path.len() == MAX_PROOF_HASHES {
                        return Err(ProofBundleParseError::TooManyHashes);
                    }
                    let line = lines.line;
                    path.push(
                        Hash::from_base64(text)
                            .map_err(|_| ProofBundleParseError::InvalidHash { line })?,
                    );
                }
            }
        }
        if lines.rest.is_empty() {
            return Err(ProofBundleParseError::MissingCheckpoint);
        }
        let checkpoint = SignedCheckpoint::parse(lines.rest).map_err(|source| {
            ProofBundleParseError::Checkpoint {
                line: lines.line + 1,
                source,
            }
        })?;
        Ok(ProofBundle {
            extra,
            index,
            path,
            checkpoint,
        })
    }

    /// Verifies the proof for a leaf hash: the checkpoint must be for `origin` and signed by one
    /// of `log_verifiers`, and the path must lead from `leaf` at the index to its root.
    ///
    /// # Errors
    /// [`ProofBundleError`] saying which step failed.
    pub fn verify(
        &self,
        origin: &str,
        log_verifiers: &[&dyn NoteVerifier],
        leaf: &Hash,
    ) -> Result<VerifiedProof, ProofBundleError> {
        self.checkpoint
            .verify(origin, log_verifiers)
            .map_err(ProofBundleError::Checkpoint)?;
        let cp = self.checkpoint.checkpoint();
        verify_inclusion(self.index, cp.size(), leaf, &self.path, cp.root())
            .map_err(ProofBundleError::Inclusion)?;
        Ok(VerifiedProof {
            index: self.index,
            checkpoint: self.checkpoint.clone(),
        })
    }

    /// [`ProofBundle::verify`] for the entry bytes (hashed with [`leaf_hash`]).
    ///
    /// # Errors
    /// As [`ProofBundle::verify`].
    pub fn verify_entry(
        &self,
        origin: &str,
        log_verifiers: &[&dyn NoteVerifier],
        entry: &[u8],
    ) -> Result<VerifiedProof, ProofBundleError> {
        self.verify(origin, log_verifiers, &leaf_hash(entry))
    }
}

impl fmt::Display for ProofBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", b64_encode(extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for h in &self.path {
            writeln!(f, "{}", h.to_base64())?;
        }
        writeln!(f)?;
        write!(f, "{}", self.checkpoint.note())
    }
}

/// Splits the head of a proof into newline-terminated lines, counting them.
struct Lines<'a> {
    rest: &'a [u8],
    line: usize,
}

impl<'a> Lines<'a> {
    /// The next complete line without its newline; `None` when no newline is left.
    fn next_str(&mut self) -> Result<Option<&'a str>, ProofBundleParseError> {
        let Some(end) = self.rest.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let (line, rest) = (&self.rest[..end], &self.rest[end + 1..]);
        self.rest = rest;
        self.line += 1;
        std::str::from_utf8(line)
            .map(Some)
            .map_err(|_| ProofBundleParseError::InvalidUtf8 { line: self.line })
    }
}
