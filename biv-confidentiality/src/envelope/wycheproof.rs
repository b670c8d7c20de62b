//! Wycheproof AES-GCM vectors (256-bit keys, 96-bit IVs) against the primitive layer.
//! Source and provenance: the `source` field of the data file.

use biv_core::SecretBytes;
use serde_json::Value;

use super::cipher::DataKey;
use super::format::NONCE_LEN;

const DATA: &str = include_str!("../../tests/data/wycheproof_aes_gcm_256.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn wycheproof_aes_256_gcm() {
    let data: Value = serde_json::from_str(DATA).expect("data parses");
    let tests = data["tests"].as_array().expect("tests");
    let (mut valid, mut invalid) = (0, 0);
    for (n, t) in tests.iter().enumerate() {
        let hex = |name: &str| unhex(t[name].as_str().expect(name));
        let key = DataKey::new(0, &SecretBytes::new(hex("key"))).expect("256-bit key");
        let nonce: [u8; NONCE_LEN] = hex("iv").try_into().expect("96-bit IV");
        let (aad, msg) = (hex("aad"), hex("msg"));
        let mut sealed = hex("ct");
        sealed.extend(hex("tag"));
        match t["result"].as_str() {
            Some("valid") => {
                valid += 1;
                assert_eq!(key.seal_raw(&nonce, &aad, &msg), sealed, "test {n}: seal");
                assert_eq!(
                    key.open_raw(&nonce, &aad, &sealed),
                    Some(msg),
                    "test {n}: open"
                );
            }
            _ => {
                invalid += 1;
                assert_eq!(
                    key.open_raw(&nonce, &aad, &sealed),
                    None,
                    "test {n}: must fail"
                );
            }
        }
    }
    assert_eq!((valid, invalid), (21, 27));
}
