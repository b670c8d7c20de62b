//! Inclusion and consistency proof generation (RFC 6962 §2.1.1 PATH and §2.1.2 SUBPROOF) from
//! any store of perfect-subtree hashes.
//!
//! A proof is planned first ([`inclusion_plan`], [`consistency_plan`]): the plan names the node
//! hashes it needs — at most two per tree level — so a store can fetch them in one batch (one
//! SQL query, a handful of `pread`s), then [`ProofPlan::assemble`] turns them into the proof.
//! [`inclusion_proof`] and [`consistency_proof`] do both steps against a [`NodeSource`].

use std::error::Error as StdError;

use super::hash::{Hash, empty_root, node_hash};
use super::node::{NodeId, decompose, split_point};

/// Read access to the hashes of a tree's perfect subtrees.
///
/// An implementation must return the hash of every node whose leaves all lie below the tree
/// size it was asked about — for a log that only grows, every node it has ever completed.
/// `biv-integrity`'s stores keep one record per node and level; [`crate::tlog::MemoryTree`] is
/// the in-memory version.
pub trait NodeSource {
    /// The hash of one perfect subtree.
    ///
    /// # Errors
    /// [`NodeSourceError::Missing`] when the node is not stored, [`NodeSourceError::Backend`]
    /// when the store could not be read.
    fn node_hash(&self, node: NodeId) -> Result<Hash, NodeSourceError>;

    /// The hashes of several nodes, in order. Override to batch reads; the default calls
    /// [`NodeSource::node_hash`] for each.
    ///
    /// # Errors
    /// As [`NodeSource::node_hash`].
    fn node_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, NodeSourceError> {
        nodes.iter().map(|n| self.node_hash(*n)).collect()
    }
}

impl<T: NodeSource + ?Sized> NodeSource for &T {
    fn node_hash(&self, node: NodeId) -> Result<Hash, NodeSourceError> {
        (**self).node_hash(node)
    }
    fn node_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, NodeSourceError> {
        (**self).node_hashes(nodes)
    }
}

/// A [`NodeSource`] could not provide a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeSourceError {
    /// The node is not stored (the tree is smaller than asked, or the store lost it).
    #[error("node (level {}, index {}) is not stored", node.level, node.index)]
    Missing {
        /// The node asked for.
        node: NodeId,
    },
    /// The store failed while reading the node.
    #[error("reading node (level {}, index {}) failed", node.level, node.index)]
    Backend {
        /// The node asked for.
        node: NodeId,
        /// The store's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Why a proof could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// A consistency proof was asked from a larger to a smaller tree.
    #[error("old size {size1} is larger than new size {size2}")]
    SizesReversed {
        /// Old tree size.
        size1: u64,
        /// New tree size.
        size2: u64,
    },
    /// A consistency proof from the empty tree: there is nothing to prove (RFC 9162 §2.1.4).
    #[error("a consistency proof from the empty tree is meaningless")]
    EmptyOldTree,
    /// [`ProofPlan::assemble`] got a different number of hashes than the plan has nodes.
    #[error("the plan needs {expected} node hashes, got {actual}")]
    HashCountMismatch {
        /// Nodes in the plan.
        expected: usize,
        /// Hashes supplied.
        actual: usize,
    },
    /// The node store failed.
    #[error("the node store failed")]
    Source(#[from] NodeSourceError),
}

/// One proof hash: a single stored node, or a fold of consecutive planned nodes (the right edge
/// of a tree whose size is not a power of two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Node(usize),
    Fold { start: usize, end: usize },
}

/// The node hashes a proof needs and how to combine them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProofPlan {
    nodes: Vec<NodeId>,
    items: Vec<Item>,
}

impl ProofPlan {
    /// The nodes to fetch, in the order [`ProofPlan::assemble`] expects their hashes.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// Number of hashes in the finished proof.
    pub fn proof_len(&self) -> usize {
        self.items.len()
    }

    /// Builds the proof from the hashes of [`ProofPlan::nodes`], in the same order.
    ///
    /// # Errors
    /// [`ProofError::HashCountMismatch`] if `hashes` does not match the plan.
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>, ProofError> {
        if hashes.len() != self.nodes.len() {
            return Err(ProofError::HashCountMismatch {
                expected: self.nodes.len(),
                actual: hashes.len(),
            });
        }
        Ok(self
            .items
            .iter()
            .map(|item| match *item {
                Item::Node(i) => hashes[i],
                Item::Fold { start, end } => fold_right(&hashes[start..end]),
            })
            .collect())
    }

    /// Adds MTH(leaves[lo, hi)) to the plan; `lo` is aligned as RFC 6962's recursion aligns it.
    fn push_range(&mut self, lo: u64, hi: u64) {
        let width = hi - lo;
        if width.is_power_of_two() && lo.is_multiple_of(width) {
            // `trailing_zeros` of a u64 is at most 63.
            let level = u8::try_from(width.trailing_zeros()).unwrap_or(63);
            self.items.push(Item::Node(self.nodes.len()));
            self.nodes.push(NodeId::new(level, lo >> level));
        } else {
            let start = self.nodes.len();
            self.nodes.extend(decompose(lo, hi));
            self.items.push(Item::Fold {
                start,
                end: self.nodes.len(),
            });
        }
    }
}

/// Folds subtree hashes right to left: h0 ⊕ (h1 ⊕ (… ⊕ hk)).
fn fold_right(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    match iter.next() {
        None => empty_root(),
        Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// Plans the inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 PATH).
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] unless `index < size`.
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Walk from the root down; the proof lists siblings from the leaf up, so build reversed.
    let mut plan = ProofPlan::default();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            plan.push_range(lo + k, hi);
            hi = lo + k;
        } else {
            plan.push_range(lo, lo + k);
            lo += k;
        }
    }
    plan.items.reverse();
    Ok(plan)
}

/// Plans the consistency proof from the tree of `size1` leaves to the tree of `size2` leaves
/// (RFC 6962 SUBPROOF). Equal sizes give an empty proof.
///
/// # Errors
/// [`ProofError::SizesReversed`] if `size1 > size2`, [`ProofError::EmptyOldTree`] if
/// `size1 == 0`.
pub fn consistency_plan(size1: u64, size2: u64) -> Result<ProofPlan, ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesReversed { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    let mut plan = ProofPlan::default();
    let (mut lo, mut hi, mut complete) = (0u64, size2, true);
    loop {
        let (n, m) = (hi - lo, size1 - lo);
        if m == n {
            if !complete {
                plan.push_range(lo, hi);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            plan.push_range(lo + k, hi);
            hi = lo + k;
        } else {
            plan.push_range(lo, lo + k);
            lo += k;
            complete = false;
        }
    }
    plan.items.reverse();
    Ok(plan)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves, from `source`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], or [`ProofError::Source`] when a node cannot be read.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    let plan = inclusion_plan(index, size)?;
    plan.assemble(&source.node_hashes(plan.nodes())?)
}

/// The consistency proof from `size1` to `size2` leaves, from `source`.
///
/// # Errors
/// As [`consistency_plan`], or [`ProofError::Source`] when a node cannot be read.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    source: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, ProofError> {
    let plan = consistency_plan(size1, size2)?;
    plan.assemble(&source.node_hashes(plan.nodes())?)
}

/// The RFC 6962 root of the first `size` leaves, from `source` (popcount(size) node reads).
///
/// # Errors
/// [`ProofError::Source`] when a node cannot be read.
pub fn tree_root<S: NodeSource + ?Sized>(source: &S, size: u64) -> Result<Hash, ProofError> {
    let nodes = decompose(0, size);
    Ok(fold_right(&source.node_hashes(&nodes)?))
}
