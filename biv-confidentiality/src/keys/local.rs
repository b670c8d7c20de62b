//! A root key-encryption key in a local file: for development and tests only.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use biv_core::{BackendError, KeyProvider, SecretBytes, UnwrapError, WrapError, WrappedKey};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::atomic::write_atomic;

const FORMAT: &str = "biv.local-keyring.v1";
const WRAP_DOMAIN: &[u8] = b"biv.wrap.local.v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The environment variable [`KeyringPolicy::from_env`] reads for the deployment environment.
pub const ENV_VAR: &str = "BIV_ENV";
/// The environment variable that, set to `1`, allows a local keyring in production anyway.
pub const OVERRIDE_ENV_VAR: &str = "BIV_ALLOW_LOCAL_KEYRING_IN_PRODUCTION";

/// Where a [`LocalKeyring`] may run. A local keyring keeps the root key on the same disk as the
/// data it protects, so it refuses a production environment unless explicitly overridden.
///
/// ```
/// use biv_confidentiality::keys::KeyringPolicy;
/// assert!(KeyringPolicy::new("development").check().is_ok());
/// assert!(KeyringPolicy::new("Production").check().is_err());
/// assert!(KeyringPolicy::new("production").allow_in_production(true).check().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringPolicy {
    environment: String,
    allow_in_production: bool,
}

impl KeyringPolicy {
    /// A development environment.
    pub fn development() -> Self {
        Self::new("development")
    }

    /// The named environment (`production`, `prod`, `productie` and `acceptance`-like names are
    /// compared case-insensitively; only the production names are refused).
    pub fn new(environment: impl Into<String>) -> Self {
        KeyringPolicy {
            environment: environment.into(),
            allow_in_production: false,
        }
    }

    /// Reads [`ENV_VAR`] (`BIV_ENV`, default `development`) and [`OVERRIDE_ENV_VAR`] from the
    /// process environment: the one place this crate reads the environment, and only when the
    /// host asks.
    pub fn from_env() -> Self {
        let env = std::env::var(ENV_VAR).unwrap_or_else(|_| "development".to_owned());
        let allow = std::env::var(OVERRIDE_ENV_VAR).is_ok_and(|v| v == "1");
        Self::new(env).allow_in_production(allow)
    }

    /// Allows (or not) a local keyring in production: an explicit, logged decision.
    pub fn allow_in_production(mut self, allow: bool) -> Self {
        self.allow_in_production = allow;
        self
    }

    /// Whether this environment is a production one.
    pub fn is_production(&self) -> bool {
        matches!(
            self.environment.trim().to_ascii_lowercase().as_str(),
            "production" | "prod" | "productie" | "prd"
        )
    }

    /// Ok in development; [`KeyringError::RefusedInProduction`] in production without the
    /// override.
    ///
    /// # Errors
    /// [`KeyringError::RefusedInProduction`].
    pub fn check(&self) -> Result<(), KeyringError> {
        if self.is_production() && !self.allow_in_production {
            return Err(KeyringError::RefusedInProduction {
                environment: self.environment.clone(),
            });
        }
        Ok(())
    }
}

/// Why a local keyring could not be created, opened or rotated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The environment is production and no override was given.
    #[error(
        "refusing a local keyring file in environment `{environment}`: it keeps the root key-encryption key on disk next to the data it protects; use an HSM (PKCS#11) or KMS key provider in production, or set {OVERRIDE_ENV_VAR}=1 to override deliberately"
    )]
    RefusedInProduction {
        /// The environment name given.
        environment: String,
    },
    /// The keyring file already exists (`create` never overwrites a root key).
    #[error("keyring file {0} already exists")]
    AlreadyExists(PathBuf),
    /// The file could not be read or written.
    #[error("keyring file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid keyring.
    #[error("keyring file {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The operating system gave no randomness.
    #[error("no randomness for a new key: {0}")]
    Randomness(String),
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    format: String,
    kek_id: String,
    current_version: u32,
    versions: Vec<FileVersion>,
}

#[derive(Serialize, Deserialize)]
struct FileVersion {
    version: u32,
    /// base64url of the 32 key bytes.
    key: String,
}

struct KekVersion {
    raw: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
}

struct State {
    current: u32,
    versions: BTreeMap<u32, KekVersion>,
}

/// A [`KeyProvider`] whose root key-encryption keys live in a JSON file (mode 0600), one per
/// version: for development, tests and trying biv out. Production belongs on an HSM or KMS;
/// [`KeyringPolicy`] refuses it there unless overridden.
///
/// Keys are wrapped with AES-256-GCM under the current version, with the associated data
/// `"biv.wrap.local.v1" ‖ u16be len(kek id) ‖ kek id ‖ u32be version ‖ aad`; a blob is
/// `nonce (12) ‖ ciphertext ‖ tag (16)`. Key bytes are zeroized on drop and never printed.
///
/// ```
/// use biv_confidentiality::keys::{KeyringPolicy, LocalKeyring};
/// use biv_core::{KeyProvider, SecretBytes};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = std::env::temp_dir().join(format!("biv-doc-keyring-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// std::fs::create_dir_all(&dir)?;
/// let ring = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::development())?;
/// let dek = SecretBytes::new(vec![9; 32]);
/// let wrapped = ring.wrap_key(&dek, b"key 1 of tenant t1").await?;
/// assert_eq!((wrapped.kek_id(), wrapped.kek_version()), ("local:dev", 1));
/// let back = ring.unwrap_key(&wrapped, b"key 1 of tenant t1").await?;
/// assert_eq!(back.expose_secret(), dek.expose_secret());
/// assert!(ring.unwrap_key(&wrapped, b"key 2 of tenant t1").await.is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LocalKeyring {
    kek_id: String,
    path: PathBuf,
    state: RwLock<State>,
}

fn random_key() -> Result<Zeroizing<[u8; 32]>, KeyringError> {
    let mut k = Zeroizing::new([0u8; 32]);
    getrandom::fill(k.as_mut_slice()).map_err(|e| KeyringError::Randomness(e.to_string()))?;
    Ok(k)
}

fn kek_version(raw: Zeroizing<[u8; 32]>) -> KekVersion {
    let cipher = Aes256Gcm::new(&(*raw).into());
    KekVersion { raw, cipher }
}

impl LocalKeyring {
    /// Creates a new keyring file with one fresh random root key (version 1).
    ///
    /// # Errors
    /// [`KeyringError`]: refused by the policy, the file exists, or it cannot be written.
    pub fn create(
        path: impl AsRef<Path>,
        kek_id: &str,
        policy: &KeyringPolicy,
    ) -> Result<Self, KeyringError> {
        policy.check()?;
        let path = path.as_ref().to_path_buf();
        // Reserve the name first, so two creators never overwrite each other's root key.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(KeyringError::AlreadyExists(path));
            }
            Err(source) => return Err(KeyringError::Io { path, source }),
        }
        let mut versions = BTreeMap::new();
        versions.insert(1, kek_version(random_key()?));
        let ring = LocalKeyring {
            kek_id: kek_id.to_owned(),
            path,
            state: RwLock::new(State {
                current: 1,
                versions,
            }),
        };
        if let Err(e) = ring.persist(&ring.read_state()) {
            let _ = std::fs::remove_file(&ring.path);
            return Err(e);
        }
        Ok(ring)
    }

    /// Opens an existing keyring file.
    ///
    /// # Errors
    /// [`KeyringError`]: refused by the policy, unreadable or malformed.
    pub fn open(path: impl AsRef<Path>, policy: &KeyringPolicy) -> Result<Self, KeyringError> {
        policy.check()?;
        let path = path.as_ref().to_path_buf();
        let text =
            Zeroizing::new(
                std::fs::read_to_string(&path).map_err(|source| KeyringError::Io {
                    path: path.clone(),
                    source,
                })?,
            );
        let malformed = |reason: &str| KeyringError::Malformed {
            path: path.clone(),
            reason: reason.to_owned(),
        };
        let form: FileForm =
            serde_json::from_str(&text).map_err(|_| malformed("not keyring JSON"))?;
        if form.format != FORMAT {
            return Err(malformed("unknown format"));
        }
        let mut versions = BTreeMap::new();
        for v in &form.versions {
            let bytes = Zeroizing::new(
                URL_SAFE_NO_PAD
                    .decode(&v.key)
                    .map_err(|_| malformed("a key is not base64url"))?,
            );
            let mut raw = Zeroizing::new([0u8; 32]);
            if bytes.len() != 32 {
                return Err(malformed("a key is not 32 bytes"));
            }
            raw.copy_from_slice(&bytes);
            if versions.insert(v.version, kek_version(raw)).is_some() {
                return Err(malformed("a version appears twice"));
            }
        }
        for mut v in form.versions {
            v.key.zeroize();
        }
        if !versions.contains_key(&form.current_version) {
            return Err(malformed("the current version has no key"));
        }
        Ok(LocalKeyring {
            kek_id: form.kek_id,
            path,
            state: RwLock::new(State {
                current: form.current_version,
                versions,
            }),
        })
    }

    /// Adds a new root key version and makes it current; older versions stay for unwrapping
    /// until [`LocalKeyring::retire`] removes them. Returns the new version.
    ///
    /// # Errors
    /// [`KeyringError`] when the file cannot be written (the keyring is then unchanged).
    pub fn rotate(&self) -> Result<u32, KeyringError> {
        let mut state = self.write_state();
        let next = state
            .versions
            .keys()
            .next_back()
            .map_or(1, |v| v.saturating_add(1));
        state.versions.insert(next, kek_version(random_key()?));
        let previous = state.current;
        state.current = next;
        if let Err(e) = self.persist(&state) {
            state.versions.remove(&next);
            state.current = previous;
            return Err(e);
        }
        Ok(next)
    }

    /// Removes an old version (after every key wrapped under it was rewrapped). The current
    /// version cannot be retired. Returns whether a version was removed.
    ///
    /// # Errors
    /// [`KeyringError`] when the file cannot be written.
    pub fn retire(&self, version: u32) -> Result<bool, KeyringError> {
        let mut state = self.write_state();
        if version == state.current {
            return Ok(false);
        }
        let Some(old) = state.versions.remove(&version) else {
            return Ok(false);
        };
        if let Err(e) = self.persist(&state) {
            state.versions.insert(version, old);
            return Err(e);
        }
        Ok(true)
    }

    /// The versions held, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        self.read_state().versions.keys().copied().collect()
    }

    /// The keyring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn persist(&self, state: &State) -> Result<(), KeyringError> {
        let form = FileForm {
            format: FORMAT.to_owned(),
            kek_id: self.kek_id.clone(),
            current_version: state.current,
            versions: state
                .versions
                .iter()
                .map(|(v, k)| FileVersion {
                    version: *v,
                    key: URL_SAFE_NO_PAD.encode(k.raw.as_slice()),
                })
                .collect(),
        };
        let json = Zeroizing::new(serde_json::to_vec_pretty(&form).map_err(|e| {
            KeyringError::Malformed {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        })?);
        for mut v in form.versions {
            v.key.zeroize();
        }
        write_atomic(&self.path, &json).map_err(|source| KeyringError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn wrap_aad(&self, version: u32, aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAP_DOMAIN.len() + 2 + self.kek_id.len() + 4 + aad.len());
        out.extend_from_slice(WRAP_DOMAIN);
        let id_len = u16::try_from(self.kek_id.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&id_len.to_be_bytes());
        out.extend_from_slice(&self.kek_id.as_bytes()[..usize::from(id_len)]);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(aad);
        out
    }
}

#[async_trait]
impl KeyProvider for LocalKeyring {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn current_version(&self) -> u32 {
        self.read_state().current
    }

    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        if !(16..=64).contains(&key.len()) {
            return Err(WrapError::InvalidKeyLength(key.len()));
        }
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| {
            WrapError::Unavailable(BackendError::msg(format!("no randomness for a nonce: {e}")))
        })?;
        let state = self.read_state();
        let version = state.current;
        let kek = state.versions.get(&version).ok_or_else(|| {
            WrapError::Unavailable(BackendError::msg("current KEK version missing"))
        })?;
        // Holds the key in clear until sealed: zeroized if anything fails.
        let mut blob = Zeroizing::new(Vec::with_capacity(NONCE_LEN + key.len() + TAG_LEN));
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(key.expose_secret());
        let full_aad = self.wrap_aad(version, aad);
        let tag = kek
            .cipher
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                &full_aad,
                (&mut blob[NONCE_LEN..]).into(),
            )
            .map_err(|_| WrapError::InvalidKeyLength(key.len()))?;
        blob.extend_from_slice(&tag);
        Ok(WrappedKey::new(
            self.kek_id.clone(),
            version,
            std::mem::take(&mut *blob),
        ))
    }

    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        aad: &[u8],
    ) -> Result<SecretBytes, UnwrapError> {
        let unknown = || UnwrapError::UnknownKek {
            kek_id: wrapped.kek_id().to_owned(),
            kek_version: wrapped.kek_version(),
        };
        if wrapped.kek_id() != self.kek_id {
            return Err(unknown());
        }
        let state = self.read_state();
        let kek = state
            .versions
            .get(&wrapped.kek_version())
            .ok_or_else(unknown)?;
        let blob = wrapped.blob();
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(UnwrapError::Failed);
        }
        let (nonce, rest) = blob.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| UnwrapError::Failed)?;
        let tag = Tag::try_from(tag).map_err(|_| UnwrapError::Failed)?;
        let mut key = Zeroizing::new(ct.to_vec());
        let full_aad = self.wrap_aad(wrapped.kek_version(), aad);
        kek.cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &full_aad,
                key.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| UnwrapError::Failed)?;
        Ok(SecretBytes::new(std::mem::take(&mut *key)))
    }
}

impl fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read_state();
        f.debug_struct("LocalKeyring")
            .field("kek_id", &self.kek_id)
            .field("path", &self.path)
            .field("current_version", &state.current)
            .field("versions", &state.versions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
