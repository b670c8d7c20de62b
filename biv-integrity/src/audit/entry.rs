//! The audit entry: exactly the bytes that are hashed into the Merkle tree.

use biv_core::{AuditEvent, AuditEventError};

use super::jcs::{CanonicalJsonError, canonical_json};

/// The version prefix every entry starts with.
pub const ENTRY_PREFIX: &[u8] = b"biv-audit/v1\n";

/// The largest entry, prefix included: 65,535 bytes, so an entry fits a c2sp.org/tlog-tiles
/// entry bundle (whose length field is 16 bits).
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// Why an event could not be encoded as an entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryEncodeError {
    /// The event breaks a rule of [`AuditEvent::validate`].
    #[error("invalid audit event: {0}")]
    Invalid(#[from] AuditEventError),
    /// The encoded entry would exceed [`MAX_ENTRY_BYTES`].
    #[error("audit entry of {size} bytes exceeds the limit of {MAX_ENTRY_BYTES} bytes")]
    TooLarge {
        /// The encoded size.
        size: usize,
    },
    /// The event holds a value without a canonical form.
    #[error(transparent)]
    Canonical(#[from] CanonicalJsonError),
    /// The event could not be turned into JSON.
    #[error("audit event cannot be serialised: {0}")]
    Serialize(String),
}

/// Why bytes are not a valid entry. Each variant says what is wrong; a verifier reports it with
/// the entry's index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryDecodeError {
    /// The bytes do not start with [`ENTRY_PREFIX`].
    #[error("entry does not start with \"biv-audit/v1\\n\"")]
    UnknownVersion,
    /// More than [`MAX_ENTRY_BYTES`].
    #[error("entry of {0} bytes exceeds the limit of {MAX_ENTRY_BYTES} bytes")]
    TooLarge(usize),
    /// The body is not JSON, or not an audit event (unknown or missing fields, bad values).
    #[error("entry body is not a valid audit event: {0}")]
    NotAnEvent(String),
    /// The event is valid JSON but breaks an event rule.
    #[error("entry holds an invalid audit event: {0}")]
    Invalid(#[from] AuditEventError),
    /// The body is not in RFC 8785 canonical form (so the same event could hash two ways).
    #[error("entry body is not in canonical (RFC 8785) form")]
    NotCanonical,
}

/// Encodes an event as an entry: `"biv-audit/v1\n"` followed by the RFC 8785 canonical JSON of
/// the event's JSON form (`docs/formats/audit-event.md`).
///
/// # Errors
/// [`EntryEncodeError`] for an invalid event or one too large.
///
/// ```
/// use biv_integrity::audit::{decode_entry, encode_entry};
///
/// let event = biv_testkit::sample_event(3);
/// let entry = encode_entry(&event)?;
/// assert!(entry.starts_with(b"biv-audit/v1\n{\"access_point\":"));
/// assert_eq!(decode_entry(&entry)?, event);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_entry(event: &AuditEvent) -> Result<Vec<u8>, EntryEncodeError> {
    event.validate()?;
    let value =
        serde_json::to_value(event).map_err(|e| EntryEncodeError::Serialize(e.to_string()))?;
    let body = canonical_json(&value)?;
    let size = ENTRY_PREFIX.len() + body.len();
    if size > MAX_ENTRY_BYTES {
        return Err(EntryEncodeError::TooLarge { size });
    }
    let mut entry = Vec::with_capacity(size);
    entry.extend_from_slice(ENTRY_PREFIX);
    entry.extend_from_slice(&body);
    Ok(entry)
}

/// Decodes and checks an entry: the prefix, the size, the event's schema and rules, and that the
/// body is byte-for-byte canonical.
///
/// # Errors
/// [`EntryDecodeError`] naming what is wrong.
pub fn decode_entry(entry: &[u8]) -> Result<AuditEvent, EntryDecodeError> {
    if entry.len() > MAX_ENTRY_BYTES {
        return Err(EntryDecodeError::TooLarge(entry.len()));
    }
    let body = entry
        .strip_prefix(ENTRY_PREFIX)
        .ok_or(EntryDecodeError::UnknownVersion)?;
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| EntryDecodeError::NotAnEvent(e.to_string()))?;
    let canonical = canonical_json(&value).map_err(|_| EntryDecodeError::NotCanonical)?;
    if canonical != body {
        return Err(EntryDecodeError::NotCanonical);
    }
    let event: AuditEvent =
        serde_json::from_value(value).map_err(|e| EntryDecodeError::NotAnEvent(e.to_string()))?;
    event.validate()?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use biv_testkit::sample_event;

    #[test]
    fn round_trip_for_every_sample_kind() {
        for n in 0..12 {
            let e = sample_event(n);
            let entry = encode_entry(&e).unwrap();
            assert_eq!(decode_entry(&entry).unwrap(), e);
        }
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let good = encode_entry(&sample_event(1)).unwrap();
        assert!(matches!(
            decode_entry(&good[1..]),
            Err(EntryDecodeError::UnknownVersion)
        ));
        let mut spaced = good.clone();
        spaced.insert(ENTRY_PREFIX.len() + 1, b' ');
        assert!(matches!(
            decode_entry(&spaced),
            Err(EntryDecodeError::NotCanonical)
        ));
        let mut truncated = good.clone();
        truncated.pop();
        assert!(matches!(
            decode_entry(&truncated),
            Err(EntryDecodeError::NotAnEvent(_))
        ));
        let extra = [ENTRY_PREFIX, br#"{"bsn":"123456782"}"#].concat();
        assert!(matches!(
            decode_entry(&extra),
            Err(EntryDecodeError::NotAnEvent(_))
        ));
        let big = vec![b'x'; MAX_ENTRY_BYTES + 1];
        assert!(matches!(
            decode_entry(&big),
            Err(EntryDecodeError::TooLarge(_))
        ));
    }

    #[test]
    fn invalid_events_are_not_encoded() {
        let mut e = sample_event(1);
        e.break_glass = true;
        e.authorization = None;
        assert!(matches!(
            encode_entry(&e),
            Err(EntryEncodeError::Invalid(_))
        ));
        let mut huge = sample_event(2);
        huge.purpose_of_use = Some("x".repeat(MAX_ENTRY_BYTES));
        assert!(matches!(
            encode_entry(&huge),
            Err(EntryEncodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn reordered_members_are_not_canonical() {
        let good = encode_entry(&sample_event(1)).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&good[ENTRY_PREFIX.len()..]).unwrap();
        // serde_json without preserve_order writes members sorted by code point, which for these
        // ASCII names equals the canonical order; build a reordered body by hand instead.
        let obj = body.as_object().unwrap();
        let mut reordered = String::from("{");
        for (i, (k, v)) in obj.iter().rev().enumerate() {
            if i > 0 {
                reordered.push(',');
            }
            reordered.push_str(&serde_json::to_string(k).unwrap());
            reordered.push(':');
            reordered.push_str(&serde_json::to_string(v).unwrap());
        }
        reordered.push('}');
        let entry = [ENTRY_PREFIX, reordered.as_bytes()].concat();
        assert!(matches!(
            decode_entry(&entry),
            Err(EntryDecodeError::NotCanonical)
        ));
    }
}
