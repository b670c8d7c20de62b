//! Audit entries: the NEN 7513 event as the exact bytes the Merkle log hashes.
//!
//! An entry is `"biv-audit/v1\n"` followed by the RFC 8785 canonical JSON of an
//! [`AuditEvent`](biv_core::AuditEvent), at most 65,535 bytes. The format is specified in
//! `docs/formats/audit-event.md`; any JCS implementation reproduces the bytes, so an auditor can
//! recompute every leaf hash without biv.

mod entry;
mod jcs;

pub use entry::{
    ENTRY_PREFIX, EntryDecodeError, EntryEncodeError, MAX_ENTRY_BYTES, decode_entry, encode_entry,
};
pub use jcs::{CanonicalJsonError, canonical_json};
