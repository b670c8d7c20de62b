//! The known-answer vectors of docs/formats/ciphertext-vectors.json, both directions. They
//! were made by an independent implementation (Python `cryptography`), see the format spec.
//! A unit test, because encrypting with a fixed nonce is a crate-private seam.

use biv_core::{Context, SecretBytes};
use serde_json::Value;

use super::cipher::DataKey;
use super::format::{self, NONCE_LEN};

const VECTORS: &str = include_str!("../../../docs/formats/ciphertext-vectors.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().expect(name)
}

#[test]
fn known_answer_vectors() {
    let vectors: Vec<Value> = serde_json::from_str(VECTORS).expect("vectors parse");
    assert!(vectors.len() >= 3);
    for v in &vectors {
        let desc = field(v, "description");
        let key_id = v["key_id"].as_u64().expect("key_id");
        let key = DataKey::new(key_id, &SecretBytes::new(unhex(field(v, "key_hex")))).expect("key");
        let mut ctx = Context::new();
        for (name, value) in v["context"].as_object().expect("context") {
            ctx = ctx
                .with(name, value.as_str().expect("value"))
                .expect("context field");
        }
        let nonce: [u8; NONCE_LEN] = unhex(field(v, "nonce_hex")).try_into().expect("nonce");
        let plaintext = unhex(field(v, "plaintext_hex"));
        let expected = unhex(field(v, "ciphertext_hex"));

        let ct = key
            .encrypt_with_nonce(&plaintext, &ctx, &nonce)
            .expect("encrypt");
        assert_eq!(ct, expected, "{desc}: ciphertext");
        assert_eq!(format::to_text(&ct), field(v, "text"), "{desc}: text form");
        assert_eq!(
            format::from_text(field(v, "text")).expect("text"),
            expected,
            "{desc}"
        );

        let mut aad = Vec::new();
        format::aad_into(&mut aad, &ct[..format::HEADER_LEN], &ctx);
        assert_eq!(aad, unhex(field(v, "aad_hex")), "{desc}: aad");

        let plain = key.decrypt(&expected, &ctx).expect("decrypt");
        assert_eq!(
            plain.expose_secret(),
            plaintext.as_slice(),
            "{desc}: plaintext"
        );
        let info = format::inspect(&expected).expect("inspect");
        assert_eq!(
            (info.key_id, info.plaintext_len),
            (key_id, plaintext.len()),
            "{desc}"
        );
    }
}
