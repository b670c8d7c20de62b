//! The envelope encryptor: a data key per (tenant, subject), wrapped by the key provider,
//! cached, and crypto-shredded on request.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use biv_core::{
    BackendError, Clock, Context, DecryptError, EncryptError, Encryptor, KeyProvider, SecretBytes,
    Timestamp, UnwrapError, WrappedKey,
};

use super::cache::{CacheConfig, KeyCache};
use super::domain::{DataKeyWrapper, RootWrapper};
use super::rotation::KeyRetired;
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
    pub(super) wrapper: Arc<dyn DataKeyWrapper>,
    pub(super) store: Arc<dyn KeyStore>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) cache: KeyCache,
    /// Striped locks for single-flight loading: one unwrap per key however many callers miss.
    pub(super) stripes: Box<[tokio::sync::Mutex<()>]>,
}

pub(super) fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::new(e)
}

pub(super) fn stripe_of(value: impl Hash) -> usize {
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
        Self::with_wrapper(Arc::new(RootWrapper(provider)), store, clock, cache)
    }

    /// An encryptor whose data keys are wrapped by `wrapper`: a [`DomainKeyring`] for
    /// per-tenant domain keys between the root KEK and the data keys.
    ///
    /// [`DomainKeyring`]: super::DomainKeyring
    pub fn with_wrapper(
        wrapper: Arc<dyn DataKeyWrapper>,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        cache: CacheConfig,
    ) -> Self {
        EnvelopeEncryptor {
            wrapper,
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
    /// This is the key part of an erasure only: [`Shredder`](super::Shredder) also deletes the
    /// subject's blind-index values and records the NEN 7513 event.
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

    /// The ids of every destroyed data key of `subject`, whenever it was shredded: what an
    /// audit record of a shred names, also when a retry destroys nothing new.
    ///
    /// # Errors
    /// [`KeyStoreError`] from the store (`Unsupported` for a store without `subject_keys`).
    pub async fn destroyed_keys(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<u64>, KeyStoreError> {
        let mut ids: Vec<u64> = self
            .store
            .subject_keys(tenant, subject)
            .await?
            .into_iter()
            .filter(|k| matches!(k.state, KeyState::Destroyed))
            .map(|k| k.key_id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn unwrap_stored(
        &self,
        key_id: u64,
        tenant: &[u8],
        subject: &[u8],
        wrapped: &WrappedKey,
    ) -> Result<DataKey, UnwrapError> {
        let aad = data_key_aad(key_id, tenant, subject);
        let raw = self.wrapper.unwrap(tenant, wrapped, &aad).await?;
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

    /// A fresh random data key with a fresh random id, wrapped for `tenant`/`subject`.
    pub(super) async fn new_wrapped_key(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<(u64, SecretBytes, WrappedKey), EncryptError> {
        let no_random = |e: getrandom::Error| {
            EncryptError::KeyUnavailable(BackendError::msg(format!("no randomness: {e}")))
        };
        let mut raw = zeroize::Zeroizing::new(vec![0u8; DATA_KEY_LEN]);
        getrandom::fill(&mut raw).map_err(no_random)?;
        let raw = SecretBytes::new(std::mem::take(&mut *raw));
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(no_random)?;
        let key_id = u64::from_be_bytes(id);
        let wrapped = self
            .wrapper
            .wrap(tenant, &raw, &data_key_aad(key_id, tenant, subject))
            .await
            .map_err(|e| EncryptError::KeyUnavailable(unavailable(e)))?;
        Ok((key_id, raw, wrapped))
    }

    async fn create_key(&self, tenant: &[u8], subject: &[u8]) -> Result<DataKey, EncryptError> {
        for _ in 0..4 {
            let (key_id, raw, wrapped) = self.new_wrapped_key(tenant, subject).await?;
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
        let wrapped = match &stored.state {
            KeyState::Active(w) => w,
            // Whatever the context: answering differently for the right owner would let a
            // caller test guesses of the subject against a retired key (the key id is in the
            // header, so this tells nothing about the context).
            KeyState::Retired(_) => {
                return Err(DecryptError::KeyUnavailable(BackendError::new(
                    KeyRetired {
                        key_id,
                        version: stored.version,
                    },
                )));
            }
            _ => return Err(DecryptError::KeyDestroyed),
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

/// The context's `tenant` and `subject`, in one pass over its fields instead of two map
/// lookups.
fn tenant_and_subject(context: &Context) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut tenant, mut subject) = (None, None);
    for (name, value) in context.iter() {
        match name {
            "subject" => subject = Some(value),
            "tenant" => tenant = Some(value),
            _ => continue,
        }
        if tenant.is_some() && subject.is_some() {
            break;
        }
    }
    (tenant, subject)
}

/// The tenant and subject an encryption is for.
fn encrypt_owner(context: &Context) -> Result<(&[u8], &[u8]), EncryptError> {
    match tenant_and_subject(context) {
        (Some(tenant), Some(subject)) => Ok((tenant, subject)),
        (None, _) => Err(EncryptError::MissingContextField("tenant")),
        (_, None) => Err(EncryptError::MissingContextField("subject")),
    }
}

/// The key id, tenant and subject a decryption needs; any problem is the one opaque failure.
fn decrypt_owner<'c>(
    ciphertext: &[u8],
    context: &'c Context,
) -> Result<(u64, &'c [u8], &'c [u8]), DecryptError> {
    let info = inspect(ciphertext).map_err(|_| DecryptError::Failed)?;
    let (Some(tenant), Some(subject)) = tenant_and_subject(context) else {
        return Err(DecryptError::Failed);
    };
    Ok((info.key_id, tenant, subject))
}

/// The fast path: for hosts that hold the concrete `EnvelopeEncryptor` (not an
/// `Arc<dyn Encryptor>`).
///
/// [`Encryptor`] goes through `async_trait`, which boxes every future: two allocations per
/// encrypt + decrypt besides the output, on a cache hit too. These methods do the same work
/// without the box, so a cache hit allocates only its output (the ciphertext, or the
/// plaintext buffer inside the [`SecretBytes`]):
///
/// - [`encrypt_unboxed`](Self::encrypt_unboxed) and [`decrypt_unboxed`](Self::decrypt_unboxed)
///   are the trait's operations as inherent `async fn`s (the trait impl delegates to them).
///   On a cache hit their future completes on the first poll; only a miss boxes the future
///   that loads the key.
/// - [`encrypt_cached`](Self::encrypt_cached) and [`decrypt_cached`](Self::decrypt_cached) are
///   synchronous and touch the cache only: `Ok(None)` on a miss, and the caller then awaits
///   the `async` version, which loads the key (single-flight) and caches it. For callers
///   without a runtime at hand (the C ABI) they avoid a `block_on` per field.
///
/// Results and errors are the trait methods' (the same format, the same opaque failures).
///
/// ```
/// use std::sync::Arc;
/// use biv_confidentiality::keys::{CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore};
/// use biv_core::{Context, SystemClock};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// # let dir = std::env::temp_dir().join(format!("biv-doc-fast-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
/// let ring = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::development())?;
/// let enc = EnvelopeEncryptor::new(Arc::new(ring), Arc::new(MemoryKeyStore::new()),
///     Arc::new(SystemClock::new()), CacheConfig::default());
/// let ctx = Context::new().with("tenant", "t1")?.with("subject", "p-1")?;
/// assert!(enc.encrypt_cached(b"A+", &ctx)?.is_none()); // not cached yet
/// let ct = enc.encrypt_unboxed(b"A+", &ctx).await?;    // loads and caches the key
/// let ct2 = enc.encrypt_cached(b"A+", &ctx)?.expect("cached now");
/// let plain = match enc.decrypt_cached(&ct2, &ctx)? {
///     Some(p) => p,
///     None => enc.decrypt_unboxed(&ct2, &ctx).await?,
/// };
/// assert_eq!(plain.expose_secret(), b"A+");
/// assert_eq!(enc.decrypt_unboxed(&ct, &ctx).await?.expose_secret(), b"A+");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl EnvelopeEncryptor {
    /// [`Encryptor::encrypt`] as an unboxed future: a cache hit allocates only the ciphertext.
    ///
    /// # Errors
    /// As [`Encryptor::encrypt`].
    pub async fn encrypt_unboxed(
        &self,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Vec<u8>, EncryptError> {
        let (tenant, subject) = encrypt_owner(context)?;
        let key = match self.cache.current(tenant, subject) {
            Some(key) => key,
            // The miss path (single-flight lock, store, unwrap) has a future of about 1 KiB:
            // boxed, so that the future of a hit stays small and cheap to move.
            None => Box::pin(self.current_key(tenant, subject)).await?,
        };
        key.encrypt(plaintext, context)
    }

    /// [`Encryptor::decrypt`] as an unboxed future: a cache hit allocates only the plaintext.
    ///
    /// # Errors
    /// As [`Encryptor::decrypt`].
    pub async fn decrypt_unboxed(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError> {
        let (key_id, tenant, subject) = decrypt_owner(ciphertext, context)?;
        let key = match self.cache.get(key_id, tenant, subject) {
            Some(hit) if hit.owner_matches => hit.key,
            Some(_) => return Err(DecryptError::Failed),
            // As in `encrypt_unboxed`: only a miss boxes its (large) future.
            None => Box::pin(self.key_for(key_id, tenant, subject)).await?,
        };
        key.decrypt(ciphertext, context)
    }

    /// Encrypts with the subject's cached current key, synchronously; `Ok(None)` when it is not
    /// cached (or its TTL or uses ran out): then call [`encrypt_unboxed`](Self::encrypt_unboxed)
    /// or the trait, which loads it. Allocates only the ciphertext.
    ///
    /// # Errors
    /// As [`Encryptor::encrypt`].
    pub fn encrypt_cached(
        &self,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Option<Vec<u8>>, EncryptError> {
        let (tenant, subject) = encrypt_owner(context)?;
        match self.cache.current(tenant, subject) {
            Some(key) => key.encrypt(plaintext, context).map(Some),
            None => Ok(None),
        }
    }

    /// Decrypts with a cached key, synchronously; `Ok(None)` when the ciphertext's key is not
    /// cached: then call [`decrypt_unboxed`](Self::decrypt_unboxed) or the trait, which loads
    /// it (and reports a retired or destroyed key). Allocates only the plaintext.
    ///
    /// # Errors
    /// As [`Encryptor::decrypt`]; one opaque [`DecryptError::Failed`] for anything wrong with
    /// the ciphertext or context.
    pub fn decrypt_cached(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<Option<SecretBytes>, DecryptError> {
        let (key_id, tenant, subject) = decrypt_owner(ciphertext, context)?;
        match self.cache.get(key_id, tenant, subject) {
            Some(hit) if hit.owner_matches => hit.key.decrypt(ciphertext, context).map(Some),
            Some(_) => Err(DecryptError::Failed),
            None => Ok(None),
        }
    }
}

/// Delegates to [`EnvelopeEncryptor::encrypt_unboxed`] and
/// [`EnvelopeEncryptor::decrypt_unboxed`]; `async_trait` boxes their futures.
#[async_trait]
impl Encryptor for EnvelopeEncryptor {
    async fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, EncryptError> {
        self.encrypt_unboxed(plaintext, context).await
    }

    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError> {
        self.decrypt_unboxed(ciphertext, context).await
    }
}

impl fmt::Debug for EnvelopeEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeEncryptor")
            .field("wrapper", &self.wrapper)
            .field("store", &self.store)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}
