//! Addresses of perfect subtrees and the RFC 6962 split of a range into them.

/// A perfect subtree of the log: `2^level` leaves starting at leaf `index · 2^level`.
///
/// Level 0 nodes are the leaves themselves. A tree of size `n` has every node whose leaves all lie
/// below `n`; a store that keeps those hashes (for example one file or table row per level) can
/// answer every proof with O(log n) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves; the subtree holds `2^level` leaves.
    pub level: u8,
    /// Position among the nodes of this level, counted from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `level`, position `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// The leaf node for leaf `index`.
    pub const fn leaf(index: u64) -> Self {
        NodeId { level: 0, index }
    }

    /// The first leaf covered, `index · 2^level`, or `None` on overflow.
    pub fn first_leaf(&self) -> Option<u64> {
        self.index
            .checked_mul(1u64.checked_shl(u32::from(self.level))?)
    }

    /// One past the last leaf covered, or `None` on overflow.
    pub fn end_leaf(&self) -> Option<u64> {
        let width = 1u64.checked_shl(u32::from(self.level))?;
        self.index.checked_add(1)?.checked_mul(width)
    }
}

/// The largest power of two strictly below `n` (the RFC 6962 split point `k`); `n` must be ≥ 2.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up `[start, end)`, left to right: each is the largest aligned
/// power-of-two block that fits. Folding their hashes right to left with the node hash gives the
/// RFC 6962 MTH of the range whenever `start` is a multiple of a power of two ≥ `end - start`
/// (always the case for the ranges proofs and roots need). At most 2·64 nodes.
pub(crate) fn decompose(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let remaining = end - pos;
        // Largest level allowed by the alignment of `pos` and by what remains.
        let align = if pos == 0 { 63 } else { pos.trailing_zeros() };
        let fit = 63 - remaining.leading_zeros();
        let level = align.min(fit);
        // `level` ≤ 63, so the cast cannot truncate.
        let level_u8 = u8::try_from(level).unwrap_or(63);
        out.push(NodeId::new(level_u8, pos >> level));
        pos += 1u64 << level;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn decompositions() {
        assert_eq!(decompose(0, 0), vec![]);
        assert_eq!(
            decompose(0, 7),
            vec![NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]
        );
        assert_eq!(decompose(4, 7), vec![NodeId::new(1, 2), NodeId::new(0, 6)]);
        assert_eq!(decompose(8, 16), vec![NodeId::new(3, 1)]);
        assert_eq!(
            decompose(0, u64::MAX).len(),
            64,
            "a full u64 range is 64 subtrees"
        );
    }

    #[test]
    fn node_bounds() {
        assert_eq!(NodeId::new(2, 3).first_leaf(), Some(12));
        assert_eq!(NodeId::new(2, 3).end_leaf(), Some(16));
        assert_eq!(NodeId::new(63, 2).first_leaf(), None);
    }
}
