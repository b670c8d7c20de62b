//! Blind index values match the known-answer vectors in docs/formats.

use biv_confidentiality::blind_index::{BlindIndex, IndexRootKey, IndexSpec, Normalizer};
use biv_core::SecretBytes;

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

fn normalizer(name: &str) -> Normalizer {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).expect("known normaliser")
}

#[test]
fn blind_index_vectors() {
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../../docs/formats/blind-index-vectors.json"))
            .expect("JSON");
    assert!(vectors.len() >= 5);
    for v in &vectors {
        let s = |k: &str| v[k].as_str().expect(k).to_owned();
        let root = IndexRootKey::new(
            v["version"].as_u64().unwrap() as u32,
            SecretBytes::new(unhex(&s("root_key_hex"))),
        )
        .unwrap();
        let normalizers: Vec<Normalizer> = v["normalizers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| normalizer(n.as_str().unwrap()))
            .collect();
        let spec = IndexSpec::compound(
            &s("tenant"),
            &s("table"),
            &s("column"),
            &s("name"),
            &normalizers,
            v["bits"].as_u64().unwrap() as u32,
        )
        .unwrap();
        let values: Vec<&str> = v["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let got = BlindIndex::new(&root, &spec)
            .unwrap()
            .compute_compound(&values)
            .unwrap();
        assert_eq!(got, s("expected"), "{}", v["description"]);
    }
}
