//! Signed-note keys: key names and IDs, the `name+hex8+base64` verifier-key text, and the
//! Ed25519 signer and verifier (signature type 0x01, c2sp.org/signed-note).

use std::error::Error as StdError;
use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::encoding::{b64_decode, b64_encode, hex_decode_into};

/// Signature type of plain Ed25519 note signatures (c2sp.org/signed-note).
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The key ID of a signed-note key: the first four bytes, big-endian, of
/// SHA-256(name ‖ 0x0A ‖ signature type ‖ public key).
///
/// ```
/// use biv_integrity::tlog::{SIG_TYPE_ED25519, key_id};
/// # use biv_integrity::tlog::Ed25519Verifier;
/// let v = Ed25519Verifier::from_vkey(
///     "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
/// )?;
/// assert_eq!(key_id("PeterNeumann", SIG_TYPE_ED25519, &v.public_key()), 0xc74f20a3);
/// # Ok::<(), biv_integrity::tlog::KeyParseError>(())
/// ```
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, sig_type]);
    h.update(public_key);
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Whether `name` may name a key: non-empty, no Unicode white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+')
}

/// Checks a signature over a note's text with one key.
///
/// Implemented by [`Ed25519Verifier`] and [`crate::tlog::CosignatureVerifier`]; hosts may add
/// others (an HSM-backed key, a future ML-DSA cosigner).
pub trait NoteVerifier: Send + Sync + fmt::Debug {
    /// The key name, as on signature lines.
    fn name(&self) -> &str;
    /// The 32-bit key ID.
    fn key_id(&self) -> u32;
    /// Whether `signature` (the bytes after the key ID) is valid for `message` (the note text,
    /// including its final newline).
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

/// Signs a note's text with one key.
pub trait NoteSigner: Send + Sync + fmt::Debug {
    /// The key name, as on signature lines.
    fn name(&self) -> &str;
    /// The 32-bit key ID.
    fn key_id(&self) -> u32;
    /// The signature bytes (without the key ID) over `message`.
    ///
    /// # Errors
    /// [`SignError`] when the key cannot be used (for example an unreachable HSM).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A signer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key's backend failed.
    #[error("the signing backend failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
    /// The signer's name is not a valid key name.
    #[error("invalid key name {0:?}")]
    InvalidName(String),
}

/// Why a key could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyParseError {
    /// A `+`-separated field is missing.
    #[error("missing {field}")]
    MissingField {
        /// Which field: `name`, `key id` or `key`.
        field: &'static str,
    },
    /// A signer key does not start with `PRIVATE+KEY+`.
    #[error("a signer key starts with PRIVATE+KEY+")]
    NotAPrivateKey,
    /// The key name is empty or has white space or `+`.
    #[error("invalid key name")]
    InvalidName,
    /// The key ID is not eight hex digits.
    #[error("the key id is not eight hex digits")]
    InvalidKeyId,
    /// The key material is not canonical standard base64.
    #[error("the key is not valid base64")]
    InvalidBase64,
    /// The key material is empty.
    #[error("the key is empty")]
    EmptyKey,
    /// The signature type byte is not the one expected.
    #[error("signature type 0x{found:02x}, expected 0x{expected:02x}")]
    WrongType {
        /// Type wanted.
        expected: u8,
        /// Type found.
        found: u8,
    },
    /// The key has the wrong length for its type.
    #[error("key is {actual} bytes, expected {expected}")]
    WrongKeyLength {
        /// Length wanted.
        expected: usize,
        /// Length found.
        actual: usize,
    },
    /// The stated key ID is not the one computed from name, type and key.
    #[error("key id {stated:08x} does not match the computed {computed:08x}")]
    KeyIdMismatch {
        /// Key ID in the text.
        stated: u32,
        /// Key ID computed.
        computed: u32,
    },
    /// The bytes are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
}

/// A parsed verifier key, `name+hex8+base64(type ‖ public key)`, of any signature type.
///
/// The base64 may itself contain `+`: the text is split on its first two `+` only.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    sig_type: u8,
    public_key: Vec<u8>,
}

impl VerifierKey {
    /// Builds a verifier key from its parts, computing the key ID.
    ///
    /// # Errors
    /// [`KeyParseError::InvalidName`] or [`KeyParseError::EmptyKey`].
    pub fn new(name: &str, sig_type: u8, public_key: &[u8]) -> Result<Self, KeyParseError> {
        if !is_valid_key_name(name) {
            return Err(KeyParseError::InvalidName);
        }
        if public_key.is_empty() {
            return Err(KeyParseError::EmptyKey);
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, sig_type, public_key),
            sig_type,
            public_key: public_key.to_vec(),
        })
    }

    /// Parses `name+hex8+base64(type ‖ key)` and checks the key ID.
    ///
    /// # Errors
    /// [`KeyParseError`] naming the bad field.
    pub fn parse(text: &str) -> Result<Self, KeyParseError> {
        let mut parts = text.splitn(3, '+');
        let name = parts.next().unwrap_or_default();
        let id_hex = parts
            .next()
            .ok_or(KeyParseError::MissingField { field: "key id" })?;
        let key_b64 = parts
            .next()
            .ok_or(KeyParseError::MissingField { field: "key" })?;
        let (stated, material) = parse_id_and_key(name, id_hex, key_b64)?;
        let (&sig_type, public_key) = material.split_first().ok_or(KeyParseError::EmptyKey)?;
        let computed = key_id(name, sig_type, public_key);
        if stated != computed {
            return Err(KeyParseError::KeyIdMismatch { stated, computed });
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: stated,
            sig_type,
            public_key: public_key.to_vec(),
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type byte.
    pub fn sig_type(&self) -> u8 {
        self.sig_type
    }

    /// The public key bytes (without the type byte).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(1 + self.public_key.len());
        material.push(self.sig_type);
        material.extend_from_slice(&self.public_key);
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            b64_encode(&material)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// Checks the name and decodes the key ID and the base64 key material of a key text.
fn parse_id_and_key(
    name: &str,
    id_hex: &str,
    key_b64: &str,
) -> Result<(u32, Vec<u8>), KeyParseError> {
    if !is_valid_key_name(name) {
        return Err(KeyParseError::InvalidName);
    }
    let mut id = [0u8; 4];
    hex_decode_into(id_hex, &mut id).map_err(|_| KeyParseError::InvalidKeyId)?;
    let material = b64_decode(key_b64).ok_or(KeyParseError::InvalidBase64)?;
    if material.is_empty() {
        return Err(KeyParseError::EmptyKey);
    }
    Ok((u32::from_be_bytes(id), material))
}

/// Builds an Ed25519 verifying key for a given signature type from a parsed [`VerifierKey`].
pub(crate) fn ed25519_key_of(
    vkey: &VerifierKey,
    sig_type: u8,
) -> Result<VerifyingKey, KeyParseError> {
    if vkey.sig_type != sig_type {
        return Err(KeyParseError::WrongType {
            expected: sig_type,
            found: vkey.sig_type,
        });
    }
    let bytes: [u8; 32] =
        vkey.public_key
            .as_slice()
            .try_into()
            .map_err(|_| KeyParseError::WrongKeyLength {
                expected: 32,
                actual: vkey.public_key.len(),
            })?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyParseError::InvalidPublicKey)
}

/// Verifies Ed25519 note signatures (type 0x01) of one key.
///
/// Signatures are checked with `verify_strict` (RFC 8032 with canonical `S` and no small-order
/// keys or `R`), which accepts every signature Go's `crypto/ed25519` produces.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// A verifier for `name` and a 32-byte public key.
    ///
    /// # Errors
    /// [`KeyParseError::InvalidName`] or [`KeyParseError::InvalidPublicKey`].
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyParseError> {
        if !is_valid_key_name(name) {
            return Err(KeyParseError::InvalidName);
        }
        let key =
            VerifyingKey::from_bytes(public_key).map_err(|_| KeyParseError::InvalidPublicKey)?;
        Ok(Ed25519Verifier {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_ED25519, public_key),
            key,
        })
    }

    /// Parses a verifier key `name+hex8+base64(0x01 ‖ public key)`.
    ///
    /// ```
    /// use biv_integrity::tlog::Ed25519Verifier;
    /// let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    /// let v = Ed25519Verifier::from_vkey(vkey)?;
    /// assert_eq!(v.to_vkey(), vkey);
    /// # Ok::<(), biv_integrity::tlog::KeyParseError>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyParseError`] naming the bad field, or [`KeyParseError::WrongType`] for another type.
    pub fn from_vkey(text: &str) -> Result<Self, KeyParseError> {
        let vkey = VerifierKey::parse(text)?;
        let key = ed25519_key_of(&vkey, SIG_TYPE_ED25519)?;
        Ok(Ed25519Verifier {
            name: vkey.name,
            key_id: vkey.key_id,
            key,
        })
    }

    /// The verifier key text.
    pub fn to_vkey(&self) -> String {
        self.verifier_key().to_string()
    }

    /// The verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            sig_type: SIG_TYPE_ED25519,
            public_key: self.key.to_bytes().to_vec(),
        }
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl fmt::Debug for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Verifier({})", self.to_vkey())
    }
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(message, &sig).is_ok()
    }
}

/// Signs notes with an Ed25519 key (type 0x01).
///
/// The seed is zeroized when the signer is dropped and `Debug` never prints it. Keys are created
/// from caller-supplied seed bytes (biv injects randomness; this module draws none).
///
/// ```
/// use biv_integrity::tlog::{Ed25519Signer, NoteSigner};
/// let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
/// let signer = Ed25519Signer::from_skey(skey)?;
/// assert_eq!(signer.key_id(), 0xc74f20a3);
/// assert!(!format!("{signer:?}").contains("AYEKFALV"));
/// assert_eq!(signer.to_skey().as_str(), skey);
/// # Ok::<(), biv_integrity::tlog::KeyParseError>(())
/// ```
pub struct Ed25519Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Ed25519Signer {
    /// A signer for `name` from a 32-byte Ed25519 seed (the RFC 8032 private key).
    ///
    /// # Errors
    /// [`KeyParseError::InvalidName`].
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyParseError> {
        if !is_valid_key_name(name) {
            return Err(KeyParseError::InvalidName);
        }
        let key = SigningKey::from_bytes(seed);
        Ok(Ed25519Signer {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_ED25519, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parses a signer key `PRIVATE+KEY+name+hex8+base64(0x01 ‖ seed)` (Go's
    /// `note.NewSigner` form) and checks its key ID against the derived public key.
    ///
    /// # Errors
    /// [`KeyParseError`] naming the bad field.
    pub fn from_skey(text: &str) -> Result<Self, KeyParseError> {
        let mut parts = text.splitn(5, '+');
        if parts.next() != Some("PRIVATE") || parts.next() != Some("KEY") {
            return Err(KeyParseError::NotAPrivateKey);
        }
        let name = parts
            .next()
            .ok_or(KeyParseError::MissingField { field: "name" })?;
        let id_hex = parts
            .next()
            .ok_or(KeyParseError::MissingField { field: "key id" })?;
        let key_b64 = parts
            .next()
            .ok_or(KeyParseError::MissingField { field: "key" })?;
        let (stated, material) = parse_id_and_key(name, id_hex, key_b64)?;
        let material = Zeroizing::new(material);
        let (&sig_type, seed) = material.split_first().ok_or(KeyParseError::EmptyKey)?;
        if sig_type != SIG_TYPE_ED25519 {
            return Err(KeyParseError::WrongType {
                expected: SIG_TYPE_ED25519,
                found: sig_type,
            });
        }
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed.try_into().map_err(|_| KeyParseError::WrongKeyLength {
                expected: 32,
                actual: seed.len(),
            })?);
        let signer = Ed25519Signer::from_seed(name, &seed)?;
        if signer.key_id != stated {
            return Err(KeyParseError::KeyIdMismatch {
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The signer key text, `PRIVATE+KEY+name+hex8+base64(0x01 ‖ seed)`; zeroized on drop.
    pub fn to_skey(&self) -> Zeroizing<String> {
        let mut material = Zeroizing::new(Vec::with_capacity(33));
        material.push(SIG_TYPE_ED25519);
        material.extend_from_slice(self.key.as_bytes());
        let b64 = Zeroizing::new(b64_encode(&material));
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            b64.as_str()
        ))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs raw bytes (no note framing).
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self.sign_raw(message).to_vec())
    }
}
