//! Toy reference implementations of Encryptor and KeyProvider (SHA-256 keystream and tag: for
//! testing the checks only, not cryptography to use) run through the conformance macros — and
//! broken variants, one per rule, that the checks must catch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use biv_core::{
    Context, DecryptError, EncryptError, Encryptor, KeyProvider, SecretBytes, UnwrapError,
    WrapError, WrappedKey,
};
use biv_testkit::{conformance, encryptor_conformance, key_provider_conformance};
use sha2::{Digest, Sha256};

const SECRET: &[u8] = b"toy secret";

fn keystream(nonce: &[u8], len: usize) -> Vec<u8> {
    (0u32..)
        .flat_map(|i| {
            Sha256::new()
                .chain_update(SECRET)
                .chain_update(nonce)
                .chain_update(i.to_be_bytes())
                .finalize()
        })
        .take(len)
        .collect()
}

fn tag(nonce: &[u8], aad: &[u8], body: &[u8]) -> [u8; 16] {
    let d = Sha256::new()
        .chain_update(b"tag")
        .chain_update(SECRET)
        .chain_update((aad.len() as u64).to_be_bytes())
        .chain_update(aad)
        .chain_update(nonce)
        .chain_update(body)
        .finalize();
    let mut t = [0u8; 16];
    t.copy_from_slice(&d[..16]);
    t
}

/// Which rule a toy breaks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    None,
    IgnoresContext,
    NoTag,
    FixedNonce,
    LosesData,
    RejectsEmpty,
    WrongErrorKind,
}

/// nonce (8) ‖ body ‖ tag (16); tag over the canonical context.
#[derive(Debug)]
struct ToyEncryptor {
    flaw: Flaw,
    counter: AtomicU64,
}

fn toy(flaw: Flaw) -> ToyEncryptor {
    ToyEncryptor {
        flaw,
        counter: AtomicU64::new(1),
    }
}

#[async_trait]
impl Encryptor for ToyEncryptor {
    async fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, EncryptError> {
        if self.flaw == Flaw::RejectsEmpty && plaintext.is_empty() {
            return Err(EncryptError::TooLarge { size: 0, limit: 0 });
        }
        let n = if self.flaw == Flaw::FixedNonce {
            0
        } else {
            self.counter.fetch_add(1, Ordering::SeqCst)
        };
        let nonce = n.to_be_bytes();
        let ks = keystream(&nonce, plaintext.len());
        let body: Vec<u8> = plaintext.iter().zip(ks).map(|(p, k)| p ^ k).collect();
        let aad = if self.flaw == Flaw::IgnoresContext {
            Vec::new()
        } else {
            context.to_canonical_bytes()
        };
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag(&nonce, &aad, &body));
        Ok(out)
    }

    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError> {
        if ciphertext.len() < 24 {
            return Err(DecryptError::Failed);
        }
        let (nonce, rest) = ciphertext.split_at(8);
        let (body, t) = rest.split_at(rest.len() - 16);
        let aad = if self.flaw == Flaw::IgnoresContext {
            Vec::new()
        } else {
            context.to_canonical_bytes()
        };
        if self.flaw != Flaw::NoTag && tag(nonce, &aad, body) != t {
            return Err(if self.flaw == Flaw::WrongErrorKind {
                DecryptError::KeyDestroyed
            } else {
                DecryptError::Failed
            });
        }
        let mut plain: Vec<u8> = body
            .iter()
            .zip(keystream(nonce, body.len()))
            .map(|(c, k)| c ^ k)
            .collect();
        if self.flaw == Flaw::LosesData {
            plain.truncate(plain.len() / 2);
        }
        Ok(SecretBytes::new(plain))
    }
}

encryptor_conformance!(toy(Flaw::None));

#[test]
#[should_panic(expected = "wrong context")]
fn an_encryptor_that_ignores_the_context_fails() {
    conformance::run(conformance::encryptor::wrong_context_fails(Arc::new(toy(
        Flaw::IgnoresContext,
    ))));
}

#[test]
#[should_panic(expected = "tampered ciphertext")]
fn an_encryptor_without_a_tag_fails() {
    conformance::run(conformance::encryptor::tampering_fails(Arc::new(toy(
        Flaw::NoTag,
    ))));
}

#[test]
#[should_panic(expected = "expected the opaque DecryptError::Failed")]
fn an_encryptor_with_an_oracle_error_fails() {
    conformance::run(conformance::encryptor::tampering_fails(Arc::new(toy(
        Flaw::WrongErrorKind,
    ))));
}

#[test]
#[should_panic(expected = "identical ciphertexts")]
fn a_deterministic_encryptor_fails() {
    conformance::run(conformance::encryptor::encryptions_are_randomised(
        Arc::new(toy(Flaw::FixedNonce)),
    ));
}

#[test]
#[should_panic(expected = "round trip")]
fn a_lossy_encryptor_fails() {
    conformance::run(conformance::encryptor::round_trip(Arc::new(toy(
        Flaw::LosesData,
    ))));
}

#[test]
#[should_panic(expected = "empty plaintext")]
fn an_encryptor_refusing_empty_plaintext_fails() {
    conformance::run(conformance::encryptor::empty_plaintext_round_trips(
        Arc::new(toy(Flaw::RejectsEmpty)),
    ));
}

#[test]
#[should_panic(expected = "concurrent use")]
fn a_lossy_encryptor_fails_under_concurrency() {
    conformance::run(conformance::encryptor::concurrent_use_is_safe(Arc::new(
        toy(Flaw::LosesData),
    )));
}

/// Which rule a toy key provider breaks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KekFlaw {
    None,
    IgnoresAad,
    NoTag,
    WrongVersion,
    Garbles,
    InClear,
}

/// blob = nonce (8) ‖ key ⊕ keystream ‖ tag (16) over kek version and aad.
#[derive(Debug)]
struct ToyKek {
    flaw: KekFlaw,
    counter: AtomicU64,
}

fn toy_kek(flaw: KekFlaw) -> ToyKek {
    ToyKek {
        flaw,
        counter: AtomicU64::new(1),
    }
}

#[async_trait]
impl KeyProvider for ToyKek {
    fn kek_id(&self) -> &str {
        "toy:kek"
    }
    fn current_version(&self) -> u32 {
        3
    }
    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        let nonce = self.counter.fetch_add(1, Ordering::SeqCst).to_be_bytes();
        let body: Vec<u8> = if self.flaw == KekFlaw::InClear {
            key.expose_secret().to_vec()
        } else {
            key.expose_secret()
                .iter()
                .zip(keystream(&nonce, key.len()))
                .map(|(p, k)| p ^ k)
                .collect()
        };
        let aad = if self.flaw == KekFlaw::IgnoresAad {
            &[][..]
        } else {
            aad
        };
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&body);
        blob.extend_from_slice(&tag(&nonce, aad, &body));
        let version = if self.flaw == KekFlaw::WrongVersion {
            2
        } else {
            3
        };
        Ok(WrappedKey::new("toy:kek", version, blob))
    }
    async fn unwrap_key(&self, w: &WrappedKey, aad: &[u8]) -> Result<SecretBytes, UnwrapError> {
        let blob = w.blob();
        if blob.len() < 24 {
            return Err(UnwrapError::Failed);
        }
        let (nonce, rest) = blob.split_at(8);
        let (body, t) = rest.split_at(rest.len() - 16);
        let aad = if self.flaw == KekFlaw::IgnoresAad {
            &[][..]
        } else {
            aad
        };
        if self.flaw != KekFlaw::NoTag && tag(nonce, aad, body) != t {
            return Err(UnwrapError::Failed);
        }
        let mut key: Vec<u8> = if self.flaw == KekFlaw::InClear {
            body.to_vec()
        } else {
            body.iter()
                .zip(keystream(nonce, body.len()))
                .map(|(c, k)| c ^ k)
                .collect()
        };
        if self.flaw == KekFlaw::Garbles {
            key.reverse();
        }
        Ok(SecretBytes::new(key))
    }
}

key_provider_conformance!(toy_kek(KekFlaw::None));

#[test]
#[should_panic(expected = "wrong aad")]
fn a_provider_that_ignores_aad_fails() {
    conformance::run(conformance::key_provider::wrong_aad_fails(Arc::new(
        toy_kek(KekFlaw::IgnoresAad),
    )));
}

#[test]
#[should_panic(expected = "tampered blob")]
fn a_provider_without_a_tag_fails() {
    conformance::run(conformance::key_provider::tampered_blob_fails(Arc::new(
        toy_kek(KekFlaw::NoTag),
    )));
}

#[test]
#[should_panic(expected = "kek version")]
fn a_provider_misreporting_its_version_fails() {
    conformance::run(conformance::key_provider::reports_kek_id_and_version(
        Arc::new(toy_kek(KekFlaw::WrongVersion)),
    ));
}

#[test]
#[should_panic(expected = "unwrapped key differs")]
fn a_provider_that_garbles_keys_fails() {
    conformance::run(conformance::key_provider::wrap_unwrap_round_trip(Arc::new(
        toy_kek(KekFlaw::Garbles),
    )));
}

#[test]
#[should_panic(expected = "contains the key in clear")]
fn a_provider_that_stores_keys_in_clear_fails() {
    conformance::run(conformance::key_provider::wrap_unwrap_round_trip(Arc::new(
        toy_kek(KekFlaw::InClear),
    )));
}
