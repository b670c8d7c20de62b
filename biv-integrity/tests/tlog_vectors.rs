//! Upstream vectors: transparency-dev/merkle's RFC 6962 hasher tests, its test tree of eight
//! leaves (`testonly/constants.go`), the proofs its `cmd/proofgen` starts from, and every
//! inclusion and consistency probe of its `testdata/` (copied under `tests/data/tlog/merkle`).

use std::path::{Path, PathBuf};

use biv_integrity::tlog::{
    CompactRange, Hash, MemoryTree, empty_root, hash_children, inclusion_proof_len, leaf_hash,
    node_hash, verify_consistency, verify_consistency_bytes, verify_inclusion,
    verify_inclusion_bytes,
};

fn h(hex: &str) -> Hash {
    Hash::from_hex(hex).expect("valid test input")
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("valid test input"))
        .collect()
}

/// `testonly.LeafInputs()`.
fn leaf_inputs() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| unhex(s))
    .collect()
}

/// `testonly.RootHashes()`, indexed by tree size 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// `testonly.NodeHashes()`: level, then index.
fn node_hashes() -> Vec<Vec<Hash>> {
    vec![
        vec![
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
            h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
        ],
        vec![
            h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        ],
        vec![
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
        vec![h(
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        )],
    ]
}

fn test_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for leaf in leaf_inputs() {
        tree.push_entry(&leaf).expect("valid test input");
    }
    tree
}

#[test]
fn rfc6962_hasher_vectors() {
    // rfc6962/rfc6962_test.go TestRFC6962Hasher.
    assert_eq!(
        empty_root(),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(
        leaf_hash(b""),
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    );
    assert_eq!(
        leaf_hash(b"L123456"),
        h("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    );
    assert_eq!(
        hash_children(b"N123", b"N456"),
        h("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")
    );
}

#[test]
fn rfc6962_hasher_separates_leaves_and_nodes() {
    // rfc6962/rfc6962_test.go TestRFC6962HasherCollisions.
    let (h1, h2) = (leaf_hash(b"Hello"), leaf_hash(b"World"));
    assert_ne!(h1, h2);
    let sub = node_hash(&h1, &h2);
    let mut preimage = h1.as_bytes().to_vec();
    preimage.extend_from_slice(h2.as_bytes());
    assert_ne!(sub, leaf_hash(&preimage));
    assert_ne!(sub, node_hash(&h2, &h1));
}

#[test]
fn roots_for_sizes_0_to_8() {
    let leaves = leaf_inputs();
    let mut range = CompactRange::new();
    assert_eq!(range.root(), h(ROOTS[0]));
    for (i, leaf) in leaves.iter().enumerate() {
        range.push_entry(leaf).unwrap();
        assert_eq!(range.root(), h(ROOTS[i + 1]), "root of size {}", i + 1);
    }
    let tree = test_tree();
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(
            tree.root_at(size as u64).unwrap(),
            h(root),
            "root_at({size})"
        );
    }
}

#[test]
fn node_hashes_of_the_test_tree() {
    use biv_integrity::tlog::{NodeId, NodeSource};
    let tree = test_tree();
    for (level, hashes) in node_hashes().iter().enumerate() {
        for (index, want) in hashes.iter().enumerate() {
            let got = tree
                .node_hash(NodeId::new(level as u8, index as u64))
                .unwrap();
            assert_eq!(got, *want, "node ({level}, {index})");
        }
    }
}

#[test]
fn compact_ranges_of_the_test_tree() {
    // testonly.CompactTrees(): the compact range hashes for sizes 0..=8.
    let nh = node_hashes();
    let want: Vec<Vec<Hash>> = vec![
        vec![],
        vec![nh[0][0]],
        vec![nh[1][0]],
        vec![nh[1][0], nh[0][2]],
        vec![nh[2][0]],
        vec![nh[2][0], nh[0][4]],
        vec![nh[2][0], nh[1][2]],
        vec![nh[2][0], nh[1][2], nh[0][6]],
        vec![nh[3][0]],
    ];
    let mut range = CompactRange::new();
    assert_eq!(range.hashes(), &want[0][..]);
    for (i, leaf) in leaf_inputs().iter().enumerate() {
        range.push_entry(leaf).unwrap();
        assert_eq!(range.hashes(), &want[i + 1][..], "size {}", i + 1);
    }
}

/// The proofs cmd/proofgen starts from: (leafIdx 1-based, size, proof).
const PROOFGEN_INCLUSION: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

const PROOFGEN_CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

#[test]
fn generated_inclusion_proofs_match_proofgen() {
    let tree = test_tree();
    for &(leaf, size, proof) in PROOFGEN_INCLUSION {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let got = tree.inclusion_proof(leaf - 1, size).unwrap();
        assert_eq!(
            got,
            want,
            "inclusion proof of leaf {} in size {size}",
            leaf - 1
        );
        assert_eq!(inclusion_proof_len(leaf - 1, size), want.len());
        let leaf_h = tree.leaf(leaf - 1).unwrap();
        verify_inclusion(leaf - 1, size, &leaf_h, &got, &h(ROOTS[size as usize])).unwrap();
    }
}

#[test]
fn generated_consistency_proofs_match_proofgen() {
    let tree = test_tree();
    for &(size1, size2, proof) in PROOFGEN_CONSISTENCY {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let got = tree.consistency_proof(size1, size2).unwrap();
        assert_eq!(got, want, "consistency proof {size1} -> {size2}");
        verify_consistency(
            size1,
            size2,
            &got,
            &h(ROOTS[size1 as usize]),
            &h(ROOTS[size2 as usize]),
        )
        .unwrap();
    }
}

fn data_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tlog/merkle")
        .join(kind)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("valid test input") {
        let path = entry.expect("valid test input").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
}

fn b64(v: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("valid test input"))
        .expect("valid test input")
}

fn b64_list(v: &serde_json::Value) -> Vec<Vec<u8>> {
    match v {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(items) => items.iter().map(b64).collect(),
        other => panic!("unexpected proof value {other}"),
    }
}

#[test]
fn merkle_inclusion_probes() {
    let mut files = Vec::new();
    json_files(&data_dir("inclusion"), &mut files);
    assert_eq!(
        files.len(),
        98,
        "transparency-dev/merkle has 98 inclusion probes"
    );
    let mut passed = 0;
    for path in &files {
        let probe: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let index = probe
            .get("leafIdx")
            .or_else(|| probe.get("leafIndex"))
            .and_then(|v| v.as_u64())
            .unwrap();
        let size = probe["treeSize"].as_u64().unwrap();
        let result = verify_inclusion_bytes(
            index,
            size,
            &b64(&probe["leafHash"]),
            &b64_list(&probe["proof"]),
            &b64(&probe["root"]),
        );
        let want_err = probe["wantErr"].as_bool().unwrap();
        assert_eq!(
            result.is_err(),
            want_err,
            "{}: {} gave {result:?}",
            path.display(),
            probe["desc"]
        );
        passed += 1;
    }
    assert_eq!(passed, 98);
}

#[test]
fn merkle_consistency_probes() {
    let mut files = Vec::new();
    json_files(&data_dir("consistency"), &mut files);
    assert_eq!(
        files.len(),
        98,
        "transparency-dev/merkle has 98 consistency probes"
    );
    for path in &files {
        let probe: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let result = verify_consistency_bytes(
            probe["size1"].as_u64().unwrap(),
            probe["size2"].as_u64().unwrap(),
            &b64_list(&probe["proof"]),
            &b64(&probe["root1"]),
            &b64(&probe["root2"]),
        );
        let want_err = probe["wantErr"].as_bool().unwrap();
        assert_eq!(
            result.is_err(),
            want_err,
            "{}: {} gave {result:?}",
            path.display(),
            probe["desc"]
        );
    }
}

#[test]
fn happy_probes_also_verify_through_the_typed_api() {
    // The typed forms agree with the byte forms on every well-formed happy path.
    let tree = test_tree();
    for size in 1..=8u64 {
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).unwrap();
            let leaf = tree.leaf(index).unwrap();
            let root = h(ROOTS[size as usize]);
            verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
            verify_inclusion_bytes(index, size, leaf.as_bytes(), &proof, root.as_bytes()).unwrap();
        }
    }
}
