//! An in-memory Merkle tree that keeps every perfect-subtree hash: the reference [`NodeSource`].

use super::compact::{CompactRange, CompactRangeError};
use super::hash::{Hash, leaf_hash};
use super::node::NodeId;
use super::proof::{NodeSource, NodeSourceError, ProofError, consistency_proof, inclusion_proof};

/// A growing tree in memory: level `L` holds the hash of every complete subtree of `2^L` leaves
/// (about 2·n hashes in all, 64 MiB per million leaves). Serves proofs for the current size and
/// every earlier one.
///
/// ```
/// use biv_integrity::tlog::{MemoryTree, verify_consistency, verify_inclusion};
///
/// let mut tree = MemoryTree::new();
/// for i in 0u32..10 {
///     tree.push_entry(&i.to_be_bytes())?;
/// }
/// let root = tree.root();
/// let proof = tree.inclusion_proof(3, tree.size())?;
/// verify_inclusion(3, tree.size(), &tree.leaf(3).unwrap(), &proof, &root)?;
///
/// let old_root = tree.root_at(6)?;
/// let proof = tree.consistency_proof(6, 10)?;
/// verify_consistency(6, 10, &proof, &old_root, &root)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    range: CompactRange,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        MemoryTree::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// Appends a leaf hash; returns its index.
    ///
    /// # Errors
    /// [`CompactRangeError::Full`] at 2^64 − 1 leaves.
    pub fn push(&mut self, leaf: Hash) -> Result<u64, CompactRangeError> {
        let index = self.range.size();
        let levels = &mut self.levels;
        self.range.push_with(leaf, |node, hash| {
            let level = usize::from(node.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            levels[level].push(*hash);
        })?;
        Ok(index)
    }

    /// Appends an entry (hashed with [`leaf_hash`]); returns its index.
    ///
    /// # Errors
    /// [`CompactRangeError::Full`] at 2^64 − 1 leaves.
    pub fn push_entry(&mut self, entry: &[u8]) -> Result<u64, CompactRangeError> {
        self.push(leaf_hash(entry))
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let i = usize::try_from(index).ok()?;
        self.levels.first()?.get(i).copied()
    }

    /// The root of the current tree.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// The compact range of the current tree.
    pub fn compact_range(&self) -> &CompactRange {
        &self.range
    }

    /// The root of the tree as it was at `size` leaves.
    ///
    /// # Errors
    /// [`ProofError::Source`] if `size` exceeds the current size.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        super::proof::tree_root(self, size)
    }

    /// Inclusion proof of `index` in the tree at `size` leaves.
    ///
    /// # Errors
    /// As [`inclusion_proof`]; [`ProofError::Source`] if `size` exceeds the current size.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        inclusion_proof(self, index, size)
    }

    /// Consistency proof between two sizes.
    ///
    /// # Errors
    /// As [`consistency_proof`]; [`ProofError::Source`] if `size2` exceeds the current size.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, ProofError> {
        consistency_proof(self, size1, size2)
    }
}

impl NodeSource for MemoryTree {
    fn node_hash(&self, node: NodeId) -> Result<Hash, NodeSourceError> {
        usize::try_from(node.index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(node.level))?.get(i))
            .copied()
            .ok_or(NodeSourceError::Missing { node })
    }
}
