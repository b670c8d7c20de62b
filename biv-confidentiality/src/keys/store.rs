//! Where wrapped data keys live: the [`KeyStore`] trait and its in-memory implementation.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use biv_core::WrappedKey;

/// A data key as the key store holds it: wrapped under the key provider, or destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyState {
    /// Usable: the data key wrapped under the root KEK.
    Active(WrappedKey),
    /// Crypto-shredded: the wrapped key is gone; only the fact remains, so decryption can say
    /// [`KeyDestroyed`](biv_core::DecryptError::KeyDestroyed).
    Destroyed,
}

/// One row of the key store: a data key of one data subject of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredKey {
    /// The key id written into every ciphertext (random u64).
    pub key_id: u64,
    /// The tenant (the context's `tenant` value).
    pub tenant: Vec<u8>,
    /// The pseudonymous data subject reference (the context's `subject` value).
    pub subject: Vec<u8>,
    /// The key itself, or the tombstone.
    pub state: KeyState,
}

impl StoredKey {
    /// A new active key.
    pub fn active(key_id: u64, tenant: &[u8], subject: &[u8], wrapped: WrappedKey) -> Self {
        StoredKey {
            key_id,
            tenant: tenant.to_vec(),
            subject: subject.to_vec(),
            state: KeyState::Active(wrapped),
        }
    }
}

/// What the store holds for one data subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectKey {
    /// No key yet.
    None,
    /// The subject's current (newest active) key.
    Active(StoredKey),
    /// The subject was shredded: every key is destroyed.
    Destroyed,
}

/// The outcome of [`KeyStore::insert_if_absent`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsertOutcome {
    /// The key was stored.
    Inserted,
    /// Another writer stored a key for this subject first; use it.
    Existing(StoredKey),
    /// The subject was shredded; no key may be made for it.
    Destroyed,
    /// The key id is taken (by another subject); draw a new id and try again.
    KeyIdTaken,
}

/// Why the key store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// Reading or writing the store failed.
    #[error("key store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record is unreadable.
    #[error("key store record {0} is malformed")]
    Malformed(String),
}

/// Storage for wrapped data keys, one or more per (tenant, subject).
///
/// Implementations must make [`insert_if_absent`](KeyStore::insert_if_absent) atomic per
/// subject (two writers racing for a new subject end with one key) and must keep a tombstone
/// for shredded subjects. In-tree: [`MemoryKeyStore`] and
/// [`FileKeyStore`](super::FileKeyStore).
#[async_trait]
pub trait KeyStore: Send + Sync + Debug {
    /// The key with this id, active or destroyed.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn get(&self, key_id: u64) -> Result<Option<StoredKey>, KeyStoreError>;

    /// The subject's current key, or that it has none, or that it was shredded.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn current_for(&self, tenant: &[u8], subject: &[u8])
    -> Result<SubjectKey, KeyStoreError>;

    /// Stores a new active key unless the subject already has one or was shredded.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn insert_if_absent(&self, key: StoredKey) -> Result<InsertOutcome, KeyStoreError>;

    /// Destroys every key of the subject (replacing each with a tombstone) and returns their
    /// ids; afterwards [`current_for`](KeyStore::current_for) says `Destroyed`.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn destroy_subject(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<u64>, KeyStoreError>;
}

/// The index both in-tree stores keep in memory.
#[derive(Debug, Default)]
pub(crate) struct Index {
    by_id: HashMap<u64, StoredKey>,
    by_subject: HashMap<(Vec<u8>, Vec<u8>), Vec<u64>>,
}

impl Index {
    pub(crate) fn get(&self, key_id: u64) -> Option<StoredKey> {
        self.by_id.get(&key_id).cloned()
    }

    pub(crate) fn current_for(&self, tenant: &[u8], subject: &[u8]) -> SubjectKey {
        let Some(ids) = self.by_subject.get(&(tenant.to_vec(), subject.to_vec())) else {
            return SubjectKey::None;
        };
        let active = ids
            .iter()
            .rev()
            .filter_map(|id| self.by_id.get(id))
            .find(|k| matches!(k.state, KeyState::Active(_)));
        match active {
            Some(k) => SubjectKey::Active(k.clone()),
            None if ids.is_empty() => SubjectKey::None,
            None => SubjectKey::Destroyed,
        }
    }

    /// What inserting `key` would do; `Inserted` means the caller may insert it.
    pub(crate) fn check_insert(&self, key: &StoredKey) -> InsertOutcome {
        if self.by_id.contains_key(&key.key_id) {
            return InsertOutcome::KeyIdTaken;
        }
        match self.current_for(&key.tenant, &key.subject) {
            SubjectKey::Active(existing) => InsertOutcome::Existing(existing),
            SubjectKey::Destroyed => InsertOutcome::Destroyed,
            SubjectKey::None => InsertOutcome::Inserted,
        }
    }

    pub(crate) fn put(&mut self, key: StoredKey) {
        let ids = self
            .by_subject
            .entry((key.tenant.clone(), key.subject.clone()))
            .or_default();
        if !ids.contains(&key.key_id) {
            ids.push(key.key_id);
        }
        self.by_id.insert(key.key_id, key);
    }

    /// The subject's keys that are still active.
    pub(crate) fn active_ids(&self, tenant: &[u8], subject: &[u8]) -> Vec<u64> {
        self.by_subject
            .get(&(tenant.to_vec(), subject.to_vec()))
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|id| {
                        self.by_id
                            .get(id)
                            .is_some_and(|k| matches!(k.state, KeyState::Active(_)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn mark_destroyed(&mut self, key_id: u64) {
        if let Some(k) = self.by_id.get_mut(&key_id) {
            k.state = KeyState::Destroyed;
        }
    }

    /// Records that a subject was shredded even if it never had a key, so no key is made later.
    pub(crate) fn tombstone_subject(&mut self, tenant: &[u8], subject: &[u8], tombstone_id: u64) {
        self.put(StoredKey {
            key_id: tombstone_id,
            tenant: tenant.to_vec(),
            subject: subject.to_vec(),
            state: KeyState::Destroyed,
        });
    }

    pub(crate) fn contains(&self, key_id: u64) -> bool {
        self.by_id.contains_key(&key_id)
    }
}

/// A key store in memory: for tests and for hosts that keep keys elsewhere and load them.
///
/// ```
/// use biv_confidentiality::keys::{KeyStore, MemoryKeyStore, SubjectKey};
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let store = MemoryKeyStore::new();
/// assert_eq!(store.current_for(b"t1", b"p-1").await?, SubjectKey::None);
/// store.destroy_subject(b"t1", b"p-1").await?;
/// assert_eq!(store.current_for(b"t1", b"p-1").await?, SubjectKey::Destroyed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    index: Mutex<Index>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A random id that is not yet used, for tombstones of subjects that never had a key.
pub(crate) fn fresh_id(index: &Index) -> Result<u64, KeyStoreError> {
    loop {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b)
            .map_err(|e| KeyStoreError::Io(std::io::Error::other(e.to_string())))?;
        let id = u64::from_be_bytes(b);
        if id != 0 && !index.contains(id) {
            return Ok(id);
        }
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn get(&self, key_id: u64) -> Result<Option<StoredKey>, KeyStoreError> {
        Ok(self.index().get(key_id))
    }

    async fn current_for(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<SubjectKey, KeyStoreError> {
        Ok(self.index().current_for(tenant, subject))
    }

    async fn insert_if_absent(&self, key: StoredKey) -> Result<InsertOutcome, KeyStoreError> {
        let mut index = self.index();
        let outcome = index.check_insert(&key);
        if outcome == InsertOutcome::Inserted {
            index.put(key);
        }
        Ok(outcome)
    }

    async fn destroy_subject(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<u64>, KeyStoreError> {
        let mut index = self.index();
        let ids = index.active_ids(tenant, subject);
        for id in &ids {
            index.mark_destroyed(*id);
        }
        if index.current_for(tenant, subject) == SubjectKey::None {
            let id = fresh_id(&index)?;
            index.tombstone_subject(tenant, subject, id);
        }
        Ok(ids)
    }
}
