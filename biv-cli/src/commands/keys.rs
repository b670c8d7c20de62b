//! `biv keys` (confidentiality): create, rotate, rewrap and crypto-shred the keys behind
//! encrypted personal data, and report on them.
//!
//! The key directory is the one `biv crypt` uses: a development root key (`root.json`, a
//! [`LocalKeyring`]) and the wrapped data keys (`data-keys/`, a [`FileKeyStore`]). Every
//! command prints one JSON object on standard output.
//!
//! - `biv keys init --keys DIR` creates the root key (version 1) and the data-key store.
//! - `biv keys rotate --keys DIR` makes a new root key version current; `rewrap` then moves
//!   the data keys under it. With `--context tenant=…,subject=…` it rotates that subject's data
//!   key instead (new writes use the new version; old ciphertexts still decrypt).
//! - `biv keys rewrap --keys DIR` rewraps every data key under the current root key version,
//!   each verified before it replaces the old wrapping; `--retire-unused` then removes root key
//!   versions no data key is wrapped under any more (irreversible: mind backups, see
//!   `docs/key-management.md` on shred epochs).
//! - `biv keys shred --keys DIR --context tenant=…,subject=…` destroys every data key of the
//!   subject. Blind-index values and the NEN 7513 record are the host's part (`Shredder` in the
//!   library does all three).
//! - `biv keys status --keys DIR [--context tenant=…,subject=…]` counts the data keys by state
//!   and by root key version, or lists one subject's key versions.
//!
//! Outside development (`BIV_ENV=production`) the local keyring is refused unless
//! `BIV_ALLOW_LOCAL_KEYRING_IN_PRODUCTION=1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, FileKeyStore, KeyState, KeyStore, KeyringPolicy, LocalKeyring,
    RewrapError, RotateError,
};
use biv_core::{Context, KeyProvider, SystemClock};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::crypt::KEK_ID;
use crate::exit::Exit;

/// Arguments of `biv keys`.
#[derive(Debug, Args)]
#[command(
    about = "Create, rotate and crypto-shred the keys behind encrypted personal data",
    long_about = "Manage a key directory (a development root key and the wrapped data keys): \
                  create it, rotate the root key-encryption key and rewrap the data keys under \
                  the new version (verified, without touching any data), rotate one subject's \
                  data key, crypto-shred a subject, and report on the keys.",
    after_help = "Exit status: 0 done; 1 a rewrap failed its verification (the old wrapping is \
                  kept) or the subject was already shredded; 2 bad arguments, keys or \
                  input/output. See docs/key-management.md."
)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key directory: a development root key (version 1) and an empty data-key store
    Init(DirArgs),
    /// Make a new root key version current (or, with --context, a new data key for a subject)
    Rotate(SubjectArgs),
    /// Rewrap every data key under the current root key version, verified, data untouched
    Rewrap(RewrapArgs),
    /// Crypto-shred a subject: destroy all its data keys
    Shred(ShredArgs),
    /// Count data keys by state and root key version, or list one subject's key versions
    Status(SubjectArgs),
}

#[derive(Debug, Args)]
struct DirArgs {
    /// Key directory: root.json (development root key) and data-keys/ (wrapped data keys)
    #[arg(long, value_name = "DIR")]
    keys: PathBuf,
}

#[derive(Debug, Args)]
struct SubjectArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// A subject: tenant=…,subject=…
    #[arg(long, value_name = "NAME=VALUE,...")]
    context: Option<String>,
}

#[derive(Debug, Args)]
struct ShredArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// The subject to shred: tenant=…,subject=…
    #[arg(long, value_name = "NAME=VALUE,...")]
    context: String,
}

#[derive(Debug, Args)]
struct RewrapArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// Afterwards, remove root key versions that no data key is wrapped under (irreversible)
    #[arg(long)]
    retire_unused: bool,
}

/// A failure and the exit status it maps to.
struct Failure(Exit, String);

fn usage(message: impl Into<String>) -> Failure {
    Failure(Exit::Usage, message.into())
}

/// Runs `biv keys`.
pub(crate) fn run(args: &KeysArgs) -> Exit {
    let (name, result) = match &args.command {
        KeysCommand::Init(a) => ("init", init(a)),
        KeysCommand::Rotate(a) => ("rotate", rotate(a)),
        KeysCommand::Rewrap(a) => ("rewrap", rewrap(a)),
        KeysCommand::Shred(a) => ("shred", shred(a)),
        KeysCommand::Status(a) => ("status", status(a)),
    };
    match result {
        Ok(value) => {
            println!("{value}");
            Exit::Ok
        }
        Err(Failure(exit, message)) => {
            eprintln!("biv keys {name}: {message}");
            exit
        }
    }
}

/// The tenant and subject named by `--context`.
fn subject_of(text: &str) -> Result<(Vec<u8>, Vec<u8>), Failure> {
    let mut ctx = Context::new();
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("--context: `{pair}` is not NAME=VALUE")))?;
        ctx = ctx
            .with(name.trim(), value)
            .map_err(|e| usage(format!("--context: {e}")))?;
    }
    let get = |name: &str| {
        ctx.get(name)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| usage(format!("--context needs {name}=…")))
    };
    Ok((get("tenant")?, get("subject")?))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| usage(format!("cannot start the runtime: {e}")))
}

struct Opened {
    ring: Arc<LocalKeyring>,
    store: Arc<FileKeyStore>,
    enc: EnvelopeEncryptor,
}

fn open(dir: &Path) -> Result<Opened, Failure> {
    let root = dir.join("root.json");
    if !root.exists() {
        return Err(usage(format!(
            "{} has no root key; create one with `biv keys init --keys {}`",
            dir.display(),
            dir.display()
        )));
    }
    let ring = Arc::new(
        LocalKeyring::open(&root, &KeyringPolicy::from_env()).map_err(|e| usage(e.to_string()))?,
    );
    let store = Arc::new(FileKeyStore::open(dir.join("data-keys")).map_err(|e| {
        usage(format!(
            "key store {}: {e}",
            dir.join("data-keys").display()
        ))
    })?);
    let enc = EnvelopeEncryptor::new(
        ring.clone(),
        store.clone(),
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    );
    Ok(Opened { ring, store, enc })
}

fn hex_id(id: u64) -> String {
    format!("{id:016x}")
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn init(args: &DirArgs) -> Result<Value, Failure> {
    let dir = &args.keys;
    std::fs::create_dir_all(dir).map_err(|e| usage(format!("creating {}: {e}", dir.display())))?;
    let ring = LocalKeyring::create(dir.join("root.json"), KEK_ID, &KeyringPolicy::from_env())
        .map_err(|e| usage(e.to_string()))?;
    FileKeyStore::open(dir.join("data-keys")).map_err(|e| usage(e.to_string()))?;
    Ok(json!({
        "kek_id": ring.kek_id(),
        "version": ring.current_version(),
        "root_key": ring.path().display().to_string(),
        "data_keys": dir.join("data-keys").display().to_string(),
    }))
}

fn rotate(args: &SubjectArgs) -> Result<Value, Failure> {
    let o = open(&args.dir.keys)?;
    let Some(context) = &args.context else {
        let previous = o.ring.current_version();
        let version = o.ring.rotate().map_err(|e| usage(e.to_string()))?;
        eprintln!(
            "biv keys rotate: root key version {version} is current; run `biv keys rewrap` to move \
             the data keys under it"
        );
        return Ok(json!({
            "kek_id": o.ring.kek_id(),
            "version": version,
            "previous_version": previous,
        }));
    };
    let (tenant, subject) = subject_of(context)?;
    let r = runtime()?
        .block_on(o.enc.rotate_subject(&tenant, &subject))
        .map_err(|e| match e {
            RotateError::KeyDestroyed => Failure(Exit::CheckFailed, e.to_string()),
            other => usage(other.to_string()),
        })?;
    Ok(json!({
        "tenant": lossy(&tenant),
        "subject": lossy(&subject),
        "key_id": hex_id(r.key_id),
        "version": r.version,
        "previous_key_id": hex_id(r.previous_key_id),
        "previous_version": r.previous_version,
    }))
}

fn rewrap(args: &RewrapArgs) -> Result<Value, Failure> {
    let o = open(&args.dir.keys)?;
    let rt = runtime()?;
    let r = rt.block_on(o.enc.rewrap_all()).map_err(|e| match e {
        RewrapError::VerifyFailed { .. } => Failure(Exit::CheckFailed, e.to_string()),
        other => usage(other.to_string()),
    })?;
    if r.failed > 0 {
        let first: Vec<String> = r.failed_keys.iter().map(|id| hex_id(*id)).collect();
        return Err(Failure(
            Exit::CheckFailed,
            format!(
                "{} keys could not be rewrapped (first: {}); their old wrapping is untouched, no \
                 version was retired; {} others were rewrapped",
                r.failed,
                first.join(", "),
                r.rewrapped
            ),
        ));
    }
    let mut retired = Vec::new();
    if args.retire_unused {
        let status = rt
            .block_on(o.enc.key_status())
            .map_err(|e| usage(e.to_string()))?;
        let kek_id = o.ring.kek_id().to_owned();
        for version in o.ring.versions() {
            let used = status.by_kek.contains_key(&(kek_id.clone(), version));
            if !used && o.ring.retire(version).map_err(|e| usage(e.to_string()))? {
                retired.push(version);
            }
        }
    }
    Ok(json!({
        "kek_id": o.ring.kek_id(),
        "version": o.ring.current_version(),
        "scanned": r.scanned,
        "rewrapped": r.rewrapped,
        "already_current": r.already_current,
        "destroyed": r.destroyed,
        "foreign": r.foreign,
        "conflicts": r.conflicts,
        "retired_versions": retired,
    }))
}

fn shred(args: &ShredArgs) -> Result<Value, Failure> {
    let (tenant, subject) = subject_of(&args.context)?;
    let o = open(&args.dir.keys)?;
    let receipt = runtime()?
        .block_on(o.enc.shred(&tenant, &subject))
        .map_err(|e| usage(e.to_string()))?;
    eprintln!(
        "biv keys shred: data keys destroyed; delete the subject's blind-index values and record \
         the erasure in the audit log (the library's Shredder does both)"
    );
    Ok(json!({
        "tenant": lossy(&tenant),
        "subject": lossy(&subject),
        "destroyed_key_ids": receipt.key_ids.iter().copied().map(hex_id).collect::<Vec<_>>(),
        "at": receipt.at.to_rfc3339_millis(),
    }))
}

fn state_name(state: &KeyState) -> &'static str {
    match state {
        KeyState::Active(_) => "active",
        KeyState::Retired(_) => "retired",
        _ => "destroyed",
    }
}

fn status(args: &SubjectArgs) -> Result<Value, Failure> {
    let o = open(&args.dir.keys)?;
    let rt = runtime()?;
    if let Some(context) = &args.context {
        let (tenant, subject) = subject_of(context)?;
        let keys = rt
            .block_on(o.store.subject_keys(&tenant, &subject))
            .map_err(|e| usage(e.to_string()))?;
        let versions: Vec<Value> = keys
            .iter()
            .filter(|k| k.version > 0)
            .map(|k| {
                json!({
                    "version": k.version,
                    "key_id": hex_id(k.key_id),
                    "state": state_name(&k.state),
                    "kek_version": k.state.wrapped().map(|w| w.kek_version()),
                })
            })
            .collect();
        let shredded =
            !keys.is_empty() && keys.iter().all(|k| matches!(k.state, KeyState::Destroyed));
        return Ok(json!({
            "tenant": lossy(&tenant),
            "subject": lossy(&subject),
            "shredded": shredded,
            "versions": versions,
        }));
    }
    let s = rt
        .block_on(o.enc.key_status())
        .map_err(|e| usage(e.to_string()))?;
    let by_kek: Vec<Value> = s
        .by_kek
        .iter()
        .map(|((kek_id, version), n)| json!({"kek_id": kek_id, "version": version, "keys": n}))
        .collect();
    Ok(json!({
        "kek_id": o.ring.kek_id(),
        "current_version": o.ring.current_version(),
        "kek_versions": o.ring.versions(),
        "data_keys": {"active": s.active, "retired": s.retired, "destroyed": s.destroyed},
        "by_kek": by_kek,
    }))
}
