//! The middle of the key hierarchy: versioned per-tenant domain keys, wrapped under the root
//! KEK, that wrap the tenant's data keys in software. [`DataKeyWrapper`] is what the
//! [`EnvelopeEncryptor`](super::EnvelopeEncryptor) wraps data keys with: the root
//! [`KeyProvider`] directly, or a [`DomainKeyring`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use async_trait::async_trait;
use biv_core::{
    BackendError, Clock, KeyProvider, SecretBytes, Timestamp, UnwrapError, WrapError, WrappedKey,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::rotation::RewrapReport;
use super::store::{InsertOutcome, KeyState, KeyStore, ReplaceOutcome, StoredKey, SubjectKey};

/// How data keys are wrapped, per tenant: the plug-in between the
/// [`EnvelopeEncryptor`](super::EnvelopeEncryptor) and the key hierarchy above the data keys.
///
/// Implemented for the root [`KeyProvider`] alone (`EnvelopeEncryptor::new`: every tenant
/// under the root KEK) and by [`DomainKeyring`] (a versioned domain key per tenant).
#[async_trait]
pub trait DataKeyWrapper: Send + Sync + fmt::Debug {
    /// The KEK id and version new data keys of `tenant` are wrapped under; a data key wrapped
    /// otherwise is rewrapped by [`rewrap_all`](super::EnvelopeEncryptor::rewrap_all).
    ///
    /// # Errors
    /// [`WrapError`] when it cannot be determined (e.g. the domain key cannot be made).
    async fn current_wrapping(&self, tenant: &[u8]) -> Result<(String, u32), WrapError>;

    /// Whether a data key of `tenant` wrapped under `kek_id` can be unwrapped here; others are
    /// left alone by a rewrap (counted as foreign).
    fn recognizes(&self, tenant: &[u8], kek_id: &str) -> bool;

    /// Wraps a data key of `tenant` under the current wrapping, bound to `aad`.
    ///
    /// # Errors
    /// [`WrapError`].
    async fn wrap(
        &self,
        tenant: &[u8],
        key: &SecretBytes,
        aad: &[u8],
    ) -> Result<WrappedKey, WrapError>;

    /// Unwraps a data key of `tenant`.
    ///
    /// # Errors
    /// [`UnwrapError`]; [`UnwrapError::Failed`] is opaque.
    async fn unwrap(
        &self,
        tenant: &[u8],
        wrapped: &WrappedKey,
        aad: &[u8],
    ) -> Result<SecretBytes, UnwrapError>;
}

/// Every tenant directly under the root KEK.
#[derive(Debug)]
pub(crate) struct RootWrapper(pub(crate) Arc<dyn KeyProvider>);

#[async_trait]
impl DataKeyWrapper for RootWrapper {
    async fn current_wrapping(&self, _tenant: &[u8]) -> Result<(String, u32), WrapError> {
        Ok((self.0.kek_id().to_owned(), self.0.current_version()))
    }

    fn recognizes(&self, _tenant: &[u8], kek_id: &str) -> bool {
        kek_id == self.0.kek_id()
    }

    async fn wrap(
        &self,
        _tenant: &[u8],
        key: &SecretBytes,
        aad: &[u8],
    ) -> Result<WrappedKey, WrapError> {
        self.0.wrap_key(key, aad).await
    }

    async fn unwrap(
        &self,
        _tenant: &[u8],
        wrapped: &WrappedKey,
        aad: &[u8],
    ) -> Result<SecretBytes, UnwrapError> {
        self.0.unwrap_key(wrapped, aad).await
    }
}

const DOMAIN_SUBJECT: &[u8] = b"biv.domain-key";
const DOMAIN_AAD: &[u8] = b"biv.domain.v1";
const WRAP_DOMAIN: &[u8] = b"biv.wrap.domain.v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The KEK id of a tenant's domain keys: `domain:` and the tenant in lower-case hex.
pub fn domain_kek_id(tenant: &[u8]) -> String {
    let mut s = String::with_capacity(7 + 2 * tenant.len());
    s.push_str("domain:");
    for b in tenant {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The associated data a domain key is wrapped with under the root KEK:
/// `"biv.domain.v1" ‖ u64be key id ‖ u32be len(tenant) ‖ tenant`.
fn domain_aad(key_id: u64, tenant: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN_AAD.len() + 12 + tenant.len());
    out.extend_from_slice(DOMAIN_AAD);
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(
        &u32::try_from(tenant.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(tenant);
    out
}

/// One unwrapped domain key version. The cipher zeroizes its key schedule on drop.
struct DomainKey {
    version: u32,
    cipher: Aes256Gcm,
}

struct Cached {
    key: Arc<DomainKey>,
    expires: Timestamp,
}

#[derive(Default)]
struct Cache {
    /// (tenant, version) → key.
    keys: HashMap<(Vec<u8>, u32), Cached>,
    /// tenant → (current version, until when this is believed).
    current: HashMap<Vec<u8>, (u32, Timestamp)>,
}

/// Versioned per-tenant domain keys: root KEK → domain key (tenant, version) → data keys.
///
/// Each tenant gets a random 256-bit domain key on first use, wrapped under the root
/// [`KeyProvider`] and kept in a [`KeyStore`] of its own (one row per version; use a separate
/// store from the data keys: another directory or PostgreSQL schema). Data keys are wrapped
/// under the tenant's current domain key with AES-256-GCM in software: a blob is
/// `nonce (12) ‖ ciphertext ‖ tag (16)`, the associated data
/// `"biv.wrap.domain.v1" ‖ u32be len(tenant) ‖ tenant ‖ u32be version ‖ aad`; the wrapped key
/// records KEK id [`domain_kek_id`] and the domain key version.
///
/// Rotation: a root KEK rotation rewraps only the domain keys
/// ([`rewrap_domain_keys`](DomainKeyring::rewrap_domain_keys), verified, compare-and-swap);
/// [`rotate_tenant`](DomainKeyring::rotate_tenant) makes a new domain key version current, and
/// [`EnvelopeEncryptor::rewrap_all`](super::EnvelopeEncryptor::rewrap_all) then moves the
/// tenant's data keys under it. Data keys wrapped directly under the root KEK (before domain
/// keys were introduced) are still unwrapped, and moved under the domain key by a rewrap.
/// Unwrapped domain keys are cached for `ttl` (also how long another process's tenant rotation
/// takes to be seen here).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use biv_confidentiality::keys::*;
/// use biv_core::{Context, Encryptor, SystemClock};
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// # let dir = std::env::temp_dir().join(format!("biv-doc-domain-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
/// let root = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::development())?;
/// let clock = Arc::new(SystemClock::new());
/// let domains = Arc::new(DomainKeyring::new(Arc::new(root), Arc::new(MemoryKeyStore::new()),
///     clock.clone(), Duration::from_secs(600)));
/// let enc = EnvelopeEncryptor::with_wrapper(domains.clone(), Arc::new(MemoryKeyStore::new()),
///     clock, CacheConfig::default());
/// let ctx = Context::new().with("tenant", "t1")?.with("subject", "p-1")?;
/// let ct = enc.encrypt(b"A+", &ctx).await?;
/// assert_eq!(domains.rotate_tenant(b"t1").await?, 2);
/// assert_eq!(enc.rewrap_all().await?.rewrapped, 1); // the data key, now under domain key v2
/// assert_eq!(enc.decrypt(&ct, &ctx).await?.expose_secret(), b"A+");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DomainKeyring {
    root: Arc<dyn KeyProvider>,
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    cache: Mutex<Cache>,
    /// Serialises creation and rotation of domain keys in this process.
    lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for DomainKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainKeyring")
            .field("root", &self.root)
            .field("store", &self.store)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> WrapError {
    WrapError::Unavailable(BackendError::new(e))
}

/// Why a domain key operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainKeyError {
    /// The tenant has no domain key yet (it is made on first use).
    #[error("the tenant has no domain key")]
    NoKey,
    /// The domain key store, the root KEK or the randomness source failed.
    #[error("domain key unavailable: {0}")]
    Unavailable(#[source] WrapError),
    /// A rewrap of a domain key failed its verification; the old wrapping is kept.
    #[error("rewrap of domain key {key_id:016x} failed verification; the old wrapping is kept")]
    VerifyFailed {
        /// The domain key's row id.
        key_id: u64,
    },
    /// A domain key could not be unwrapped under the root KEK.
    #[error("domain key {key_id:016x} could not be unwrapped: {source}")]
    Unwrap {
        /// The domain key's row id.
        key_id: u64,
        /// Why.
        #[source]
        source: UnwrapError,
    },
}

impl DomainKeyring {
    /// Domain keys wrapped under `root`, kept in `store`, cached for `ttl`.
    pub fn new(
        root: Arc<dyn KeyProvider>,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
    ) -> Self {
        DomainKeyring {
            root,
            store,
            clock,
            ttl,
            cache: Mutex::new(Cache::default()),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expiry(&self) -> Timestamp {
        let now = self.clock.now();
        now.checked_add(self.ttl).unwrap_or(now)
    }

    fn cached(&self, tenant: &[u8], version: u32) -> Option<Arc<DomainKey>> {
        let now = self.clock.now();
        let mut cache = self.cache();
        let key = (tenant.to_vec(), version);
        match cache.keys.get(&key) {
            Some(c) if now < c.expires => Some(Arc::clone(&c.key)),
            Some(_) => {
                cache.keys.remove(&key);
                None
            }
            None => None,
        }
    }

    fn remember(&self, tenant: &[u8], key: Arc<DomainKey>, current: bool) {
        let expires = self.expiry();
        let mut cache = self.cache();
        if current {
            cache
                .current
                .insert(tenant.to_vec(), (key.version, expires));
        }
        cache
            .keys
            .insert((tenant.to_vec(), key.version), Cached { key, expires });
    }

    async fn unwrap_row(&self, row: &StoredKey) -> Result<Arc<DomainKey>, UnwrapError> {
        let wrapped = match &row.state {
            KeyState::Active(w) | KeyState::Retired(w) => w,
            _ => return Err(UnwrapError::Failed),
        };
        let raw = self
            .root
            .unwrap_key(wrapped, &domain_aad(row.key_id, &row.tenant))
            .await?;
        if raw.len() != 32 {
            return Err(UnwrapError::Failed);
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(raw.expose_secret());
        Ok(Arc::new(DomainKey {
            version: row.version,
            cipher: Aes256Gcm::new(&(*bytes).into()),
        }))
    }

    /// The tenant's current domain key, made if it has none.
    async fn current(&self, tenant: &[u8]) -> Result<Arc<DomainKey>, WrapError> {
        let now = self.clock.now();
        let believed = self
            .cache()
            .current
            .get(tenant)
            .filter(|(_, until)| now < *until)
            .map(|(v, _)| *v);
        if let Some(v) = believed
            && let Some(k) = self.cached(tenant, v)
        {
            return Ok(k);
        }
        let _guard = self.lock.lock().await;
        for _ in 0..4 {
            match self
                .store
                .current_for(tenant, DOMAIN_SUBJECT)
                .await
                .map_err(unavailable)?
            {
                SubjectKey::Active(row) => {
                    let key = match self.cached(tenant, row.version) {
                        Some(k) => k,
                        None => self.unwrap_row(&row).await.map_err(|e| {
                            WrapError::Unavailable(BackendError::msg(format!(
                                "domain key of the tenant could not be unwrapped: {e}"
                            )))
                        })?,
                    };
                    self.remember(tenant, Arc::clone(&key), true);
                    return Ok(key);
                }
                SubjectKey::Destroyed => {
                    return Err(WrapError::Refused(
                        "the tenant's domain keys were destroyed".into(),
                    ));
                }
                _ => {
                    let row = self.new_row(tenant, 1).await?;
                    match self
                        .store
                        .insert_if_absent(row)
                        .await
                        .map_err(unavailable)?
                    {
                        // Re-read: the inserted (or the concurrently inserted) key is current.
                        InsertOutcome::Inserted | InsertOutcome::Existing(_) => continue,
                        InsertOutcome::Destroyed => {
                            return Err(WrapError::Refused(
                                "the tenant's domain keys were destroyed".into(),
                            ));
                        }
                        _ => continue,
                    }
                }
            }
        }
        Err(WrapError::Unavailable(BackendError::msg(
            "could not store a domain key",
        )))
    }

    /// A new random domain key row for `tenant`, wrapped under the root KEK.
    async fn new_row(&self, tenant: &[u8], version: u32) -> Result<StoredKey, WrapError> {
        let no_random = |e: getrandom::Error| {
            WrapError::Unavailable(BackendError::msg(format!("no randomness: {e}")))
        };
        let mut raw = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut raw).map_err(no_random)?;
        let raw = SecretBytes::new(std::mem::take(&mut *raw));
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(no_random)?;
        let key_id = u64::from_be_bytes(id);
        let wrapped = self
            .root
            .wrap_key(&raw, &domain_aad(key_id, tenant))
            .await?;
        Ok(StoredKey::active_version(
            key_id,
            tenant,
            DOMAIN_SUBJECT,
            version,
            wrapped,
        ))
    }

    /// The key of `tenant` with this version (cached or unwrapped).
    async fn version(&self, tenant: &[u8], version: u32) -> Result<Arc<DomainKey>, UnwrapError> {
        if let Some(k) = self.cached(tenant, version) {
            return Ok(k);
        }
        let rows = self
            .store
            .subject_keys(tenant, DOMAIN_SUBJECT)
            .await
            .map_err(|e| UnwrapError::Unavailable(BackendError::new(e)))?;
        let row =
            rows.iter()
                .find(|r| r.version == version)
                .ok_or_else(|| UnwrapError::UnknownKek {
                    kek_id: domain_kek_id(tenant),
                    kek_version: version,
                })?;
        if !matches!(row.state, KeyState::Active(_)) {
            // Destroyed, or retired below the tenant's minimum domain key version.
            return Err(UnwrapError::UnknownKek {
                kek_id: domain_kek_id(tenant),
                kek_version: version,
            });
        }
        let key = self.unwrap_row(row).await?;
        self.remember(tenant, Arc::clone(&key), false);
        Ok(key)
    }

    /// Makes a new domain key version current for `tenant` and returns it. New data keys are
    /// wrapped under it at once in this process (in others within the cache TTL); run
    /// [`EnvelopeEncryptor::rewrap_all`](super::EnvelopeEncryptor::rewrap_all) to move the
    /// existing data keys.
    ///
    /// # Errors
    /// [`DomainKeyError`].
    pub async fn rotate_tenant(&self, tenant: &[u8]) -> Result<u32, DomainKeyError> {
        let _guard = self.lock.lock().await;
        for _ in 0..4 {
            let current = match self
                .store
                .current_for(tenant, DOMAIN_SUBJECT)
                .await
                .map_err(|e| DomainKeyError::Unavailable(unavailable(e)))?
            {
                SubjectKey::Active(row) => row,
                _ => return Err(DomainKeyError::NoKey),
            };
            let version = current.version.saturating_add(1);
            let row = self
                .new_row(tenant, version)
                .await
                .map_err(DomainKeyError::Unavailable)?;
            match self
                .store
                .insert_rotated(current.key_id, row.clone())
                .await
                .map_err(|e| DomainKeyError::Unavailable(unavailable(e)))?
            {
                InsertOutcome::Inserted => {
                    let key =
                        self.unwrap_row(&row)
                            .await
                            .map_err(|source| DomainKeyError::Unwrap {
                                key_id: row.key_id,
                                source,
                            })?;
                    self.remember(tenant, key, true);
                    return Ok(version);
                }
                InsertOutcome::Existing(k) => {
                    // Another process rotated: that version is current.
                    self.cache().current.remove(tenant);
                    return Ok(k.version);
                }
                InsertOutcome::KeyIdTaken => continue,
                _ => return Err(DomainKeyError::NoKey),
            }
        }
        Err(DomainKeyError::Unavailable(WrapError::Unavailable(
            BackendError::msg("could not find a free key id"),
        )))
    }

    /// Retires the tenant's domain key versions below `min_version` (after
    /// [`rewrap_all`](super::EnvelopeEncryptor::rewrap_all) moved every data key of the tenant
    /// to a newer version, which [`key_status`](super::EnvelopeEncryptor::key_status) shows):
    /// data keys still wrapped under a retired version no longer unwrap, in this process at
    /// once and in others within the cache TTL. Lowering the minimum reactivates them. Returns
    /// the store's outcome.
    ///
    /// # Errors
    /// [`DomainKeyError::Unavailable`].
    pub async fn set_min_version(
        &self,
        tenant: &[u8],
        min_version: u32,
    ) -> Result<super::MinVersionOutcome, DomainKeyError> {
        let _guard = self.lock.lock().await;
        let outcome = self
            .store
            .set_min_version(tenant, DOMAIN_SUBJECT, min_version)
            .await
            .map_err(|e| DomainKeyError::Unavailable(unavailable(e)))?;
        let mut cache = self.cache();
        cache
            .keys
            .retain(|(t, v), _| t != tenant || *v >= min_version);
        Ok(outcome)
    }

    /// The tenant's domain key versions (active or retired), lowest first.
    ///
    /// # Errors
    /// [`DomainKeyError::Unavailable`].
    pub async fn versions(&self, tenant: &[u8]) -> Result<Vec<u32>, DomainKeyError> {
        Ok(self
            .store
            .subject_keys(tenant, DOMAIN_SUBJECT)
            .await
            .map_err(|e| DomainKeyError::Unavailable(unavailable(e)))?
            .iter()
            .filter(|r| r.state != KeyState::Destroyed)
            .map(|r| r.version)
            .collect())
    }

    /// Rewraps every domain key not under the root KEK's current version (after a root KEK
    /// rotation): unwrap, wrap under the current version, verify by unwrapping again and
    /// comparing in constant time, then a compare-and-swap on the old wrapping. Data keys are
    /// not touched.
    ///
    /// # Errors
    /// [`DomainKeyError`]; the failing key keeps its old wrapping. Run it again to continue.
    pub async fn rewrap_domain_keys(&self) -> Result<RewrapReport, DomainKeyError> {
        let mut report = RewrapReport::default();
        let mut after = None;
        let kek_id = self.root.kek_id().to_owned();
        let current = self.root.current_version();
        loop {
            let page = self
                .store
                .scan(after, 500)
                .await
                .map_err(|e| DomainKeyError::Unavailable(unavailable(e)))?;
            let Some(last) = page.last() else { break };
            after = Some(last.key_id);
            for row in page {
                report.scanned += 1;
                let Some(old) = row.state.wrapped() else {
                    report.destroyed += 1;
                    continue;
                };
                if old.kek_id() != kek_id {
                    report.foreign += 1;
                    continue;
                }
                if old.kek_version() == current {
                    report.already_current += 1;
                    continue;
                }
                let key_id = row.key_id;
                let aad = domain_aad(key_id, &row.tenant);
                let raw = self
                    .root
                    .unwrap_key(old, &aad)
                    .await
                    .map_err(|source| DomainKeyError::Unwrap { key_id, source })?;
                let new = self
                    .root
                    .wrap_key(&raw, &aad)
                    .await
                    .map_err(DomainKeyError::Unavailable)?;
                let check = self
                    .root
                    .unwrap_key(&new, &aad)
                    .await
                    .map_err(|_| DomainKeyError::VerifyFailed { key_id })?;
                if !bool::from(check.expose_secret().ct_eq(raw.expose_secret())) {
                    return Err(DomainKeyError::VerifyFailed { key_id });
                }
                match self
                    .store
                    .replace_wrapping(key_id, old, &new)
                    .await
                    .map_err(|e| DomainKeyError::Unavailable(unavailable(e)))?
                {
                    ReplaceOutcome::Replaced => report.rewrapped += 1,
                    ReplaceOutcome::Destroyed => report.destroyed += 1,
                    _ => report.conflicts += 1,
                }
            }
        }
        Ok(report)
    }

    fn wrap_aad(tenant: &[u8], version: u32, aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAP_DOMAIN.len() + 8 + tenant.len() + aad.len());
        out.extend_from_slice(WRAP_DOMAIN);
        out.extend_from_slice(
            &u32::try_from(tenant.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(tenant);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(aad);
        out
    }
}

#[async_trait]
impl DataKeyWrapper for DomainKeyring {
    async fn current_wrapping(&self, tenant: &[u8]) -> Result<(String, u32), WrapError> {
        Ok((domain_kek_id(tenant), self.current(tenant).await?.version))
    }

    fn recognizes(&self, tenant: &[u8], kek_id: &str) -> bool {
        kek_id == domain_kek_id(tenant) || kek_id == self.root.kek_id()
    }

    async fn wrap(
        &self,
        tenant: &[u8],
        key: &SecretBytes,
        aad: &[u8],
    ) -> Result<WrappedKey, WrapError> {
        if !(16..=64).contains(&key.len()) {
            return Err(WrapError::InvalidKeyLength(key.len()));
        }
        let domain = self.current(tenant).await?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| {
            WrapError::Unavailable(BackendError::msg(format!("no randomness for a nonce: {e}")))
        })?;
        let mut blob = Zeroizing::new(Vec::with_capacity(NONCE_LEN + key.len() + TAG_LEN));
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(key.expose_secret());
        let tag = domain
            .cipher
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                &Self::wrap_aad(tenant, domain.version, aad),
                (&mut blob[NONCE_LEN..]).into(),
            )
            .map_err(|_| WrapError::InvalidKeyLength(key.len()))?;
        blob.extend_from_slice(&tag);
        Ok(WrappedKey::new(
            domain_kek_id(tenant),
            domain.version,
            std::mem::take(&mut *blob),
        ))
    }

    async fn unwrap(
        &self,
        tenant: &[u8],
        wrapped: &WrappedKey,
        aad: &[u8],
    ) -> Result<SecretBytes, UnwrapError> {
        if wrapped.kek_id() == self.root.kek_id() {
            // A data key from before domain keys: still readable, moved by a rewrap.
            return self.root.unwrap_key(wrapped, aad).await;
        }
        if wrapped.kek_id() != domain_kek_id(tenant) {
            return Err(UnwrapError::UnknownKek {
                kek_id: wrapped.kek_id().to_owned(),
                kek_version: wrapped.kek_version(),
            });
        }
        let domain = self.version(tenant, wrapped.kek_version()).await?;
        let blob = wrapped.blob();
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(UnwrapError::Failed);
        }
        let (nonce, rest) = blob.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| UnwrapError::Failed)?;
        let tag = Tag::try_from(tag).map_err(|_| UnwrapError::Failed)?;
        let mut key = Zeroizing::new(ct.to_vec());
        domain
            .cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &Self::wrap_aad(tenant, domain.version, aad),
                key.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| UnwrapError::Failed)?;
        Ok(SecretBytes::new(std::mem::take(&mut *key)))
    }
}
