//! The [`KeyProvider`] trait: the root key-encryption key (KEK) behind the key hierarchy.

use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::SecretBytes;
use crate::BackendError;

/// A key wrapped (encrypted) under a KEK, with the KEK's id and version so it can be unwrapped
/// after the KEK rotates.
///
/// ```
/// use biv_core::WrappedKey;
/// let w = WrappedKey::new("pkcs11:biv-root", 3, vec![0x2a; 40]);
/// assert_eq!((w.kek_id(), w.kek_version(), w.blob().len()), ("pkcs11:biv-root", 3, 40));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WrappedKey {
    kek_id: String,
    kek_version: u32,
    blob: Vec<u8>,
}

impl WrappedKey {
    /// A wrapped key.
    pub fn new(kek_id: impl Into<String>, kek_version: u32, blob: Vec<u8>) -> Self {
        WrappedKey {
            kek_id: kek_id.into(),
            kek_version,
            blob,
        }
    }

    /// The id of the KEK that wrapped it.
    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// The version of that KEK.
    pub fn kek_version(&self) -> u32 {
        self.kek_version
    }

    /// The wrapped bytes (safe to store: they are ciphertext).
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }
}

impl Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("kek_id", &self.kek_id)
            .field("kek_version", &self.kek_version)
            .field("blob_len", &self.blob.len())
            .finish()
    }
}

/// Why a key could not be wrapped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WrapError {
    /// The key to wrap has a length the provider does not accept.
    #[error("cannot wrap a key of {0} bytes")]
    InvalidKeyLength(usize),
    /// The provider refuses to run in this configuration (e.g. a development keyring in
    /// production); the text says why.
    #[error("key provider refused: {0}")]
    Refused(String),
    /// The HSM, KMS or keyring could not be used.
    #[error("key provider unavailable: {0}")]
    Unavailable(#[source] BackendError),
}

/// Why a key could not be unwrapped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnwrapError {
    /// The blob, its associated data or the KEK do not match (opaque, like a decryption failure).
    #[error("key unwrap failed")]
    Failed,
    /// The provider does not hold that KEK id or version (retired, destroyed, or another
    /// provider's key).
    #[error("unknown key-encryption key {kek_id} version {kek_version}")]
    UnknownKek {
        /// The KEK id named by the wrapped key.
        kek_id: String,
        /// Its version.
        kek_version: u32,
    },
    /// The HSM, KMS or keyring could not be used; retrying may help.
    #[error("key provider unavailable: {0}")]
    Unavailable(#[source] BackendError),
}

/// The root of the key hierarchy: wraps and unwraps lower keys under a key-encryption key that
/// ideally never leaves an HSM (PKCS#11) or KMS.
///
/// `aad` binds the wrapped key to what it is for (its key id, tenant, subject) so a wrapped key
/// cannot be swapped for another row's. Implementations: biv-confidentiality's local keyring
/// (development only) and PKCS#11 provider; hosts may add a KMS.
///
/// # Example
/// ```
/// use biv_core::{KeyProvider, SecretBytes, UnwrapError, WrapError};
///
/// async fn rewrap(old: &dyn KeyProvider, new: &dyn KeyProvider, w: &biv_core::WrappedKey, aad: &[u8])
///     -> Result<biv_core::WrappedKey, Box<dyn std::error::Error + Send + Sync>> {
///     let key: SecretBytes = old.unwrap_key(w, aad).await?;
///     let rewrapped = new.wrap_key(&key, aad).await?;
///     // Verify before the old wrapping is replaced.
///     let check = new.unwrap_key(&rewrapped, aad).await?;
///     if check.expose_secret() != key.expose_secret() { return Err("rewrap mismatch".into()); }
///     Ok(rewrapped)
/// }
/// ```
#[async_trait]
pub trait KeyProvider: Send + Sync + Debug {
    /// The id of this provider's KEK, e.g. `pkcs11:biv-root` or `local:dev`.
    fn kek_id(&self) -> &str;

    /// The KEK version new wraps use.
    fn current_version(&self) -> u32;

    /// Wraps `key` under the current KEK version, bound to `aad`.
    ///
    /// # Errors
    /// [`WrapError`].
    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError>;

    /// Unwraps a key wrapped by this provider with the same `aad`.
    ///
    /// # Errors
    /// [`UnwrapError`]; [`UnwrapError::Failed`] is opaque.
    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        aad: &[u8],
    ) -> Result<SecretBytes, UnwrapError>;
}

#[async_trait]
impl<T: KeyProvider + ?Sized> KeyProvider for Arc<T> {
    fn kek_id(&self) -> &str {
        (**self).kek_id()
    }
    fn current_version(&self) -> u32 {
        (**self).current_version()
    }
    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        (**self).wrap_key(key, aad).await
    }
    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        aad: &[u8],
    ) -> Result<SecretBytes, UnwrapError> {
        (**self).unwrap_key(wrapped, aad).await
    }
}

#[async_trait]
impl<T: KeyProvider + ?Sized> KeyProvider for Box<T> {
    fn kek_id(&self) -> &str {
        (**self).kek_id()
    }
    fn current_version(&self) -> u32 {
        (**self).current_version()
    }
    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        (**self).wrap_key(key, aad).await
    }
    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        aad: &[u8],
    ) -> Result<SecretBytes, UnwrapError> {
        (**self).unwrap_key(wrapped, aad).await
    }
}
