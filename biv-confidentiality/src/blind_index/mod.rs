//! Blind indexes: equality search over encrypted columns without decrypting.
//!
//! `index = truncate_bits(HMAC-SHA256(K_idx, normalise(value)), bits)`, where
//! `K_idx = HKDF-SHA256(root index key, info = "biv.bidx.v1" ‖ tenant ‖ table ‖ column ‖ index)`
//! (each part length-prefixed). The key is per (tenant, table, column, index name), so indexes of
//! different columns or tenants cannot be compared. Specified with known-answer vectors in
//! `docs/formats/blind-index.md`.
//!
//! ```
//! use biv_confidentiality::blind_index::{BlindIndex, IndexRootKey, IndexSpec, Normalizer};
//! use biv_core::SecretBytes;
//!
//! let root = IndexRootKey::new(1, SecretBytes::new(vec![7; 32]))?;
//! let spec = IndexSpec::new("zorg-noord", "patients", "bsn", "bsn_exact", Normalizer::Bsn, 32)?;
//! let index = BlindIndex::new(&root, &spec)?;
//! // Every way of writing the same BSN gives the same index value.
//! assert_eq!(index.compute("111 222 333")?, index.compute("111.222.333")?);
//! assert!(index.compute("111222334").is_err()); // fails the 11-proof
//! # Ok::<(), biv_confidentiality::blind_index::BlindIndexError>(())
//! ```
//!
//! During a key rotation a lookup asks for the value under every active version
//! ([`query_values`]); stored rows carry the version they were indexed with.

mod eraser;
mod normalize;
mod planner;

use std::fmt;

use biv_core::SecretBytes;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub use eraser::BlindIndexEraser;
pub use normalize::Normalizer;
pub use planner::{IndexPlan, plan_bits};

/// Why an index could not be built or a value indexed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BlindIndexError {
    /// The value cannot be normalised (e.g. a BSN that fails the 11-proof).
    #[error("value refused by the {normalizer:?} normaliser: {reason}")]
    InvalidValue {
        /// The normaliser.
        normalizer: Normalizer,
        /// Why.
        reason: &'static str,
    },
    /// The root key is not 32 bytes.
    #[error("a root index key has 32 bytes, not {0}")]
    KeyLength(usize),
    /// Bits outside 1–256, or an empty name.
    #[error("invalid index specification: {0}")]
    InvalidSpec(String),
    /// A compound index got another number of values than it has parts.
    #[error("compound index expects {expected} values, got {got}")]
    Arity {
        /// Parts of the index.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// No truncation meets the planner's bounds.
    #[error("cannot plan the index: {reason}")]
    Unplannable {
        /// Why.
        reason: String,
    },
}

/// A version of the root key all index keys derive from. Keep it in a KMS or HSM where possible:
/// low-entropy values such as BSNs are protected by this key alone.
pub struct IndexRootKey {
    version: u32,
    key: SecretBytes,
}

impl fmt::Debug for IndexRootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexRootKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl IndexRootKey {
    /// A 32-byte root key with its version.
    ///
    /// # Errors
    /// [`BlindIndexError::KeyLength`].
    pub fn new(version: u32, key: SecretBytes) -> Result<Self, BlindIndexError> {
        if key.len() != 32 {
            return Err(BlindIndexError::KeyLength(key.len()));
        }
        Ok(IndexRootKey { version, key })
    }

    /// The version.
    pub fn version(&self) -> u32 {
        self.version
    }
}

/// Which index: where it lives, how values are normalised, and how many bits it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexSpec {
    /// Tenant.
    pub tenant: String,
    /// Table.
    pub table: String,
    /// Column (for a compound index, a name for the combination).
    pub column: String,
    /// The index's name.
    pub name: String,
    /// How each value is normalised (each part, for a compound index).
    pub normalizers: Vec<Normalizer>,
    /// Bits kept, 1–256 (see [`plan_bits`]).
    pub bits: u32,
}

impl IndexSpec {
    /// A single-value index.
    ///
    /// # Errors
    /// [`BlindIndexError::InvalidSpec`] for an empty name or bits outside 1–256.
    pub fn new(
        tenant: &str,
        table: &str,
        column: &str,
        name: &str,
        normalizer: Normalizer,
        bits: u32,
    ) -> Result<Self, BlindIndexError> {
        Self::compound(tenant, table, column, name, &[normalizer], bits)
    }

    /// A compound index over several values (e.g. last name and date of birth).
    ///
    /// # Errors
    /// [`BlindIndexError::InvalidSpec`].
    pub fn compound(
        tenant: &str,
        table: &str,
        column: &str,
        name: &str,
        normalizers: &[Normalizer],
        bits: u32,
    ) -> Result<Self, BlindIndexError> {
        if [tenant, table, column, name]
            .iter()
            .any(|p| p.is_empty() || p.len() > u16::MAX as usize)
        {
            return Err(BlindIndexError::InvalidSpec(
                "tenant, table, column and name must be 1–65535 bytes".into(),
            ));
        }
        if !(1..=256).contains(&bits) || normalizers.is_empty() {
            return Err(BlindIndexError::InvalidSpec(
                "bits must be 1–256 and there must be a normaliser".into(),
            ));
        }
        Ok(IndexSpec {
            tenant: tenant.into(),
            table: table.into(),
            column: column.into(),
            name: name.into(),
            normalizers: normalizers.to_vec(),
            bits,
        })
    }

    /// The HKDF `info` for this index.
    fn info(&self) -> Vec<u8> {
        let mut info = b"biv.bidx.v1".to_vec();
        for part in [&self.tenant, &self.table, &self.column, &self.name] {
            // Lengths are bounded to u16 by the constructors.
            info.extend_from_slice(&u16::try_from(part.len()).unwrap_or(u16::MAX).to_be_bytes());
            info.extend_from_slice(part.as_bytes());
        }
        info
    }
}

/// A blind index ready to compute values: the derived key (prepared as an HMAC state) and the spec.
#[derive(Clone)]
pub struct BlindIndex {
    version: u32,
    mac: Hmac<Sha256>,
    spec: IndexSpec,
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndex")
            .field("version", &self.version)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl BlindIndex {
    /// Derives the index key for `spec` from `root`.
    ///
    /// # Errors
    /// [`BlindIndexError::KeyLength`] if the derivation fails (it cannot for a 32-byte key).
    pub fn new(root: &IndexRootKey, spec: &IndexSpec) -> Result<Self, BlindIndexError> {
        let hk = hkdf::Hkdf::<Sha256>::new(None, root.key.expose_secret());
        let mut derived = zeroize::Zeroizing::new([0u8; 32]);
        hk.expand(&spec.info(), derived.as_mut_slice())
            .map_err(|_| BlindIndexError::KeyLength(32))?;
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(derived.as_slice())
            .map_err(|_| BlindIndexError::KeyLength(32))?;
        Ok(BlindIndex {
            version: root.version,
            mac,
            spec: spec.clone(),
        })
    }

    /// The index value of a single value, as text `bi1:<version>:<hex>`.
    ///
    /// # Errors
    /// [`BlindIndexError::InvalidValue`] or [`BlindIndexError::Arity`] for a compound index.
    pub fn compute(&self, value: &str) -> Result<String, BlindIndexError> {
        self.compute_compound(&[value])
    }

    /// The index value of a compound index's values, in the spec's order.
    ///
    /// # Errors
    /// As [`BlindIndex::compute`].
    pub fn compute_compound(&self, values: &[&str]) -> Result<String, BlindIndexError> {
        let normalizers = &self.spec.normalizers;
        if values.len() != normalizers.len() {
            return Err(BlindIndexError::Arity {
                expected: normalizers.len(),
                got: values.len(),
            });
        }
        let mut mac = self.mac.clone();
        if let [value] = values {
            mac.update(normalizers[0].apply(value)?.as_bytes());
        } else {
            for (value, normalizer) in values.iter().zip(normalizers) {
                let n = normalizer.apply(value)?;
                mac.update(&u32::try_from(n.len()).unwrap_or(u32::MAX).to_be_bytes());
                mac.update(n.as_bytes());
            }
        }
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "bi1:{}:{}",
            self.version,
            truncated_hex(&tag, self.spec.bits)
        ))
    }

    /// The key version this index computes with.
    pub fn version(&self) -> u32 {
        self.version
    }
}

/// The first `bits` bits of `tag` as lower-case hex; unused low bits of the last byte are zero.
fn truncated_hex(tag: &[u8], bits: u32) -> String {
    let bytes = bits.div_ceil(8) as usize;
    let mut out = String::with_capacity(bytes * 2);
    for (i, b) in tag.iter().take(bytes).enumerate() {
        let keep = bits as usize - i * 8;
        let b = if keep >= 8 {
            *b
        } else {
            b & (0xffu8 << (8 - keep))
        };
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    out
}

/// The index values of `value` under every root key version in `roots`: what a lookup asks for
/// while a rotation is under way (`WHERE bidx IN (…)`).
///
/// # Errors
/// As [`BlindIndex::compute`].
pub fn query_values(
    roots: &[IndexRootKey],
    spec: &IndexSpec,
    value: &str,
) -> Result<Vec<String>, BlindIndexError> {
    roots
        .iter()
        .map(|root| BlindIndex::new(root, spec)?.compute(value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(v: u32, fill: u8) -> IndexRootKey {
        IndexRootKey::new(v, SecretBytes::new(vec![fill; 32])).unwrap()
    }

    #[test]
    fn indexes_are_separated_by_tenant_table_column_and_name() {
        let base = IndexSpec::new("t1", "patients", "bsn", "exact", Normalizer::Bsn, 64).unwrap();
        let v = |spec: &IndexSpec| {
            BlindIndex::new(&root(1, 1), spec)
                .unwrap()
                .compute("111222333")
                .unwrap()
        };
        let other_tenant = IndexSpec {
            tenant: "t2".into(),
            ..base.clone()
        };
        let other_column = IndexSpec {
            column: "bsn2".into(),
            ..base.clone()
        };
        let other_name = IndexSpec {
            name: "exact2".into(),
            ..base.clone()
        };
        let all = [v(&base), v(&other_tenant), v(&other_column), v(&other_name)];
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j]);
            }
        }
        assert_ne!(
            v(&base),
            BlindIndex::new(&root(2, 2), &base)
                .unwrap()
                .compute("111222333")
                .unwrap()
        );
    }

    #[test]
    fn truncation_keeps_exactly_the_bits_asked_for() {
        assert_eq!(truncated_hex(&[0xff, 0xff, 0xff], 12), "fff0");
        assert_eq!(truncated_hex(&[0xab, 0xcd], 8), "ab");
        assert_eq!(truncated_hex(&[0xab, 0xcd], 1), "80");
        let spec = IndexSpec::new("t", "p", "c", "n", Normalizer::Exact, 13).unwrap();
        let value = BlindIndex::new(&root(3, 9), &spec)
            .unwrap()
            .compute("x")
            .unwrap();
        assert!(value.starts_with("bi1:3:") && value.len() == "bi1:3:".len() + 4);
    }

    #[test]
    fn rotation_queries_every_version_and_compound_checks_arity() {
        let spec = IndexSpec::new("t", "p", "email", "lower", Normalizer::EmailLower, 32).unwrap();
        let values = query_values(&[root(1, 1), root(2, 2)], &spec, "A@b.nl").unwrap();
        assert_eq!(values.len(), 2);
        assert!(values[0].starts_with("bi1:1:") && values[1].starts_with("bi1:2:"));
        let compound = IndexSpec::compound(
            "t",
            "p",
            "name_dob",
            "c",
            &[Normalizer::Trim, Normalizer::Digits],
            32,
        )
        .unwrap();
        let idx = BlindIndex::new(&root(1, 1), &compound).unwrap();
        assert!(matches!(
            idx.compute("x"),
            Err(BlindIndexError::Arity {
                expected: 2,
                got: 1
            })
        ));
        assert_eq!(
            idx.compute_compound(&["de Vries ", "1970-01-02"]).unwrap(),
            idx.compute_compound(&["de Vries", "19700102"]).unwrap()
        );
        assert!(format!("{:?}", root(1, 42)).find("42").is_none());
    }
}
