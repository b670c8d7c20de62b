//! RFC 6962 hashing: the [`Hash`] type, leaf and node hashes and the empty-tree root.

use std::fmt;

use sha2::{Digest, Sha256};

use super::encoding::{b64_decode, b64_encode, hex_decode_into, hex_encode};

/// Size of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: a leaf hash, a node hash or a tree root.
///
/// `Debug` and `Display` print lower-case hex; the C2SP text formats use [`Hash::to_base64`].
///
/// ```
/// use biv_integrity::tlog::{Hash, leaf_hash, node_hash};
///
/// // RFC 6962 test vector: the hash of the empty leaf.
/// let empty_leaf = leaf_hash(b"");
/// assert_eq!(
///     empty_leaf.to_hex(),
///     "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
/// );
/// let parsed = Hash::from_base64(&empty_leaf.to_base64())?;
/// assert_eq!(parsed, empty_leaf);
/// // A two-leaf tree's root is the node hash of its leaves.
/// let root = node_hash(&leaf_hash(b""), &leaf_hash(&[0x00]));
/// assert_eq!(
///     root.to_hex(),
///     "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
/// );
/// # Ok::<(), biv_integrity::tlog::HashParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash([u8; HASH_SIZE]);

/// Why a hash could not be read from bytes or text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// The input decoded to the wrong number of bytes.
    #[error("a hash is {HASH_SIZE} bytes, got {actual}")]
    WrongLength {
        /// Number of bytes found.
        actual: usize,
    },
    /// Hex text has a bad character or the wrong length.
    #[error("invalid hex at offset {offset}")]
    InvalidHex {
        /// Byte offset of the first bad character.
        offset: usize,
    },
    /// Not canonical standard base64 with padding.
    #[error("invalid base64")]
    InvalidBase64,
}

impl Hash {
    /// Wraps 32 bytes.
    pub const fn from_bytes(bytes: [u8; HASH_SIZE]) -> Self {
        Hash(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// The 32 bytes, by value.
    pub const fn to_bytes(self) -> [u8; HASH_SIZE] {
        self.0
    }

    /// Reads exactly 32 bytes.
    ///
    /// # Errors
    /// [`HashParseError::WrongLength`] for any other length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        <[u8; HASH_SIZE]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashParseError::WrongLength {
                actual: bytes.len(),
            })
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`HashParseError::InvalidHex`] naming the offset of the first bad character.
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        let mut out = [0u8; HASH_SIZE];
        hex_decode_into(text, &mut out).map_err(|offset| HashParseError::InvalidHex { offset })?;
        Ok(Hash(out))
    }

    /// Standard base64 with padding (44 characters), as in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        b64_encode(&self.0)
    }

    /// Parses canonical standard base64 of exactly 32 bytes.
    ///
    /// # Errors
    /// [`HashParseError::InvalidBase64`] or [`HashParseError::WrongLength`].
    pub fn from_base64(text: &str) -> Result<Self, HashParseError> {
        let bytes = b64_decode(text).ok_or(HashParseError::InvalidBase64)?;
        Hash::from_slice(&bytes)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<[u8; HASH_SIZE]> for Hash {
    fn from(bytes: [u8; HASH_SIZE]) -> Self {
        Hash(bytes)
    }
}

impl From<Hash> for [u8; HASH_SIZE] {
    fn from(hash: Hash) -> Self {
        hash.0
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashParseError;
    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Hash::from_slice(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    hash_children(&left.0, &right.0)
}

/// The RFC 6962 node hash over arbitrary byte strings, SHA-256(0x01 ‖ left ‖ right). Trees only
/// ever combine 32-byte hashes ([`node_hash`]); this form exists for the RFC's test vectors.
pub fn hash_children(left: &[u8], right: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    Hash(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}
