//! Proof generation and verification against a naive reference tree written straight from
//! RFC 6962 §2.1: exhaustively for every size up to 64, by property tests beyond, and by
//! hand-written cases with the node hashes of transparency-dev/merkle's test tree.

use biv_integrity::tlog::{
    CompactRange, ConsistencyError, Hash, InclusionError, MemoryTree, NodeId, ProofError,
    consistency_plan, consistency_proof_len, empty_root, inclusion_plan, inclusion_proof_len,
    leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

// ---- the reference: RFC 6962 §2.1 as written ----------------------------------------------

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return Vec::new();
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn tree_of(leaves: &[Hash]) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for l in leaves {
        tree.push(*l).expect("valid test input");
    }
    tree
}

fn flip(hashes: &[Hash], which: usize, byte: usize, bit: u8) -> Vec<Hash> {
    let mut out = hashes.to_vec();
    let mut bytes = out[which].to_bytes();
    bytes[byte] ^= 1 << bit;
    out[which] = Hash::from_bytes(bytes);
    out
}

// ---- exhaustive up to 64 ----------------------------------------------------------------------

#[test]
fn every_proof_up_to_size_64_matches_the_reference_and_verifies() {
    let all = leaves(64);
    let tree = tree_of(&all);
    let mut range = CompactRange::new();
    for n in 0..=64usize {
        let d = &all[..n];
        let root = mth(d);
        assert_eq!(tree.root_at(n as u64).unwrap(), root, "root of {n}");
        assert_eq!(range.root(), root, "compact root of {n}");
        for m in 0..n {
            let proof = tree.inclusion_proof(m as u64, n as u64).unwrap();
            assert_eq!(proof, path(m, d), "PATH({m}, D[{n}])");
            assert_eq!(proof.len(), inclusion_proof_len(m as u64, n as u64));
            verify_inclusion(m as u64, n as u64, &d[m], &proof, &root).unwrap();
        }
        for m in 1..=n {
            let proof = tree.consistency_proof(m as u64, n as u64).unwrap();
            assert_eq!(proof, subproof(m, d, true), "PROOF({m}, D[{n}])");
            if m < n {
                assert_eq!(proof.len(), consistency_proof_len(m as u64, n as u64));
            }
            verify_consistency(m as u64, n as u64, &proof, &mth(&all[..m]), &root).unwrap();
        }
        if n < 64 {
            range.push(all[n]).unwrap();
        }
    }
}

#[test]
fn every_tampered_proof_up_to_size_32_fails() {
    let all = leaves(32);
    let tree = tree_of(&all);
    for n in 1..=32usize {
        let d = &all[..n];
        let root = mth(d);
        for (m, leaf) in d.iter().enumerate() {
            let proof = tree.inclusion_proof(m as u64, n as u64).unwrap();
            for i in 0..proof.len() {
                let bad = flip(&proof, i, i % 32, (i % 8) as u8);
                assert!(verify_inclusion(m as u64, n as u64, leaf, &bad, &root).is_err());
            }
            for other in 0..n {
                if other != m {
                    assert!(
                        verify_inclusion(other as u64, n as u64, leaf, &proof, &root).is_err(),
                        "leaf {m} accepted at index {other} of {n}"
                    );
                }
            }
            let bad_leaf = flip(&[*leaf], 0, 31, 0)[0];
            assert!(verify_inclusion(m as u64, n as u64, &bad_leaf, &proof, &root).is_err());
        }
        for m in 1..n {
            let old = mth(&all[..m]);
            let proof = tree.consistency_proof(m as u64, n as u64).unwrap();
            for i in 0..proof.len() {
                let bad = flip(&proof, i, 0, 3);
                assert!(verify_consistency(m as u64, n as u64, &bad, &old, &root).is_err());
            }
            let bad_old = flip(&[old], 0, 5, 5)[0];
            assert!(verify_consistency(m as u64, n as u64, &proof, &bad_old, &root).is_err());
            let bad_new = flip(&[root], 0, 5, 5)[0];
            assert!(verify_consistency(m as u64, n as u64, &proof, &old, &bad_new).is_err());
        }
    }
}

#[test]
fn a_proof_for_one_size_verifies_for_another_only_if_it_is_that_sizes_proof() {
    // A verifier cannot know the size except from the (signed) checkpoint: a proof checked
    // against (n', root(n')) succeeds exactly when it is also the true proof for n'.
    let all = leaves(40);
    let tree = tree_of(&all);
    for n in 1..=40u64 {
        for n2 in 1..=40u64 {
            if n2 == n {
                continue;
            }
            for m in 0..n.min(n2) {
                let proof = tree.inclusion_proof(m, n).unwrap();
                let ok =
                    verify_inclusion(m, n2, &all[m as usize], &proof, &tree.root_at(n2).unwrap())
                        .is_ok();
                assert_eq!(
                    ok,
                    proof == tree.inclusion_proof(m, n2).unwrap(),
                    "m={m} n={n} n'={n2}"
                );
            }
        }
    }
}

// ---- hand-written cases over transparency-dev/merkle's test tree ----------------------------

fn h(hex: &str) -> Hash {
    Hash::from_hex(hex).expect("valid test input")
}

fn merkle_test_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for hex in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ] {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("valid test input"))
            .collect();
        tree.push_entry(&bytes).expect("valid test input");
    }
    tree
}

#[test]
fn hand_written_proofs_in_the_seven_leaf_tree() {
    let tree = merkle_test_tree();
    // Node hashes from testonly/constants.go.
    let l2 = h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7");
    let l3 = h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7");
    let l1 = h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
    let l6 = h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f");
    let n10 = h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
    let n11 = h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e");
    let n12 = h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a");
    let n20 = h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
    let root7 = h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c");
    let right3 = node_hash(&n12, &l6); // MTH(D[4:7]), not a stored node

    // The last leaf of seven: its sibling pair, then the left half.
    assert_eq!(tree.inclusion_proof(6, 7).unwrap(), vec![n12, n20]);
    // The first leaf: leaf 1, pair (2,3), then the right border folded.
    assert_eq!(tree.inclusion_proof(0, 7).unwrap(), vec![l1, n11, right3]);
    verify_inclusion(0, 7, &tree.leaf(0).unwrap(), &[l1, n11, right3], &root7).unwrap();
    // 3 → 7: leaf 2, leaf 3, pair (0,1), right border.
    assert_eq!(
        tree.consistency_proof(3, 7).unwrap(),
        vec![l2, l3, n10, right3]
    );
    // 4 → 7: the old tree is a complete subtree, so only the right border.
    assert_eq!(tree.consistency_proof(4, 7).unwrap(), vec![right3]);
    verify_consistency(4, 7, &[right3], &n20, &root7).unwrap();
    // The plans name stored nodes only (root side first); the right border is a fold of two.
    let plan = inclusion_plan(0, 7).unwrap();
    assert_eq!(
        plan.nodes(),
        &[
            NodeId::new(1, 2),
            NodeId::new(0, 6),
            NodeId::new(1, 1),
            NodeId::new(0, 1)
        ]
    );
    assert_eq!(plan.proof_len(), 3);
}

#[test]
fn generation_errors_say_what_is_wrong() {
    let tree = merkle_test_tree();
    assert!(matches!(
        tree.inclusion_proof(8, 8),
        Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
    ));
    assert!(matches!(
        tree.consistency_proof(5, 4),
        Err(ProofError::SizesReversed { size1: 5, size2: 4 })
    ));
    assert!(matches!(
        tree.consistency_proof(0, 4),
        Err(ProofError::EmptyOldTree)
    ));
    assert_eq!(tree.consistency_proof(4, 4).unwrap(), vec![]);
    // Asking beyond what the store holds is a store error, not a wrong proof.
    assert!(matches!(
        tree.inclusion_proof(1, 9),
        Err(ProofError::Source(_))
    ));
    let plan = consistency_plan(3, 7).unwrap();
    assert!(matches!(
        plan.assemble(&[]),
        Err(ProofError::HashCountMismatch {
            expected: 5,
            actual: 0
        })
    ));
}

#[test]
fn verification_errors_say_what_failed() {
    let tree = merkle_test_tree();
    let root = tree.root();
    let leaf = tree.leaf(3).unwrap();
    let proof = tree.inclusion_proof(3, 8).unwrap();
    assert_eq!(
        verify_inclusion(8, 8, &leaf, &proof, &root),
        Err(InclusionError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        verify_inclusion(3, 8, &leaf, &proof[..2], &root),
        Err(InclusionError::WrongProofLength {
            expected: 3,
            actual: 2
        })
    );
    let mut long = proof.clone();
    long.push(root);
    assert_eq!(
        verify_inclusion(3, 8, &leaf, &long, &root),
        Err(InclusionError::WrongProofLength {
            expected: 3,
            actual: 4
        })
    );
    assert!(matches!(
        verify_inclusion(3, 8, &leaf, &proof, &empty_root()),
        Err(InclusionError::RootMismatch { computed, .. }) if computed == root
    ));

    let old = tree.root_at(5).unwrap();
    let cproof = tree.consistency_proof(5, 8).unwrap();
    assert_eq!(
        verify_consistency(6, 5, &cproof, &old, &root),
        Err(ConsistencyError::SizesReversed { size1: 6, size2: 5 })
    );
    assert_eq!(
        verify_consistency(0, 0, &[], &old, &old),
        Err(ConsistencyError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(5, 5, &cproof, &old, &old),
        Err(ConsistencyError::EqualSizesNonEmptyProof { len: cproof.len() })
    );
    assert_eq!(
        verify_consistency(5, 5, &[], &old, &root),
        Err(ConsistencyError::EqualSizesDifferentRoots)
    );
    assert!(matches!(
        verify_consistency(5, 8, &cproof, &root, &root),
        Err(ConsistencyError::OldRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(5, 8, &cproof, &old, &old),
        Err(ConsistencyError::NewRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(5, 8, &[], &old, &root),
        Err(ConsistencyError::WrongProofLength { actual: 0, .. })
    ));
}

// ---- property tests ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn roots_match_the_reference(n in 0usize..3000) {
        let d = leaves(n);
        let mut range = CompactRange::new();
        for l in &d {
            range.push(*l).unwrap();
        }
        prop_assert_eq!(range.root(), mth(&d));
        let restored = CompactRange::from_bytes(&range.to_bytes()).unwrap();
        prop_assert_eq!(restored.root(), mth(&d));
        prop_assert_eq!(range.hashes().len(), (n as u64).count_ones() as usize);
    }

    #[test]
    fn inclusion_proofs_match_the_reference_and_resist_tampering(
        n in 1usize..3000, m_seed in any::<u64>(), flip_at in any::<(u8, u8, u8)>(), delta in 1u64..64
    ) {
        let d = leaves(n);
        let tree = tree_of(&d);
        let m = (m_seed % n as u64) as usize;
        let root = mth(&d);
        let proof = tree.inclusion_proof(m as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &path(m, &d));
        prop_assert!(verify_inclusion(m as u64, n as u64, &d[m], &proof, &root).is_ok());
        // Plans read O(log n) nodes.
        let plan = inclusion_plan(m as u64, n as u64).unwrap();
        let log = 64 - (n as u64).leading_zeros() as usize;
        prop_assert!(plan.nodes().len() <= 2 * log + 1);
        if !proof.is_empty() {
            let (which, byte, bit) = flip_at;
            let bad = flip(&proof, which as usize % proof.len(), byte as usize % 32, bit % 8);
            prop_assert!(verify_inclusion(m as u64, n as u64, &d[m], &bad, &root).is_err());
        }
        let other = (m as u64 + delta) % n as u64;
        if other != m as u64 {
            prop_assert!(verify_inclusion(other, n as u64, &d[m], &proof, &root).is_err());
        }
        let n2 = n as u64 + delta;
        prop_assert!(
            verify_inclusion(m as u64, n2, &d[m], &proof, &root).is_err()
                || inclusion_proof_len(m as u64, n2) == proof.len()
        );
    }

    #[test]
    fn consistency_proofs_match_the_reference_and_resist_tampering(
        n in 2usize..3000, m_seed in any::<u64>(), flip_at in any::<(u8, u8, u8)>()
    ) {
        let d = leaves(n);
        let tree = tree_of(&d);
        let m = 1 + (m_seed % (n as u64 - 1)) as usize; // 1 ≤ m < n
        let (old, new) = (mth(&d[..m]), mth(&d));
        let proof = tree.consistency_proof(m as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &subproof(m, &d, true));
        prop_assert!(verify_consistency(m as u64, n as u64, &proof, &old, &new).is_ok());
        let (which, byte, bit) = flip_at;
        let bad = flip(&proof, which as usize % proof.len(), byte as usize % 32, bit % 8);
        prop_assert!(verify_consistency(m as u64, n as u64, &bad, &old, &new).is_err());
        // Another old size with its own root: accepted only if the proof is that size's proof.
        let m2 = 1 + ((m_seed / 7) % (n as u64 - 1)) as usize;
        if m2 != m {
            let ok = verify_consistency(m2 as u64, n as u64, &proof, &mth(&d[..m2]), &new).is_ok();
            prop_assert_eq!(ok, proof == subproof(m2, &d, true));
        }
    }
}
