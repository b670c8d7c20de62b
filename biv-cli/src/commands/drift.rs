//! `biv drift` (integrity): detect drift between deployed configuration and version control.
//!
//! - `biv drift manifest --repo DIR --rev REV [--secret-key-file F] [--secret GLOB]…` prints
//!   the manifest of a commit as JSON. Secret files (default patterns `*.key`, `*.pem`, `*.p12`,
//!   `*.pfx`, `.env`, `*.env`, `secrets/`; `--secret` replaces them) are stored as
//!   HMAC-SHA256 under the key file's bytes; without a key file a secret path is an error.
//! - `biv drift check --manifest F --dir DIR [--secret-key-file F] [--ignore GLOB]…
//!   [--audit-dir D] [--alertmanager URL]…` compares the directory with the manifest, records
//!   the check in the audit log when `--audit-dir` is given, sends the `BivConfigDrift`
//!   alert (firing on drift, resolved when clean) when `--alertmanager` is given, and prints
//!   the report as JSON. Exit 0 clean, 1 drift or an alert that could not be delivered,
//!   2 bad input.
//!
//! Format: `docs/formats/drift-manifest.md`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use biv_core::{Actor, Clock, EventId, Notifier, SourceSystem, SystemClock};
use biv_integrity::drift::{
    CheckOptions, DriftRecord, DriftReport, Manifest, ManifestOptions, PathPatterns, SecretKey,
    check_dir, drift_alert, drift_event, drift_resolved, manifest_from_git,
};
use clap::{Args, Subcommand};

use crate::exit::Exit;

/// Arguments of `biv drift`.
#[derive(Debug, Args)]
#[command(
    about = "Detect drift between deployed configuration and version control",
    long_about = "Compare the configuration that is deployed with the version under version \
                  control and report every difference, so that unreviewed changes are caught.",
    after_help = "Exit status of check: 0 clean, 1 drift or an undelivered alert, 2 bad \
                  arguments or input. \
                  Format: docs/formats/drift-manifest.md."
)]
pub(crate) struct DriftArgs {
    #[command(subcommand)]
    command: DriftCommand,
}

#[derive(Debug, Subcommand)]
enum DriftCommand {
    /// Print the manifest of a commit of the configuration repository as JSON
    Manifest(ManifestArgs),
    /// Compare a directory with a manifest and print the report as JSON
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct ManifestArgs {
    /// The configuration repository
    #[arg(long, value_name = "DIR")]
    repo: PathBuf,
    /// The commit (any revision git understands)
    #[arg(long, value_name = "REV")]
    rev: String,
    /// The key of the keyed hashes of secret files (the file's bytes, at least 16)
    #[arg(long, value_name = "FILE")]
    secret_key_file: Option<PathBuf>,
    /// A secret path pattern (repeatable; replaces the default patterns)
    #[arg(long = "secret", value_name = "GLOB")]
    secrets: Vec<String>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The manifest printed by `biv drift manifest`
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// The live configuration directory
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The key the manifest's secret entries were made with
    #[arg(long, value_name = "FILE")]
    secret_key_file: Option<PathBuf>,
    /// A path pattern to leave out on both sides (repeatable); `.git/` is always left out,
    /// since git never tracks it
    #[arg(long = "ignore", value_name = "GLOB")]
    ignore: Vec<String>,
    /// Append the check to this biv audit log (key at `<dir>/log.key`)
    #[arg(long, value_name = "DIR")]
    audit_dir: Option<PathBuf>,
    /// Send the drift alert to this Alertmanager (repeatable for an HA cluster): firing on
    /// drift, resolved when clean. Run the check more often than Alertmanager's
    /// resolve_timeout (5 minutes by default) so an ongoing drift stays firing
    #[arg(long = "alertmanager", value_name = "URL")]
    alertmanagers: Vec<String>,
}

/// Runs `biv drift`.
pub(crate) fn run(args: &DriftArgs) -> Exit {
    let (name, result) = match &args.command {
        DriftCommand::Manifest(a) => ("manifest", manifest(a)),
        DriftCommand::Check(a) => ("check", check(a)),
    };
    match result {
        Ok(exit) => exit,
        Err(message) => {
            eprintln!("biv drift {name}: {message}");
            Exit::Usage
        }
    }
}

fn key(path: &Path) -> Result<SecretKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    SecretKey::new(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn print(text: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

fn manifest(args: &ManifestArgs) -> Result<Exit, String> {
    let secrets = if args.secrets.is_empty() {
        PathPatterns::default_secrets()
    } else {
        PathPatterns::new(&args.secrets)
    };
    let mut opts = ManifestOptions::new().with_secrets(secrets);
    if let Some(path) = &args.secret_key_file {
        opts = opts.with_key(key(path)?);
    }
    let manifest = manifest_from_git(&args.repo, &args.rev, &opts).map_err(|e| e.to_string())?;
    print(&manifest.to_json())?;
    Ok(Exit::Ok)
}

fn check(args: &CheckArgs) -> Result<Exit, String> {
    let bytes = std::fs::read(&args.manifest)
        .map_err(|e| format!("cannot read {}: {e}", args.manifest.display()))?;
    let manifest =
        Manifest::from_json(&bytes).map_err(|e| format!("{}: {e}", args.manifest.display()))?;
    // A live checkout's own `.git/` can never be in a manifest made from git.
    let mut ignore = vec![".git/".to_owned()];
    ignore.extend(args.ignore.iter().cloned());
    let mut opts = CheckOptions::new().with_ignore(PathPatterns::new(&ignore));
    if let Some(path) = &args.secret_key_file {
        opts = opts.with_key(key(path)?);
    }
    let report = check_dir(&manifest, &args.dir, &opts).map_err(|e| e.to_string())?;
    if let Some(dir) = &args.audit_dir {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| format!("no randomness for the event id: {e}"))?;
        // UUID version 4, variant 1.
        id[6] = (id[6] & 0x0f) | 0x40;
        id[8] = (id[8] & 0x3f) | 0x80;
        let record = DriftRecord::new(
            EventId::from_bytes(id),
            SystemClock::new().now(),
            Actor::new("biv-drift"),
            SourceSystem::new("biv-drift"),
        );
        let event = drift_event(&record, &report).map_err(|e| e.to_string())?;
        let log = super::audit::keyfile::open_log(dir)?;
        log.append_blocking(&event)
            .map_err(|e| format!("the drift check was not recorded: {e}"))?;
        drop(log);
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    print(&text)?;
    let alerted = if args.alertmanagers.is_empty() {
        true
    } else {
        send_drift_alert(&args.alertmanagers, &report)?
    };
    Ok(if report.clean && alerted {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

/// Sends the drift alert for `report` (resolved when it is clean); false, with the reason on
/// standard error, when no Alertmanager accepted it.
fn send_drift_alert(urls: &[String], report: &DriftReport) -> Result<bool, String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let now = clock.now();
    let notifier = super::alert::alertmanager_notifier(urls, 5000, clock)?;
    let alert = match drift_alert(report, now).map_err(|e| e.to_string())? {
        Some(firing) => firing,
        None => drift_resolved(report, now).map_err(|e| e.to_string())?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    match runtime.block_on(notifier.notify(&alert)) {
        Ok(()) => Ok(true),
        Err(e) => {
            eprintln!("biv drift check: the drift alert was not delivered: {e}");
            Ok(false)
        }
    }
}
