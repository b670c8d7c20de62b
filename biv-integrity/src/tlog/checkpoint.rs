//! Checkpoints (c2sp.org/tlog-checkpoint): the signed statement of a log's size and root.
//!
//! ```text
//! <origin>\n<tree size, decimal, no leading zeros>\n<base64 root hash>\n[<extension line>\n]*
//! ```

use std::fmt;

use super::encoding::parse_canonical_u64;
use super::hash::Hash;
use super::keys::{NoteSigner, NoteVerifier};
use super::note::{Note, NoteOpenError, NoteParseError, NoteSignError, VerifiedNote};

/// A log's tree head: origin, size and root hash, plus optional extension lines.
///
/// ```
/// use biv_integrity::tlog::{Checkpoint, Ed25519Signer, Hash, SignedCheckpoint};
///
/// let root = Hash::from_base64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")?;
/// let checkpoint = Checkpoint::new("example.com/behind-the-sofa", 20852163, root)?;
/// assert_eq!(
///     checkpoint.to_text(),
///     "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
/// );
/// let signer = Ed25519Signer::from_seed("example.com/behind-the-sofa", &[7; 32])?;
/// let signed = checkpoint.sign(&[&signer])?;
/// let opened = SignedCheckpoint::open(
///     &signed.to_bytes(),
///     "example.com/behind-the-sofa",
///     &[&signer.verifier()],
/// )?;
/// assert_eq!(opened.checkpoint().size(), 20852163);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

/// Why a checkpoint could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The origin is empty or holds a newline or control character.
    #[error("the origin must be a non-empty line without control characters")]
    InvalidOrigin,
    /// An extension line is empty or holds a newline or control character.
    #[error("an extension line must be non-empty and without control characters")]
    InvalidExtension,
}

/// Why a checkpoint text is malformed; lines count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointParseError {
    /// The text does not end with a newline.
    #[error("the checkpoint text must end with a newline")]
    NotNewlineTerminated,
    /// Fewer than three lines.
    #[error("line {line} is missing: a checkpoint has origin, size and root lines")]
    MissingLine {
        /// The first missing line.
        line: usize,
    },
    /// A line is empty.
    #[error("line {line} is empty")]
    EmptyLine {
        /// Line number.
        line: usize,
    },
    /// A control character other than newline.
    #[error("line {line} has a control character")]
    ControlCharacter {
        /// Line number.
        line: usize,
    },
    /// Line 2 is not a decimal tree size without leading zeros.
    #[error("line 2: the tree size must be decimal without leading zeros")]
    InvalidSize,
    /// Line 3 is not the base64 of a 32-byte hash.
    #[error("line 3: the root must be standard base64 of 32 bytes")]
    InvalidRoot,
}

fn is_clean_line(line: &str) -> bool {
    !line.is_empty() && !line.bytes().any(|b| b < 0x20)
}

impl Checkpoint {
    /// A checkpoint for `origin` at `size` leaves with root `root`.
    ///
    /// # Errors
    /// [`CheckpointError::InvalidOrigin`].
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if !is_clean_line(origin) {
            return Err(CheckpointError::InvalidOrigin);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (NOT RECOMMENDED by the spec; biv writes none).
    ///
    /// # Errors
    /// [`CheckpointError::InvalidExtension`].
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        if !is_clean_line(line) {
            return Err(CheckpointError::InvalidExtension);
        }
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// Extension lines, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, root and extension lines, each ending in a newline.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// Parses a checkpoint text (a note's text, including its final newline).
    ///
    /// # Errors
    /// [`CheckpointParseError`] naming the line.
    pub fn parse(text: &str) -> Result<Self, CheckpointParseError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointParseError::NotNewlineTerminated)?;
        let lines: Vec<&str> = body.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if line.is_empty() {
                return Err(CheckpointParseError::EmptyLine { line: i + 1 });
            }
            if line.bytes().any(|b| b < 0x20) {
                return Err(CheckpointParseError::ControlCharacter { line: i + 1 });
            }
        }
        if lines.len() < 3 {
            return Err(CheckpointParseError::MissingLine {
                line: lines.len() + 1,
            });
        }
        let size = parse_canonical_u64(lines[1]).ok_or(CheckpointParseError::InvalidSize)?;
        let root = Hash::from_base64(lines[2]).map_err(|_| CheckpointParseError::InvalidRoot)?;
        Ok(Checkpoint {
            origin: lines[0].to_owned(),
            size,
            root,
            extensions: lines[3..].iter().map(|l| (*l).to_owned()).collect(),
        })
    }

    /// Signs the checkpoint text with each signer.
    ///
    /// # Errors
    /// [`NoteSignError`].
    pub fn sign(&self, signers: &[&dyn NoteSigner]) -> Result<SignedCheckpoint, NoteSignError> {
        // Origin and extension lines were checked when the checkpoint was built.
        let mut note = Note::from_checked_text(self.to_text());
        note.sign(signers)?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.origin)?;
        writeln!(f, "{}", self.size)?;
        writeln!(f, "{}", self.root.to_base64())?;
        for ext in &self.extensions {
            writeln!(f, "{ext}")?;
        }
        Ok(())
    }
}

/// Why a signed checkpoint did not parse or verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointOpenError {
    /// The signed note is malformed.
    #[error("malformed signed note")]
    Note(#[from] NoteParseError),
    /// The note text is not a checkpoint.
    #[error("malformed checkpoint text")]
    Text(#[from] CheckpointParseError),
    /// The signatures did not verify.
    #[error("checkpoint signature check failed")]
    Signature(#[source] NoteOpenError),
    /// The checkpoint is for another log.
    #[error("checkpoint origin {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// Origin the caller trusts.
        expected: String,
        /// Origin in the checkpoint.
        found: String,
    },
}

/// A checkpoint with its signed note (log signature and any witness cosignatures).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint without verifying signatures.
    ///
    /// # Errors
    /// [`CheckpointOpenError::Note`] or [`CheckpointOpenError::Text`].
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointOpenError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Parses a signed checkpoint, checks that it is for `origin`, and verifies it with the
    /// log's keys (c2sp.org/signed-note rules: signatures by other keys, such as witness
    /// cosignatures, are ignored here; a bad signature by a log key rejects it).
    ///
    /// Pass only the log's own keys: any key listed here is trusted to speak for the log. Check
    /// witnesses separately with [`crate::tlog::verify_cosignatures`].
    ///
    /// # Errors
    /// [`CheckpointOpenError`] saying what failed.
    pub fn open(
        bytes: &[u8],
        origin: &str,
        log_verifiers: &[&dyn NoteVerifier],
    ) -> Result<Self, CheckpointOpenError> {
        let signed = SignedCheckpoint::parse(bytes)?;
        signed.verify(origin, log_verifiers)?;
        Ok(signed)
    }

    /// Checks the origin and the log signatures of a parsed checkpoint; see
    /// [`SignedCheckpoint::open`].
    ///
    /// # Errors
    /// [`CheckpointOpenError::OriginMismatch`] or [`CheckpointOpenError::Signature`].
    pub fn verify(
        &self,
        origin: &str,
        log_verifiers: &[&dyn NoteVerifier],
    ) -> Result<VerifiedNote, CheckpointOpenError> {
        if self.checkpoint.origin != origin {
            return Err(CheckpointOpenError::OriginMismatch {
                expected: origin.to_owned(),
                found: self.checkpoint.origin.clone(),
            });
        }
        self.note
            .verify(log_verifiers)
            .map_err(CheckpointOpenError::Signature)
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The note, for adding signatures (such as a witness cosignature).
    pub fn note_mut(&mut self) -> &mut Note {
        &mut self.note
    }

    /// The signed checkpoint as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }
}
