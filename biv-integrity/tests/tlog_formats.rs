//! Checkpoints, cosignatures and tlog-proof bundles: round trips, upstream examples and errors,
//! and the worked examples of `docs/formats/checkpoint.md` and `docs/formats/tlog-proof.md`,
//! which must match what this code produces byte for byte.

use biv_integrity::tlog::{
    Checkpoint, CheckpointOpenError, CheckpointParseError, CosignatureSigner, Ed25519Signer, Hash,
    MemoryTree, Note, NoteOpenError, ProofBundle, ProofBundleError, ProofBundleParseError,
    SignedCheckpoint, leaf_hash, verify_cosignatures,
};

/// The documented example log: origin, key seed 00..1f, witness seed 20..3f.
const ORIGIN: &str = "biv.zorg-noord/kliniek-west/audit";
const WITNESS: &str = "auditor.zorg-noord.example/witness";
const COSIGNED_AT: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn seq(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start + i as u8)
}

fn example_log() -> (
    Ed25519Signer,
    CosignatureSigner,
    MemoryTree,
    SignedCheckpoint,
) {
    let log = Ed25519Signer::from_seed(ORIGIN, &seq(0)).expect("valid test input");
    let witness = CosignatureSigner::from_seed(WITNESS, &seq(0x20)).expect("valid test input");
    let mut tree = MemoryTree::new();
    for i in 0..5 {
        tree.push_entry(format!("entry {i}").as_bytes())
            .expect("valid test input");
    }
    let mut signed = Checkpoint::new(ORIGIN, tree.size(), tree.root())
        .expect("valid test input")
        .sign(&[&log])
        .expect("valid test input");
    witness
        .cosign(&mut signed, COSIGNED_AT)
        .expect("valid test input");
    (log, witness, tree, signed)
}

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/formats")
        .join(name);
    std::fs::read_to_string(path).expect("valid test input")
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("valid test input")
}

#[test]
fn checkpoint_doc_example_is_what_biv_writes() {
    let (log, witness, tree, signed) = example_log();
    let doc = doc("checkpoint.md");
    let expect = |s: &str| assert!(doc.contains(s), "checkpoint.md lacks {s:?}");
    expect(&format!("```text\n{}```", text(signed.to_bytes())));
    expect(&format!("```text\n{}\n```", log.verifier().to_vkey()));
    expect(&format!("```text\n{}\n```", witness.verifier().to_vkey()));
    expect(&format!("five-entry tree is `{}`", tree.root()));
    for i in 0..5u64 {
        expect(&format!("{i}  {}\n", tree.leaf(i).unwrap()));
    }
    expect(&format!(
        "size 3 had the root `{}`",
        tree.root_at(3).unwrap().to_base64()
    ));
    let consistency: String = tree
        .consistency_proof(3, 5)
        .unwrap()
        .iter()
        .map(|h| format!("{}\n", h.to_base64()))
        .collect();
    expect(&format!("```text\n{consistency}```"));
    // And the documented checkpoint verifies with the documented keys.
    let opened = SignedCheckpoint::open(&signed.to_bytes(), ORIGIN, &[&log.verifier()]).unwrap();
    let cosigs = verify_cosignatures(opened.note(), &[&witness.verifier()]).unwrap();
    assert_eq!(cosigs.len(), 1);
    assert_eq!(cosigs[0].timestamp(), COSIGNED_AT);
    assert_eq!(cosigs[0].name(), WITNESS);
}

#[test]
fn tlog_proof_doc_example_is_what_biv_writes() {
    let (log, _, tree, signed) = example_log();
    let bundle = ProofBundle::new(2, tree.inclusion_proof(2, 5).unwrap(), signed);
    let doc = doc("tlog-proof.md");
    let written = text(bundle.to_bytes());
    assert!(
        doc.contains(&format!("```text\n{written}```")),
        "tlog-proof.md lacks the example proof:\n{written}"
    );
    let parsed = ProofBundle::parse(written.as_bytes()).unwrap();
    assert_eq!(parsed, bundle);
    parsed
        .verify_entry(ORIGIN, &[&log.verifier()], b"entry 2")
        .unwrap();
    assert!(matches!(
        parsed.verify_entry(ORIGIN, &[&log.verifier()], b"entry 3"),
        Err(ProofBundleError::Inclusion(_))
    ));
}

#[test]
fn checkpoint_text_round_trips_and_rejects_bad_lines() {
    // c2sp.org/tlog-checkpoint's example text.
    let t = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let cp = Checkpoint::parse(t).unwrap();
    assert_eq!(cp.origin(), "example.com/behind-the-sofa");
    assert_eq!(cp.size(), 20852163);
    assert_eq!(cp.to_text(), t);
    let with_ext = format!("{t}ext one\n");
    let cp = Checkpoint::parse(&with_ext).unwrap();
    assert_eq!(cp.extensions(), ["ext one"]);
    assert_eq!(cp.to_text(), with_ext);
    let empty = format!("o\n0\n{}\n", biv_integrity::tlog::empty_root().to_base64());
    assert_eq!(Checkpoint::parse(&empty).unwrap().size(), 0);

    use CheckpointParseError as E;
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    for (bad, want) in [
        (format!("o\n1\n{root}"), E::NotNewlineTerminated),
        ("o\n1\n".to_owned(), E::MissingLine { line: 3 }),
        (format!("\n1\n{root}\n"), E::EmptyLine { line: 1 }),
        (format!("o\n01\n{root}\n"), E::InvalidSize),
        (format!("o\n+1\n{root}\n"), E::InvalidSize),
        (format!("o\n-1\n{root}\n"), E::InvalidSize),
        (format!("o\n18446744073709551616\n{root}\n"), E::InvalidSize),
        ("o\n1\nAAAA\n".to_owned(), E::InvalidRoot),
        (format!("o\n1\n{}\n", &root[..43]), E::InvalidRoot),
        (format!("o\n1\n{root}\n\n"), E::EmptyLine { line: 4 }),
        (format!("o\t\n1\n{root}\n"), E::ControlCharacter { line: 1 }),
    ] {
        assert_eq!(Checkpoint::parse(&bad), Err(want), "{bad:?}");
    }
    assert!(Checkpoint::new("", 1, Hash::default()).is_err());
    assert!(Checkpoint::new("a\nb", 1, Hash::default()).is_err());
    assert!(
        Checkpoint::new("o", 1, Hash::default())
            .unwrap()
            .with_extension("")
            .is_err()
    );
}

#[test]
fn checkpoint_signatures_follow_signed_note_rules() {
    let (log, witness, tree, signed) = example_log();
    let other = Ed25519Signer::from_seed(ORIGIN, &seq(0x40)).unwrap();
    let bytes = signed.to_bytes();
    // Wrong origin.
    assert!(matches!(
        SignedCheckpoint::open(&bytes, "biv.other/x/audit", &[&log.verifier()]),
        Err(CheckpointOpenError::OriginMismatch { .. })
    ));
    // Signed by a key the verifier does not trust: no verified signature.
    assert!(matches!(
        SignedCheckpoint::open(&bytes, ORIGIN, &[&other.verifier()]),
        Err(CheckpointOpenError::Signature(
            NoteOpenError::NoVerifiedSignature
        ))
    ));
    // A tampered size breaks the log signature.
    let tampered = text(bytes.clone()).replacen("\n5\n", "\n6\n", 1);
    assert!(matches!(
        SignedCheckpoint::open(tampered.as_bytes(), ORIGIN, &[&log.verifier()]),
        Err(CheckpointOpenError::Signature(
            NoteOpenError::InvalidSignature { .. }
        ))
    ));
    // Key rotation: two log keys sign; either alone verifies.
    let rotated = Checkpoint::new(ORIGIN, tree.size(), tree.root())
        .unwrap()
        .sign(&[&log, &other])
        .unwrap();
    for v in [log.verifier(), other.verifier()] {
        SignedCheckpoint::open(&rotated.to_bytes(), ORIGIN, &[&v]).unwrap();
    }
    // A witness cosignature does not count as the log's signature.
    let mut only_cosigned = Note::new(signed.checkpoint().to_text()).unwrap();
    only_cosigned.sign(&[&witness.at(COSIGNED_AT)]).unwrap();
    assert!(matches!(
        SignedCheckpoint::open(&only_cosigned.to_bytes(), ORIGIN, &[&log.verifier()]),
        Err(CheckpointOpenError::Signature(
            NoteOpenError::NoVerifiedSignature
        ))
    ));
    // A cosignature made over other text is rejected by the witness's verifier.
    let mut forged = signed.clone();
    let sig = witness
        .sign_at(
            "other\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            COSIGNED_AT,
        )
        .unwrap();
    forged.note_mut().add_signature(sig);
    assert!(verify_cosignatures(forged.note(), &[&witness.verifier()]).is_err());
    // No cosignature by a listed witness: an empty list, the policy decides.
    let plain = Checkpoint::new(ORIGIN, 1, leaf_hash(b"x"))
        .unwrap()
        .sign(&[&log])
        .unwrap();
    assert!(
        verify_cosignatures(plain.note(), &[&witness.verifier()])
            .unwrap()
            .is_empty()
    );
    // Cosigning through the NoteSigner adaptor gives the same line as cosign().
    let mut note = Note::parse(&plain.to_bytes()).unwrap();
    note.sign(&[&witness.at(COSIGNED_AT)]).unwrap();
    let mut again = plain.clone();
    witness.cosign(&mut again, COSIGNED_AT).unwrap();
    assert_eq!(note.to_bytes(), again.to_bytes());
    assert!(
        witness.cosign(&mut again, u64::MAX).is_err(),
        "timestamps stop at 2^63 - 1"
    );
}

#[test]
fn tlog_proof_layout_matches_transparency_dev_merkle() {
    // proof/tlog_proof.go buildTLogProof: header, optional extra, index, hashes, blank line,
    // checkpoint verbatim. Hashes as in TestNewTLogProof: SHA-256("hash1"), SHA-256("hash2").
    use sha2::{Digest, Sha256};
    let (_, _, _, signed) = example_log();
    let h1 = Hash::from_bytes(Sha256::digest(b"hash1").into());
    let h2 = Hash::from_bytes(Sha256::digest(b"hash2").into());
    let cp = text(signed.to_bytes());
    let plain = ProofBundle::new(5, vec![h1, h2], signed.clone());
    assert_eq!(
        text(plain.to_bytes()),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 5\n{}\n{}\n\n{cp}",
            h1.to_base64(),
            h2.to_base64()
        )
    );
    let extra =
        ProofBundle::new(10, vec![h1], signed.clone()).with_extra(b"extra information".to_vec());
    assert_eq!(
        text(extra.to_bytes()),
        format!(
            "c2sp.org/tlog-proof@v1\nextra ZXh0cmEgaW5mb3JtYXRpb24=\nindex 10\n{}\n\n{cp}",
            h1.to_base64()
        )
    );
    assert_eq!(
        ProofBundle::parse(&extra.to_bytes()).unwrap().extra(),
        Some(&b"extra information"[..])
    );
    let empty = ProofBundle::new(0, vec![], signed);
    assert_eq!(
        text(empty.to_bytes()),
        format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{cp}")
    );
}

#[test]
fn tlog_proof_parse_errors() {
    let (_, _, _, signed) = example_log();
    let cp = text(signed.to_bytes());
    use ProofBundleParseError as E;
    let zero64 =
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    // TestVerifyTLogProofErrors, plus biv's own.
    for (bad, want) in [
        (format!("wrong-header\nindex 0\n\n{cp}"), E::MissingHeader),
        (
            format!("c2sp.org/tlog-proof@v1\nextra !!notbase64!!\nindex 0\n\n{cp}"),
            E::InvalidExtra { line: 2 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\n\n\n{cp}"),
            E::MissingIndex { line: 2 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex notanumber\n\n{cp}"),
            E::InvalidIndex { line: 2 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex -5\n\n{cp}"),
            E::InvalidIndex { line: 2 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 05\n\n{cp}"),
            E::InvalidIndex { line: 2 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!\n\n{cp}"),
            E::InvalidHash { line: 3 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 0\n{zero64}\n\n{cp}"),
            E::InvalidHash { line: 3 },
        ),
        (
            "c2sp.org/tlog-proof@v1\nindex 0\n".to_owned(),
            E::MissingCheckpoint,
        ),
        (
            "c2sp.org/tlog-proof@v1\nindex 0\n\n".to_owned(),
            E::MissingCheckpoint,
        ),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 0\n{}\n{cp}",
                format!("{}\n", Hash::default().to_base64()).repeat(65)
            ),
            E::TooManyHashes,
        ),
    ] {
        assert_eq!(ProofBundle::parse(bad.as_bytes()), Err(want), "{bad:?}");
    }
    assert!(matches!(
        ProofBundle::parse(b"c2sp.org/tlog-proof@v1\nindex 0\n\ncheckpoint\n"),
        Err(E::Checkpoint { line: 4, .. })
    ));
}
