//! A byte buffer for keys and plaintext: zeroized on drop, never printed.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes: key material or decrypted personal data.
///
/// The buffer is overwritten with zeros when dropped, `Debug` shows only the length, and there
/// is no `PartialEq` (compare secrets in constant time where you must compare them at all).
/// Read the bytes with [`SecretBytes::expose_secret`], a name that stands out in review.
///
/// ```
/// use biv_core::SecretBytes;
/// let s = SecretBytes::new(b"123456782".to_vec());
/// assert_eq!(s.expose_secret(), b"123456782");
/// assert_eq!(format!("{s:?}"), "SecretBytes([REDACTED; 9 bytes])");
/// ```
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of the bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// Copies a slice (the caller zeroizes its own copy).
    pub fn from_slice(bytes: &[u8]) -> Self {
        SecretBytes(bytes.to_vec())
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {} bytes])", self.0.len())
    }
}
