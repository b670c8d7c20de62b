//! `biv crypt` (confidentiality): encrypt and decrypt fields of special personal data with
//! per-subject keys, and read a ciphertext's header.
//!
//! - `biv crypt encrypt --keys DIR --context tenant=…,table=…,column=…,subject=…` reads the
//!   plaintext from standard input and prints the ciphertext in its text form (`bv1:…`, one
//!   line), or the binary form with `--binary`.
//! - `biv crypt decrypt --keys DIR --context …` reads a ciphertext (text or binary form) from
//!   standard input and writes the plaintext to standard output.
//! - `biv crypt inspect` reads a ciphertext and prints its header as JSON
//!   (`{"version":1,"suite":"AES-256-GCM","key_id":"…","plaintext_len":9}`); it needs no key.
//!
//! The key directory holds a development root key (`root.json`, a
//! [`LocalKeyring`]) and the wrapped data keys (`data-keys/`, a [`FileKeyStore`]). `encrypt`
//! creates the root key when the directory has none. Outside development (`BIV_ENV=production`)
//! the local keyring is refused unless `BIV_ALLOW_LOCAL_KEYRING_IN_PRODUCTION=1`. The format is
//! specified in `docs/formats/ciphertext.md`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use biv_confidentiality::envelope::{VERSION_1, from_text, inspect, to_text};
use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, FileKeyStore, KeyringPolicy, LocalKeyring,
};
use biv_core::{Context, DecryptError, Encryptor, SystemClock};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::exit::Exit;

/// The KEK id of keyrings made by `biv crypt`.
pub(crate) const KEK_ID: &str = "local:biv-cli";

/// Arguments of `biv crypt`.
#[derive(Debug, Args)]
#[command(
    about = "Encrypt and decrypt fields of special personal data with per-subject keys",
    long_about = "Encrypt and decrypt fields of special personal data in biv's ciphertext format, \
                  under per-subject data keys and bound to their encryption context, for \
                  operators who move or repair records; and read a ciphertext's header.",
    after_help = "Exit status: 0 done; 1 the ciphertext does not decrypt (wrong key, wrong \
                  context, damaged) or its subject's key was destroyed; 2 bad arguments, keys or \
                  input/output. The format is specified in docs/formats/ciphertext.md."
)]
pub(crate) struct CryptArgs {
    #[command(subcommand)]
    command: CryptCommand,
}

#[derive(Debug, Subcommand)]
enum CryptCommand {
    /// Encrypt standard input; print the ciphertext (`bv1:` text form, or binary with --binary)
    Encrypt(EncryptArgs),
    /// Decrypt a ciphertext (text or binary form) from standard input; print the plaintext
    Decrypt(KeyArgs),
    /// Print a ciphertext's header (version, suite, key id, length) as JSON; needs no key
    Inspect,
    /// Print the blind-index value of the value on standard input (docs/formats/blind-index.md)
    Index(IndexArgs),
}

#[derive(Debug, Args)]
struct IndexArgs {
    /// File holding the root index key as 64 hex digits (never given on the command line)
    #[arg(long, value_name = "FILE")]
    root_key_file: PathBuf,
    /// The root key's version
    #[arg(long, default_value_t = 1)]
    version: u32,
    /// Where the index lives: tenant=…,table=…,column=…
    #[arg(long, value_name = "NAME=VALUE,...")]
    context: String,
    /// The index's name
    #[arg(long)]
    name: String,
    /// How the value is normalised: exact, trim, bsn, email_lower, digits, last4
    #[arg(long, default_value = "exact")]
    normalizer: String,
    /// Bits kept (1-256)
    #[arg(long, default_value_t = 32)]
    bits: u32,
}

#[derive(Debug, Args)]
struct KeyArgs {
    /// Key directory: root.json (development root key) and data-keys/ (wrapped data keys)
    #[arg(long, value_name = "DIR")]
    keys: PathBuf,
    /// The field's context, e.g. tenant=t1,table=patients,column=bsn,subject=p-7f3a
    #[arg(long, value_name = "NAME=VALUE,...")]
    context: String,
}

#[derive(Debug, Args)]
struct EncryptArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// Write the binary form instead of the text form
    #[arg(long)]
    binary: bool,
}

/// A failure and the exit status it maps to.
struct Failure(Exit, String);

fn usage(message: impl Into<String>) -> Failure {
    Failure(Exit::Usage, message.into())
}

/// Runs `biv crypt`.
pub(crate) fn run(args: &CryptArgs) -> Exit {
    let (name, result) = match &args.command {
        CryptCommand::Encrypt(a) => ("encrypt", encrypt(a)),
        CryptCommand::Decrypt(a) => ("decrypt", decrypt(a)),
        CryptCommand::Inspect => ("inspect", inspect_stdin()),
        CryptCommand::Index(a) => ("index", blind_index(a)),
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(Failure(exit, message)) => {
            eprintln!("biv crypt {name}: {message}");
            exit
        }
    }
}

fn parse_context(text: &str) -> Result<Context, Failure> {
    let mut ctx = Context::new();
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("--context: `{pair}` is not NAME=VALUE")))?;
        ctx = ctx
            .with(name.trim(), value)
            .map_err(|e| usage(format!("--context: {e}")))?;
    }
    Ok(ctx)
}

fn read_stdin() -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(Vec::new());
    io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(|e| usage(format!("reading standard input: {e}")))?;
    Ok(buf)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| usage(format!("writing standard output: {e}")))
}

/// A ciphertext from input: the binary form as is, or the text form with surrounding
/// whitespace (a trailing newline) removed.
fn ciphertext_from(input: &[u8]) -> Result<Vec<u8>, Failure> {
    if input.first() == Some(&VERSION_1) {
        return Ok(input.to_vec());
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| Failure(Exit::CheckFailed, "input is not a biv ciphertext".into()))?;
    from_text(text.trim())
        .map_err(|_| Failure(Exit::CheckFailed, "input is not a biv ciphertext".into()))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| usage(format!("cannot start the runtime: {e}")))
}

fn encryptor(dir: &Path, create: bool) -> Result<EnvelopeEncryptor, Failure> {
    let policy = KeyringPolicy::from_env();
    let root = dir.join("root.json");
    let ring = if root.exists() || !create {
        LocalKeyring::open(&root, &policy)
    } else {
        std::fs::create_dir_all(dir)
            .map_err(|e| usage(format!("creating {}: {e}", dir.display())))?;
        let ring = LocalKeyring::create(&root, KEK_ID, &policy);
        if ring.is_ok() {
            eprintln!(
                "biv crypt: created a development root key in {}",
                root.display()
            );
        }
        ring
    }
    .map_err(|e| usage(e.to_string()))?;
    let store = FileKeyStore::open(dir.join("data-keys")).map_err(|e| {
        usage(format!(
            "key store {}: {e}",
            dir.join("data-keys").display()
        ))
    })?;
    Ok(EnvelopeEncryptor::new(
        Arc::new(ring),
        Arc::new(store),
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    ))
}

fn encrypt(args: &EncryptArgs) -> Result<(), Failure> {
    let ctx = parse_context(&args.keys.context)?;
    let plaintext = read_stdin()?;
    let enc = encryptor(&args.keys.keys, true)?;
    let ct = runtime()?
        .block_on(enc.encrypt(&plaintext, &ctx))
        .map_err(|e| usage(e.to_string()))?;
    if args.binary {
        write_stdout(&ct)
    } else {
        write_stdout(format!("{}\n", to_text(&ct)).as_bytes())
    }
}

fn decrypt(args: &KeyArgs) -> Result<(), Failure> {
    let ctx = parse_context(&args.context)?;
    let ct = ciphertext_from(&read_stdin()?)?;
    let enc = encryptor(&args.keys, false)?;
    match runtime()?.block_on(enc.decrypt(&ct, &ctx)) {
        Ok(plain) => write_stdout(plain.expose_secret()),
        Err(DecryptError::KeyDestroyed) => Err(Failure(
            Exit::CheckFailed,
            "the data subject's key was destroyed (crypto-shredded)".into(),
        )),
        Err(DecryptError::KeyUnavailable(e)) => Err(usage(format!("key unavailable: {e}"))),
        Err(e) => Err(Failure(Exit::CheckFailed, e.to_string())),
    }
}

fn inspect_stdin() -> Result<(), Failure> {
    let ct = ciphertext_from(&read_stdin()?)?;
    let info = inspect(&ct)
        .map_err(|_| Failure(Exit::CheckFailed, "input is not a biv ciphertext".into()))?;
    let json = serde_json::json!({
        "version": info.version,
        "suite": "AES-256-GCM",
        "suite_id": info.suite,
        "key_id": format!("{:016x}", info.key_id),
        "plaintext_len": info.plaintext_len,
    });
    write_stdout(format!("{json}\n").as_bytes())
}

fn blind_index(args: &IndexArgs) -> Result<(), Failure> {
    use biv_confidentiality::blind_index::{BlindIndex, IndexRootKey, IndexSpec, Normalizer};
    let ctx = parse_context(&args.context)?;
    let part = |name: &str| {
        ctx.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .ok_or_else(|| usage(format!("--context needs {name}=…")))
    };
    let normalizer: Normalizer =
        serde_json::from_value(serde_json::Value::String(args.normalizer.clone()))
            .map_err(|_| usage(format!("--normalizer: unknown `{}`", args.normalizer)))?;
    let spec = IndexSpec::new(
        &part("tenant")?,
        &part("table")?,
        &part("column")?,
        &args.name,
        normalizer,
        args.bits,
    )
    .map_err(|e| usage(e.to_string()))?;
    let hex = Zeroizing::new(
        std::fs::read_to_string(&args.root_key_file)
            .map_err(|e| usage(format!("{}: {e}", args.root_key_file.display())))?,
    );
    let hex = hex.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(usage("the root key file must hold 64 hex digits"));
    }
    let key: Vec<u8> = (0..64)
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    let root = IndexRootKey::new(args.version, biv_core::SecretBytes::new(key))
        .map_err(|e| usage(e.to_string()))?;
    let index = BlindIndex::new(&root, &spec).map_err(|e| usage(e.to_string()))?;
    let input = read_stdin()?;
    let value = std::str::from_utf8(&input).map_err(|_| usage("the value is not UTF-8"))?;
    let value = value.strip_suffix('\n').unwrap_or(value);
    let out = index
        .compute(value)
        .map_err(|e| Failure(Exit::CheckFailed, e.to_string()))?;
    write_stdout(format!("{out}\n").as_bytes())
}
