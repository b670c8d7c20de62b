//! Inclusion and consistency proof verification, exactly as RFC 9162 §2.1.3.2 and §2.1.4.2
//! describe it, with the checks transparency-dev/merkle's test vectors require: the old size
//! must not be zero (checked before the equal-sizes shortcut), and leaf and proof hashes must be
//! 32 bytes.
//!
//! The `*_bytes` forms take untyped byte strings (as read from JSON or a database) and report
//! which one has the wrong length; the typed forms take [`Hash`]es.

use super::hash::{HASH_SIZE, Hash, node_hash};

/// Which input of a verification a length error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashRole {
    /// The leaf hash.
    Leaf,
    /// The (new) tree root.
    Root,
    /// The old tree root of a consistency proof.
    OldRoot,
    /// Proof element `n` (0-based).
    Proof(usize),
}

/// Why an inclusion proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InclusionError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for this index and size.
    #[error("an inclusion proof for this index and size has {expected} hashes, got {actual}")]
    WrongProofLength {
        /// Hashes the proof must have.
        expected: usize,
        /// Hashes it has.
        actual: usize,
    },
    /// The proof leads to a different root.
    #[error("the proof leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// Root computed from the leaf and the proof.
        computed: Hash,
        /// Root the caller trusts.
        expected: Hash,
    },
    /// An input is not a 32-byte hash.
    #[error("{role:?} is {len} bytes, a hash is {HASH_SIZE}")]
    BadHashLength {
        /// Which input.
        role: HashRole,
        /// Its length.
        len: usize,
    },
}

/// Why a consistency proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// The old size is larger than the new size.
    #[error("old size {size1} is larger than new size {size2}")]
    SizesReversed {
        /// Old size.
        size1: u64,
        /// New size.
        size2: u64,
    },
    /// The old tree is empty: every tree extends it, so a proof proves nothing and is refused.
    #[error("consistency with the empty tree cannot be proven")]
    EmptyOldTree,
    /// Equal sizes need an empty proof.
    #[error("equal sizes need an empty proof, got {len} hashes")]
    EqualSizesNonEmptyProof {
        /// Hashes supplied.
        len: usize,
    },
    /// Equal sizes but different roots: the log forked.
    #[error("equal sizes but different roots")]
    EqualSizesDifferentRoots,
    /// The proof has the wrong number of hashes for these sizes.
    #[error("a consistency proof for these sizes has {expected} hashes, got {actual}")]
    WrongProofLength {
        /// Hashes the proof must have.
        expected: usize,
        /// Hashes it has.
        actual: usize,
    },
    /// The proof does not lead to the old root.
    #[error("the proof leads to old root {computed}, expected {expected}")]
    OldRootMismatch {
        /// Old root computed from the proof.
        computed: Hash,
        /// Old root the caller trusts.
        expected: Hash,
    },
    /// The proof does not lead to the new root.
    #[error("the proof leads to new root {computed}, expected {expected}")]
    NewRootMismatch {
        /// New root computed from the proof.
        computed: Hash,
        /// New root the caller was given.
        expected: Hash,
    },
    /// An input is not a 32-byte hash.
    #[error("{role:?} is {len} bytes, a hash is {HASH_SIZE}")]
    BadHashLength {
        /// Which input.
        role: HashRole,
        /// Its length.
        len: usize,
    },
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size` (`index < size`).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    // Bits below the point where the paths to `index` and `size − 1` meet, plus one hash for
    // every left sibling on the right border above it (transparency-dev/merkle decompInclProof).
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Number of hashes in the consistency proof from `size1` to `size2` (`0 < size1 < size2`).
pub fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    let index = size1 - 1;
    let inner = 64 - (index ^ (size2 - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    let shift = size1.trailing_zeros();
    let seed = usize::from(!size1.is_power_of_two());
    seed + (inner - shift + border) as usize
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with root `root`.
///
/// ```
/// use biv_integrity::tlog::{Hash, InclusionError, leaf_hash, verify_inclusion};
///
/// // transparency-dev/merkle testdata/inclusion/3/happy-path.json: leaf 2 of 3.
/// let root = Hash::from_base64("rra8/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8yngbnc=")?;
/// let proof = [Hash::from_base64("+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=")?];
/// let leaf = leaf_hash(&[0x10]);
/// verify_inclusion(2, 3, &leaf, &proof, &root)?;
/// // The same leaf claimed at index 1 needs a two-hash proof.
/// assert_eq!(
///     verify_inclusion(1, 3, &leaf, &proof, &root),
///     Err(InclusionError::WrongProofLength { expected: 2, actual: 1 })
/// );
/// assert!(matches!(
///     verify_inclusion(2, 3, &leaf_hash(b"forged"), &proof, &root),
///     Err(InclusionError::RootMismatch { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`InclusionError`] says what failed: index out of range, wrong proof length or wrong root.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), InclusionError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if computed != *root {
        return Err(InclusionError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// The root that `proof` and `leaf` at `index` imply for a tree of `size` leaves (RFC 9162
/// §2.1.3.2 steps 1–6, without the final comparison).
///
/// # Errors
/// [`InclusionError::IndexOutOfRange`] or [`InclusionError::WrongProofLength`].
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, InclusionError> {
    if index >= size {
        return Err(InclusionError::IndexOutOfRange { index, size });
    }
    let wrong_length = || InclusionError::WrongProofLength {
        expected: inclusion_proof_len(index, size),
        actual: proof.len(),
    };
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(wrong_length());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                loop {
                    fn_ >>= 1;
                    sn >>= 1;
                    if fn_ & 1 == 1 || fn_ == 0 {
                        break;
                    }
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_length());
    }
    Ok(r)
}

/// [`verify_inclusion`] over untyped byte strings: the leaf and every proof element must be 32
/// bytes (transparency-dev/merkle rejects an empty leaf and root even when they are equal).
///
/// # Errors
/// As [`verify_inclusion`], plus [`InclusionError::BadHashLength`] naming the input.
pub fn verify_inclusion_bytes<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<(), InclusionError> {
    if index >= size {
        return Err(InclusionError::IndexOutOfRange { index, size });
    }
    let hash = |bytes: &[u8], role| {
        Hash::from_slice(bytes).map_err(|_| InclusionError::BadHashLength {
            role,
            len: bytes.len(),
        })
    };
    let leaf = hash(leaf, HashRole::Leaf)?;
    let proof = proof
        .iter()
        .enumerate()
        .map(|(i, p)| hash(p.as_ref(), HashRole::Proof(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let root = hash(root, HashRole::Root)?;
    verify_inclusion(index, size, &leaf, &proof, &root)
}

/// Verifies that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves
/// with root `root1`.
///
/// ```
/// use biv_integrity::tlog::{ConsistencyError, MemoryTree, verify_consistency};
///
/// let mut tree = MemoryTree::new();
/// for i in 0u8..7 {
///     tree.push_entry(&[i])?;
/// }
/// let (old, new) = (tree.root_at(3)?, tree.root());
/// let proof = tree.consistency_proof(3, 7)?;
/// verify_consistency(3, 7, &proof, &old, &new)?;
/// assert_eq!(
///     verify_consistency(0, 7, &[], &old, &new),
///     Err(ConsistencyError::EmptyOldTree)
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ConsistencyError`] says what failed: sizes, proof length, or which root does not match.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ConsistencyError> {
    check_sizes(size1, size2)?;
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ConsistencyError::EqualSizesNonEmptyProof { len: proof.len() });
        }
        if root1 != root2 {
            return Err(ConsistencyError::EqualSizesDifferentRoots);
        }
        return Ok(());
    }
    let wrong_length = || ConsistencyError::WrongProofLength {
        expected: consistency_proof_len(size1, size2),
        actual: proof.len(),
    };
    if proof.is_empty() {
        return Err(wrong_length());
    }
    // A power-of-two old tree is a complete subtree of the new one: its root is the seed.
    let (seed, rest) = if size1.is_power_of_two() {
        (*root1, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if sn == 0 {
            return Err(wrong_length());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                loop {
                    fn_ >>= 1;
                    sn >>= 1;
                    if fn_ & 1 == 1 || fn_ == 0 {
                        break;
                    }
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_length());
    }
    if fr != *root1 {
        return Err(ConsistencyError::OldRootMismatch {
            computed: fr,
            expected: *root1,
        });
    }
    if sr != *root2 {
        return Err(ConsistencyError::NewRootMismatch {
            computed: sr,
            expected: *root2,
        });
    }
    Ok(())
}

fn check_sizes(size1: u64, size2: u64) -> Result<(), ConsistencyError> {
    if size1 > size2 {
        return Err(ConsistencyError::SizesReversed { size1, size2 });
    }
    // Before the equal-sizes shortcut: (0, 0) is refused too.
    if size1 == 0 {
        return Err(ConsistencyError::EmptyOldTree);
    }
    Ok(())
}

/// [`verify_consistency`] over untyped byte strings. With equal sizes the roots are compared as
/// bytes, whatever their length (as RFC 9162 and transparency-dev/merkle do); otherwise both
/// roots and every proof element must be 32 bytes.
///
/// # Errors
/// As [`verify_consistency`], plus [`ConsistencyError::BadHashLength`] naming the input.
pub fn verify_consistency_bytes<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ConsistencyError> {
    check_sizes(size1, size2)?;
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ConsistencyError::EqualSizesNonEmptyProof { len: proof.len() });
        }
        if root1 != root2 {
            return Err(ConsistencyError::EqualSizesDifferentRoots);
        }
        return Ok(());
    }
    let hash = |bytes: &[u8], role| {
        Hash::from_slice(bytes).map_err(|_| ConsistencyError::BadHashLength {
            role,
            len: bytes.len(),
        })
    };
    let root1 = hash(root1, HashRole::OldRoot)?;
    let root2 = hash(root2, HashRole::Root)?;
    let proof = proof
        .iter()
        .enumerate()
        .map(|(i, p)| hash(p.as_ref(), HashRole::Proof(i)))
        .collect::<Result<Vec<_>, _>>()?;
    verify_consistency(size1, size2, &proof, &root1, &root2)
}
