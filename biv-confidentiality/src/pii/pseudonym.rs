//! Keyed pseudonyms: HMAC-SHA256 under a tenant key the host passes in.
//!
//! A pseudonym is `<kind>_<key id>_<20 hex digits>`, e.g. `bsn_t1-2026_5c2f0e9d1a7b3c4d8e6f`:
//! the first 80 bits of `HMAC-SHA256(key, "biv-pii-pseudonym/v1" 0x00 kind 0x00 value)`, where
//! `value` is the finding normalised so that one number written two ways links (a BSN as its
//! nine digits, an IBAN and a postcode upper-case without spaces, a phone number as its
//! international digits, an e-mail address in lower case, other kinds as written).
//!
//! Why not a hash: there are only 10⁹ BSNs, so a plain or salted SHA-256 of one is reversed by
//! trying them all; without the key, an HMAC cannot be. The key id in the output says which key
//! made it, so pseudonyms from before and after a key rotation are not confused.

use std::fmt;

use biv_core::{PiiKind, SecretBytes};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Domain separation for the HMAC input.
const DOMAIN: &[u8] = b"biv-pii-pseudonym/v1";
/// Bytes of the HMAC kept in a pseudonym (80 bits).
const PSEUDONYM_BYTES: usize = 10;
/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// The longest key accepted, in bytes (one SHA-256 block).
pub const MAX_KEY_LEN: usize = 64;
/// The longest key id.
pub const MAX_KEY_ID_LEN: usize = 32;
/// The longest pseudonym: `date_of_birth` + `_` + key id + `_` + 20 hex digits.
pub const MAX_PSEUDONYM_LEN: usize = 13 + 1 + MAX_KEY_ID_LEN + 1 + 2 * PSEUDONYM_BYTES;

/// A tenant's pseudonym key: key material (zeroized on drop, never printed) and its id.
///
/// ```
/// use biv_confidentiality::pii::PseudonymKey;
/// use biv_core::{PiiKind, SecretBytes};
///
/// let key = PseudonymKey::new("t1-2026", SecretBytes::new(vec![7; 32]))?;
/// let a = key.pseudonym(PiiKind::Bsn, b"111222333");
/// assert!(a.starts_with("bsn_t1-2026_"));
/// assert_eq!(a, key.pseudonym(PiiKind::Bsn, b"1112.22.333")); // same BSN, same pseudonym
/// assert_eq!(format!("{key:?}"), r#"PseudonymKey { id: "t1-2026", .. }"#);
/// # Ok::<(), biv_confidentiality::pii::KeyError>(())
/// ```
#[derive(Clone)]
pub struct PseudonymKey {
    id: String,
    /// The keyed HMAC state; `hmac`'s `zeroize` feature wipes it on drop.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PseudonymKey {
    /// A key with an id the host chose (1–32 characters from `A-Z a-z 0-9 . -`).
    ///
    /// # Errors
    /// [`KeyError::Length`] for a key shorter than 16 or longer than 64 bytes,
    /// [`KeyError::InvalidId`] for a bad id.
    pub fn new(id: &str, key: SecretBytes) -> Result<Self, KeyError> {
        validate_id(id)?;
        let material = key.expose_secret();
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&material.len()) {
            return Err(KeyError::Length {
                len: material.len(),
            });
        }
        let mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(material).map_err(|_| KeyError::Length {
                len: material.len(),
            })?;
        Ok(PseudonymKey {
            id: id.to_owned(),
            mac,
        })
    }

    /// A key whose id is derived from the key itself (`k` and 8 hex digits of an HMAC of a fixed
    /// label), for hosts that do not name their keys. The id reveals nothing about the key.
    ///
    /// # Errors
    /// As [`PseudonymKey::new`].
    pub fn with_derived_id(key: SecretBytes) -> Result<Self, KeyError> {
        let mut derived = PseudonymKey::new("k", key)?;
        let mut mac = derived.mac.clone();
        mac.update(b"biv-pii-key-id/v1");
        let tag = mac.finalize().into_bytes();
        derived.id = format!("k{}", hex(&tag[..4]));
        Ok(derived)
    }

    /// Reads a key written as hex digits (whitespace around it is ignored).
    ///
    /// # Errors
    /// [`KeyError::Hex`] if the text is not an even number of hex digits, otherwise as
    /// [`PseudonymKey::new`].
    pub fn from_hex(id: Option<&str>, text: &str) -> Result<Self, KeyError> {
        let bytes = decode_hex(text.trim()).ok_or(KeyError::Hex)?;
        match id {
            Some(id) => PseudonymKey::new(id, bytes),
            None => PseudonymKey::with_derived_id(bytes),
        }
    }

    /// The key id written into every pseudonym.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pseudonym of `value`, a finding of `kind`.
    pub fn pseudonym(&self, kind: PiiKind, value: &[u8]) -> String {
        let mut normalized = Zeroizing::new(Vec::with_capacity(value.len()));
        normalize(kind, value, &mut normalized);
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(&[0]);
        mac.update(kind.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(&normalized);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}_{}_{}",
            kind.as_str(),
            self.id,
            hex(&tag[..PSEUDONYM_BYTES])
        )
    }
}

fn validate_id(id: &str) -> Result<(), KeyError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok { Ok(()) } else { Err(KeyError::InvalidId) }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Key material written as hex digits (no white space); `None` for anything else. The
/// intermediate bytes are wiped.
pub(crate) fn decode_hex(text: &str) -> Option<SecretBytes> {
    let t = text.as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = Zeroizing::new(Vec::with_capacity(t.len() / 2));
    for pair in t.chunks_exact(2) {
        out.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Some(SecretBytes::from_slice(&out))
}

/// The form of a value that is hashed, so that formatting does not change the pseudonym.
fn normalize(kind: PiiKind, value: &[u8], out: &mut Vec<u8>) {
    match kind {
        PiiKind::Bsn => {
            out.extend(value.iter().filter(|b| b.is_ascii_digit()));
            while out.len() < 9 {
                out.insert(0, b'0');
            }
        }
        PiiKind::Iban | PiiKind::Postcode => out.extend(
            value
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_uppercase),
        ),
        PiiKind::Agb => out.extend(value.iter().filter(|b| b.is_ascii_digit())),
        PiiKind::Phone => {
            let plus = value.first() == Some(&b'+');
            let digits: Zeroizing<Vec<u8>> =
                Zeroizing::new(value.iter().copied().filter(u8::is_ascii_digit).collect());
            // "(0)" after a country code is a trunk prefix, not part of the number.
            let trunk = memchr::memmem::find(value, b"(0)").is_some();
            if plus {
                out.extend_from_slice(&digits);
                if trunk && digits.len() > 2 && digits.starts_with(b"310") {
                    out.remove(2);
                }
            } else if let Some(rest) = digits.strip_prefix(b"00") {
                out.extend_from_slice(rest);
            } else if let Some(rest) = digits.strip_prefix(b"0") {
                out.extend_from_slice(b"31");
                out.extend_from_slice(rest);
            } else {
                out.extend_from_slice(&digits);
            }
        }
        PiiKind::Email => {
            let mut i = 0;
            while i < value.len() {
                let decoded = (value[i] == b'%')
                    .then(|| value.get(i + 1..i + 3))
                    .flatten()
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match decoded {
                    Some(b) => {
                        out.push(b.to_ascii_lowercase());
                        i += 3;
                    }
                    None => {
                        out.push(value[i].to_ascii_lowercase());
                        i += 1;
                    }
                }
            }
        }
        _ => out.extend_from_slice(value),
    }
}

/// Why a pseudonym key cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is shorter than 16 or longer than 64 bytes.
    #[error("pseudonym key: {len} bytes; use 16 to 64 (32 recommended)")]
    Length {
        /// Its length in bytes.
        len: usize,
    },
    /// The key text is not an even number of hex digits.
    #[error("pseudonym key: not hex (an even number of 0-9 a-f digits)")]
    Hex,
    /// The key id is empty, longer than 32 characters or has characters other than
    /// `A-Z a-z 0-9 . -`.
    #[error("pseudonym key id: use 1 to 32 characters from A-Z a-z 0-9 . -")]
    InvalidId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PseudonymKey {
        PseudonymKey::new("t1", SecretBytes::new(vec![byte; 32])).unwrap()
    }

    #[test]
    fn pseudonyms_link_formats_and_depend_on_the_key() {
        let k = key(1);
        let p = k.pseudonym(PiiKind::Bsn, b"111222333");
        assert_eq!(p.len(), "bsn_t1_".len() + 20);
        assert_eq!(p, k.pseudonym(PiiKind::Bsn, b"111 222 333"));
        assert_ne!(p, key(2).pseudonym(PiiKind::Bsn, b"111222333"));
        assert_ne!(
            p,
            k.pseudonym(PiiKind::Agb, b"111222333"),
            "kind is bound in"
        );
        assert_eq!(
            k.pseudonym(PiiKind::Bsn, b"11222333"),
            k.pseudonym(PiiKind::Bsn, b"011222333")
        );
        assert_eq!(
            k.pseudonym(PiiKind::Phone, b"06-12345678"),
            k.pseudonym(PiiKind::Phone, b"+31 6 1234 5678")
        );
        assert_eq!(
            k.pseudonym(PiiKind::Phone, b"+31 (0)20 123 4567"),
            k.pseudonym(PiiKind::Phone, b"020-1234567")
        );
        assert_eq!(
            k.pseudonym(PiiKind::Phone, b"0031 6 12345678"),
            k.pseudonym(PiiKind::Phone, b"0612345678")
        );
        assert_eq!(
            k.pseudonym(PiiKind::Email, b"Jan%40Example.nl"),
            k.pseudonym(PiiKind::Email, b"jan@example.nl")
        );
        assert_eq!(
            k.pseudonym(PiiKind::Iban, b"NL91 ABNA 0417 1643 00"),
            k.pseudonym(PiiKind::Iban, b"nl91abna0417164300")
        );
    }

    #[test]
    fn known_answer() {
        // HMAC-SHA256(key = 32 × 0x01, "biv-pii-pseudonym/v1\0bsn\0111222333"), first 10 bytes.
        // Computed independently with Python's hmac module.
        assert_eq!(key(1).pseudonym(PiiKind::Bsn, b"111222333"), KNOWN_ANSWER);
    }

    const KNOWN_ANSWER: &str = "bsn_t1_1fffef9715dbdcdb7056";

    #[test]
    fn keys_and_ids_are_checked() {
        assert_eq!(
            PseudonymKey::new("t1", SecretBytes::new(vec![0; 15])).unwrap_err(),
            KeyError::Length { len: 15 }
        );
        assert!(PseudonymKey::new("t1", SecretBytes::new(vec![0; 65])).is_err());
        for id in ["", "a_b", "a b", &"x".repeat(33), "é"] {
            assert_eq!(
                PseudonymKey::new(id, SecretBytes::new(vec![0; 32])).unwrap_err(),
                KeyError::InvalidId,
                "{id:?}"
            );
        }
        assert_eq!(
            PseudonymKey::from_hex(Some("t"), "abc").unwrap_err(),
            KeyError::Hex
        );
        assert_eq!(
            PseudonymKey::from_hex(Some("t"), "zz".repeat(16).as_str()).unwrap_err(),
            KeyError::Hex
        );
        let k = PseudonymKey::from_hex(None, &format!("  {}\n", "0f".repeat(32))).unwrap();
        assert!(k.id().starts_with('k') && k.id().len() == 9);
        assert_eq!(
            k.id(),
            PseudonymKey::with_derived_id(SecretBytes::new(vec![0x0f; 32]))
                .unwrap()
                .id()
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", key(0xab));
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }
}
