//! A key store in a directory: one small JSON file per data key, replaced atomically.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use biv_core::WrappedKey;
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::store::{
    Index, InsertOutcome, KeyState, KeyStore, KeyStoreError, MinVersionOutcome, ReplaceOutcome,
    StoredKey, SubjectKey,
};

const FORMAT: &str = "biv.data-key.v1";

#[derive(Serialize, Deserialize)]
struct Record {
    format: String,
    /// 16 lower-case hex digits.
    key_id: String,
    /// base64url of the tenant bytes.
    tenant: String,
    /// base64url of the subject reference bytes.
    subject: String,
    /// The subject's data key version (absent in records written before versions: 1).
    #[serde(default = "first_version")]
    version: u32,
    /// `active`, `retired` or `destroyed`.
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kek_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kek_version: Option<u32>,
    /// base64url of the wrapped key; absent once destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrapped: Option<String>,
}

fn first_version() -> u32 {
    1
}

impl Record {
    fn from_key(k: &StoredKey) -> Self {
        let state = match &k.state {
            KeyState::Active(_) => "active",
            KeyState::Retired(_) => "retired",
            _ => "destroyed",
        };
        let (kek_id, kek_version, wrapped) = match k.state.wrapped() {
            Some(w) => (
                Some(w.kek_id().to_owned()),
                Some(w.kek_version()),
                Some(URL_SAFE_NO_PAD.encode(w.blob())),
            ),
            None => (None, None, None),
        };
        Record {
            format: FORMAT.to_owned(),
            key_id: format!("{:016x}", k.key_id),
            tenant: URL_SAFE_NO_PAD.encode(&k.tenant),
            subject: URL_SAFE_NO_PAD.encode(&k.subject),
            version: k.version,
            state: state.to_owned(),
            kek_id,
            kek_version,
            wrapped,
        }
    }

    fn into_key(mut self) -> Option<StoredKey> {
        if self.format != FORMAT || self.key_id.len() != 16 {
            return None;
        }
        let key_id = u64::from_str_radix(&self.key_id, 16).ok()?;
        let tenant = URL_SAFE_NO_PAD.decode(&self.tenant).ok()?;
        let subject = URL_SAFE_NO_PAD.decode(&self.subject).ok()?;
        let mut wrapped = || -> Option<WrappedKey> {
            Some(WrappedKey::new(
                self.kek_id.take()?,
                self.kek_version?,
                URL_SAFE_NO_PAD.decode(self.wrapped.take()?).ok()?,
            ))
        };
        let state = match self.state.as_str() {
            "active" => KeyState::Active(wrapped()?),
            "retired" => KeyState::Retired(wrapped()?),
            "destroyed" => KeyState::Destroyed,
            _ => return None,
        };
        Some(StoredKey {
            key_id,
            tenant,
            subject,
            version: self.version,
            state,
        })
    }
}

/// A [`KeyStore`] in a directory: `<key id as 16 hex digits>.json` per data key, each written
/// to a temporary file, fsynced, renamed into place and the directory fsynced, so a crash
/// leaves either the old or the new record. A record (`"format": "biv.data-key.v1"`) holds the
/// key id, tenant and subject (base64url), the subject's key `version` (records without it are
/// version 1), the `state` (`active`, `retired`, `destroyed`) and, unless destroyed, the KEK id,
/// KEK version and wrapped key. Shredding rewrites the record as a tombstone without the
/// wrapped key; a rewrap or a minimum-version change rewrites it in place. The index is loaded
/// at open; one process owns the directory.
///
/// For one machine and for trying biv out; many millions of subjects belong in PostgreSQL.
///
/// ```
/// use biv_confidentiality::keys::{FileKeyStore, KeyStore, SubjectKey};
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = std::env::temp_dir().join(format!("biv-doc-keystore-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let store = FileKeyStore::open(&dir)?;
/// store.destroy_subject(b"t1", b"p-1").await?;
/// // One process (one open store) owns the directory at a time.
/// assert!(FileKeyStore::open(&dir).is_err());
/// drop(store);
/// let reopened = FileKeyStore::open(&dir)?;
/// assert_eq!(reopened.current_for(b"t1", b"p-1").await?, SubjectKey::Destroyed);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileKeyStore {
    dir: PathBuf,
    index: Mutex<Index>,
    /// The exclusive lock on `<dir>/store.lock`, held while the store is open: the index is read
    /// once, so a second process writing the same directory could undo a shred or a rotation.
    _lock: std::fs::File,
}

impl FileKeyStore {
    /// Opens (creating if needed) the directory, takes its exclusive lock (`<dir>/store.lock`, held
    /// until the store is dropped) and loads every record.
    ///
    /// # Errors
    /// [`KeyStoreError::Locked`] when another process (or another open store) holds the
    /// directory, [`KeyStoreError::Io`] when the directory cannot be read,
    /// [`KeyStoreError::Malformed`] naming a file that is not a valid record.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, KeyStoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("store.lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(KeyStoreError::Locked(dir.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let mut index = Index::default();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let bytes = std::fs::read(&path)?;
            let key = serde_json::from_slice::<Record>(&bytes)
                .ok()
                .and_then(Record::into_key)
                .filter(|k| format!("{:016x}.json", k.key_id) == name)
                .ok_or_else(|| KeyStoreError::Malformed(path.display().to_string()))?;
            index.put(key);
        }
        Ok(FileKeyStore {
            dir,
            index: Mutex::new(index),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes each record, then updates the index with it: a record is in the index only once
    /// it is durable. A failure part-way leaves earlier records written (each operation is safe
    /// to retry).
    fn apply(&self, index: &mut Index, writes: Vec<StoredKey>) -> Result<(), KeyStoreError> {
        for k in writes {
            self.write(&k)?;
            index.put(k);
        }
        Ok(())
    }

    fn write(&self, key: &StoredKey) -> Result<(), KeyStoreError> {
        let json = serde_json::to_vec_pretty(&Record::from_key(key))
            .map_err(|e| KeyStoreError::Malformed(e.to_string()))?;
        write_atomic(&self.dir.join(format!("{:016x}.json", key.key_id)), &json)?;
        Ok(())
    }
}

// The blocking file writes happen under the index lock, so records and index never disagree;
// they are small (one fsync'd file per new subject or shred), not on the cache-hit path.
#[async_trait]
impl KeyStore for FileKeyStore {
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
            self.write(&key)?;
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
        self.apply(&mut index, writes)?;
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
            self.apply(&mut index, vec![key])?;
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
        self.apply(&mut index, write.into_iter().collect())?;
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
        self.apply(&mut index, writes)?;
        Ok(outcome)
    }
}
