//! A compact range: the right border of a Merkle tree, enough to append leaves and compute the
//! root without the rest of the tree.

use super::hash::{HASH_SIZE, Hash, empty_root, leaf_hash, node_hash};
use super::node::NodeId;

/// The roots of the perfect subtrees that make up a tree of `size` leaves, largest (leftmost)
/// first: one hash per set bit of `size`, so at most 64.
///
/// Appending a leaf costs O(1) amortised node hashes (at most log2 n); [`CompactRange::root`]
/// costs popcount(n) − 1. The state is `size` plus the hashes, which [`CompactRange::to_bytes`]
/// serialises so a store can persist it next to its tree (transparency-dev/merkle's
/// `compact.Range` for a range starting at 0).
///
/// ```
/// use biv_integrity::tlog::{CompactRange, Hash, leaf_hash};
///
/// let mut range = CompactRange::new();
/// for entry in [&b""[..], &[0x00], &[0x10]] {
///     range.push(leaf_hash(entry))?;
/// }
/// assert_eq!(range.size(), 3);
/// assert_eq!(range.hashes().len(), 2); // 3 = 0b11: a 2-leaf and a 1-leaf subtree
/// // RFC 6962 root of the first three leaves of transparency-dev/merkle's test tree.
/// assert_eq!(
///     range.root(),
///     Hash::from_hex("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77")?
/// );
/// let restored = CompactRange::from_bytes(&range.to_bytes())?;
/// assert_eq!(restored, range);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

/// Why a compact range could not be built or extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompactRangeError {
    /// The number of hashes does not match the size (one per set bit).
    #[error("a range of size {size} has {expected} hashes, got {actual}")]
    WrongHashCount {
        /// The stated tree size.
        size: u64,
        /// popcount(size).
        expected: usize,
        /// Hashes supplied.
        actual: usize,
    },
    /// The serialised form is not 8 + 32·k bytes.
    #[error("a serialised compact range is 8 + 32·k bytes, got {len}")]
    BadEncodingLength {
        /// Bytes supplied.
        len: usize,
    },
    /// The tree already holds 2^64 − 1 leaves.
    #[error("the tree is full")]
    Full,
}

impl CompactRange {
    /// The range of the empty tree.
    pub const fn new() -> Self {
        CompactRange {
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// Restores a range from its size and hashes (largest subtree first).
    ///
    /// # Errors
    /// [`CompactRangeError::WrongHashCount`] unless there is one hash per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, CompactRangeError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(CompactRangeError::WrongHashCount {
                size,
                expected,
                actual: hashes.len(),
            });
        }
        Ok(CompactRange { size, hashes })
    }

    /// Number of leaves.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The node addresses of [`CompactRange::hashes`], in the same order.
    pub fn nodes(&self) -> Vec<NodeId> {
        super::node::decompose(0, self.size)
    }

    /// Appends a leaf by its leaf hash.
    ///
    /// # Errors
    /// [`CompactRangeError::Full`] at 2^64 − 1 leaves.
    pub fn push(&mut self, leaf: Hash) -> Result<(), CompactRangeError> {
        self.push_with(leaf, |_, _| {})
    }

    /// Appends an entry: hashes it with [`leaf_hash`] and pushes it.
    ///
    /// # Errors
    /// [`CompactRangeError::Full`] at 2^64 − 1 leaves.
    pub fn push_entry(&mut self, entry: &[u8]) -> Result<(), CompactRangeError> {
        self.push(leaf_hash(entry))
    }

    /// Appends a leaf and reports every perfect-subtree node that becomes complete — the leaf
    /// itself first, then each parent up the right border — so a store can persist the tree's
    /// node hashes (and later serve proofs from them) as it appends.
    ///
    /// # Errors
    /// [`CompactRangeError::Full`] at 2^64 − 1 leaves.
    pub fn push_with(
        &mut self,
        leaf: Hash,
        mut visit: impl FnMut(NodeId, &Hash),
    ) -> Result<(), CompactRangeError> {
        if self.size == u64::MAX {
            return Err(CompactRangeError::Full);
        }
        let mut hash = leaf;
        let mut node = NodeId::leaf(self.size);
        visit(node, &hash);
        let mut bits = self.size;
        while bits & 1 == 1 {
            // One stored hash per set bit, so a set low bit always has a hash to merge with.
            let Some(left) = self.hashes.pop() else { break };
            hash = node_hash(&left, &hash);
            node = NodeId::new(node.level + 1, node.index >> 1);
            visit(node, &hash);
            bits >>= 1;
        }
        self.hashes.push(hash);
        self.size += 1;
        Ok(())
    }

    /// The RFC 6962 root of the tree (the empty-tree root for size 0).
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// Serialises as `uint64_be(size) ‖ hashes` (8 + 32·popcount(size) bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + HASH_SIZE * self.hashes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h.as_bytes());
        }
        out
    }

    /// Parses the form written by [`CompactRange::to_bytes`].
    ///
    /// # Errors
    /// [`CompactRangeError::BadEncodingLength`] or [`CompactRangeError::WrongHashCount`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CompactRangeError> {
        let bad = || CompactRangeError::BadEncodingLength { len: bytes.len() };
        let (size_bytes, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
        if rest.len() % HASH_SIZE != 0 {
            return Err(bad());
        }
        let hashes = rest
            .chunks_exact(HASH_SIZE)
            .map(Hash::from_slice)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad())?;
        CompactRange::from_parts(u64::from_be_bytes(*size_bytes), hashes)
    }
}
