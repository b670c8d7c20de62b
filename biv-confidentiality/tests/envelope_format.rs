//! Ciphertext format v1: round trips, tampering, truncation, wrong contexts (property tests).

use biv_confidentiality::envelope::{DataKey, OVERHEAD, from_text, inspect, to_text};
use biv_core::{Context, DecryptError, SecretBytes};
use proptest::prelude::*;

fn key(id: u64) -> DataKey {
    DataKey::new(id, &SecretBytes::new(vec![0x5a; 32])).expect("32-byte key")
}

fn context() -> impl Strategy<Value = Context> {
    proptest::collection::btree_map(
        "[a-z][a-z0-9_]{0,10}",
        proptest::collection::vec(any::<u8>(), 0..24),
        0..6,
    )
    .prop_map(|fields| {
        fields.into_iter().fold(Context::new(), |c, (k, v)| {
            c.with(&k, v).expect("valid field")
        })
    })
}

fn sample_context() -> Context {
    Context::new()
        .with("tenant", "t1")
        .and_then(|c| c.with("table", "patients"))
        .and_then(|c| c.with("column", "bsn"))
        .and_then(|c| c.with("subject", "p-1"))
        .expect("valid context")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..300), ctx in context(), id in any::<u64>()) {
        let k = key(id);
        let ct = k.encrypt(&plaintext, &ctx).unwrap();
        prop_assert_eq!(ct.len(), plaintext.len() + OVERHEAD);
        prop_assert_eq!(inspect(&ct).unwrap().key_id, id);
        let plain = k.decrypt(&ct, &ctx).unwrap();
        prop_assert_eq!(plain.expose_secret(), plaintext.as_slice());
        let text = to_text(&ct);
        prop_assert!(text.starts_with("bv1:"));
        prop_assert_eq!(from_text(&text).unwrap(), ct);
    }

    #[test]
    fn wrong_context_is_rejected(plaintext in proptest::collection::vec(any::<u8>(), 0..64), a in context(), b in context()) {
        prop_assume!(a != b);
        let k = key(1);
        let ct = k.encrypt(&plaintext, &a).unwrap();
        prop_assert!(matches!(k.decrypt(&ct, &b), Err(DecryptError::Failed)));
    }

    #[test]
    fn every_single_byte_mutation_is_rejected(plaintext in proptest::collection::vec(any::<u8>(), 0..48), delta in 1u8..=255) {
        let k = key(9);
        let ctx = sample_context();
        let ct = k.encrypt(&plaintext, &ctx).unwrap();
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= delta;
            prop_assert!(matches!(k.decrypt(&bad, &ctx), Err(DecryptError::Failed)), "byte {} ^ {:#x}", i, delta);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_rejected(plaintext in proptest::collection::vec(any::<u8>(), 0..48), extra in any::<u8>()) {
        let k = key(9);
        let ctx = sample_context();
        let ct = k.encrypt(&plaintext, &ctx).unwrap();
        for cut in 0..ct.len() {
            prop_assert!(matches!(k.decrypt(&ct[..cut], &ctx), Err(DecryptError::Failed)), "cut {}", cut);
        }
        let mut longer = ct.clone();
        longer.push(extra);
        prop_assert!(matches!(k.decrypt(&longer, &ctx), Err(DecryptError::Failed)));
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = key(1).decrypt(&bytes, &sample_context());
        let _ = inspect(&bytes);
        let _ = from_text(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn two_encryptions_differ_and_another_key_fails() {
    let ctx = sample_context();
    let a = key(3).encrypt(b"123456782", &ctx).unwrap();
    let b = key(3).encrypt(b"123456782", &ctx).unwrap();
    assert_ne!(a, b);
    let other = DataKey::new(3, &SecretBytes::new(vec![0x5b; 32])).unwrap();
    assert!(matches!(other.decrypt(&a, &ctx), Err(DecryptError::Failed)));
    assert!(matches!(
        key(4).decrypt(&a, &ctx),
        Err(DecryptError::Failed)
    ));
}

#[test]
fn keys_are_32_bytes_and_debug_hides_them() {
    assert!(DataKey::new(1, &SecretBytes::new(vec![1; 16])).is_err());
    assert_eq!(format!("{:?}", key(5)), "DataKey { id: 5, .. }");
}
