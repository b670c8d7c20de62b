//! The pseudonymous reference an audit event carries for its data subject.
//!
//! biv's audit log never stores a patient identifier (a BSN, a patient number) in clear: an
//! [`AuditEvent`](biv_core::AuditEvent)'s `subject` is a [`SubjectRef`]
//! `hmac-sha256:<key id>:<value>`, where `value` is the lower-case hex HMAC-SHA256 of the
//! normalised identifier under the tenant's subject key (`docs/formats/audit-event.md`, "Subject
//! reference"). [`SubjectKey`] computes it, so every system of a tenant links the same patient
//! to the same reference — and, after a key rotation, [`SubjectKeyring`] gives every reference a
//! patient has had, which is what a patient's access report (NEN 7513) must search for.
//!
//! Why a keyed hash: there are only 10⁹ BSNs, so a plain or salted hash is reversed by trying
//! them all; without the key an HMAC cannot be.

use std::fmt;

use biv_core::{SecretBytes, SubjectRef};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::blind_index::{BlindIndexError, Normalizer};

/// The scheme name written into every reference.
pub const SCHEME: &str = "hmac-sha256";
/// The shortest subject key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;
/// The longest subject key accepted, in bytes (one SHA-256 block).
pub const MAX_KEY_LEN: usize = 64;

/// Why a subject key or reference could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectRefError {
    /// The key id breaks the reference's rules (1–64 of `[A-Za-z0-9._-]`).
    #[error("invalid subject key id: {0}")]
    KeyId(String),
    /// The key is shorter than 32 or longer than 64 bytes.
    #[error("a subject key has 32 to 64 bytes, not {len}")]
    KeyLength {
        /// The length given.
        len: usize,
    },
    /// The key text is not an even number of hex digits.
    #[error("a subject key is written as hex digits")]
    KeyHex,
    /// The identifier cannot be normalised (e.g. a BSN that fails the 11-proof). The
    /// identifier itself is never part of the error.
    #[error("identifier refused by the {normalizer:?} normaliser: {reason}")]
    Identifier {
        /// The normaliser.
        normalizer: Normalizer,
        /// Why.
        reason: &'static str,
    },
    /// Two keys of a keyring share an id.
    #[error("subject key id {0:?} appears twice")]
    DuplicateKeyId(String),
}

/// One version of a tenant's subject key: key material (wiped on drop, never printed) and the
/// id written into every reference it makes.
///
/// ```
/// use biv_confidentiality::blind_index::Normalizer;
/// use biv_confidentiality::subject_ref::SubjectKey;
/// use biv_core::SecretBytes;
///
/// let key = SubjectKey::new("zorg-noord.2026", SecretBytes::new(vec![7; 32]))?;
/// let a = key.subject_ref("111222333", Normalizer::Bsn)?;
/// let b = key.subject_ref("1112.22.333", Normalizer::Bsn)?; // one BSN, written two ways
/// assert_eq!(a, b);
/// assert_eq!(a.scheme(), "hmac-sha256");
/// assert_eq!(a.key_id(), "zorg-noord.2026");
/// assert_eq!(a.value().len(), 64);
/// assert!(!format!("{key:?}").contains("07"));
/// # Ok::<(), biv_confidentiality::subject_ref::SubjectRefError>(())
/// ```
#[derive(Clone)]
pub struct SubjectKey {
    id: String,
    /// The keyed HMAC state; `hmac`'s `zeroize` feature wipes it on drop.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SubjectKey {
    /// A key version named `id`.
    ///
    /// # Errors
    /// [`SubjectRefError::KeyId`] for an id a [`SubjectRef`] cannot carry,
    /// [`SubjectRefError::KeyLength`] for key material outside 32–64 bytes.
    pub fn new(id: &str, key: SecretBytes) -> Result<Self, SubjectRefError> {
        // The id must fit a reference: check it with one.
        SubjectRef::new(SCHEME, id, &"0".repeat(64))
            .map_err(|e| SubjectRefError::KeyId(e.to_string()))?;
        let material = key.expose_secret();
        let len = material.len();
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&len) {
            return Err(SubjectRefError::KeyLength { len });
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(material)
            .map_err(|_| SubjectRefError::KeyLength { len })?;
        Ok(SubjectKey {
            id: id.to_owned(),
            mac,
        })
    }

    /// Reads key material written as hex digits (white space around them is ignored).
    ///
    /// # Errors
    /// [`SubjectRefError::KeyHex`], otherwise as [`SubjectKey::new`].
    pub fn from_hex(id: &str, text: &str) -> Result<Self, SubjectRefError> {
        let bytes =
            crate::pii::pseudonym::decode_hex(text.trim()).ok_or(SubjectRefError::KeyHex)?;
        SubjectKey::new(id, bytes)
    }

    /// The key id written into every reference.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The reference of `identifier`, normalised first with `normalizer` (for a BSN,
    /// [`Normalizer::Bsn`]: the nine digits, 11-proof checked), so one identifier written two
    /// ways gives one reference.
    ///
    /// # Errors
    /// [`SubjectRefError::Identifier`] when the identifier cannot be normalised.
    pub fn subject_ref(
        &self,
        identifier: &str,
        normalizer: Normalizer,
    ) -> Result<SubjectRef, SubjectRefError> {
        let normalised = Zeroizing::new(normalizer.apply(identifier).map_err(|e| match e {
            BlindIndexError::InvalidValue { normalizer, reason } => {
                SubjectRefError::Identifier { normalizer, reason }
            }
            _ => SubjectRefError::Identifier {
                normalizer,
                reason: "cannot be normalised",
            },
        })?);
        if normalised.is_empty() {
            return Err(SubjectRefError::Identifier {
                normalizer,
                reason: "empty",
            });
        }
        let mut mac = self.mac.clone();
        mac.update(normalised.as_bytes());
        let tag = mac.finalize().into_bytes();
        let value: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        SubjectRef::new(SCHEME, &self.id, &value).map_err(|e| SubjectRefError::KeyId(e.to_string()))
    }
}

/// Every version of a tenant's subject key, newest first: the newest makes the references of
/// new events; all of them together give every reference a patient has had since the first key,
/// so a report about one patient finds events from before and after a rotation.
///
/// ```
/// use biv_confidentiality::blind_index::Normalizer;
/// use biv_confidentiality::subject_ref::{SubjectKey, SubjectKeyring};
/// use biv_core::SecretBytes;
///
/// let old = SubjectKey::new("t1.2025", SecretBytes::new(vec![1; 32]))?;
/// let new = SubjectKey::new("t1.2026", SecretBytes::new(vec![2; 32]))?;
/// let ring = SubjectKeyring::new(vec![new, old])?;
/// assert_eq!(ring.current().id(), "t1.2026");
/// let refs = ring.all_refs("111222333", Normalizer::Bsn)?;
/// assert_eq!(refs.len(), 2);
/// assert_eq!(refs[1].key_id(), "t1.2025");
/// # Ok::<(), biv_confidentiality::subject_ref::SubjectRefError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SubjectKeyring {
    /// Never empty; newest first.
    keys: Vec<SubjectKey>,
}

impl SubjectKeyring {
    /// A keyring of `keys`, newest first.
    ///
    /// # Errors
    /// [`SubjectRefError::DuplicateKeyId`] when two keys share an id;
    /// [`SubjectRefError::KeyLength`] (with `len` 0) for an empty list.
    pub fn new(keys: Vec<SubjectKey>) -> Result<Self, SubjectRefError> {
        if keys.is_empty() {
            return Err(SubjectRefError::KeyLength { len: 0 });
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.id == key.id) {
                return Err(SubjectRefError::DuplicateKeyId(key.id.clone()));
            }
        }
        Ok(SubjectKeyring { keys })
    }

    /// The key new references are made with.
    pub fn current(&self) -> &SubjectKey {
        // `new` refuses an empty list.
        &self.keys[0]
    }

    /// Every key, newest first.
    pub fn keys(&self) -> &[SubjectKey] {
        &self.keys
    }

    /// The references of `identifier` under every key, newest first.
    ///
    /// # Errors
    /// As [`SubjectKey::subject_ref`].
    pub fn all_refs(
        &self,
        identifier: &str,
        normalizer: Normalizer,
    ) -> Result<Vec<SubjectRef>, SubjectRefError> {
        self.keys
            .iter()
            .map(|k| k.subject_ref(identifier, normalizer))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, hex: &str) -> SubjectKey {
        SubjectKey::from_hex(id, hex).expect("valid key")
    }

    /// Known answers computed independently with
    /// `printf %s 111222333 | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>`.
    #[test]
    fn known_answers() {
        let k = key(
            "t1.2026",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        );
        let r = k.subject_ref("111222333", Normalizer::Bsn).unwrap();
        assert_eq!(r.to_string(), format!("hmac-sha256:t1.2026:{}", KAT_BSN));
        let r = k.subject_ref(" 1112.22.333 ", Normalizer::Bsn).unwrap();
        assert_eq!(r.value(), KAT_BSN);
        let r = k.subject_ref("P-000123", Normalizer::Exact).unwrap();
        assert_eq!(r.value(), KAT_EXACT);
    }

    const KAT_BSN: &str = "4999759a57556ce0e533e2fcbc8ef1c744fa520ffe795db89ed649cac0a0441e";
    const KAT_EXACT: &str = "c3a924358b3772bf25e0ec925eef10eb2b9a2454c1a11fb50ac166e3d211c06a";

    #[test]
    fn bad_keys_and_identifiers() {
        assert!(matches!(
            SubjectKey::new("t1", SecretBytes::new(vec![1; 16])),
            Err(SubjectRefError::KeyLength { len: 16 })
        ));
        assert!(matches!(
            SubjectKey::new("t 1", SecretBytes::new(vec![1; 32])),
            Err(SubjectRefError::KeyId(_))
        ));
        assert!(matches!(
            SubjectKey::from_hex("t1", "abc"),
            Err(SubjectRefError::KeyHex)
        ));
        assert!(matches!(
            SubjectKey::from_hex("t1", &"zz".repeat(32)),
            Err(SubjectRefError::KeyHex)
        ));
        let k = SubjectKey::new("t1", SecretBytes::new(vec![1; 32])).unwrap();
        let err = k.subject_ref("123456789", Normalizer::Bsn).unwrap_err();
        assert!(matches!(err, SubjectRefError::Identifier { .. }));
        assert!(!err.to_string().contains("123456789"));
        assert!(k.subject_ref("  ", Normalizer::Trim).is_err());
    }

    #[test]
    fn keyrings_keep_every_version_and_refuse_duplicates() {
        let a = SubjectKey::new("a", SecretBytes::new(vec![1; 32])).unwrap();
        let b = SubjectKey::new("b", SecretBytes::new(vec![2; 32])).unwrap();
        assert!(matches!(
            SubjectKeyring::new(vec![a.clone(), a.clone()]),
            Err(SubjectRefError::DuplicateKeyId(_))
        ));
        assert!(SubjectKeyring::new(Vec::new()).is_err());
        let ring = SubjectKeyring::new(vec![b.clone(), a.clone()]).unwrap();
        let refs = ring.all_refs("111222333", Normalizer::Bsn).unwrap();
        assert_eq!(
            refs[0],
            b.subject_ref("111222333", Normalizer::Bsn).unwrap()
        );
        assert_eq!(
            refs[1],
            a.subject_ref("111222333", Normalizer::Bsn).unwrap()
        );
        assert_ne!(refs[0].value(), refs[1].value());
    }
}
