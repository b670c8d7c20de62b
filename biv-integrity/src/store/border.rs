//! The right border of a Merkle tree (its compact range): the roots of the perfect subtrees
//! that make up `[0, size)`, enough to append leaves and compute the root in O(log n).

use super::hashing::{empty_root, node_hash};

/// The compact range of a tree of `size` leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Border {
    size: u64,
    /// `nodes[level]` is the subtree of 2^level leaves still waiting for its right sibling,
    /// present exactly when bit `level` of `size` is set.
    nodes: Vec<Option<[u8; 32]>>,
}

impl Border {
    /// Rebuilds the border from its hashes in ascending level order (one per set bit of `size`).
    /// `None` if the count does not match.
    pub(crate) fn from_hashes(size: u64, hashes: &[[u8; 32]]) -> Option<Border> {
        let mut nodes = Vec::new();
        let mut it = hashes.iter();
        for level in 0..64 {
            if size >> level == 0 {
                break;
            }
            nodes.push(if (size >> level) & 1 == 1 {
                Some(*it.next()?)
            } else {
                None
            });
        }
        if it.next().is_some() {
            return None;
        }
        Some(Border { size, nodes })
    }

    /// The border's hashes in ascending level order.
    pub(crate) fn hashes(&self) -> Vec<[u8; 32]> {
        self.nodes.iter().flatten().copied().collect()
    }

    /// Appends a leaf hash; `completed(level, index, hash)` is called for every node the leaf
    /// completes, the leaf itself (level 0) first.
    pub(crate) fn append(
        &mut self,
        leaf: [u8; 32],
        mut completed: impl FnMut(usize, u64, [u8; 32]),
    ) {
        let mut node = leaf;
        let mut level = 0;
        let mut index = self.size;
        loop {
            completed(level, index, node);
            if self.nodes.len() <= level {
                self.nodes.push(None);
            }
            match self.nodes[level].take() {
                Some(left) => {
                    node = node_hash(&left, &node);
                    level += 1;
                    index >>= 1;
                }
                None => {
                    self.nodes[level] = Some(node);
                    break;
                }
            }
        }
        self.size += 1;
    }

    /// Leaves appended.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The root (the empty-tree hash for size 0).
    pub(crate) fn root(&self) -> [u8; 32] {
        let mut acc: Option<[u8; 32]> = None;
        for node in self.nodes.iter().flatten() {
            acc = Some(match acc {
                None => *node,
                Some(right) => node_hash(node, &right),
            });
        }
        acc.unwrap_or_else(empty_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hashing::leaf_hash;

    fn naive(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&naive(&leaves[..k]), &naive(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_and_completed_nodes_match_a_naive_tree() {
        let mut b = Border::default();
        let mut leaves = Vec::new();
        for i in 0..70u64 {
            let leaf = leaf_hash(&i.to_be_bytes());
            leaves.push(leaf);
            let mut emitted = Vec::new();
            b.append(leaf, |level, index, hash| {
                emitted.push((level, index, hash))
            });
            for (level, index, hash) in emitted {
                let start = (index << level) as usize;
                assert_eq!(
                    hash,
                    naive(&leaves[start..start + (1 << level)]),
                    "node {level}/{index}"
                );
            }
            assert_eq!(b.root(), naive(&leaves), "size {}", i + 1);
            let again = Border::from_hashes(b.size(), &b.hashes()).unwrap();
            assert_eq!(again, b);
        }
        assert!(Border::from_hashes(3, &[[0; 32]]).is_none());
    }
}
