//! The envelope encryptor: a data key per (tenant, subject), wrapped by the key provider,
//! cached, and crypto-shredded on request.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use biv_core::{
    BackendError, Clock, Context, DecryptError, EncryptError, Encryptor, KeyProvider, SecretBytes,
    Timestamp, UnwrapError,
};

use super::cache::{CacheConfig, KeyCache};
use super::store::{InsertOutcome, KeyState, KeyStore, KeyStoreError, StoredKey, SubjectKey};
use crate::envelope::{DATA_KEY_LEN, DataKey, inspect};

const DEK_AAD_DOMAIN: &[u8] = b"biv.dek.v1";
const STRIPES: usize = 64;

/// The associated data a data key is wrapped with:
/// `"biv.dek.v1" ‖ u64be key id ‖ u32be len(tenant) ‖ tenant ‖ u32be len(subject) ‖ subject`,
/// so a wrapped key cannot be moved to another id, tenant or subject.
pub fn data_key_aad(key_id: u64, tenant: &[u8], subject: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DEK_AAD_DOMAIN.len() + 16 + tenant.len() + subject.len());
    out.extend_from_slice(DEK_AAD_DOMAIN);
    out.extend_from_slice(&key_id.to_be_bytes());
    for part in [tenant, subject] {
        // Context values are at most 65,536 bytes.
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// What a shred did: the destroyed key ids and when. The host records it in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShredReceipt {
    /// The tenant.
    pub tenant: Vec<u8>,
    /// The pseudonymous subject reference.
    pub subject: Vec<u8>,
    /// The data keys destroyed now (empty if the subject had none or was shredded before).
    pub key_ids: Vec<u64>,
    /// When the keys were destroyed.
    pub at: Timestamp,
}

/// Why a shred failed; the subject's keys may then still exist, so retry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShredError {
    /// The key store could not destroy the keys.
    #[error("key store: {0}")]
    Store(#[from] KeyStoreError),
}

/// The [`Encryptor`] of biv: AES-256-GCM in ciphertext format v1, under a data key per data
/// subject, wrapped by a [`KeyProvider`] and kept in a [`KeyStore`].
///
/// The context must name `tenant` and `subject` (a pseudonymous reference, never a BSN);
/// table, column and row are bound too when given. Encrypting for a new subject makes its data
/// key (random 32 bytes, random u64 id), wraps it with [`data_key_aad`] and stores it.
/// Decrypting reads the key id from the header. Unwrapped keys are cached (see
/// [`CacheConfig`]); concurrent misses for one key wait for a single unwrap.
/// [`shred`](EnvelopeEncryptor::shred) destroys a subject's keys: its ciphertexts then fail
/// with [`DecryptError::KeyDestroyed`] and nothing new can be encrypted for it.
///
/// ```
/// use std::sync::Arc;
/// use biv_confidentiality::keys::{CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore};
/// use biv_core::{Context, DecryptError, Encryptor, SystemClock};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// # let dir = std::env::temp_dir().join(format!("biv-doc-enc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
/// let ring = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::development())?;
/// let enc = EnvelopeEncryptor::new(Arc::new(ring), Arc::new(MemoryKeyStore::new()),
///     Arc::new(SystemClock::new()), CacheConfig::default());
/// let ctx = Context::new().with("tenant", "zorg-noord")?.with("table", "patients")?
///     .with("column", "bsn")?.with("subject", "p-7f3a")?;
/// let ct = enc.encrypt(b"123456782", &ctx).await?;
/// assert_eq!(enc.decrypt(&ct, &ctx).await?.expose_secret(), b"123456782");
///
/// enc.shred(b"zorg-noord", b"p-7f3a").await?;
/// assert!(matches!(enc.decrypt(&ct, &ctx).await, Err(DecryptError::KeyDestroyed)));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EnvelopeEncryptor {
    provider: Arc<dyn KeyProvider>,
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    cache: KeyCache,
    /// Striped locks for single-flight loading: one unwrap per key however many callers miss.
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::new(e)
}

fn stripe_of(value: impl Hash) -> usize {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    // STRIPES is a small power of two; the cast keeps the low bits.
    (h.finish() % STRIPES as u64) as usize
}

impl EnvelopeEncryptor {
    /// An encryptor over a key provider (root KEK), a key store and a clock (for the cache TTL
    /// and shred receipts).
    pub fn new(
        provider: Arc<dyn KeyProvider>,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        cache: CacheConfig,
    ) -> Self {
        EnvelopeEncryptor {
            provider,
            store,
            cache: KeyCache::new(cache, Arc::clone(&clock)),
            clock,
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// The number of data keys cached now.
    pub fn cached_keys(&self) -> usize {
        self.cache.len()
    }

    /// Crypto-shreds a data subject: destroys every data key of `subject` in `tenant` in the
    /// key store, purges them from this encryptor's cache, and returns a receipt.
    ///
    /// Afterwards this encryptor decrypts none of the subject's ciphertexts
    /// ([`DecryptError::KeyDestroyed`]) and encrypts nothing new for it
    /// ([`EncryptError::KeyDestroyed`]). Other processes with their own cache stop within
    /// their cache TTL. Backups of the key store still hold the wrapped keys until the root
    /// key version that wrapped them is destroyed (see the crate docs on shred epochs).
    ///
    /// # Errors
    /// [`ShredError`] when the store fails; retry.
    pub async fn shred(&self, tenant: &[u8], subject: &[u8]) -> Result<ShredReceipt, ShredError> {
        let _guard = self.stripes[stripe_of((tenant, subject))].lock().await;
        self.cache.purge_subject(tenant, subject, &[]);
        let key_ids = self.store.destroy_subject(tenant, subject).await?;
        self.cache.purge_subject(tenant, subject, &key_ids);
        Ok(ShredReceipt {
            tenant: tenant.to_vec(),
            subject: subject.to_vec(),
            key_ids,
            at: self.clock.now(),
        })
    }

    async fn unwrap_stored(
        &self,
        key_id: u64,
        tenant: &[u8],
        subject: &[u8],
        wrapped: &biv_core::WrappedKey,
    ) -> Result<DataKey, UnwrapError> {
        let aad = data_key_aad(key_id, tenant, subject);
        let raw = self.provider.unwrap_key(wrapped, &aad).await?;
        DataKey::new(key_id, &raw).map_err(|_| UnwrapError::Failed)
    }

    /// The subject's current key: cache, store, or a new one.
    async fn current_key(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Arc<DataKey>, EncryptError> {
        if let Some(k) = self.cache.current(tenant, subject) {
            return Ok(k);
        }
        let _guard = self.stripes[stripe_of((tenant, subject))].lock().await;
        if let Some(k) = self.cache.current(tenant, subject) {
            return Ok(k);
        }
        let epoch = self.cache.epoch();
        let store_err = |e: KeyStoreError| EncryptError::KeyUnavailable(unavailable(e));
        let unwrap_err = |e: UnwrapError| EncryptError::KeyUnavailable(unavailable(e));
        let key = match self
            .store
            .current_for(tenant, subject)
            .await
            .map_err(store_err)?
        {
            SubjectKey::Destroyed => return Err(EncryptError::KeyDestroyed),
            SubjectKey::Active(stored) => self.load_active(&stored).await.map_err(unwrap_err)?,
            _ => self.create_key(tenant, subject).await?,
        };
        let key = Arc::new(key);
        self.cache
            .insert(epoch, Arc::clone(&key), tenant, subject, true);
        Ok(key)
    }

    async fn load_active(&self, stored: &StoredKey) -> Result<DataKey, UnwrapError> {
        match &stored.state {
            KeyState::Active(w) => {
                self.unwrap_stored(stored.key_id, &stored.tenant, &stored.subject, w)
                    .await
            }
            _ => Err(UnwrapError::Failed),
        }
    }

    async fn create_key(&self, tenant: &[u8], subject: &[u8]) -> Result<DataKey, EncryptError> {
        let no_random = |e: getrandom::Error| {
            EncryptError::KeyUnavailable(BackendError::msg(format!("no randomness: {e}")))
        };
        for _ in 0..4 {
            let mut raw = zeroize::Zeroizing::new(vec![0u8; DATA_KEY_LEN]);
            getrandom::fill(&mut raw).map_err(no_random)?;
            let raw = SecretBytes::new(std::mem::take(&mut *raw));
            let mut id = [0u8; 8];
            getrandom::fill(&mut id).map_err(no_random)?;
            let key_id = u64::from_be_bytes(id);
            let wrapped = self
                .provider
                .wrap_key(&raw, &data_key_aad(key_id, tenant, subject))
                .await
                .map_err(|e| EncryptError::KeyUnavailable(unavailable(e)))?;
            let record = StoredKey::active(key_id, tenant, subject, wrapped);
            match self
                .store
                .insert_if_absent(record)
                .await
                .map_err(|e| EncryptError::KeyUnavailable(unavailable(e)))?
            {
                InsertOutcome::Inserted => {
                    return DataKey::new(key_id, &raw)
                        .map_err(|e| EncryptError::KeyUnavailable(unavailable(e)));
                }
                InsertOutcome::Existing(stored) => {
                    return self
                        .load_active(&stored)
                        .await
                        .map_err(|e| EncryptError::KeyUnavailable(unavailable(e)));
                }
                InsertOutcome::Destroyed => return Err(EncryptError::KeyDestroyed),
                _ => continue,
            }
        }
        Err(EncryptError::KeyUnavailable(BackendError::msg(
            "could not find a free data key id",
        )))
    }

    /// The key a ciphertext names, checked against the context's tenant and subject.
    async fn key_for(
        &self,
        key_id: u64,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Arc<DataKey>, DecryptError> {
        if let Some(hit) = self.cache.get(key_id, tenant, subject) {
            return if hit.owner_matches {
                Ok(hit.key)
            } else {
                Err(DecryptError::Failed)
            };
        }
        let _guard = self.stripes[stripe_of(key_id)].lock().await;
        if let Some(hit) = self.cache.get(key_id, tenant, subject) {
            return if hit.owner_matches {
                Ok(hit.key)
            } else {
                Err(DecryptError::Failed)
            };
        }
        let epoch = self.cache.epoch();
        let stored = self
            .store
            .get(key_id)
            .await
            .map_err(|e| DecryptError::KeyUnavailable(unavailable(e)))?
            .ok_or(DecryptError::Failed)?;
        let KeyState::Active(wrapped) = &stored.state else {
            return Err(DecryptError::KeyDestroyed);
        };
        if stored.tenant != tenant || stored.subject != subject {
            return Err(DecryptError::Failed);
        }
        let key = self
            .unwrap_stored(key_id, tenant, subject, wrapped)
            .await
            .map_err(|e| match e {
                UnwrapError::Failed => DecryptError::Failed,
                other => DecryptError::KeyUnavailable(unavailable(other)),
            })?;
        let key = Arc::new(key);
        self.cache
            .insert(epoch, Arc::clone(&key), tenant, subject, false);
        Ok(key)
    }
}

#[async_trait]
impl Encryptor for EnvelopeEncryptor {
    async fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, EncryptError> {
        let tenant = context
            .get("tenant")
            .ok_or(EncryptError::MissingContextField("tenant"))?;
        let subject = context
            .get("subject")
            .ok_or(EncryptError::MissingContextField("subject"))?;
        let key = self.current_key(tenant, subject).await?;
        key.encrypt(plaintext, context)
    }

    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError> {
        let info = inspect(ciphertext).map_err(|_| DecryptError::Failed)?;
        let (Some(tenant), Some(subject)) = (context.get("tenant"), context.get("subject")) else {
            return Err(DecryptError::Failed);
        };
        let key = self.key_for(info.key_id, tenant, subject).await?;
        key.decrypt(ciphertext, context)
    }
}

impl fmt::Debug for EnvelopeEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeEncryptor")
            .field("provider", &self.provider)
            .field("store", &self.store)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}
