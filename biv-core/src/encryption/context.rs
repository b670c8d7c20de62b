//! The encryption context and its canonical byte encoding.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{InvalidName, check_name};

const PREFIX: &[u8] = b"biv.ctx.v1";
/// Most fields a context may have.
const MAX_FIELDS: usize = 32;
/// Largest value of one field, in bytes.
const MAX_VALUE_BYTES: usize = 65_536;

/// Why a [`Context`] could not be built or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A field name breaks the rule `[a-z][a-z0-9_]{0,63}`.
    #[error(transparent)]
    Name(#[from] InvalidName),
    /// The same field was given twice.
    #[error("context field `{0}` given twice")]
    Duplicate(String),
    /// More than 32 fields.
    #[error("a context has at most {MAX_FIELDS} fields")]
    TooManyFields,
    /// A value longer than 65,536 bytes.
    #[error("context field `{0}` is longer than {MAX_VALUE_BYTES} bytes")]
    ValueTooLong(String),
    /// Canonical bytes that do not decode; `offset` says where.
    #[error("malformed canonical context at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
}

/// The field context a ciphertext is bound to: tenant, table, column, data subject, row, ….
///
/// The context is authenticated (part of the AEAD's associated data) but not stored in the
/// ciphertext, so a ciphertext copied to another row, column or tenant fails to decrypt. Both
/// sides must build the same context, so it has one canonical byte encoding:
///
/// ```text
/// "biv.ctx.v1" ‖ for each field, sorted by name (bytewise):
///     u16be len(name) ‖ name ‖ u32be len(value) ‖ value
/// ```
///
/// Names match `[a-z][a-z0-9_]{0,63}` and are unique; values are bytes (UTF-8 text in
/// practice), at most 65,536 each; at most 32 fields. The well-known names are `tenant`,
/// `table`, `column`, `subject` (a pseudonymous subject reference) and `row`.
///
/// # Example
/// ```
/// use biv_core::Context;
///
/// let ctx = Context::new()
///     .with("tenant", "zorg-noord")?
///     .with("table", "patients")?
///     .with("column", "bsn")?;
/// let bytes = ctx.to_canonical_bytes();
/// assert!(bytes.starts_with(b"biv.ctx.v1\x00\x06column\x00\x00\x00\x03bsn"));
/// assert_eq!(Context::from_canonical_bytes(&bytes)?, ctx);
/// # Ok::<(), biv_core::ContextError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Context {
    fields: BTreeMap<String, Vec<u8>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    ///
    /// # Errors
    /// [`ContextError`] for an invalid or duplicate name, a value too long, or too many fields.
    pub fn with(mut self, name: &str, value: impl AsRef<[u8]>) -> Result<Self, ContextError> {
        self.insert(name, value.as_ref())?;
        Ok(self)
    }

    fn insert(&mut self, name: &str, value: &[u8]) -> Result<(), ContextError> {
        check_name(
            "context field name",
            name,
            64,
            |b| b.is_ascii_lowercase(),
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
            "[a-z][a-z0-9_]{0,63}",
        )?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(ContextError::ValueTooLong(name.to_owned()));
        }
        if self.fields.contains_key(name) {
            return Err(ContextError::Duplicate(name.to_owned()));
        }
        if self.fields.len() == MAX_FIELDS {
            return Err(ContextError::TooManyFields);
        }
        self.fields.insert(name.to_owned(), value.to_vec());
        Ok(())
    }

    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields.get(name).map(Vec::as_slice)
    }

    /// The fields in canonical (name) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Writes the canonical encoding into `out` (appending).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(PREFIX);
        for (name, value) in &self.fields {
            // Lengths are bounded by the insert rules (64 and 65,536), so the casts cannot truncate.
            out.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(value);
        }
    }

    /// The canonical encoding.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let size = PREFIX.len()
            + self
                .fields
                .iter()
                .map(|(k, v)| 6 + k.len() + v.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        self.encode_into(&mut out);
        out
    }

    /// Decodes a canonical encoding, rejecting anything that is not canonical (unsorted or
    /// repeated names, trailing bytes, a wrong prefix).
    ///
    /// # Errors
    /// [`ContextError::Malformed`] with the offset, or a rule error for a field.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, ContextError> {
        let malformed = |offset, reason| ContextError::Malformed { offset, reason };
        if !bytes.starts_with(PREFIX) {
            return Err(malformed(0, "missing the \"biv.ctx.v1\" prefix"));
        }
        let mut pos = PREFIX.len();
        let mut ctx = Context::new();
        let mut last: Option<String> = None;
        while pos < bytes.len() {
            let name_len =
                read_len::<2>(bytes, pos).ok_or(malformed(pos, "truncated name length"))?;
            pos += 2;
            let name = bytes
                .get(pos..pos + name_len)
                .ok_or(malformed(pos, "truncated name"))?;
            let name =
                std::str::from_utf8(name).map_err(|_| malformed(pos, "name is not ASCII"))?;
            if last.as_deref().is_some_and(|l| l >= name) {
                return Err(malformed(pos, "names not in strictly ascending order"));
            }
            pos += name_len;
            let value_len =
                read_len::<4>(bytes, pos).ok_or(malformed(pos, "truncated value length"))?;
            pos += 4;
            let value = bytes
                .get(pos..pos + value_len)
                .ok_or(malformed(pos, "truncated value"))?;
            pos += value_len;
            ctx.insert(name, value)?;
            last = Some(name.to_owned());
        }
        Ok(ctx)
    }
}

fn read_len<const N: usize>(bytes: &[u8], pos: usize) -> Option<usize> {
    let raw: [u8; N] = bytes.get(pos..pos + N)?.try_into().ok()?;
    let mut v = 0usize;
    for b in raw {
        v = (v << 8) | usize::from(b);
    }
    Some(v)
}

impl fmt::Debug for Context {
    // Values may be pseudonyms or row ids; show names and sizes only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.fields {
            m.entry(k, &format_args!("<{} bytes>", v.len()));
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        let ctx = Context::new()
            .with("tenant", "t1")
            .unwrap()
            .with("column", "bsn")
            .unwrap();
        let mut expected = b"biv.ctx.v1".to_vec();
        expected.extend_from_slice(b"\x00\x06column\x00\x00\x00\x03bsn");
        expected.extend_from_slice(b"\x00\x06tenant\x00\x00\x00\x02t1");
        assert_eq!(ctx.to_canonical_bytes(), expected);
        assert_eq!(Context::new().to_canonical_bytes(), b"biv.ctx.v1");
    }

    #[test]
    fn build_rules() {
        assert!(matches!(
            Context::new().with("Tenant", "x"),
            Err(ContextError::Name(_))
        ));
        assert!(matches!(
            Context::new().with("", "x"),
            Err(ContextError::Name(_))
        ));
        let c = Context::new().with("a", "1").unwrap();
        assert!(matches!(
            c.clone().with("a", "2"),
            Err(ContextError::Duplicate(_))
        ));
        assert!(matches!(
            c.with("b", vec![0u8; MAX_VALUE_BYTES + 1]),
            Err(ContextError::ValueTooLong(_))
        ));
        let mut many = Context::new();
        for i in 0..MAX_FIELDS {
            many = many.with(&format!("f{i}"), "v").unwrap();
        }
        assert!(matches!(
            many.with("z", "v"),
            Err(ContextError::TooManyFields)
        ));
    }

    #[test]
    fn decoding_rejects_non_canonical_input() {
        let good = Context::new()
            .with("a", "1")
            .unwrap()
            .with("b", "2")
            .unwrap()
            .to_canonical_bytes();
        let mut swapped = b"biv.ctx.v1".to_vec();
        swapped.extend_from_slice(b"\x00\x01b\x00\x00\x00\x012\x00\x01a\x00\x00\x00\x011");
        assert!(matches!(
            Context::from_canonical_bytes(&swapped),
            Err(ContextError::Malformed { .. })
        ));
        for cut in 10..good.len() {
            let r = Context::from_canonical_bytes(&good[..cut]);
            // Cutting exactly after a complete field yields a valid shorter context; anything else is malformed.
            if cut != 10 && cut != 18 {
                assert!(r.is_err(), "cut at {cut}");
            }
        }
        assert!(Context::from_canonical_bytes(b"biv.ctx.v2").is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(Context::from_canonical_bytes(&trailing).is_err());
    }

    #[test]
    fn debug_hides_values() {
        let c = Context::new().with("subject", "hmac:k:abcdef").unwrap();
        assert_eq!(format!("{c:?}"), "{\"subject\": <13 bytes>}");
    }

    proptest::proptest! {
        #[test]
        fn round_trip(fields in proptest::collection::btree_map("[a-z][a-z0-9_]{0,8}", proptest::collection::vec(proptest::num::u8::ANY, 0..40), 0..8)) {
            let mut ctx = Context::new();
            for (k, v) in &fields {
                ctx = ctx.with(k, v).unwrap();
            }
            let bytes = ctx.to_canonical_bytes();
            proptest::prop_assert_eq!(Context::from_canonical_bytes(&bytes).unwrap(), ctx);
        }

        #[test]
        fn decoder_never_panics(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut bytes = b"biv.ctx.v1".to_vec();
            bytes.extend(tail);
            let _ = Context::from_canonical_bytes(&bytes);
        }
    }
}
