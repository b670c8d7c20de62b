//! Signed notes (c2sp.org/signed-note; golang.org/x/mod/sumdb/note): parsing, serialising,
//! signing and verifying with Go's rules.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
//! `— <key name> <base64(key ID ‖ signature)>`. The text is separated from the signatures at the
//! last blank line, so the text may contain blank lines. No byte below 0x20 other than newline
//! may appear anywhere.

use std::collections::HashSet;
use std::fmt;

use super::encoding::{b64_decode, b64_encode};
use super::keys::{NoteSigner, NoteVerifier, SignError, is_valid_key_name};

/// Most signatures a note may carry (Go's limit; c2sp.org/signed-note requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The em dash and space that start a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line of a note.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature by key `name`/`key_id`; `signature` is the bytes after the key ID.
    ///
    /// # Errors
    /// [`NoteTextError::InvalidKeyName`] if the name is not a valid key name.
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<Self, NoteTextError> {
        if !is_valid_key_name(name) {
            return Err(NoteTextError::InvalidKeyName);
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id,
            signature,
        })
    }

    /// A signature by a key whose name was already checked.
    pub(crate) fn from_checked(name: &str, key_id: u32, signature: Vec<u8>) -> Self {
        debug_assert!(is_valid_key_name(name));
        NoteSignature {
            name: name.to_owned(),
            key_id,
            signature,
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// base64(key ID ‖ signature), as on the signature line.
    pub fn to_base64(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        b64_encode(&raw)
    }

    /// The whole signature line, `— name base64\n`.
    pub fn to_line(&self) -> String {
        format!("{SIG_PREFIX}{} {}\n", self.name, self.to_base64())
    }
}

impl fmt::Debug for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSignature({} {})", self.name, self.to_base64())
    }
}

/// Why a note text or signature is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteTextError {
    /// The text does not end in a newline.
    #[error("note text must end with a newline")]
    NotNewlineTerminated,
    /// A byte below 0x20 other than newline.
    #[error("control character at byte {offset}")]
    ControlCharacter {
        /// Byte offset in the text.
        offset: usize,
    },
    /// A key name is empty or has white space or `+`.
    #[error("invalid key name")]
    InvalidKeyName,
}

/// Why bytes are not a well-formed signed note. Offsets are bytes from the start; lines count
/// from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteParseError {
    /// Not valid UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A byte below 0x20 other than newline.
    #[error("control character at byte {offset}")]
    ControlCharacter {
        /// Offset of the byte.
        offset: usize,
    },
    /// No blank line separates text and signatures.
    #[error("no blank line before a signature block")]
    MissingSignatureBlock,
    /// The signature block is empty or its last line lacks a newline.
    #[error("the signature block is empty or not newline-terminated")]
    UnterminatedSignatureBlock,
    /// A signature line does not start with an em dash and a space.
    #[error("line {line}: a signature line starts with \"— \"")]
    NotASignatureLine {
        /// Line number.
        line: usize,
    },
    /// A signature line's key name is invalid or missing.
    #[error("line {line}: invalid key name")]
    InvalidKeyName {
        /// Line number.
        line: usize,
    },
    /// A signature is not canonical base64 of at least 5 bytes.
    #[error("line {line}: the signature is not base64 of a key id and at least one byte")]
    InvalidSignature {
        /// Line number.
        line: usize,
    },
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
}

/// Why a note did not open (verify).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteOpenError {
    /// Not a well-formed note.
    #[error("malformed note")]
    Malformed(#[from] NoteParseError),
    /// A signature by a trusted key does not verify: the note is rejected as a whole.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature by a trusted key.
    #[error("note has no verifiable signatures")]
    NoVerifiedSignature,
    /// Two trusted verifiers share a name and key ID.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
}

/// Why a note could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoteSignError {
    /// A signer's name is not a valid key name.
    #[error("invalid signer name {0:?}")]
    InvalidSigner(String),
    /// A signer failed.
    #[error("signer failed")]
    Signer(#[from] SignError),
}

/// A note: its text and its signature lines (verified or not).
///
/// ```
/// use biv_integrity::tlog::{Ed25519Signer, Note, NoteVerifier};
///
/// // golang.org/x/mod/sumdb/note's documented example: re-signing reproduces it exactly.
/// let signer = Ed25519Signer::from_skey(
///     "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
/// )?;
/// let mut note = Note::new(
///     "If you think cryptography is the answer to your problem,\n\
///      then you don't know what your problem is.\n",
/// )?;
/// note.sign(&[&signer])?;
/// let bytes = note.to_bytes();
/// assert!(bytes.ends_with(
///     "\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq\
///      dngotpRZb6KE6RyyBwJnAM=\n"
///         .as_bytes()
/// ));
/// let verifier = signer.verifier();
/// let opened = Note::open(&bytes, &[&verifier])?;
/// assert_eq!(opened.verified()[0].name(), "PeterNeumann");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Checks the forbidden bytes of a note: control characters other than newline.
fn check_controls(bytes: &[u8]) -> Result<(), usize> {
    match bytes.iter().position(|&b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(offset),
        None => Ok(()),
    }
}

impl Note {
    /// An unsigned note with `text`, which must end in a newline and hold no control characters
    /// other than newlines.
    ///
    /// # Errors
    /// [`NoteTextError`] naming the problem.
    pub fn new(text: impl Into<String>) -> Result<Self, NoteTextError> {
        let text = text.into();
        if !text.ends_with('\n') {
            return Err(NoteTextError::NotNewlineTerminated);
        }
        check_controls(text.as_bytes())
            .map_err(|offset| NoteTextError::ControlCharacter { offset })?;
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// A note over text already known to be valid (built by this module's callers from checked
    /// lines).
    pub(crate) fn from_checked_text(text: String) -> Self {
        debug_assert!(text.ends_with('\n') && check_controls(text.as_bytes()).is_ok());
        Note {
            text,
            signatures: Vec::new(),
        }
    }

    /// Parses a signed note without verifying anything. Every signature line is kept, in order,
    /// duplicates included, so [`Note::to_bytes`] gives back the input.
    ///
    /// # Errors
    /// [`NoteParseError`] saying where the input is malformed.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteParseError> {
        let msg = std::str::from_utf8(bytes).map_err(|e| NoteParseError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        check_controls(bytes).map_err(|offset| NoteParseError::ControlCharacter { offset })?;
        let split = msg
            .rfind("\n\n")
            .ok_or(NoteParseError::MissingSignatureBlock)?;
        let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteParseError::UnterminatedSignatureBlock);
        }
        let first_line = text.matches('\n').count() + 2;
        let mut signatures = Vec::new();
        for (i, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
            let line_no = first_line + i;
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteParseError::TooManySignatures);
            }
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or(NoteParseError::NotASignatureLine { line: line_no })?;
            let (name, b64) = rest.split_once(' ').unwrap_or((rest, ""));
            if !is_valid_key_name(name) {
                return Err(NoteParseError::InvalidKeyName { line: line_no });
            }
            let raw = b64_decode(b64)
                .filter(|raw| raw.len() >= 5)
                .ok_or(NoteParseError::InvalidSignature { line: line_no })?;
            let (id, sig) = raw.split_at(4);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
                signature: sig.to_vec(),
            });
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Parses and verifies a signed note against trusted keys, with Go's rules: signatures by
    /// unknown keys are kept as unverified; a trusted key's signature that fails rejects the
    /// note; repeated signatures of one key count once; at least one trusted signature must
    /// verify.
    ///
    /// # Errors
    /// [`NoteOpenError`].
    pub fn open(
        bytes: &[u8],
        verifiers: &[&dyn NoteVerifier],
    ) -> Result<VerifiedNote, NoteOpenError> {
        Note::parse(bytes)?.verify(verifiers)
    }

    /// Verifies an already parsed note; see [`Note::open`].
    ///
    /// # Errors
    /// [`NoteOpenError`] (never `Malformed`).
    pub fn verify(&self, verifiers: &[&dyn NoteVerifier]) -> Result<VerifiedNote, NoteOpenError> {
        let mut verified = Vec::new();
        let mut unverified: Vec<NoteSignature> = Vec::new();
        let mut seen = HashSet::new();
        for sig in &self.signatures {
            let mut matching = verifiers
                .iter()
                .filter(|v| v.name() == sig.name && v.key_id() == sig.key_id);
            let Some(verifier) = matching.next() else {
                if !unverified.contains(sig) {
                    unverified.push(sig.clone());
                }
                continue;
            };
            if matching.next().is_some() {
                return Err(NoteOpenError::AmbiguousKey {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if !seen.insert((sig.name.as_str(), sig.key_id)) {
                continue;
            }
            if !verifier.verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteOpenError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            verified.push(sig.clone());
        }
        if verified.is_empty() {
            return Err(NoteOpenError::NoVerifiedSignature);
        }
        Ok(VerifiedNote {
            text: self.text.clone(),
            verified,
            unverified,
        })
    }

    /// The text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line at the end, dropping any earlier one by the same key.
    pub fn add_signature(&mut self, signature: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == signature.name && s.key_id == signature.key_id));
        self.signatures.push(signature);
    }

    /// Signs the text with each signer, as Go's `note.Sign`: earlier signatures by the same keys
    /// are dropped, the others kept, and the new ones appended in order.
    ///
    /// # Errors
    /// [`NoteSignError`]; the note is unchanged on error.
    pub fn sign(&mut self, signers: &[&dyn NoteSigner]) -> Result<(), NoteSignError> {
        let mut new = Vec::with_capacity(signers.len());
        for signer in signers {
            if !is_valid_key_name(signer.name()) {
                return Err(NoteSignError::InvalidSigner(signer.name().to_owned()));
            }
            new.push(NoteSignature {
                name: signer.name().to_owned(),
                key_id: signer.key_id(),
                signature: signer.sign(self.text.as_bytes())?,
            });
        }
        for sig in new {
            self.add_signature(sig);
        }
        Ok(())
    }

    /// The signed note: text, blank line, signature lines. A note without signatures gives only
    /// the text and a blank line, which [`Note::parse`] rejects.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            f.write_str(&sig.to_line())?;
        }
        Ok(())
    }
}

/// A note whose text at least one trusted key signed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedNote {
    text: String,
    verified: Vec<NoteSignature>,
    unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The verified text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Signatures by trusted keys, each key once, in note order.
    pub fn verified(&self) -> &[NoteSignature] {
        &self.verified
    }

    /// Signatures by unknown keys (identical lines once), in note order.
    pub fn unverified(&self) -> &[NoteSignature] {
        &self.unverified
    }

    /// Whether the key `name`/`key_id` signed the note.
    pub fn is_signed_by(&self, name: &str, key_id: u32) -> bool {
        self.verified
            .iter()
            .any(|s| s.name == name && s.key_id == key_id)
    }
}
