//! The [`Encryptor`] trait: field-level encryption bound to a [`Context`].

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Context, SecretBytes};
use crate::BackendError;

/// Why a field could not be encrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The context lacks a field the encryptor needs (e.g. `subject` to pick the data key).
    #[error("encryption context is missing `{0}`")]
    MissingContextField(&'static str),
    /// The data subject's key was destroyed (crypto-shredded); nothing can be encrypted for it.
    #[error("the data subject's key was destroyed")]
    KeyDestroyed,
    /// The key store or key provider could not be reached; retrying may help.
    #[error("encryption key unavailable: {0}")]
    KeyUnavailable(#[source] BackendError),
    /// The plaintext is larger than the format allows.
    #[error("plaintext too large: {size} bytes, limit {limit}")]
    TooLarge {
        /// Plaintext size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

/// Why a field could not be decrypted.
///
/// Everything about the ciphertext itself — a wrong key, a wrong context, a flipped bit, a
/// truncation, an unknown version — is the one opaque [`DecryptError::Failed`], so the error
/// is no oracle. Only conditions that do not depend on the ciphertext's secrets are told apart:
/// a key store that cannot be reached (retry later) and a key that was destroyed on purpose
/// (the subject was erased).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// Decryption failed.
    #[error("decryption failed")]
    Failed,
    /// The data key was destroyed (crypto-shredding): the data is gone for good.
    #[error("the data subject's key was destroyed")]
    KeyDestroyed,
    /// The key store or key provider could not be reached; retrying may help.
    #[error("decryption key unavailable: {0}")]
    KeyUnavailable(#[source] BackendError),
}

/// Encrypts and decrypts single fields of special personal data, bound to a [`Context`].
///
/// Implemented by biv-confidentiality's envelope encryptor (AES-256-GCM, a data key per
/// subject, the `bv1` format). The trait has no nonce or key parameter: implementations choose
/// them, so callers cannot misuse them. Decryption needs the same context as encryption.
///
/// Async because the data key may come from a key store or an HSM; biv-ffi offers blocking
/// entry points for PHP.
///
/// # Example
/// ```
/// use biv_core::{Context, Encryptor, DecryptError};
///
/// async fn read_bsn(enc: &dyn Encryptor, stored: &[u8], row: &str) -> Result<String, DecryptError> {
///     let ctx = Context::new()
///         .with("table", "patients").and_then(|c| c.with("column", "bsn")).and_then(|c| c.with("row", row))
///         .map_err(|_| DecryptError::Failed)?;
///     let plain = enc.decrypt(stored, &ctx).await?;
///     String::from_utf8(plain.expose_secret().to_vec()).map_err(|_| DecryptError::Failed)
/// }
/// ```
#[async_trait]
pub trait Encryptor: Send + Sync + Debug {
    /// Encrypts `plaintext` bound to `context`; returns the self-describing ciphertext.
    ///
    /// # Errors
    /// [`EncryptError`].
    async fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, EncryptError>;

    /// Decrypts a ciphertext made with the same `context`.
    ///
    /// # Errors
    /// [`DecryptError`], opaque for anything wrong with the ciphertext or context.
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError>;
}

#[async_trait]
impl<T: Encryptor + ?Sized> Encryptor for Arc<T> {
    async fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, EncryptError> {
        (**self).encrypt(plaintext, context).await
    }
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError> {
        (**self).decrypt(ciphertext, context).await
    }
}

#[async_trait]
impl<T: Encryptor + ?Sized> Encryptor for Box<T> {
    async fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, EncryptError> {
        (**self).encrypt(plaintext, context).await
    }
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError> {
        (**self).decrypt(ciphertext, context).await
    }
}
