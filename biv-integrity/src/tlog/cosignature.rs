//! Witness cosignatures, version 1 (c2sp.org/tlog-cosignature): timestamped Ed25519 signatures
//! over a checkpoint, signature type 0x04.
//!
//! The signed message is `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint text;
//! the signature line carries base64(key ID ‖ uint64_be(timestamp) ‖ Ed25519 signature).

use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::checkpoint::SignedCheckpoint;
use super::keys::{
    KeyParseError, NoteSigner, NoteVerifier, SIG_TYPE_COSIGNATURE_V1, SignError, VerifierKey,
    ed25519_key_of, is_valid_key_name, key_id,
};
use super::note::{Note, NoteOpenError, NoteSignature};

/// Largest timestamp a cosignature may carry (2^63 − 1).
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// Length of a v1 cosignature after the key ID: 8-byte timestamp and 64-byte signature.
const COSIGNATURE_LEN: usize = 72;

/// The message a v1 cosigner signs for a checkpoint text at `timestamp` (POSIX seconds).
pub fn cosignature_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    message_bytes(timestamp, checkpoint_text.as_bytes())
}

fn message_bytes(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(text);
    msg
}

/// Why a cosignature could not be made, read or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignatureError {
    /// The timestamp exceeds 2^63 − 1.
    #[error("timestamp {timestamp} exceeds 2^63 - 1")]
    TimestampTooLarge {
        /// The timestamp.
        timestamp: u64,
    },
    /// A signature is not the 72 bytes of a v1 cosignature.
    #[error("a v1 cosignature is {COSIGNATURE_LEN} bytes, got {len}")]
    WrongLength {
        /// Bytes found.
        len: usize,
    },
    /// The cosigned note did not verify.
    #[error("cosignature check failed")]
    Note(#[source] NoteOpenError),
}

/// The timestamp inside a v1 cosignature.
///
/// ```
/// use biv_integrity::tlog::{Note, cosignature_timestamp};
/// // transparency-dev/formats note_cosigv1_test.go, TestCosignatureTimestamp.
/// let note = Note::parse(
///     "x\n\n— w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEH\
///      WWOworDcFiEBYJXORmnFBOBA==\n"
///         .as_bytes(),
/// )?;
/// assert_eq!(cosignature_timestamp(&note.signatures()[0])?, 1727964367);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`CosignatureError::WrongLength`] or [`CosignatureError::TimestampTooLarge`].
pub fn cosignature_timestamp(signature: &NoteSignature) -> Result<u64, CosignatureError> {
    split_cosignature(signature.signature()).map(|(ts, _)| ts)
}

fn split_cosignature(sig: &[u8]) -> Result<(u64, Signature), CosignatureError> {
    let bytes: &[u8; COSIGNATURE_LEN] = sig
        .try_into()
        .map_err(|_| CosignatureError::WrongLength { len: sig.len() })?;
    let (ts, ed) = bytes.split_at(8);
    let mut ts_bytes = [0u8; 8];
    ts_bytes.copy_from_slice(ts);
    let timestamp = u64::from_be_bytes(ts_bytes);
    if timestamp > MAX_COSIGNATURE_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge { timestamp });
    }
    let sig =
        Signature::from_slice(ed).map_err(|_| CosignatureError::WrongLength { len: sig.len() })?;
    Ok((timestamp, sig))
}

/// A witness's signing key for v1 cosignatures. The seed is zeroized on drop and never printed.
///
/// ```
/// use biv_integrity::tlog::{
///     Checkpoint, CosignatureSigner, Ed25519Signer, Hash, verify_cosignatures,
/// };
///
/// let log = Ed25519Signer::from_seed("biv.example/t1/audit", &[1; 32])?;
/// let witness = CosignatureSigner::from_seed("witness.example/auditor", &[2; 32])?;
/// let mut signed = Checkpoint::new("biv.example/t1/audit", 3, Hash::from_bytes([9; 32]))?
///     .sign(&[&log])?;
/// witness.cosign(&mut signed, 1_767_225_600)?;
/// let cosigs = verify_cosignatures(signed.note(), &[&witness.verifier()])?;
/// assert_eq!(cosigs[0].timestamp(), 1_767_225_600);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CosignatureSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl CosignatureSigner {
    /// A cosigner named `name` with a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`KeyParseError::InvalidName`].
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyParseError> {
        if !is_valid_key_name(name) {
            return Err(KeyParseError::InvalidName);
        }
        let key = SigningKey::from_bytes(seed);
        Ok(CosignatureSigner {
            name: name.to_owned(),
            key_id: key_id(
                name,
                SIG_TYPE_COSIGNATURE_V1,
                key.verifying_key().as_bytes(),
            ),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (computed with type 0x04).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature over a checkpoint text at `timestamp` (POSIX seconds).
    ///
    /// # Errors
    /// [`CosignatureError::TimestampTooLarge`].
    pub fn sign_at(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        let sig = self.raw_signature(checkpoint_text.as_bytes(), timestamp)?;
        Ok(NoteSignature::from_checked(&self.name, self.key_id, sig))
    }

    /// Adds this witness's cosignature at `timestamp` to a signed checkpoint, replacing an
    /// earlier one by the same key.
    ///
    /// # Errors
    /// [`CosignatureError::TimestampTooLarge`].
    pub fn cosign(
        &self,
        signed: &mut SignedCheckpoint,
        timestamp: u64,
    ) -> Result<(), CosignatureError> {
        let sig = self.sign_at(signed.note().text(), timestamp)?;
        signed.note_mut().add_signature(sig);
        Ok(())
    }

    /// A [`NoteSigner`] that cosigns at a fixed timestamp, for [`Note::sign`].
    pub fn at(&self, timestamp: u64) -> TimestampedCosigner<'_> {
        TimestampedCosigner {
            signer: self,
            timestamp,
        }
    }

    fn raw_signature(&self, text: &[u8], timestamp: u64) -> Result<Vec<u8>, CosignatureError> {
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge { timestamp });
        }
        let msg = message_bytes(timestamp, text);
        let mut out = Vec::with_capacity(COSIGNATURE_LEN);
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&self.key.sign(&msg).to_bytes());
        Ok(out)
    }
}

impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A cosigner bound to one timestamp; see [`CosignatureSigner::at`].
#[derive(Debug, Clone, Copy)]
pub struct TimestampedCosigner<'a> {
    signer: &'a CosignatureSigner,
    timestamp: u64,
}

impl NoteSigner for TimestampedCosigner<'_> {
    fn name(&self) -> &str {
        &self.signer.name
    }
    fn key_id(&self) -> u32 {
        self.signer.key_id
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.signer
            .raw_signature(message, self.timestamp)
            .map_err(|e| SignError::Backend(Box::new(e)))
    }
}

/// Verifies v1 cosignatures of one witness key.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for witness `name` with a 32-byte Ed25519 public key.
    ///
    /// # Errors
    /// [`KeyParseError::InvalidName`] or [`KeyParseError::InvalidPublicKey`].
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyParseError> {
        let vkey = VerifierKey::new(name, SIG_TYPE_COSIGNATURE_V1, public_key)?;
        CosignatureVerifier::from_verifier_key(&vkey)
    }

    /// Parses a verifier key of type 0x04, `name+hex8+base64(0x04 ‖ public key)`.
    ///
    /// # Errors
    /// [`KeyParseError`] naming the bad field, or [`KeyParseError::WrongType`].
    pub fn from_vkey(text: &str) -> Result<Self, KeyParseError> {
        CosignatureVerifier::from_verifier_key(&VerifierKey::parse(text)?)
    }

    fn from_verifier_key(vkey: &VerifierKey) -> Result<Self, KeyParseError> {
        let key = ed25519_key_of(vkey, SIG_TYPE_COSIGNATURE_V1)?;
        Ok(CosignatureVerifier {
            name: vkey.name().to_owned(),
            key_id: vkey.key_id(),
            key,
        })
    }

    /// The verifier key text.
    pub fn to_vkey(&self) -> String {
        // Name and key were validated when this verifier was built.
        VerifierKey::new(&self.name, SIG_TYPE_COSIGNATURE_V1, self.key.as_bytes())
            .map(|k| k.to_string())
            .unwrap_or_default()
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignatureVerifier({})", self.to_vkey())
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok((timestamp, sig)) = split_cosignature(signature) else {
            return false;
        };
        let msg = message_bytes(timestamp, message);
        self.key.verify_strict(&msg, &sig).is_ok()
    }
}

/// A checked cosignature: who, and when the witness says it saw the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCosignature {
    name: String,
    key_id: u32,
    timestamp: u64,
}

impl VerifiedCosignature {
    /// The witness's key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The witness's key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    /// The cosignature's timestamp, POSIX seconds.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

/// Checks the cosignatures of `witnesses` on a signed checkpoint note and returns those present
/// and valid (possibly none: quorum is the caller's policy). A present but invalid cosignature
/// by a listed witness is an error, as c2sp.org/signed-note prescribes.
///
/// # Errors
/// [`CosignatureError::Note`] for an invalid cosignature or ambiguous witness keys.
pub fn verify_cosignatures(
    note: &Note,
    witnesses: &[&CosignatureVerifier],
) -> Result<Vec<VerifiedCosignature>, CosignatureError> {
    let verifiers: Vec<&dyn NoteVerifier> =
        witnesses.iter().map(|w| *w as &dyn NoteVerifier).collect();
    let verified = match note.verify(&verifiers) {
        Ok(v) => v,
        Err(NoteOpenError::NoVerifiedSignature) => return Ok(Vec::new()),
        Err(e) => return Err(CosignatureError::Note(e)),
    };
    verified
        .verified()
        .iter()
        .map(|sig| {
            Ok(VerifiedCosignature {
                name: sig.name().to_owned(),
                key_id: sig.key_id(),
                timestamp: cosignature_timestamp(sig)?,
            })
        })
        .collect()
}
