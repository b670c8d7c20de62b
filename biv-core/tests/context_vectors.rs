//! The canonical context encoding matches the known-answer vectors in docs/formats.

use biv_core::Context;

#[test]
fn context_vectors() {
    let text = include_str!("../../docs/formats/context-vectors.json");
    let vectors: Vec<serde_json::Value> = serde_json::from_str(text).expect("vectors are JSON");
    assert!(vectors.len() >= 4);
    for v in &vectors {
        let fields = v["context"].as_object().expect("context is an object");
        let mut ctx = Context::new();
        for (name, value) in fields {
            ctx = ctx
                .with(name, value.as_str().expect("string value"))
                .expect("valid field");
        }
        let expected = v["canonical_hex"].as_str().expect("hex");
        let encoded: String = ctx
            .to_canonical_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(encoded, expected, "{}", v["description"]);
        let bytes: Vec<u8> = (0..expected.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&expected[i..i + 2], 16).expect("hex digit"))
            .collect();
        assert_eq!(Context::from_canonical_bytes(&bytes).expect("decodes"), ctx);
    }
}
