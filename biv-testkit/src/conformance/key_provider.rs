//! Conformance checks for [`KeyProvider`] implementations.

use std::sync::Arc;

use biv_core::{KeyProvider, SecretBytes, UnwrapError, WrappedKey};

const AAD: &[u8] = b"biv.dek.v1 key 42 tenant zorg-noord subject p-7f3a";

fn sample_key() -> SecretBytes {
    SecretBytes::new((0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5c).collect())
}

async fn wrap(provider: &dyn KeyProvider) -> WrappedKey {
    provider
        .wrap_key(&sample_key(), AAD)
        .await
        .unwrap_or_else(|e| panic!("wrap of a 32-byte key failed: {e}"))
}

fn must_fail(result: Result<SecretBytes, UnwrapError>, what: &str) {
    match result {
        Err(UnwrapError::Failed) => {}
        Err(other) => panic!("{what}: expected the opaque UnwrapError::Failed, got {other:?}"),
        Ok(_) => panic!("{what}: was accepted"),
    }
}

/// A wrapped 32-byte key unwraps to the same bytes with the same associated data, and the
/// blob does not contain the key.
pub async fn wrap_unwrap_round_trip(provider: Arc<dyn KeyProvider>) {
    let w = wrap(&*provider).await;
    let back = provider
        .unwrap_key(&w, AAD)
        .await
        .unwrap_or_else(|e| panic!("round trip: unwrap failed: {e}"));
    assert!(
        back.expose_secret() == sample_key().expose_secret(),
        "round trip: unwrapped key differs"
    );
    assert!(
        !w.blob()
            .windows(32)
            .any(|win| win == sample_key().expose_secret()),
        "round trip: the wrapped blob contains the key in clear"
    );
}

/// The wrapped key names this provider's KEK id and current version.
pub async fn reports_kek_id_and_version(provider: Arc<dyn KeyProvider>) {
    assert!(!provider.kek_id().is_empty(), "kek id is empty");
    let w = wrap(&*provider).await;
    assert!(
        w.kek_id() == provider.kek_id(),
        "wrapped key names kek id {:?}, provider says {:?}",
        w.kek_id(),
        provider.kek_id()
    );
    assert!(
        w.kek_version() == provider.current_version(),
        "wrapped key names kek version {}, provider's current version is {}",
        w.kek_version(),
        provider.current_version()
    );
}

/// Unwrapping with other associated data fails with [`UnwrapError::Failed`].
pub async fn wrong_aad_fails(provider: Arc<dyn KeyProvider>) {
    let w = wrap(&*provider).await;
    must_fail(provider.unwrap_key(&w, b"").await, "wrong aad (empty)");
    let mut other = AAD.to_vec();
    if let Some(last) = other.last_mut() {
        *last ^= 1;
    }
    must_fail(provider.unwrap_key(&w, &other).await, "wrong aad (one bit)");
}

/// Every single-byte change and every truncation of the blob fails with
/// [`UnwrapError::Failed`].
pub async fn tampered_blob_fails(provider: Arc<dyn KeyProvider>) {
    let w = wrap(&*provider).await;
    let blob = w.blob();
    for i in 0..blob.len() {
        let mut bad = blob.to_vec();
        bad[i] ^= 0x01;
        let bad = WrappedKey::new(w.kek_id(), w.kek_version(), bad);
        must_fail(
            provider.unwrap_key(&bad, AAD).await,
            &format!("tampered blob (byte {i})"),
        );
    }
    for cut in 0..blob.len() {
        let bad = WrappedKey::new(w.kek_id(), w.kek_version(), blob[..cut].to_vec());
        must_fail(
            provider.unwrap_key(&bad, AAD).await,
            &format!("tampered blob (truncated to {cut} bytes)"),
        );
    }
}
