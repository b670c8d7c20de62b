//! RFC 6962 hashing as the store uses it.

use sha2::{Digest, Sha256};

/// SHA-256(0x00 ‖ entry).
pub(crate) fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// SHA-256(0x01 ‖ left ‖ right).
pub(crate) fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// SHA-256 of nothing: the root of the empty tree.
pub(crate) fn empty_root() -> [u8; 32] {
    Sha256::digest([]).into()
}
