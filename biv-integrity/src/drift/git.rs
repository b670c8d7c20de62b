//! Generating a manifest from a commit by running the `git` binary.

use std::path::Path;
use std::process::{Command, Stdio};

use super::manifest::{
    ContentHasher, MANIFEST_VERSION, MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Manifest,
    ManifestEntry, ManifestSource, PathPatterns, SecretKey, valid_path,
};

/// How a manifest is generated: which paths are secrets, and the key of their keyed hashes.
#[derive(Debug, Clone, Default)]
pub struct ManifestOptions {
    secrets: PathPatterns,
    key: Option<SecretKey>,
    git: Option<std::path::PathBuf>,
}

impl ManifestOptions {
    /// No secret patterns, no key, `git` from `PATH`.
    pub fn new() -> Self {
        ManifestOptions::default()
    }

    /// The paths whose content is stored as HMAC-SHA256 instead of SHA-256.
    pub fn with_secrets(mut self, secrets: PathPatterns) -> Self {
        self.secrets = secrets;
        self
    }

    /// The key of the keyed hashes; generation fails when a secret path exists without one.
    pub fn with_key(mut self, key: SecretKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The `git` program to run (default: `git` from `PATH`).
    pub fn with_git(mut self, git: impl Into<std::path::PathBuf>) -> Self {
        self.git = Some(git.into());
        self
    }
}

/// Why a manifest could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitManifestError {
    /// `git` could not be started.
    #[error("cannot run git: {0}")]
    Spawn(#[from] std::io::Error),
    /// The directory is not a git repository.
    #[error("{repo} is not a git repository: {stderr}")]
    NotARepository {
        /// The directory.
        repo: String,
        /// What git said.
        stderr: String,
    },
    /// The revision does not name a commit.
    #[error("{rev:?} does not name a commit: {stderr}")]
    UnknownRevision {
        /// The revision.
        rev: String,
        /// What git said.
        stderr: String,
    },
    /// Another git failure.
    #[error("git {command} failed: {stderr}")]
    Git {
        /// The subcommand.
        command: String,
        /// What git said.
        stderr: String,
    },
    /// Output of git that could not be understood.
    #[error("unexpected output of git {0}")]
    Output(String),
    /// A path that is not UTF-8, absolute, or contains `..`.
    #[error("refused path in the tree: {0:?}")]
    BadPath(String),
    /// A submodule (mode 160000): its content is not in this repository.
    #[error("submodule {0:?} is not supported: drift of a submodule's files cannot be checked")]
    Submodule(String),
    /// A mode other than a file, executable or symlink.
    #[error("unsupported mode {mode} for {path:?}")]
    UnsupportedMode {
        /// The path.
        path: String,
        /// The mode.
        mode: String,
    },
    /// A secret path but no secret key: it will never be stored as a plain hash.
    #[error("{0:?} is a secret but no secret key was given")]
    SecretWithoutKey(String),
}

fn git(opts: &ManifestOptions, repo: &Path) -> Command {
    let mut c = Command::new(opts.git.as_deref().unwrap_or(Path::new("git")));
    c.arg("-C").arg(repo);
    c.stdin(Stdio::null());
    c
}

fn run(mut cmd: Command) -> Result<Result<Vec<u8>, String>, GitManifestError> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(Ok(out.stdout))
    } else {
        Ok(Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
    }
}

/// Generates the manifest of commit `rev` of the repository at `repo`.
///
/// Runs `git rev-parse`, `git ls-tree -r -z --full-tree` and `git cat-file blob` for each file;
/// nothing is written.
///
/// ```no_run
/// use biv_integrity::drift::{ManifestOptions, PathPatterns, SecretKey, manifest_from_git};
/// let opts = ManifestOptions::new()
///     .with_secrets(PathPatterns::default_secrets())
///     .with_key(SecretKey::new(vec![1u8; 32])?);
/// let manifest = manifest_from_git(std::path::Path::new("/srv/config"), "main", &opts)?;
/// println!("{}", manifest.to_json());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`GitManifestError`].
pub fn manifest_from_git(
    repo: &Path,
    rev: &str,
    opts: &ManifestOptions,
) -> Result<Manifest, GitManifestError> {
    let repo_name = repo.display().to_string();
    let mut c = git(opts, repo);
    c.args(["rev-parse", "--git-dir"]);
    if let Err(stderr) = run(c)? {
        return Err(GitManifestError::NotARepository {
            repo: repo_name,
            stderr,
        });
    }
    if rev.is_empty() || rev.starts_with('-') || rev.contains('\0') {
        return Err(GitManifestError::UnknownRevision {
            rev: rev.to_owned(),
            stderr: "not a revision".to_owned(),
        });
    }
    let mut c = git(opts, repo);
    c.args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{rev}^{{commit}}"));
    let commit = match run(c)? {
        Ok(out) => String::from_utf8_lossy(&out).trim().to_owned(),
        Err(stderr) => {
            return Err(GitManifestError::UnknownRevision {
                rev: rev.to_owned(),
                stderr,
            });
        }
    };
    let mut c = git(opts, repo);
    c.args(["ls-tree", "-r", "-z", "--full-tree"]).arg(&commit);
    let listing = run(c)?.map_err(|stderr| GitManifestError::Git {
        command: "ls-tree".to_owned(),
        stderr,
    })?;
    let mut entries = Vec::new();
    for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let tab = record
            .iter()
            .position(|b| *b == b'\t')
            .ok_or_else(|| GitManifestError::Output("ls-tree".to_owned()))?;
        let (meta, path) = (&record[..tab], &record[tab + 1..]);
        let path = std::str::from_utf8(path)
            .map_err(|_| GitManifestError::BadPath(String::from_utf8_lossy(path).into_owned()))?;
        let meta = std::str::from_utf8(meta)
            .map_err(|_| GitManifestError::Output("ls-tree".to_owned()))?;
        let mut parts = meta.split(' ');
        let (Some(mode), Some(_kind), Some(object)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(GitManifestError::Output("ls-tree".to_owned()));
        };
        if !valid_path(path) {
            return Err(GitManifestError::BadPath(path.to_owned()));
        }
        match mode {
            "160000" => return Err(GitManifestError::Submodule(path.to_owned())),
            MODE_FILE | MODE_EXECUTABLE | MODE_SYMLINK => {}
            other => {
                return Err(GitManifestError::UnsupportedMode {
                    path: path.to_owned(),
                    mode: other.to_owned(),
                });
            }
        }
        let secret = opts.secrets.matches(path);
        let mut hasher = if secret {
            match &opts.key {
                Some(k) => k.hasher(),
                None => return Err(GitManifestError::SecretWithoutKey(path.to_owned())),
            }
        } else {
            ContentHasher::plain()
        };
        let mut c = git(opts, repo);
        c.args(["cat-file", "blob", object]);
        let content = run(c)?.map_err(|stderr| GitManifestError::Git {
            command: "cat-file".to_owned(),
            stderr,
        })?;
        hasher.update(&content);
        let digest = hasher
            .finish_hex()
            .ok_or_else(|| GitManifestError::SecretWithoutKey(path.to_owned()))?;
        let (sha256, hmac_sha256) = if secret {
            (None, Some(digest))
        } else {
            (Some(digest), None)
        };
        entries.push(ManifestEntry {
            path: path.to_owned(),
            mode: mode.to_owned(),
            sha256,
            hmac_sha256,
        });
    }
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(Manifest {
        version: MANIFEST_VERSION,
        source: ManifestSource::new(repo_name, commit),
        entries,
    })
}
