//! Where wrapped data keys live: the [`KeyStore`] trait and its in-memory implementation.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use biv_core::{BackendError, WrappedKey};

/// A data key as the key store holds it: wrapped under the key provider, retired, or destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyState {
    /// Usable: the data key wrapped under the root KEK.
    Active(WrappedKey),
    /// Below the subject's minimum decryption version: the wrapped key is kept (and rewrapped
    /// when the root KEK rotates) so the minimum can be lowered again, but decryption with it is
    /// refused with [`KeyRetired`](super::KeyRetired).
    Retired(WrappedKey),
    /// Crypto-shredded: the wrapped key is gone; only the fact remains, so decryption can say
    /// [`KeyDestroyed`](biv_core::DecryptError::KeyDestroyed).
    Destroyed,
}

impl KeyState {
    /// The wrapped key, unless destroyed.
    pub fn wrapped(&self) -> Option<&WrappedKey> {
        match self {
            KeyState::Active(w) | KeyState::Retired(w) => Some(w),
            KeyState::Destroyed => None,
        }
    }

    /// The same state with another wrapping (a destroyed key stays destroyed).
    pub(crate) fn with_wrapping(&self, new: WrappedKey) -> KeyState {
        match self {
            KeyState::Active(_) => KeyState::Active(new),
            KeyState::Retired(_) => KeyState::Retired(new),
            KeyState::Destroyed => KeyState::Destroyed,
        }
    }
}

/// One row of the key store: one version of the data key of one data subject of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredKey {
    /// The key id written into every ciphertext (random u64).
    pub key_id: u64,
    /// The tenant (the context's `tenant` value).
    pub tenant: Vec<u8>,
    /// The pseudonymous data subject reference (the context's `subject` value).
    pub subject: Vec<u8>,
    /// The subject's data key version: 1 for the first key, one more for each rotation
    /// (0 only for the tombstone of a subject shredded before it had a key).
    pub version: u32,
    /// The key itself, or the tombstone.
    pub state: KeyState,
}

impl StoredKey {
    /// A new active key, version 1.
    pub fn active(key_id: u64, tenant: &[u8], subject: &[u8], wrapped: WrappedKey) -> Self {
        Self::active_version(key_id, tenant, subject, 1, wrapped)
    }

    /// A new active key of the given version.
    pub fn active_version(
        key_id: u64,
        tenant: &[u8],
        subject: &[u8],
        version: u32,
        wrapped: WrappedKey,
    ) -> Self {
        StoredKey {
            key_id,
            tenant: tenant.to_vec(),
            subject: subject.to_vec(),
            version,
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

/// The outcome of [`KeyStore::insert_if_absent`] and [`KeyStore::insert_rotated`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsertOutcome {
    /// The key was stored.
    Inserted,
    /// Another writer stored a key for this subject first (or rotated it first); use it.
    Existing(StoredKey),
    /// The subject was shredded; no key may be made for it.
    Destroyed,
    /// The key id is taken (by another subject); draw a new id and try again.
    KeyIdTaken,
    /// [`insert_rotated`](KeyStore::insert_rotated) only: the subject has no key to rotate.
    NoCurrentKey,
}

/// The outcome of [`KeyStore::replace_wrapping`], a compare-and-swap on the wrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplaceOutcome {
    /// The old wrapping was still in place and is now replaced.
    Replaced,
    /// The key now has another wrapping (a concurrent rewrap won); nothing was changed.
    Changed,
    /// The key was destroyed (a concurrent shred won); nothing was changed.
    Destroyed,
    /// No key has this id.
    Missing,
}

/// The outcome of [`KeyStore::set_min_version`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MinVersionOutcome {
    /// Done: keys below the minimum are retired, keys at or above it active.
    Set {
        /// Keys that became retired now.
        retired: Vec<u64>,
        /// Retired keys that became active again (the minimum was lowered).
        reactivated: Vec<u64>,
    },
    /// The minimum is above the subject's current version; nothing was changed (the current
    /// key must stay usable).
    AboveCurrent {
        /// The subject's current version.
        current: u32,
    },
    /// The subject has no key.
    NoKeys,
    /// The subject was shredded.
    Destroyed,
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
    /// The database (or another backend) failed; retrying may help.
    #[error("key store backend: {0}")]
    Backend(#[source] BackendError),
    /// This store does not implement the operation (a host store written against an older
    /// trait); rotation needs it.
    #[error("the key store does not support `{0}`")]
    Unsupported(&'static str),
    /// Another process holds the file store's directory (named): one process owns it at a
    /// time, or one could undo the other's shred or rotation.
    #[error("the key store {0} is in use by another process")]
    Locked(String),
}

/// Storage for wrapped data keys, one or more versions per (tenant, subject).
///
/// Implementations must make every write atomic per subject: two writers racing for a new
/// subject end with one key ([`insert_if_absent`](KeyStore::insert_if_absent)), two rotations
/// racing end with one new version ([`insert_rotated`](KeyStore::insert_rotated)), a rewrap
/// racing a rewrap or a shred loses nothing ([`replace_wrapping`](KeyStore::replace_wrapping) is
/// a compare-and-swap on the old wrapping), and no key is made for a shredded subject (keep a
/// tombstone). In-tree: [`MemoryKeyStore`], [`FileKeyStore`](super::FileKeyStore) and
/// [`PgKeyStore`](super::PgKeyStore); the rotation methods have default bodies that return
/// [`KeyStoreError::Unsupported`], so a host store written against the first version of this
/// trait still compiles and fails closed.
#[async_trait]
pub trait KeyStore: Send + Sync + Debug {
    /// The key with this id, in whatever state.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn get(&self, key_id: u64) -> Result<Option<StoredKey>, KeyStoreError>;

    /// The subject's current key (its highest active version), or that it has none, or that it
    /// was shredded.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn current_for(&self, tenant: &[u8], subject: &[u8])
    -> Result<SubjectKey, KeyStoreError>;

    /// Stores a new active key (version 1) unless the subject already has one or was shredded.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn insert_if_absent(&self, key: StoredKey) -> Result<InsertOutcome, KeyStoreError>;

    /// Destroys every key of the subject (replacing each with a tombstone) and returns the ids
    /// of the keys destroyed now; afterwards [`current_for`](KeyStore::current_for) says
    /// `Destroyed`.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn destroy_subject(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<u64>, KeyStoreError>;

    /// Stores `key` as the subject's next data key version, only if the subject's current key
    /// is still `previous_key_id` and `key.version` is one more than its version (a
    /// compare-and-swap on the current key). Otherwise returns
    /// [`InsertOutcome::Existing`] with the current key (another rotation won),
    /// [`InsertOutcome::Destroyed`], [`InsertOutcome::NoCurrentKey`] or
    /// [`InsertOutcome::KeyIdTaken`].
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn insert_rotated(
        &self,
        previous_key_id: u64,
        key: StoredKey,
    ) -> Result<InsertOutcome, KeyStoreError> {
        let _ = (previous_key_id, key);
        Err(KeyStoreError::Unsupported("insert_rotated"))
    }

    /// Replaces the wrapping of key `key_id` by `new` if it is still exactly `old`
    /// (compare-and-swap), keeping the key's state. Used by rewrap after the new wrapping was
    /// verified.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn replace_wrapping(
        &self,
        key_id: u64,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> Result<ReplaceOutcome, KeyStoreError> {
        let _ = (key_id, old, new);
        Err(KeyStoreError::Unsupported("replace_wrapping"))
    }

    /// Up to `limit` keys (every state) after the key id `after` (or from the start), in the
    /// store's fixed key id order: the cursor of rewrap and status scans. Memory and file
    /// stores order ids as `u64`; [`PgKeyStore`](super::PgKeyStore) as the `bigint` with the
    /// same bits. Either way, passing the last id of a page as `after` visits every key once.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn scan(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredKey>, KeyStoreError> {
        let _ = (after, limit);
        Err(KeyStoreError::Unsupported("scan"))
    }

    /// Every key of the subject, lowest version first.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn subject_keys(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<StoredKey>, KeyStoreError> {
        let _ = (tenant, subject);
        Err(KeyStoreError::Unsupported("subject_keys"))
    }

    /// Sets the subject's minimum decryption version: keys below it become
    /// [`KeyState::Retired`], retired keys at or above it active again. Refused (unchanged)
    /// when the minimum is above the current version.
    ///
    /// # Errors
    /// [`KeyStoreError`].
    async fn set_min_version(
        &self,
        tenant: &[u8],
        subject: &[u8],
        min_version: u32,
    ) -> Result<MinVersionOutcome, KeyStoreError> {
        let _ = (tenant, subject, min_version);
        Err(KeyStoreError::Unsupported("set_min_version"))
    }
}

/// The index both in-tree file-less and file stores keep in memory. Mutations are planned
/// (`plan_*` return the records to write) so the file store can persist before applying.
#[derive(Default)]
pub(crate) struct Index {
    by_id: BTreeMap<u64, StoredKey>,
    by_subject: HashMap<(Vec<u8>, Vec<u8>), Vec<u64>>,
}

/// Counts only: the records name tenants and subjects and hold wrapped keys, none of which
/// belongs in a log line.
impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("keys", &self.by_id.len())
            .field("subjects", &self.by_subject.len())
            .finish()
    }
}

impl Index {
    pub(crate) fn get(&self, key_id: u64) -> Option<StoredKey> {
        self.by_id.get(&key_id).cloned()
    }

    fn keys_of(&self, tenant: &[u8], subject: &[u8]) -> Vec<&StoredKey> {
        let mut keys: Vec<&StoredKey> = self
            .by_subject
            .get(&(tenant.to_vec(), subject.to_vec()))
            .map(|ids| ids.iter().filter_map(|id| self.by_id.get(id)).collect())
            .unwrap_or_default();
        keys.sort_by_key(|k| k.version);
        keys
    }

    pub(crate) fn subject_keys(&self, tenant: &[u8], subject: &[u8]) -> Vec<StoredKey> {
        self.keys_of(tenant, subject).into_iter().cloned().collect()
    }

    pub(crate) fn current_for(&self, tenant: &[u8], subject: &[u8]) -> SubjectKey {
        let keys = self.keys_of(tenant, subject);
        if keys.is_empty() {
            return SubjectKey::None;
        }
        match keys
            .iter()
            .rev()
            .find(|k| matches!(k.state, KeyState::Active(_)))
        {
            Some(k) => SubjectKey::Active((*k).clone()),
            None => SubjectKey::Destroyed,
        }
    }

    /// What inserting `key` as version 1 would do; `Inserted` means the caller may insert it.
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

    /// What inserting `key` as the successor of `previous` would do.
    pub(crate) fn check_rotate(&self, previous: u64, key: &StoredKey) -> InsertOutcome {
        if self.by_id.contains_key(&key.key_id) {
            return InsertOutcome::KeyIdTaken;
        }
        match self.current_for(&key.tenant, &key.subject) {
            SubjectKey::Active(cur)
                if cur.key_id == previous && Some(key.version) == cur.version.checked_add(1) =>
            {
                InsertOutcome::Inserted
            }
            SubjectKey::Active(cur) => InsertOutcome::Existing(cur),
            SubjectKey::Destroyed => InsertOutcome::Destroyed,
            SubjectKey::None => InsertOutcome::NoCurrentKey,
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

    /// The tombstones to write to shred a subject (a fresh-id tombstone if it never had a key),
    /// and the ids destroyed now.
    pub(crate) fn plan_destroy(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<(Vec<u64>, Vec<StoredKey>), KeyStoreError> {
        let keys = self.keys_of(tenant, subject);
        if keys.is_empty() {
            let tomb = StoredKey {
                key_id: fresh_id(self)?,
                tenant: tenant.to_vec(),
                subject: subject.to_vec(),
                version: 0,
                state: KeyState::Destroyed,
            };
            return Ok((Vec::new(), vec![tomb]));
        }
        let writes: Vec<StoredKey> = keys
            .into_iter()
            .filter(|k| k.state != KeyState::Destroyed)
            .map(|k| StoredKey {
                state: KeyState::Destroyed,
                ..k.clone()
            })
            .collect();
        Ok((writes.iter().map(|k| k.key_id).collect(), writes))
    }

    /// The compare-and-swap of a wrapping: the outcome and, if replaced, the record to write.
    pub(crate) fn plan_replace(
        &self,
        key_id: u64,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> (ReplaceOutcome, Option<StoredKey>) {
        let Some(k) = self.by_id.get(&key_id) else {
            return (ReplaceOutcome::Missing, None);
        };
        match k.state.wrapped() {
            None => (ReplaceOutcome::Destroyed, None),
            Some(w) if w == old => (
                ReplaceOutcome::Replaced,
                Some(StoredKey {
                    state: k.state.with_wrapping(new.clone()),
                    ..k.clone()
                }),
            ),
            Some(_) => (ReplaceOutcome::Changed, None),
        }
    }

    /// The records to write to set a subject's minimum decryption version.
    pub(crate) fn plan_min_version(
        &self,
        tenant: &[u8],
        subject: &[u8],
        min: u32,
    ) -> (MinVersionOutcome, Vec<StoredKey>) {
        let current = match self.current_for(tenant, subject) {
            SubjectKey::None => return (MinVersionOutcome::NoKeys, Vec::new()),
            SubjectKey::Destroyed => return (MinVersionOutcome::Destroyed, Vec::new()),
            SubjectKey::Active(k) => k.version,
        };
        if min > current {
            return (MinVersionOutcome::AboveCurrent { current }, Vec::new());
        }
        let (mut retired, mut reactivated, mut writes) = (Vec::new(), Vec::new(), Vec::new());
        for k in self.keys_of(tenant, subject) {
            let state = match (&k.state, k.version < min) {
                (KeyState::Active(w), true) => {
                    retired.push(k.key_id);
                    KeyState::Retired(w.clone())
                }
                (KeyState::Retired(w), false) => {
                    reactivated.push(k.key_id);
                    KeyState::Active(w.clone())
                }
                _ => continue,
            };
            writes.push(StoredKey { state, ..k.clone() });
        }
        (
            MinVersionOutcome::Set {
                retired,
                reactivated,
            },
            writes,
        )
    }

    pub(crate) fn scan(&self, after: Option<u64>, limit: usize) -> Vec<StoredKey> {
        let start = match after {
            None => std::ops::Bound::Unbounded,
            Some(a) => std::ops::Bound::Excluded(a),
        };
        self.by_id
            .range((start, std::ops::Bound::Unbounded))
            .take(limit)
            .map(|(_, k)| k.clone())
            .collect()
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
        let (ids, writes) = index.plan_destroy(tenant, subject)?;
        writes.into_iter().for_each(|k| index.put(k));
        Ok(ids)
    }

    async fn insert_rotated(
        &self,
        previous_key_id: u64,
        key: StoredKey,
    ) -> Result<InsertOutcome, KeyStoreError> {
        let mut index = self.index();
        let outcome = index.check_rotate(previous_key_id, &key);
        if outcome == InsertOutcome::Inserted {
            index.put(key);
        }
        Ok(outcome)
    }

    async fn replace_wrapping(
        &self,
        key_id: u64,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> Result<ReplaceOutcome, KeyStoreError> {
        let mut index = self.index();
        let (outcome, write) = index.plan_replace(key_id, old, new);
        if let Some(k) = write {
            index.put(k);
        }
        Ok(outcome)
    }

    async fn scan(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredKey>, KeyStoreError> {
        Ok(self.index().scan(after, limit))
    }

    async fn subject_keys(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<StoredKey>, KeyStoreError> {
        Ok(self.index().subject_keys(tenant, subject))
    }

    async fn set_min_version(
        &self,
        tenant: &[u8],
        subject: &[u8],
        min_version: u32,
    ) -> Result<MinVersionOutcome, KeyStoreError> {
        let mut index = self.index();
        let (outcome, writes) = index.plan_min_version(tenant, subject, min_version);
        writes.into_iter().for_each(|k| index.put(k));
        Ok(outcome)
    }
}
