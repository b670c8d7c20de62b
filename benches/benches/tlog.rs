//! The transparency-log layer: inclusion and consistency proofs in a 1,000,000-entry tree
//! (generation from stored node hashes, and RFC 9162 verification), checkpoint signing and
//! verification, against two baselines in the same run: raw SHA-256 of as many 65-byte node
//! inputs as a proof verification hashes, and recomputing a small tree's root naively.

use std::hint::black_box;

use biv_integrity::tlog::{
    Checkpoint, Ed25519Signer, Hash, MemoryTree, SignedCheckpoint, leaf_hash, node_hash,
    verify_consistency, verify_inclusion,
};
use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Digest, Sha256};

const SIZE: u64 = 1_000_000;
const ORIGIN: &str = "biv.bench/tenant/audit";

/// Deterministic spread of indices over the tree (a 64-bit LCG).
fn indices(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) % SIZE
        })
        .collect()
}

fn naive_root(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
}

fn bench(c: &mut Criterion) {
    let mut tree = MemoryTree::new();
    for i in 0..SIZE {
        tree.push_entry(&i.to_be_bytes()).expect("tree not full");
    }
    let root = tree.root();
    let idx = indices(1024);
    let proofs: Vec<(u64, Hash, Vec<Hash>)> = idx
        .iter()
        .map(|&i| {
            let proof = tree.inclusion_proof(i, SIZE).expect("in range");
            (i, tree.leaf(i).expect("stored"), proof)
        })
        .collect();

    let mut group = c.benchmark_group("tlog");
    let mut n = 0usize;
    group.bench_function("inclusion_generate_1m", |b| {
        b.iter(|| {
            n = (n + 1) % idx.len();
            tree.inclusion_proof(black_box(idx[n]), SIZE)
                .expect("in range")
        })
    });
    group.bench_function("inclusion_verify_1m", |b| {
        b.iter(|| {
            n = (n + 1) % proofs.len();
            let (i, leaf, proof) = &proofs[n];
            verify_inclusion(*i, SIZE, leaf, black_box(proof), &root).expect("valid")
        })
    });
    group.bench_function("inclusion_generate_and_verify_1m", |b| {
        b.iter(|| {
            n = (n + 1) % idx.len();
            let i = idx[n];
            let proof = tree.inclusion_proof(black_box(i), SIZE).expect("in range");
            let leaf = tree.leaf(i).expect("stored");
            verify_inclusion(i, SIZE, &leaf, &proof, &root).expect("valid")
        })
    });
    let olds: Vec<(u64, Hash)> = idx
        .iter()
        .map(|&i| (i + 1, tree.root_at(i + 1).expect("stored")))
        .collect();
    group.bench_function("consistency_generate_and_verify_1m", |b| {
        b.iter(|| {
            n = (n + 1) % olds.len();
            let (old_size, old_root) = &olds[n];
            let proof = tree
                .consistency_proof(black_box(*old_size), SIZE)
                .expect("in range");
            verify_consistency(*old_size, SIZE, &proof, old_root, &root).expect("valid")
        })
    });

    // Baseline 1: the raw hashing a 20-hash proof verification does (20 SHA-256 of 65 bytes).
    let block = [0x5au8; 65];
    group.bench_function("baseline_sha256_20x65B", |b| {
        b.iter(|| {
            let mut acc = [0u8; 32];
            for _ in 0..20 {
                let mut h = Sha256::new();
                h.update(black_box(&block));
                h.update(acc);
                acc = h.finalize().into();
            }
            acc
        })
    });
    // Baseline 2: no stored nodes — recompute the root of a 1,024-leaf tree from its leaves.
    let small: Vec<Hash> = (0u32..1024).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    group.bench_function("baseline_naive_root_1024", |b| {
        b.iter(|| naive_root(black_box(&small)))
    });

    // Checkpoints: signed once per batch or interval, opened by every verifier.
    let key = Ed25519Signer::from_seed(ORIGIN, &[7; 32]).expect("valid name");
    let checkpoint = Checkpoint::new(ORIGIN, SIZE, root).expect("valid origin");
    let signed = checkpoint.sign(&[&key]).expect("signs").to_bytes();
    let verifier = key.verifier();
    group.bench_function("checkpoint_sign", |b| {
        b.iter(|| checkpoint.sign(&[&key]).expect("signs"))
    });
    group.bench_function("checkpoint_open", |b| {
        b.iter(|| SignedCheckpoint::open(black_box(&signed), ORIGIN, &[&verifier]).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
