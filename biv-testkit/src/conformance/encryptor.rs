//! Conformance checks for [`Encryptor`] implementations.
//!
//! The checks use contexts with `tenant`, `table`, `column`, `subject` and `row`, so
//! implementations that pick keys per tenant and subject can run them.

use std::sync::Arc;

use biv_core::{Context, DecryptError, Encryptor};

/// The context the checks encrypt under.
pub fn sample_context() -> Context {
    context_with(&[])
}

fn context_with(overrides: &[(&str, &str)]) -> Context {
    let mut fields = vec![
        ("tenant", "zorg-noord"),
        ("table", "patients"),
        ("column", "bsn"),
        ("subject", "p-7f3a"),
        ("row", "0190f5b8-7c3e-7def-8a12-3b4c5d6e7f80"),
    ];
    for (name, value) in overrides {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value,
            None => fields.push((name, value)),
        }
    }
    fields
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .try_fold(Context::new(), |c, (n, v)| c.with(n, v))
        .unwrap_or_else(|e| panic!("conformance context is invalid: {e}"))
}

async fn encrypt(enc: &dyn Encryptor, plaintext: &[u8], ctx: &Context) -> Vec<u8> {
    enc.encrypt(plaintext, ctx)
        .await
        .unwrap_or_else(|e| panic!("encrypt of {} bytes failed: {e}", plaintext.len()))
}

fn must_fail(result: Result<biv_core::SecretBytes, DecryptError>, what: &str) {
    match result {
        Err(DecryptError::Failed) => {}
        Err(other) => panic!("{what}: expected the opaque DecryptError::Failed, got {other:?}"),
        Ok(_) => panic!("{what}: was accepted"),
    }
}

/// Plaintexts of several sizes decrypt to themselves under the same context.
pub async fn round_trip(enc: Arc<dyn Encryptor>) {
    let ctx = sample_context();
    for plaintext in [
        b"123456782".to_vec(),
        b"x".to_vec(),
        vec![0xa5; 64],
        (0..=255u8).cycle().take(1000).collect(),
    ] {
        let ct = encrypt(&*enc, &plaintext, &ctx).await;
        let back = enc
            .decrypt(&ct, &ctx)
            .await
            .unwrap_or_else(|e| panic!("round trip: decrypt failed: {e}"));
        assert!(
            back.expose_secret() == plaintext.as_slice(),
            "round trip: decrypted bytes differ from the plaintext ({} bytes)",
            plaintext.len()
        );
        assert!(
            !ct.windows(plaintext.len().max(4))
                .any(|w| w == plaintext.as_slice()),
            "round trip: the ciphertext contains the plaintext"
        );
    }
}

/// The empty plaintext round-trips.
pub async fn empty_plaintext_round_trips(enc: Arc<dyn Encryptor>) {
    let ctx = sample_context();
    let ct = enc
        .encrypt(b"", &ctx)
        .await
        .unwrap_or_else(|e| panic!("empty plaintext: encrypt failed: {e}"));
    let back = enc
        .decrypt(&ct, &ctx)
        .await
        .unwrap_or_else(|e| panic!("empty plaintext: decrypt failed: {e}"));
    assert!(
        back.is_empty(),
        "empty plaintext: decrypted to {} bytes",
        back.len()
    );
}

/// A ciphertext does not decrypt under a context that differs in any field, has an extra field
/// or lacks one: with the opaque [`DecryptError::Failed`].
pub async fn wrong_context_fails(enc: Arc<dyn Encryptor>) {
    let ctx = sample_context();
    let ct = encrypt(&*enc, b"123456782", &ctx).await;
    let wrong: [&[(&str, &str)]; 6] = [
        &[("table", "consults")],
        &[("column", "name")],
        &[("row", "0190f5b8-7c3e-7def-8a12-3b4c5d6e7f81")],
        &[("row", "")],
        &[("purpose", "research")],
        &[("column", "bsn "), ("table", "patients")],
    ];
    for overrides in wrong {
        must_fail(
            enc.decrypt(&ct, &context_with(overrides)).await,
            &format!("wrong context {overrides:?}"),
        );
    }
}

/// Every single-byte change, every truncation and an appended byte are rejected with
/// [`DecryptError::Failed`].
pub async fn tampering_fails(enc: Arc<dyn Encryptor>) {
    let ctx = sample_context();
    let ct = encrypt(&*enc, b"123456782", &ctx).await;
    for i in 0..ct.len() {
        for mask in [0x01u8, 0x80] {
            let mut bad = ct.clone();
            bad[i] ^= mask;
            must_fail(
                enc.decrypt(&bad, &ctx).await,
                &format!("tampered ciphertext (byte {i} ^ {mask:#04x})"),
            );
        }
    }
    for cut in 0..ct.len() {
        must_fail(
            enc.decrypt(&ct[..cut], &ctx).await,
            &format!("tampered ciphertext (truncated to {cut} bytes)"),
        );
    }
    let mut longer = ct.clone();
    longer.push(0);
    must_fail(
        enc.decrypt(&longer, &ctx).await,
        "tampered ciphertext (a trailing byte)",
    );
}

/// Two encryptions of the same plaintext under the same context differ (randomised nonces).
pub async fn encryptions_are_randomised(enc: Arc<dyn Encryptor>) {
    let ctx = sample_context();
    let a = encrypt(&*enc, b"123456782", &ctx).await;
    let b = encrypt(&*enc, b"123456782", &ctx).await;
    assert!(
        a != b,
        "identical ciphertexts for two encryptions of the same plaintext"
    );
}

/// Concurrent encryptions and decryptions all round-trip.
pub async fn concurrent_use_is_safe(enc: Arc<dyn Encryptor>) {
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let enc = Arc::clone(&enc);
            tokio::spawn(async move {
                let ctx = sample_context();
                let ct = encrypt(&*enc, &[i; 20], &ctx).await;
                let back = enc
                    .decrypt(&ct, &ctx)
                    .await
                    .unwrap_or_else(|e| panic!("concurrent use: decrypt failed: {e}"));
                assert!(
                    back.expose_secret() == [i; 20],
                    "concurrent use: wrong plaintext"
                );
            })
        })
        .collect();
    for t in tasks {
        t.await
            .unwrap_or_else(|e| panic!("concurrent use: a task failed: {e}"));
    }
}
