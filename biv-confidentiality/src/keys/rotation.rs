//! Rotation on the [`EnvelopeEncryptor`]: new data key versions per subject, rewrap of data
//! keys under a new root KEK version (verified before the old wrapping is replaced), the
//! header-only `needs_reencrypt` check, and the minimum decryption version.

use std::collections::BTreeMap;

use biv_core::{Context, DecryptError, EncryptError, UnwrapError, WrapError, WrappedKey};
use subtle::ConstantTimeEq;

use super::encryptor::{EnvelopeEncryptor, data_key_aad, stripe_of, unavailable};
use super::store::{
    InsertOutcome, KeyState, KeyStoreError, MinVersionOutcome, ReplaceOutcome, StoredKey,
    SubjectKey,
};
use crate::envelope::{DataKey, inspect};

/// The typed refusal of a ciphertext under a data key version below the subject's minimum
/// decryption version. [`Encryptor::decrypt`](biv_core::Encryptor::decrypt) returns it inside
/// [`DecryptError::KeyUnavailable`]; find it with [`key_retired`]. It says nothing about the
/// ciphertext's content (the key id is in the header, readable by anyone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "data key {key_id:016x} (version {version}) is below the subject's minimum decryption version"
)]
#[non_exhaustive]
pub struct KeyRetired {
    /// The retired key's id.
    pub key_id: u64,
    /// Its version.
    pub version: u32,
}

/// The [`KeyRetired`] inside a decryption error, if that is why decryption was refused.
pub fn key_retired(error: &DecryptError) -> Option<&KeyRetired> {
    match error {
        DecryptError::KeyUnavailable(e) => e.downcast_ref::<KeyRetired>(),
        _ => None,
    }
}

/// A subject's data key after [`EnvelopeEncryptor::rotate_subject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectRotation {
    /// The key new writes used before.
    pub previous_key_id: u64,
    /// Its version.
    pub previous_version: u32,
    /// The new current key.
    pub key_id: u64,
    /// Its version (one more).
    pub version: u32,
}

/// Why a subject's data key could not be rotated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The subject has no data key yet (its first encryption makes one).
    #[error("the subject has no data key to rotate")]
    NoKey,
    /// The subject was shredded.
    #[error("the data subject's key was destroyed")]
    KeyDestroyed,
    /// Another process rotated the subject at the same time; its key is current now.
    #[error("a concurrent rotation made version {current_version} current")]
    Concurrent {
        /// The version that is current now.
        current_version: u32,
    },
    /// The key store or key provider failed; retry.
    #[error("key unavailable: {0}")]
    Unavailable(#[source] EncryptError),
}

/// Why [`EnvelopeEncryptor::needs_reencrypt`] could not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NeedsReencryptError {
    /// Not a v1 ciphertext.
    #[error("not a biv v1 ciphertext")]
    Malformed,
    /// The context has no `tenant` or `subject`.
    #[error("the context is missing `{0}`")]
    MissingContextField(&'static str),
    /// The subject was shredded: its ciphertexts can never be re-encrypted.
    #[error("the data subject's key was destroyed")]
    KeyDestroyed,
    /// The key store failed.
    #[error("key store: {0}")]
    Store(#[from] KeyStoreError),
}

/// Why a rewrap stopped. Keys rewrapped before the error stay rewrapped; the failing key keeps
/// its old wrapping. A rewrap is idempotent: run it again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewrapError {
    /// The new wrapping did not unwrap to the same key (or did not unwrap at all); the old
    /// wrapping was left in place. Suspect the key provider.
    #[error("rewrap of data key {key_id:016x} failed verification; the old wrapping is kept")]
    VerifyFailed {
        /// The data key.
        key_id: u64,
    },
    /// The old wrapping could not be unwrapped (an unknown or destroyed KEK version, or a
    /// corrupted record).
    #[error("data key {key_id:016x} could not be unwrapped: {source}")]
    Unwrap {
        /// The data key.
        key_id: u64,
        /// Why.
        #[source]
        source: UnwrapError,
    },
    /// The key could not be wrapped under the current KEK version.
    #[error("data key {key_id:016x} could not be wrapped: {source}")]
    Wrap {
        /// The data key.
        key_id: u64,
        /// Why.
        #[source]
        source: WrapError,
    },
    /// The key store failed.
    #[error("key store: {0}")]
    Store(#[from] KeyStoreError),
}

/// What one [`EnvelopeEncryptor::rewrap_batch`] (or all of [`EnvelopeEncryptor::rewrap_all`])
/// did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RewrapReport {
    /// Keys looked at.
    pub scanned: u64,
    /// Keys rewrapped under the current KEK version (each verified first).
    pub rewrapped: u64,
    /// Keys already wrapped under the current version.
    pub already_current: u64,
    /// Keys that are destroyed (nothing to rewrap), including those a concurrent shred
    /// destroyed during the rewrap.
    pub destroyed: u64,
    /// Keys wrapped under a KEK id the wrapper does not know (another provider): left alone.
    pub foreign: u64,
    /// Keys whose wrapping changed concurrently (another rewrap won the compare-and-swap).
    pub conflicts: u64,
    /// Keys that could not be rewrapped (the provider failed to unwrap or wrap them, or the new
    /// wrapping did not verify): their old wrapping is untouched, and the rewrap went on with
    /// the other keys. Do not destroy an old KEK version while this is not zero;
    /// [`key_status`](EnvelopeEncryptor::key_status) still counts these keys under it.
    pub failed: u64,
    /// The ids of the first failed keys (at most [`MAX_FAILED_KEYS`]).
    pub failed_keys: Vec<u64>,
    /// The last key id looked at: pass it as `after` to continue. `None` when the scan reached
    /// the end of the store.
    pub next: Option<u64>,
}

/// The most failed key ids a [`RewrapReport`] lists.
pub const MAX_FAILED_KEYS: usize = 64;

impl RewrapReport {
    fn add(&mut self, other: &RewrapReport) {
        self.scanned += other.scanned;
        self.rewrapped += other.rewrapped;
        self.already_current += other.already_current;
        self.destroyed += other.destroyed;
        self.foreign += other.foreign;
        self.conflicts += other.conflicts;
        self.failed += other.failed;
        for id in &other.failed_keys {
            if self.failed_keys.len() < MAX_FAILED_KEYS {
                self.failed_keys.push(*id);
            }
        }
        self.next = other.next;
    }

    fn fail(&mut self, key_id: u64) {
        self.failed += 1;
        if self.failed_keys.len() < MAX_FAILED_KEYS {
            self.failed_keys.push(key_id);
        }
    }
}

/// Counts over the whole key store, for `biv keys status` and for deciding when an old KEK
/// version can be destroyed (when no key is wrapped under it any more).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyStatus {
    /// Active data keys.
    pub active: u64,
    /// Retired data keys (below a subject's minimum decryption version).
    pub retired: u64,
    /// Destroyed data keys and subject tombstones.
    pub destroyed: u64,
    /// Active and retired keys per (KEK id, KEK version) that wraps them.
    pub by_kek: BTreeMap<(String, u32), u64>,
}

const SCAN_BATCH: usize = 500;

impl EnvelopeEncryptor {
    /// Rotates the subject's data key: a new key (version + 1) becomes current, so new writes
    /// use it; ciphertexts under older versions still decrypt until
    /// [`set_min_decryption_version`](EnvelopeEncryptor::set_min_decryption_version) retires
    /// them. Run a [`ReencryptJob`](super::ReencryptJob) in between.
    ///
    /// Other processes keep encrypting under their cached current key until their cache TTL
    /// runs out; their ciphertexts are then re-encrypted by the job too.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use biv_confidentiality::keys::{key_retired, CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore};
    /// use biv_core::{Context, Encryptor, SystemClock};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let dir = std::env::temp_dir().join(format!("biv-doc-rotate-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
    /// let ring = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::development())?;
    /// let enc = EnvelopeEncryptor::new(Arc::new(ring), Arc::new(MemoryKeyStore::new()),
    ///     Arc::new(SystemClock::new()), CacheConfig::default());
    /// let ctx = Context::new().with("tenant", "t1")?.with("subject", "p-1")?;
    /// let old = enc.encrypt(b"A+", &ctx).await?;
    /// let r = enc.rotate_subject(b"t1", b"p-1").await?;
    /// assert_eq!((r.previous_version, r.version), (1, 2));
    /// assert!(enc.needs_reencrypt(&old, &ctx).await?);
    /// let new = enc.encrypt(b"A+", &ctx).await?;
    /// assert!(!enc.needs_reencrypt(&new, &ctx).await?);
    /// // After re-encrypting everything: retire version 1.
    /// enc.set_min_decryption_version(b"t1", b"p-1", 2).await?;
    /// assert!(key_retired(&enc.decrypt(&old, &ctx).await.unwrap_err()).is_some());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RotateError`].
    pub async fn rotate_subject(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<SubjectRotation, RotateError> {
        let _guard = self.stripes[stripe_of((tenant, subject))].lock().await;
        let store_err = |e: KeyStoreError| {
            RotateError::Unavailable(EncryptError::KeyUnavailable(unavailable(e)))
        };
        let current = match self
            .store
            .current_for(tenant, subject)
            .await
            .map_err(store_err)?
        {
            SubjectKey::Active(k) => k,
            SubjectKey::Destroyed => return Err(RotateError::KeyDestroyed),
            _ => return Err(RotateError::NoKey),
        };
        let version = current
            .version
            .checked_add(1)
            .ok_or(RotateError::Concurrent {
                current_version: current.version,
            })?;
        for _ in 0..4 {
            let (key_id, raw, wrapped) = self
                .new_wrapped_key(tenant, subject)
                .await
                .map_err(RotateError::Unavailable)?;
            let record = StoredKey::active_version(key_id, tenant, subject, version, wrapped);
            match self
                .store
                .insert_rotated(current.key_id, record)
                .await
                .map_err(store_err)?
            {
                InsertOutcome::Inserted => {
                    // New writes must not use the cached previous key.
                    self.cache.purge_subject(tenant, subject, &[]);
                    if let Ok(key) = DataKey::new(key_id, &raw) {
                        let epoch = self.cache.epoch();
                        self.cache
                            .insert(epoch, std::sync::Arc::new(key), tenant, subject, true);
                    }
                    return Ok(SubjectRotation {
                        previous_key_id: current.key_id,
                        previous_version: current.version,
                        key_id,
                        version,
                    });
                }
                InsertOutcome::KeyIdTaken => continue,
                InsertOutcome::Existing(k) => {
                    self.cache.purge_subject(tenant, subject, &[]);
                    return Err(RotateError::Concurrent {
                        current_version: k.version,
                    });
                }
                InsertOutcome::Destroyed => return Err(RotateError::KeyDestroyed),
                _ => return Err(RotateError::NoKey),
            }
        }
        Err(RotateError::Unavailable(EncryptError::KeyUnavailable(
            biv_core::BackendError::msg("could not find a free data key id"),
        )))
    }

    /// Whether a ciphertext should be re-encrypted: its header names another key than the
    /// subject's current one. Reads the header and the key store only: nothing is decrypted
    /// or unwrapped. A subject without any key gives `true` (nothing can be current).
    ///
    /// # Errors
    /// [`NeedsReencryptError`].
    pub async fn needs_reencrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<bool, NeedsReencryptError> {
        let info = inspect(ciphertext).map_err(|_| NeedsReencryptError::Malformed)?;
        let tenant = context
            .get("tenant")
            .ok_or(NeedsReencryptError::MissingContextField("tenant"))?;
        let subject = context
            .get("subject")
            .ok_or(NeedsReencryptError::MissingContextField("subject"))?;
        match self.store.current_for(tenant, subject).await? {
            SubjectKey::Active(k) => Ok(info.needs_reencrypt(k.key_id)),
            SubjectKey::Destroyed => Err(NeedsReencryptError::KeyDestroyed),
            _ => Ok(true),
        }
    }

    /// Sets the subject's minimum decryption version: ciphertexts under older data key versions
    /// are refused with [`KeyRetired`] from now on (in this process at once, in others within
    /// their cache TTL). Raise it only after the re-encryption job finished for every table
    /// holding the subject's data. Lowering it reactivates retired keys.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    pub async fn set_min_decryption_version(
        &self,
        tenant: &[u8],
        subject: &[u8],
        min_version: u32,
    ) -> Result<MinVersionOutcome, KeyStoreError> {
        let _guard = self.stripes[stripe_of((tenant, subject))].lock().await;
        let outcome = self
            .store
            .set_min_version(tenant, subject, min_version)
            .await?;
        if let MinVersionOutcome::Set { retired, .. } = &outcome {
            self.cache.purge_subject(tenant, subject, retired);
        }
        Ok(outcome)
    }

    /// Retires every data key older than its subject's current version, for every subject of
    /// `tenant`: the minimum decryption version of each becomes its current version. Run it
    /// after the re-encryption jobs over all of the tenant's tables finished cleanly. Returns
    /// the number of keys retired now.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    pub async fn retire_superseded(&self, tenant: &[u8]) -> Result<u64, KeyStoreError> {
        let mut after = None;
        let mut subjects = std::collections::BTreeSet::new();
        loop {
            let page = self.store.scan(after, SCAN_BATCH).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key_id);
            for k in page {
                if k.tenant == tenant && matches!(k.state, KeyState::Active(_)) {
                    subjects.insert(k.subject);
                }
            }
        }
        let mut retired = 0u64;
        for subject in subjects {
            if let SubjectKey::Active(cur) = self.store.current_for(tenant, &subject).await?
                && let MinVersionOutcome::Set { retired: ids, .. } = self
                    .set_min_decryption_version(tenant, &subject, cur.version)
                    .await?
            {
                retired += ids.len() as u64;
            }
        }
        Ok(retired)
    }

    /// Rewraps up to `limit` data keys with ids above `after` under the key provider's current
    /// KEK version, without touching any ciphertext. Each rewrap is verified before it is
    /// stored: the new wrapping is unwrapped and compared with the old key in constant time;
    /// only then does a compare-and-swap replace the old wrapping, so a concurrent rewrap or
    /// shred is never overwritten. Continue from [`RewrapReport::next`].
    ///
    /// # Errors
    /// [`RewrapError`]; the failing key keeps its old wrapping.
    pub async fn rewrap_batch(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<RewrapReport, RewrapError> {
        let limit = limit.max(1);
        let page = self.store.scan(after, limit).await?;
        let mut report = RewrapReport {
            next: page
                .last()
                .map(|k| k.key_id)
                .filter(|_| page.len() == limit),
            ..RewrapReport::default()
        };
        for key in page {
            report.scanned += 1;
            let Some(old) = key.state.wrapped() else {
                report.destroyed += 1;
                continue;
            };
            if !self.wrapper.recognizes(&key.tenant, old.kek_id()) {
                report.foreign += 1;
                continue;
            }
            let Ok((kek_id, current)) = self.wrapper.current_wrapping(&key.tenant).await else {
                report.fail(key.key_id);
                continue;
            };
            if old.kek_id() == kek_id && old.kek_version() == current {
                report.already_current += 1;
                continue;
            }
            // One key the provider cannot handle must not block every other key's rewrap.
            let new = match self.rewrap_verified(&key, old).await {
                Ok(new) => new,
                Err(
                    RewrapError::Unwrap { .. }
                    | RewrapError::Wrap { .. }
                    | RewrapError::VerifyFailed { .. },
                ) => {
                    report.fail(key.key_id);
                    continue;
                }
                Err(other) => return Err(other),
            };
            match self.store.replace_wrapping(key.key_id, old, &new).await? {
                ReplaceOutcome::Replaced => report.rewrapped += 1,
                ReplaceOutcome::Destroyed => report.destroyed += 1,
                _ => report.conflicts += 1,
            }
        }
        Ok(report)
    }

    /// [`rewrap_batch`](EnvelopeEncryptor::rewrap_batch) over the whole store. Afterwards, if
    /// [`key_status`](EnvelopeEncryptor::key_status) shows no key under an old KEK version,
    /// that version can be destroyed in the key provider.
    ///
    /// # Errors
    /// [`RewrapError`]; keys rewrapped before it stay rewrapped. Run it again to continue.
    pub async fn rewrap_all(&self) -> Result<RewrapReport, RewrapError> {
        let mut total = RewrapReport::default();
        let mut after = None;
        loop {
            let batch = self.rewrap_batch(after, SCAN_BATCH).await?;
            total.add(&batch);
            match batch.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        total.next = None;
        Ok(total)
    }

    /// Unwraps `old`, wraps the key under the current KEK version, and checks that the new
    /// wrapping unwraps to the same key.
    async fn rewrap_verified(
        &self,
        key: &StoredKey,
        old: &WrappedKey,
    ) -> Result<WrappedKey, RewrapError> {
        let key_id = key.key_id;
        let aad = data_key_aad(key_id, &key.tenant, &key.subject);
        let tenant = &key.tenant;
        let raw = self
            .wrapper
            .unwrap(tenant, old, &aad)
            .await
            .map_err(|source| RewrapError::Unwrap { key_id, source })?;
        let new = self
            .wrapper
            .wrap(tenant, &raw, &aad)
            .await
            .map_err(|source| RewrapError::Wrap { key_id, source })?;
        let check = self
            .wrapper
            .unwrap(tenant, &new, &aad)
            .await
            .map_err(|_| RewrapError::VerifyFailed { key_id })?;
        let same: bool = check.expose_secret().ct_eq(raw.expose_secret()).into();
        if !same {
            return Err(RewrapError::VerifyFailed { key_id });
        }
        Ok(new)
    }

    /// Counts the store's keys by state and by the KEK version that wraps them.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    pub async fn key_status(&self) -> Result<KeyStatus, KeyStoreError> {
        let mut status = KeyStatus::default();
        let mut after = None;
        loop {
            let page = self.store.scan(after, SCAN_BATCH).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key_id);
            for k in page {
                match &k.state {
                    KeyState::Active(_) => status.active += 1,
                    KeyState::Retired(_) => status.retired += 1,
                    _ => status.destroyed += 1,
                }
                if let Some(w) = k.state.wrapped() {
                    *status
                        .by_kek
                        .entry((w.kek_id().to_owned(), w.kek_version()))
                        .or_default() += 1;
                }
            }
        }
        Ok(status)
    }
}
