//! A root key-encryption key in an HSM, used through PKCS#11 ([`cryptoki`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use async_trait::async_trait;
use biv_core::{BackendError, KeyProvider, SecretBytes, UnwrapError, WrapError, WrappedKey};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::{RawAuthPin, Ulong};
use zeroize::Zeroizing;

const WRAP_DOMAIN: &[u8] = b"biv.wrap.pkcs11.v1";
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const TAG_BITS: usize = 128;
const KEK_LEN: usize = 32;
/// Keys of these lengths can be wrapped (AES-128 … 512-bit MAC keys).
const WRAPPABLE: std::ops::RangeInclusive<usize> = 16..=64;
/// Idle sessions kept open by default.
pub const DEFAULT_MAX_IDLE_SESSIONS: usize = 4;

/// Which token and key to use: the token label, the user PIN, the label of the root
/// key-encryption key and the KEK id written into every [`WrappedKey`]. The module comes
/// separately, as a [`Pkcs11Module`] shared by every provider of the process.
///
/// The KEK's versions are token objects labelled `<key label>.v<version>` (`biv-root.v1`,
/// `biv-root.v2`, …). `Debug` never shows the PIN, which is zeroized on drop.
///
/// ```
/// use biv_confidentiality::keys::Pkcs11Config;
/// use biv_core::SecretBytes;
/// let cfg = Pkcs11Config::new("biv", SecretBytes::from_slice(b"1234"), "biv-root", "pkcs11:biv-root");
/// assert!(!format!("{cfg:?}").contains("1234"));
/// ```
pub struct Pkcs11Config {
    token_label: String,
    user_pin: SecretBytes,
    key_label: String,
    kek_id: String,
    max_idle_sessions: usize,
}

impl Pkcs11Config {
    /// A configuration; see the type's documentation.
    pub fn new(
        token_label: impl Into<String>,
        user_pin: SecretBytes,
        key_label: impl Into<String>,
        kek_id: impl Into<String>,
    ) -> Self {
        Pkcs11Config {
            token_label: token_label.into(),
            user_pin,
            key_label: key_label.into(),
            kek_id: kek_id.into(),
            max_idle_sessions: DEFAULT_MAX_IDLE_SESSIONS,
        }
    }

    /// How many logged-in sessions to keep open between operations (default
    /// [`DEFAULT_MAX_IDLE_SESSIONS`]). More concurrent operations open more sessions, which are
    /// closed afterwards.
    pub fn with_max_idle_sessions(mut self, sessions: usize) -> Self {
        self.max_idle_sessions = sessions;
        self
    }

    fn validate(&self) -> Result<(), Pkcs11Error> {
        let invalid = |what: &str| Err(Pkcs11Error::InvalidConfig(what.to_owned()));
        if self.kek_id.is_empty() || self.kek_id.len() > 255 {
            return invalid("the KEK id must be 1 to 255 bytes");
        }
        // A PKCS#11 label has no fixed limit, but tokens often keep 32 to 64 bytes.
        if self.key_label.is_empty() || self.key_label.len() > 48 {
            return invalid("the key label must be 1 to 48 bytes");
        }
        if self.token_label.is_empty() || self.token_label.len() > 32 {
            return invalid("the token label must be 1 to 32 bytes");
        }
        if self.user_pin.is_empty() {
            return invalid("the user PIN is empty");
        }
        Ok(())
    }
}

impl fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("token_label", &self.token_label)
            .field("user_pin", &"[REDACTED]")
            .field("key_label", &self.key_label)
            .field("kek_id", &self.kek_id)
            .field("max_idle_sessions", &self.max_idle_sessions)
            .finish()
    }
}

/// Why a [`Pkcs11Provider`] could not be opened or its KEK versions managed. Never contains
/// the PIN or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The configuration is unusable; the text says why.
    #[error("invalid PKCS#11 configuration: {0}")]
    InvalidConfig(String),
    /// The PKCS#11 module could not be loaded or initialised.
    #[error("PKCS#11 module {path}: {source}")]
    Module {
        /// The module's path.
        path: PathBuf,
        /// The cause ([`cryptoki::error::Error`]).
        #[source]
        source: BackendError,
    },
    /// No initialised token has this label.
    #[error("no PKCS#11 token labelled `{0}`")]
    TokenNotFound(String),
    /// More than one token has this label.
    #[error("several PKCS#11 tokens are labelled `{0}`")]
    AmbiguousToken(String),
    /// The user could not log in (wrong or locked PIN, …).
    #[error("PKCS#11 login failed: {0}")]
    Login(#[source] BackendError),
    /// `open` found no version of the key; create it with [`Pkcs11Provider::init`].
    #[error("no key-encryption key labelled `{key_label}.v<N>` on the token")]
    NoKek {
        /// The key label.
        key_label: String,
    },
    /// `init` found versions of the key already; use [`Pkcs11Provider::open`].
    #[error("the token already holds key-encryption key `{key_label}` (versions {versions:?})")]
    AlreadyExists {
        /// The key label.
        key_label: String,
        /// The versions found.
        versions: Vec<u32>,
    },
    /// A key on the token is not fit to be the root KEK: extractable, not sensitive, not an
    /// AES-256 key, or its label is held by more than one object.
    #[error("key `{label}` on the token is unfit: {reason}")]
    UnfitKey {
        /// The object's label.
        label: String,
        /// What is wrong.
        reason: String,
    },
    /// Another process created the same version at the same time; the new key was destroyed
    /// again. Retry.
    #[error("concurrent rotation: `{0}` was created twice")]
    ConcurrentRotation(String),
    /// The token or module failed.
    #[error("PKCS#11: {0}")]
    Token(#[source] BackendError),
}

/// What went wrong inside one operation on the token.
#[derive(Debug)]
enum Fault {
    Ck(CkError),
    Unfit { label: String, reason: String },
    Missing,
    Concurrent(String),
}

impl From<CkError> for Fault {
    fn from(e: CkError) -> Self {
        Fault::Ck(e)
    }
}

impl Fault {
    /// Whether a fresh session (and fresh object handles) may cure it.
    fn is_stale(&self) -> bool {
        matches!(
            self,
            Fault::Ck(CkError::Pkcs11(
                RvError::SessionHandleInvalid
                    | RvError::SessionClosed
                    | RvError::UserNotLoggedIn
                    | RvError::KeyHandleInvalid
                    | RvError::ObjectHandleInvalid,
                _
            ))
        )
    }

    fn into_backend(self) -> BackendError {
        match self {
            Fault::Ck(e) => BackendError::new(e),
            Fault::Unfit { label, reason } => {
                BackendError::msg(format!("key `{label}` on the token is unfit: {reason}"))
            }
            Fault::Missing => BackendError::msg("the current KEK version is gone from the token"),
            Fault::Concurrent(label) => {
                BackendError::msg(format!("concurrent rotation: `{label}` was created twice"))
            }
        }
    }

    fn into_error(self) -> Pkcs11Error {
        match self {
            Fault::Ck(CkError::Pkcs11(
                rv @ (RvError::PinIncorrect
                | RvError::PinLocked
                | RvError::PinExpired
                | RvError::PinInvalid
                | RvError::PinLenRange
                | RvError::UserPinNotInitialized
                | RvError::UserAnotherAlreadyLoggedIn),
                f,
            )) => Pkcs11Error::Login(BackendError::new(CkError::Pkcs11(rv, f))),
            Fault::Unfit { label, reason } => Pkcs11Error::UnfitKey { label, reason },
            Fault::Concurrent(label) => Pkcs11Error::ConcurrentRotation(label),
            other => Pkcs11Error::Token(other.into_backend()),
        }
    }
}

struct Versions {
    current: u32,
    /// Known versions and their object handles (`None`: look it up again).
    handles: BTreeMap<u32, Option<ObjectHandle>>,
}

/// A [`KeyProvider`] whose root key-encryption key (KEK) is a non-extractable AES-256 key in
/// an HSM or token, used through PKCS#11.
///
/// # Keys and versions
/// Each KEK version is a token object (`CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` true,
/// `CKA_EXTRACTABLE` false, encrypt/decrypt only) labelled `<key label>.v<version>`;
/// [`init`](Pkcs11Provider::init) creates version 1, [`generate_kek`](Pkcs11Provider::generate_kek)
/// the next one and makes it current, and the highest version on the token is current when the
/// provider opens. Keys found with a matching label that are extractable, not sensitive, or not
/// 32-byte AES keys are refused. Older versions stay usable for unwrapping until
/// [`destroy_version`](Pkcs11Provider::destroy_version) destroys them (after every key wrapped
/// under them was rewrapped: that is how old backups become unreadable, "shred epochs").
/// A version another process created is found when first needed (unwrap) or on
/// [`refresh`](Pkcs11Provider::refresh), once the module sees it: SoftHSM2 2.6.1 missed such an
/// object for good, now and then, when this process wrote to the token at the same moment.
///
/// # Wrapping
/// AES-256-GCM inside the token (`CKM_AES_GCM`), a random 12-byte IV from the OS
/// (`getrandom`, fork-safe), a 128-bit tag and the associated data
/// `"biv.wrap.pkcs11.v1" ‖ u16be len(kek id) ‖ kek id ‖ u32be version ‖ aad`, the same
/// construction as the development [`LocalKeyring`](super::LocalKeyring). The blob is
/// `IV (12) ‖ ciphertext ‖ tag (16)`: 60 bytes for a 32-byte data key. A wrong associated data,
/// a changed or truncated blob, or another key all give the one opaque [`UnwrapError::Failed`]
/// (SoftHSM2 reports a GCM tag mismatch as `CKR_GENERAL_ERROR`, so that code counts as a
/// failed unwrap too); an unknown KEK id or version gives [`UnwrapError::UnknownKek`]; token,
/// session, login and module failures give `Unavailable`, with the
/// [`cryptoki::error::Error`] as source.
///
/// `CK_GCM_PARAMS`: SoftHSM2 2.6 and cryptoki 0.12 both use the PKCS#11 2.40 header layout,
/// which has a `ulIvBits` field after `ulIvLen` that the 2.40 prose omits (SoftHSMv2#481,
/// #488). SoftHSM2 reads the IV through `ulIvLen` and ignores `ulIvBits`; cryptoki sets it to
/// 96 all the same, which some HSMs (Thales Luna) need. No other handling is needed; the tests
/// run against SoftHSM2 2.6.1. Some HSMs in FIPS mode refuse an IV chosen by the caller
/// (`CKR_MECHANISM_PARAM_INVALID` on wrap); they need PKCS#11 3.0 message-based encryption
/// with a token-generated IV, which this provider does not do yet.
///
/// # Threads, sessions, processes
/// The provider is `Send + Sync`. Every operation takes a logged-in read/write session from a
/// small pool (opening and logging in a new one when the pool is empty) and puts it back
/// afterwards, so concurrent operations never share a session; a session that saw an error is
/// closed instead. Several providers (several keys) may share one [`Pkcs11Module`] and one
/// token; creating and destroying keys waits for their other operations (the module's lock).
/// The provider never calls `C_Logout` (nor `C_Finalize`, see [`Pkcs11Module`]): PKCS#11 login
/// state belongs to the whole process, and logging out would break every other user of the
/// token. For the same reason a wrong PIN goes unnoticed once the process is logged in to the
/// token (the module answers `CKR_USER_ALREADY_LOGGED_IN` without checking it). PKCS#11 calls
/// are blocking and run on the calling task (microseconds on SoftHSM2; a network HSM may take
/// milliseconds). A PKCS#11 module does not survive `fork`: create the provider in the process
/// that uses it (after PHP-FPM forks its workers, for example).
///
/// # Memory
/// The PIN is zeroized on drop; unwrapped keys are returned as [`SecretBytes`]. Copies inside
/// the PKCS#11 module are the module's business.
///
/// # Example
/// ```no_run
/// use biv_confidentiality::keys::{Pkcs11Config, Pkcs11Module, Pkcs11Provider};
/// use biv_core::{KeyProvider, SecretBytes};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// // Once per process, shared by every provider.
/// let module = Pkcs11Module::load("/usr/lib/softhsm/libsofthsm2.so")?;
/// let config = Pkcs11Config::new(
///     "biv",
///     SecretBytes::from_slice(b"1234"),
///     "biv-root",
///     "pkcs11:biv-root",
/// );
/// // Once, at installation: creates `biv-root.v1` on the token. Later: `open`.
/// let hsm = Pkcs11Provider::init(&module, config)?;
/// let dek = SecretBytes::new(vec![7; 32]);
/// let wrapped = hsm.wrap_key(&dek, b"key 1 of tenant t1").await?;
/// assert_eq!((wrapped.kek_id(), wrapped.kek_version()), ("pkcs11:biv-root", 1));
///
/// // Rotation: new wraps use version 2, version 1 still unwraps.
/// assert_eq!(hsm.generate_kek()?, 2);
/// let back = hsm.unwrap_key(&wrapped, b"key 1 of tenant t1").await?;
/// assert_eq!(back.expose_secret(), dek.expose_secret());
/// # Ok(())
/// # }
/// ```
pub struct Pkcs11Provider {
    kek_id: String,
    key_label: String,
    token_label: String,
    module_path: PathBuf,
    pkcs11: Pkcs11,
    slot: Slot,
    user_pin: SecretBytes,
    max_idle_sessions: usize,
    versions: RwLock<Versions>,
    idle: Mutex<Vec<Session>>,
    /// The module's lock: exclusive for creating and destroying token objects.
    objects: Arc<RwLock<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

fn find_slot(pkcs11: &Pkcs11, token_label: &str) -> Result<Slot, Pkcs11Error> {
    // SoftHSM2 2.6.1 answered C_GetTokenInfo with CKR_GENERAL_ERROR now and then in our tests
    // while another process had just changed the token; a second look succeeded.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match slots_labelled(pkcs11, token_label) {
            Err(CkError::Pkcs11(RvError::GeneralError, _)) if attempts < 3 => continue,
            Err(e) => return Err(Pkcs11Error::Token(BackendError::new(e))),
            Ok(found) => {
                return match found.as_slice() {
                    [slot] => Ok(*slot),
                    [] => Err(Pkcs11Error::TokenNotFound(token_label.to_owned())),
                    _ => Err(Pkcs11Error::AmbiguousToken(token_label.to_owned())),
                };
            }
        }
    }
}

fn slots_labelled(pkcs11: &Pkcs11, token_label: &str) -> Result<Vec<Slot>, CkError> {
    let mut found = Vec::new();
    for slot in pkcs11.get_slots_with_initialized_token()? {
        if pkcs11.get_token_info(slot)?.label() == token_label {
            found.push(slot);
        }
    }
    Ok(found)
}

/// A loaded and initialised PKCS#11 module (a shared library such as
/// `/usr/lib/softhsm/libsofthsm2.so`): the capability every [`Pkcs11Provider`] is opened with.
///
/// **Load each module once per process and share the handle** (cloning is cheap): PKCS#11
/// initialisation belongs to the whole process, and the library is unloaded when the last
/// handle is dropped. With SoftHSM2 2.6.1 we observed, in tests with ten threads:
/// - handles to one module loaded and dropped by several threads: slots lost mid-operation
///   (`CKR_SLOT_ID_INVALID`, "no token"); one shared handle: never;
/// - two threads creating token keys at once: `CKR_GENERAL_ERROR` (or
///   `CKR_TEMPLATE_INCONSISTENT`) from `C_GenerateKey` in about one run in four, also when
///   only one thread created keys while others read the token. The providers of one module
///   therefore create and destroy keys under a lock the module holds, exclusive of every
///   other operation of its providers; wrapping and unwrapping share it and run in parallel.
///
/// Closing a process's last session on a token logs the process out (PKCS#11), so the module
/// also keeps one logged-in session per token open for as long as it lives: providers do not
/// log in again after each error, nor race such a logout.
///
/// `load` initialises the module with `CKF_OS_LOCKING_OK`, and accepts a module that something
/// else in the process initialised already. The module is never finalised (`C_Finalize`),
/// because other users in the process may still need it.
///
/// ```
/// use biv_confidentiality::keys::{Pkcs11Error, Pkcs11Module};
/// assert!(matches!(Pkcs11Module::load("/nonexistent/libpkcs11.so"), Err(Pkcs11Error::Module { .. })));
/// ```
#[derive(Clone)]
pub struct Pkcs11Module {
    path: PathBuf,
    pkcs11: Pkcs11,
    /// Creating and destroying token objects is exclusive (write); every other operation of
    /// this module's providers shares (read).
    objects: Arc<RwLock<()>>,
    /// One logged-in session per token, open as long as the module: keeps the process logged
    /// in while providers open and close their own sessions.
    anchors: Arc<Mutex<HashMap<Slot, Session>>>,
}

impl Pkcs11Module {
    /// Loads and initialises the module at `path`.
    ///
    /// # Errors
    /// [`Pkcs11Error::Module`] when the library cannot be loaded or initialised.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Pkcs11Error> {
        let path = path.as_ref().to_path_buf();
        let module_error = |e: CkError| Pkcs11Error::Module {
            path: path.clone(),
            source: BackendError::new(e),
        };
        let pkcs11 = Pkcs11::new(&path).map_err(module_error)?;
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(module_error(e)),
        }
        Ok(Pkcs11Module {
            path,
            pkcs11,
            objects: Arc::new(RwLock::new(())),
            anchors: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The library's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for Pkcs11Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Module")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Provider {
    /// Opens the provider on a token that already holds the KEK (at least one version).
    ///
    /// # Errors
    /// [`Pkcs11Error`]; [`Pkcs11Error::NoKek`] when the token has no version of the key.
    pub fn open(module: &Pkcs11Module, config: Pkcs11Config) -> Result<Self, Pkcs11Error> {
        let provider = Self::connect(module, config)?;
        let found = provider.scan_versions()?;
        let Some(current) = found.keys().next_back().copied() else {
            return Err(Pkcs11Error::NoKek {
                key_label: provider.key_label.clone(),
            });
        };
        provider.set_versions(current, found);
        Ok(provider)
    }

    /// Creates version 1 of the KEK on the token and opens the provider on it: the `init` of an
    /// installation.
    ///
    /// # Errors
    /// [`Pkcs11Error`]; [`Pkcs11Error::AlreadyExists`] when the token holds a version already.
    pub fn init(module: &Pkcs11Module, config: Pkcs11Config) -> Result<Self, Pkcs11Error> {
        let provider = Self::connect(module, config)?;
        let found = provider.scan_versions()?;
        if !found.is_empty() {
            return Err(Pkcs11Error::AlreadyExists {
                key_label: provider.key_label.clone(),
                versions: found.keys().copied().collect(),
            });
        }
        provider.generate_kek()?;
        Ok(provider)
    }

    fn connect(module: &Pkcs11Module, config: Pkcs11Config) -> Result<Self, Pkcs11Error> {
        config.validate()?;
        let pkcs11 = module.pkcs11.clone();
        let slot = find_slot(&pkcs11, &config.token_label)?;
        {
            let mut anchors = lock(&module.anchors);
            if let std::collections::hash_map::Entry::Vacant(entry) = anchors.entry(slot) {
                let anchor = pkcs11
                    .open_ro_session(slot)
                    .map_err(|e| Pkcs11Error::Token(BackendError::new(e)))?;
                login(&anchor, &config.user_pin).map_err(Fault::into_error)?;
                entry.insert(anchor);
            }
        }
        Ok(Pkcs11Provider {
            kek_id: config.kek_id,
            key_label: config.key_label,
            token_label: config.token_label,
            module_path: module.path.clone(),
            pkcs11,
            slot,
            user_pin: config.user_pin,
            max_idle_sessions: config.max_idle_sessions,
            versions: RwLock::new(Versions {
                current: 0,
                handles: BTreeMap::new(),
            }),
            idle: Mutex::new(Vec::new()),
            objects: Arc::clone(&module.objects),
        })
    }

    /// Creates a new KEK version on the token (`<key label>.v<highest + 1>`), makes it current
    /// and returns it. Older versions stay for unwrapping.
    ///
    /// Rotation is an administrative act: run it in one process at a time. If two processes
    /// create the same version at once, each that sees two keys with the label destroys its own
    /// and fails with [`Pkcs11Error::ConcurrentRotation`] (retry).
    ///
    /// # Errors
    /// [`Pkcs11Error`]; the provider is then unchanged.
    pub fn generate_kek(&self) -> Result<u32, Pkcs11Error> {
        let (version, found) = self
            .with_session_as(true, |s| {
                let mut found = self.scan(s)?;
                let next = found.keys().next_back().map_or(1, |v| v.saturating_add(1));
                let label = self.label_of(next);
                let handle = s.generate_key(&Mechanism::AesKeyGen, &kek_template(&label)?)?;
                let same = s.find_objects(&[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::Label(label.clone().into_bytes()),
                ])?;
                if same.len() != 1 {
                    let _ = s.destroy_object(handle);
                    return Err(Fault::Concurrent(label));
                }
                found.insert(next, handle);
                Ok((next, found))
            })
            .map_err(Fault::into_error)?;
        self.set_versions(version, found);
        Ok(version)
    }

    /// Reads the versions on the token again and makes the highest current (after another
    /// process rotated); returns the current version.
    ///
    /// # Errors
    /// [`Pkcs11Error`]; [`Pkcs11Error::NoKek`] if every version was destroyed.
    pub fn refresh(&self) -> Result<u32, Pkcs11Error> {
        let found = self.scan_versions()?;
        let Some(current) = found.keys().next_back().copied() else {
            return Err(Pkcs11Error::NoKek {
                key_label: self.key_label.clone(),
            });
        };
        self.set_versions(current, found);
        Ok(current)
    }

    /// Destroys an old KEK version on the token, irrevocably: keys still wrapped under it can
    /// never be unwrapped again. Rewrap them first (and verify). The current version is never
    /// destroyed. Returns whether a version was destroyed.
    ///
    /// # Errors
    /// [`Pkcs11Error`].
    pub fn destroy_version(&self, version: u32) -> Result<bool, Pkcs11Error> {
        if version == self.current_version() {
            return Ok(false);
        }
        let destroyed = self
            .with_session_as(true, |s| match self.lookup(s, version)? {
                Some(handle) => {
                    s.destroy_object(handle)?;
                    Ok(true)
                }
                None => Ok(false),
            })
            .map_err(Fault::into_error)?;
        self.write_versions().handles.remove(&version);
        Ok(destroyed)
    }

    /// The versions known to this provider, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        self.read_versions().handles.keys().copied().collect()
    }

    /// The label of the token object holding `version`.
    pub fn label_of(&self, version: u32) -> String {
        format!("{}.v{version}", self.key_label)
    }

    fn set_versions(&self, current: u32, handles: BTreeMap<u32, ObjectHandle>) {
        let mut v = self.write_versions();
        v.current = current;
        v.handles = handles.into_iter().map(|(k, h)| (k, Some(h))).collect();
    }

    fn read_versions(&self) -> std::sync::RwLockReadGuard<'_, Versions> {
        self.versions.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_versions(&self) -> std::sync::RwLockWriteGuard<'_, Versions> {
        self.versions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn scan_versions(&self) -> Result<BTreeMap<u32, ObjectHandle>, Pkcs11Error> {
        self.with_session(|s| self.scan(s))
            .map_err(Fault::into_error)
    }

    /// A logged-in session from the pool, or a new one.
    fn borrow(&self) -> Result<Session, Fault> {
        let pooled = lock(&self.idle).pop();
        let session = match pooled {
            Some(s) => s,
            None => {
                let s = self.pkcs11.open_rw_session(self.slot)?;
                login(&s, &self.user_pin)?;
                s
            }
        };
        Ok(session)
    }

    /// Runs `op` on a pooled session; once more on a fresh session (and fresh object handles)
    /// if the first failed in a way a new session may cure.
    fn with_session<T>(&self, op: impl Fn(&Session) -> Result<T, Fault>) -> Result<T, Fault> {
        self.with_session_as(false, op)
    }

    /// [`Self::with_session`], holding the module's object lock exclusively when `exclusive`.
    fn with_session_as<T>(
        &self,
        exclusive: bool,
        op: impl Fn(&Session) -> Result<T, Fault>,
    ) -> Result<T, Fault> {
        let mut retried = false;
        loop {
            let (_shared, _exclusive) = if exclusive {
                (None, Some(write(&self.objects)))
            } else {
                (Some(read(&self.objects)), None)
            };
            let session = self.borrow()?;
            // A session that saw an error is closed (cryptoki closes it on drop, without
            // logging out); a healthy one goes back to the pool.
            match op(&session) {
                Ok(value) => {
                    let mut idle = lock(&self.idle);
                    if idle.len() < self.max_idle_sessions {
                        idle.push(session);
                    }
                    return Ok(value);
                }
                Err(fault) if fault.is_stale() && !retried => {
                    retried = true;
                    drop(session);
                    lock(&self.idle).clear();
                    for handle in self.write_versions().handles.values_mut() {
                        *handle = None;
                    }
                }
                Err(fault) => return Err(fault),
            }
        }
    }

    /// Every version of this key on the token, checked to be fit.
    fn scan(&self, s: &Session) -> Result<BTreeMap<u32, ObjectHandle>, Fault> {
        let prefix = format!("{}.v", self.key_label);
        let mut found = BTreeMap::new();
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
        ];
        for handle in s.find_objects(&template)? {
            // Other keys on the token may be destroyed while we look (another process, another
            // provider): a handle that went away is skipped.
            let label = match s.get_attributes(handle, &[AttributeType::Label]) {
                Ok(attrs) => attrs.into_iter().find_map(|a| match a {
                    Attribute::Label(l) => Some(l),
                    _ => None,
                }),
                Err(CkError::Pkcs11(RvError::ObjectHandleInvalid, _)) => continue,
                Err(e) => return Err(e.into()),
            };
            let Some(label) = label else { continue };
            let Some(version) = std::str::from_utf8(&label)
                .ok()
                .and_then(|l| l.strip_prefix(&prefix))
                .and_then(parse_version)
            else {
                continue;
            };
            match check_fit(s, handle, &self.label_of(version)) {
                Ok(()) => {}
                // Destroyed meanwhile (destroy_version elsewhere): not a version any more.
                Err(Fault::Ck(CkError::Pkcs11(RvError::ObjectHandleInvalid, _))) => continue,
                Err(fault) => return Err(fault),
            }
            if found.insert(version, handle).is_some() {
                return Err(Fault::Unfit {
                    label: self.label_of(version),
                    reason: "more than one object has this label".to_owned(),
                });
            }
        }
        Ok(found)
    }

    /// The handle of one version, looked up on the token (and checked) when not cached.
    fn lookup(&self, s: &Session, version: u32) -> Result<Option<ObjectHandle>, Fault> {
        if let Some(Some(h)) = self.read_versions().handles.get(&version) {
            return Ok(Some(*h));
        }
        let label = self.label_of(version);
        let handles = s.find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.clone().into_bytes()),
        ])?;
        let handle = match handles.as_slice() {
            [] => return Ok(None),
            [h] => *h,
            _ => {
                return Err(Fault::Unfit {
                    label,
                    reason: "more than one object has this label".to_owned(),
                });
            }
        };
        check_fit(s, handle, &label)?;
        self.write_versions().handles.insert(version, Some(handle));
        Ok(Some(handle))
    }

    fn wrap_aad(&self, version: u32, aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAP_DOMAIN.len() + 2 + self.kek_id.len() + 4 + aad.len());
        out.extend_from_slice(WRAP_DOMAIN);
        // validate() keeps the id at most 255 bytes.
        let id_len = u16::try_from(self.kek_id.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&id_len.to_be_bytes());
        out.extend_from_slice(&self.kek_id.as_bytes()[..usize::from(id_len)]);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(aad);
        out
    }
}

/// Logs the user in; login state is per process, so "already logged in" is success.
fn login(session: &Session, pin: &SecretBytes) -> Result<(), Fault> {
    let pin = RawAuthPin::from(Box::new(pin.expose_secret().to_vec()));
    match session.login_with_raw(UserType::User, &pin) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => Err(Fault::Ck(e)),
    }
}

/// `1`, `2`, … without sign or leading zeros.
fn parse_version(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|v| *v > 0)
}

fn kek_template(label: &str) -> Result<Vec<Attribute>, CkError> {
    Ok(vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(Ulong::try_from(KEK_LEN)?),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
}

/// Refuses a key that could leave the token or is not AES-256.
fn check_fit(s: &Session, handle: ObjectHandle, label: &str) -> Result<(), Fault> {
    let attrs = s.get_attributes(
        handle,
        &[
            AttributeType::KeyType,
            AttributeType::ValueLen,
            AttributeType::Sensitive,
            AttributeType::Extractable,
        ],
    )?;
    let (mut aes, mut len, mut sensitive, mut extractable) = (false, 0usize, false, true);
    for a in attrs {
        match a {
            Attribute::KeyType(t) => aes = t == KeyType::AES,
            Attribute::ValueLen(l) => len = l.into(),
            Attribute::Sensitive(b) => sensitive = b,
            Attribute::Extractable(b) => extractable = b,
            _ => {}
        }
    }
    let reason = if !aes {
        "not an AES key"
    } else if len != KEK_LEN {
        "not a 32-byte key"
    } else if !sensitive {
        "CKA_SENSITIVE is false"
    } else if extractable {
        "CKA_EXTRACTABLE is true"
    } else {
        return Ok(());
    };
    Err(Fault::Unfit {
        label: label.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Decryption failures that depend on the blob, its associated data or the key: the opaque
/// [`UnwrapError::Failed`]. SoftHSM2 answers a GCM tag mismatch with `CKR_GENERAL_ERROR`.
fn is_decrypt_failure(fault: &Fault) -> bool {
    matches!(
        fault,
        Fault::Ck(CkError::Pkcs11(
            RvError::GeneralError
                | RvError::FunctionFailed
                | RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::DataLenRange,
            _
        ))
    )
}

#[async_trait]
impl KeyProvider for Pkcs11Provider {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn current_version(&self) -> u32 {
        self.read_versions().current
    }

    async fn wrap_key(&self, key: &SecretBytes, aad: &[u8]) -> Result<WrappedKey, WrapError> {
        if !WRAPPABLE.contains(&key.len()) {
            return Err(WrapError::InvalidKeyLength(key.len()));
        }
        let mut iv = [0u8; IV_LEN];
        getrandom::fill(&mut iv).map_err(|e| {
            WrapError::Unavailable(BackendError::msg(format!("no randomness for an IV: {e}")))
        })?;
        let version = self.current_version();
        let full_aad = self.wrap_aad(version, aad);
        let sealed = self
            .with_session(|s| {
                let handle = self.lookup(s, version)?.ok_or(Fault::Missing)?;
                let mut iv_param = iv;
                let params = GcmParams::new(&mut iv_param, &full_aad, Ulong::try_from(TAG_BITS)?)?;
                Ok(s.encrypt(&Mechanism::AesGcm(params), handle, key.expose_secret())?)
            })
            .map_err(|f| WrapError::Unavailable(f.into_backend()))?;
        if sealed.len() != key.len() + TAG_LEN {
            return Err(WrapError::Unavailable(BackendError::msg(format!(
                "the token returned {} bytes for a {}-byte key",
                sealed.len(),
                key.len()
            ))));
        }
        let mut blob = Vec::with_capacity(IV_LEN + sealed.len());
        blob.extend_from_slice(&iv);
        blob.extend_from_slice(&sealed);
        Ok(WrappedKey::new(self.kek_id.clone(), version, blob))
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
        let version = wrapped.kek_version();
        let blob = wrapped.blob();
        if blob.len() < IV_LEN + TAG_LEN || !WRAPPABLE.contains(&(blob.len() - IV_LEN - TAG_LEN)) {
            return Err(UnwrapError::Failed);
        }
        let (iv, sealed) = blob.split_at(IV_LEN);
        let full_aad = self.wrap_aad(version, aad);
        let opened = self.with_session(|s| {
            let Some(handle) = self.lookup(s, version)? else {
                return Ok(None);
            };
            let mut iv_param = [0u8; IV_LEN];
            iv_param.copy_from_slice(iv);
            let params = GcmParams::new(&mut iv_param, &full_aad, Ulong::try_from(TAG_BITS)?)?;
            let key = Zeroizing::new(s.decrypt(&Mechanism::AesGcm(params), handle, sealed)?);
            Ok(Some(key))
        });
        match opened {
            Ok(Some(mut key)) if key.len() == sealed.len() - TAG_LEN => {
                Ok(SecretBytes::new(std::mem::take(&mut *key)))
            }
            Ok(Some(_)) => Err(UnwrapError::Failed),
            Ok(None) => Err(unknown()),
            Err(f) if is_decrypt_failure(&f) => Err(UnwrapError::Failed),
            Err(f) => Err(UnwrapError::Unavailable(f.into_backend())),
        }
    }
}

impl fmt::Debug for Pkcs11Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions = self.read_versions();
        f.debug_struct("Pkcs11Provider")
            .field("kek_id", &self.kek_id)
            .field("module", &self.module_path)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .field("current_version", &versions.current)
            .field("versions", &versions.handles.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(parse_version("1"), Some(1));
        assert_eq!(parse_version("42"), Some(42));
        for bad in ["", "0", "01", "+1", "-1", "1.v2", "x", "4294967296"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_debug_redacts_the_pin_and_validates() {
        let cfg = Pkcs11Config::new(
            "tok",
            SecretBytes::from_slice(b"pin-secret-9876"),
            "biv-root",
            "pkcs11:biv-root",
        );
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("pin-secret-9876"), "{debug}");
        assert!(cfg.validate().is_ok());
        let empty_label = Pkcs11Config::new("tok", SecretBytes::from_slice(b"1"), "", "k");
        assert!(matches!(
            empty_label.validate(),
            Err(Pkcs11Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn a_missing_module_is_a_module_error() {
        match Pkcs11Module::load("/nonexistent/libnothing-pkcs11.so") {
            Err(Pkcs11Error::Module { path, .. }) => {
                assert_eq!(path, PathBuf::from("/nonexistent/libnothing-pkcs11.so"));
            }
            other => panic!("expected a module error, got {other:?}"),
        }
    }

    #[test]
    fn decrypt_failures_are_told_from_outages() {
        use cryptoki::context::Function;
        let f = |rv| Fault::Ck(CkError::Pkcs11(rv, Function::Decrypt));
        assert!(is_decrypt_failure(&f(RvError::GeneralError)));
        assert!(is_decrypt_failure(&f(RvError::EncryptedDataInvalid)));
        assert!(!is_decrypt_failure(&f(RvError::DeviceRemoved)));
        assert!(!is_decrypt_failure(&f(RvError::SessionHandleInvalid)));
        assert!(f(RvError::SessionHandleInvalid).is_stale());
        assert!(!f(RvError::GeneralError).is_stale());
        assert!(matches!(
            f(RvError::PinIncorrect).into_error(),
            Pkcs11Error::Login(_)
        ));
    }
}
