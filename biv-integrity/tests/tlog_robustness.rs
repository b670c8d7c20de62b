//! Parser and verifier robustness: arbitrary bytes, mutated valid inputs and extreme sizes never
//! panic; they give a value or a typed error.

use biv_integrity::tlog::{
    Checkpoint, CompactRange, CosignatureVerifier, Ed25519Signer, Ed25519Verifier, Hash,
    MemoryTree, Note, ProofBundle, SignedCheckpoint, VerifierKey, consistency_plan, inclusion_plan,
    verify_consistency, verify_consistency_bytes, verify_inclusion, verify_inclusion_bytes,
};
use proptest::prelude::*;

const ORIGIN: &str = "biv.test/robust/audit";

fn valid_proof() -> (Vec<u8>, Ed25519Verifier) {
    let log = Ed25519Signer::from_seed(ORIGIN, &[3; 32]).expect("valid test input");
    let mut tree = MemoryTree::new();
    for i in 0u8..11 {
        tree.push_entry(&[i]).expect("valid test input");
    }
    let signed = Checkpoint::new(ORIGIN, tree.size(), tree.root())
        .expect("valid test input")
        .sign(&[&log])
        .expect("valid test input");
    let bundle = ProofBundle::new(
        6,
        tree.inclusion_proof(6, 11).expect("valid test input"),
        signed,
    )
    .with_extra(b"ctx".to_vec());
    (bundle.to_bytes(), log.verifier())
}

/// Exercises every parser on one input.
fn parse_everything(bytes: &[u8], verifier: &Ed25519Verifier) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(note) = Note::parse(bytes) {
        assert_eq!(Note::parse(&note.to_bytes()).as_ref(), Ok(&note));
        let _ = note.verify(&[verifier]);
    }
    let _ = Checkpoint::parse(&text);
    let _ = SignedCheckpoint::open(bytes, ORIGIN, &[verifier]);
    if let Ok(bundle) = ProofBundle::parse(bytes) {
        assert_eq!(ProofBundle::parse(&bundle.to_bytes()).as_ref(), Ok(&bundle));
        let _ = bundle.verify_entry(ORIGIN, &[verifier], &[6]);
    }
    let _ = VerifierKey::parse(&text);
    let _ = Ed25519Verifier::from_vkey(&text);
    let _ = Ed25519Signer::from_skey(&text);
    let _ = CosignatureVerifier::from_vkey(&text);
    let _ = Hash::from_hex(&text);
    let _ = Hash::from_base64(&text);
    let _ = CompactRange::from_bytes(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (_, verifier) = valid_proof();
        parse_everything(&bytes, &verifier);
    }

    #[test]
    fn text_like_inputs_never_panic(text in "[a-z0-9+/=\\n\u{2014} .-]{0,300}") {
        let (_, verifier) = valid_proof();
        parse_everything(text.as_bytes(), &verifier);
        let with_header = format!("c2sp.org/tlog-proof@v1\n{text}");
        parse_everything(with_header.as_bytes(), &verifier);
    }

    #[test]
    fn mutated_proofs_never_panic_and_never_verify_wrongly(
        edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..6)
    ) {
        let (mut bytes, verifier) = valid_proof();
        let original = bytes.clone();
        for (pos, value, op) in edits {
            let pos = pos as usize % (bytes.len() + 1);
            match op {
                0 if pos < bytes.len() => bytes[pos] = value,
                1 => bytes.insert(pos, value),
                _ if pos < bytes.len() => { bytes.remove(pos); }
                _ => {}
            }
        }
        parse_everything(&bytes, &verifier);
        // A mutated proof that still verifies must say the same thing as the original.
        if let Ok(bundle) = ProofBundle::parse(&bytes)
            && let Ok(ok) = bundle.verify_entry(ORIGIN, &[&verifier], &[6])
        {
            let orig = ProofBundle::parse(&original).unwrap();
            prop_assert_eq!(ok.index(), orig.index());
            prop_assert_eq!(ok.checkpoint().checkpoint(), orig.checkpoint().checkpoint());
        }
    }

    #[test]
    fn extreme_sizes_never_panic(
        index in any::<u64>(), size in any::<u64>(), n_proof in 0usize..70, byte in any::<u8>()
    ) {
        let proof = vec![Hash::from_bytes([byte; 32]); n_proof];
        let h = Hash::from_bytes([byte; 32]);
        let _ = verify_inclusion(index, size, &h, &proof, &h);
        let _ = verify_consistency(index, size, &proof, &h, &h);
        let raw: Vec<Vec<u8>> = (0..n_proof).map(|i| vec![byte; i % 40]).collect();
        let _ = verify_inclusion_bytes(index, size, &[byte; 32], &raw, &[byte; 31]);
        let _ = verify_consistency_bytes(index, size, &raw, &[byte; 32], &[]);
        for (a, b) in [(index, size), (size / 2, size), (1, size), (size.saturating_sub(1), size)] {
            if let Ok(plan) = inclusion_plan(a, b) {
                prop_assert!(plan.proof_len() <= 64);
                prop_assert!(plan.nodes().len() <= 128);
            }
            if let Ok(plan) = consistency_plan(a, b) {
                prop_assert!(plan.proof_len() <= 65);
                prop_assert!(plan.nodes().len() <= 130);
            }
        }
    }
}
