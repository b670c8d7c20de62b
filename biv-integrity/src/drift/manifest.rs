//! The manifest: what a commit of the configuration repository says should be deployed.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::review::glob::Glob;

/// The manifest format version this crate writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The shortest secret key accepted, in bytes.
pub const MIN_SECRET_KEY_LEN: usize = 16;

/// Git's mode of a regular file.
pub const MODE_FILE: &str = "100644";
/// Git's mode of an executable file.
pub const MODE_EXECUTABLE: &str = "100755";
/// Git's mode of a symbolic link (the content is the link target).
pub const MODE_SYMLINK: &str = "120000";

/// The key of the keyed hashes (HMAC-SHA256) that stand for secret files in a manifest.
///
/// Zeroized on drop; its `Debug` never shows the bytes.
///
/// ```
/// use biv_integrity::drift::SecretKey;
/// let key = SecretKey::new(vec![7u8; 32])?;
/// assert!(!format!("{key:?}").contains('7'));
/// # Ok::<(), biv_integrity::drift::SecretKeyError>(())
/// ```
#[derive(Clone)]
pub struct SecretKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Why a secret key was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// Fewer than [`MIN_SECRET_KEY_LEN`] bytes.
    #[error("a drift secret key needs at least {MIN_SECRET_KEY_LEN} bytes, got {0}")]
    TooShort(usize),
}

impl SecretKey {
    /// A key from its bytes (at least [`MIN_SECRET_KEY_LEN`]).
    ///
    /// # Errors
    /// [`SecretKeyError::TooShort`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, SecretKeyError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < MIN_SECRET_KEY_LEN {
            return Err(SecretKeyError::TooShort(bytes.len()));
        }
        Ok(SecretKey(bytes))
    }

    pub(crate) fn hasher(&self) -> ContentHasher {
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => ContentHasher::Keyed(Box::new(mac)),
            // HMAC takes keys of any length; unreachable, but never fall back to a plain hash.
            Err(_) => ContentHasher::Invalid,
        }
    }
}

/// Hashes file contents incrementally, plainly or keyed.
pub(crate) enum ContentHasher {
    Plain(Sha256),
    Keyed(Box<Hmac<Sha256>>),
    Invalid,
}

impl ContentHasher {
    pub(crate) fn plain() -> Self {
        ContentHasher::Plain(Sha256::new())
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            ContentHasher::Plain(h) => h.update(bytes),
            ContentHasher::Keyed(m) => m.update(bytes),
            ContentHasher::Invalid => {}
        }
    }

    /// Lowercase hex, or `None` for an unusable key.
    pub(crate) fn finish_hex(self) -> Option<String> {
        match self {
            ContentHasher::Plain(h) => Some(hex(&h.finalize())),
            ContentHasher::Keyed(m) => Some(hex(&m.finalize().into_bytes())),
            ContentHasher::Invalid => None,
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Compares two strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A set of path patterns (CODEOWNERS-style globs: `*.key` matches a file name anywhere,
/// `secrets/` or `secrets/**` everything below a directory, `**` crosses directories).
///
/// ```
/// use biv_integrity::drift::PathPatterns;
/// let p = PathPatterns::new(["*.key", "secrets/", ".env"]);
/// assert!(p.matches("tls/server.key"));
/// assert!(p.matches("secrets/db/password"));
/// assert!(!p.matches("app.toml"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct PathPatterns {
    patterns: Vec<String>,
    globs: Vec<Glob>,
}

impl PathPatterns {
    /// Compiles the patterns; empty ones are skipped.
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut p = PathPatterns::default();
        for s in patterns {
            if let Some(g) = Glob::new(s.as_ref()) {
                p.patterns.push(s.as_ref().trim().to_owned());
                p.globs.push(g);
            }
        }
        p
    }

    /// The default secret patterns: `*.key`, `*.pem`, `*.p12`, `*.pfx`, `.env`, `*.env`,
    /// `secrets/`.
    pub fn default_secrets() -> Self {
        PathPatterns::new([
            "*.key", "*.pem", "*.p12", "*.pfx", ".env", "*.env", "secrets/",
        ])
    }

    /// Whether any pattern matches the relative path.
    pub fn matches(&self, path: &str) -> bool {
        self.globs.iter().any(|g| g.matches(path))
    }

    /// The patterns as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// The commit a manifest was generated from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ManifestSource {
    /// The repository as given to the generator.
    pub repo: String,
    /// The full commit id (40 or 64 lowercase hex digits).
    pub rev: String,
}

impl ManifestSource {
    /// A source.
    pub fn new(repo: impl Into<String>, rev: impl Into<String>) -> Self {
        ManifestSource {
            repo: repo.into(),
            rev: rev.into(),
        }
    }
}

/// One file of a manifest: exactly one of `sha256` and `hmac_sha256` is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ManifestEntry {
    /// The path relative to the repository root, `/`-separated.
    pub path: String,
    /// Git's mode: [`MODE_FILE`], [`MODE_EXECUTABLE`] or [`MODE_SYMLINK`].
    pub mode: String,
    /// SHA-256 of the content (for a symlink, of its target), lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// HMAC-SHA256 of the content under the secret key, lowercase hex (secret files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_sha256: Option<String>,
}

impl ManifestEntry {
    /// Whether the entry is a secret (stored as a keyed hash).
    pub fn is_secret(&self) -> bool {
        self.hmac_sha256.is_some()
    }
}

/// A manifest: version, source commit and entries sorted by path (bytewise).
///
/// ```
/// use biv_integrity::drift::Manifest;
/// let json = br#"{"version":1,"source":{"repo":"cfg","rev":"0123456789abcdef0123456789abcdef01234567"},
///   "entries":[{"path":"a.toml","mode":"100644",
///   "sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}"#;
/// let m = Manifest::from_json(json)?;
/// assert_eq!(m.entries[0].path, "a.toml");
/// assert_eq!(Manifest::from_json(m.to_json().as_bytes())?, m);
/// # Ok::<(), biv_integrity::drift::ManifestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Manifest {
    /// Always [`MANIFEST_VERSION`].
    pub version: u32,
    /// The commit.
    pub source: ManifestSource,
    /// The files, sorted by path.
    pub entries: Vec<ManifestEntry>,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON of the manifest's shape.
    #[error("not a drift manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// A version other than [`MANIFEST_VERSION`].
    #[error("unsupported drift manifest version {0} (this build reads version {MANIFEST_VERSION})")]
    UnsupportedVersion(u32),
    /// The source commit is not 40 or 64 lowercase hex digits.
    #[error("the manifest's source rev {0:?} is not a full commit id")]
    BadRev(String),
    /// A path that is empty, absolute, or has an empty, `.` or `..` segment.
    #[error("invalid path in manifest: {0:?}")]
    BadPath(String),
    /// Entries not strictly sorted by path (or a duplicate).
    #[error("manifest entries are not sorted by path or repeat one: {0:?}")]
    Unsorted(String),
    /// A mode other than 100644, 100755, 120000.
    #[error("unsupported mode {mode:?} for {path:?}")]
    BadMode {
        /// The path.
        path: String,
        /// The mode.
        mode: String,
    },
    /// Not exactly one 64-hex-digit hash.
    #[error("entry {0:?} needs exactly one of sha256 and hmac_sha256, 64 lowercase hex digits")]
    BadHash(String),
}

fn is_hex(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether a repository-relative path is acceptable: non-empty, relative, `/`-separated,
/// no empty, `.` or `..` segment, no NUL or backslash.
pub fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

impl Manifest {
    /// Parses and validates a manifest.
    ///
    /// # Errors
    /// [`ManifestError`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)?;
        if let Some(v) = value.get("version").and_then(serde_json::Value::as_u64)
            && v != u64::from(MANIFEST_VERSION)
        {
            return Err(ManifestError::UnsupportedVersion(
                u32::try_from(v).unwrap_or(u32::MAX),
            ));
        }
        let m: Manifest = serde_json::from_value(value)?;
        m.validate()?;
        Ok(m)
    }

    /// Checks the rules of the format.
    ///
    /// # Errors
    /// [`ManifestError`].
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.version != MANIFEST_VERSION {
            return Err(ManifestError::UnsupportedVersion(self.version));
        }
        if !is_hex(&self.source.rev, &[40, 64]) {
            return Err(ManifestError::BadRev(self.source.rev.clone()));
        }
        let mut previous: Option<&str> = None;
        for e in &self.entries {
            if !valid_path(&e.path) {
                return Err(ManifestError::BadPath(e.path.clone()));
            }
            if previous.is_some_and(|p| p.as_bytes() >= e.path.as_bytes()) {
                return Err(ManifestError::Unsorted(e.path.clone()));
            }
            previous = Some(&e.path);
            if ![MODE_FILE, MODE_EXECUTABLE, MODE_SYMLINK].contains(&e.mode.as_str()) {
                return Err(ManifestError::BadMode {
                    path: e.path.clone(),
                    mode: e.mode.clone(),
                });
            }
            let ok = match (&e.sha256, &e.hmac_sha256) {
                (Some(h), None) | (None, Some(h)) => is_hex(h, &[64]),
                _ => false,
            };
            if !ok {
                return Err(ManifestError::BadHash(e.path.clone()));
            }
        }
        Ok(())
    }

    /// The manifest as pretty-printed JSON (fields in the documented order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
