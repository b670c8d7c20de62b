//! `biv logs digest` and `biv logs sign-off`: the daily review of the logs and its sign-off.

use std::path::PathBuf;
use std::sync::Arc;

use biv_availability::review::{
    Digest, DigestConfig, DigestInput, ReviewWindow, SignOff, SignOffRecorder,
};
use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
use biv_core::{AuditSink, Clock, SourceSystem, SystemClock, Timestamp};
use clap::{Args, ValueEnum};

use super::{Failure, failed, print, usage};
use crate::exit::Exit;

/// The digest's output form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    /// Markdown, for a ticket or a wiki.
    Md,
    /// One self-contained HTML page.
    Html,
    /// The JSON form that `biv logs sign-off` reads.
    Json,
}

#[derive(Debug, Args)]
pub(super) struct DigestArgs {
    /// ECS JSON log files or directories of them (repeatable); the seven days before the
    /// window are read from the same files for the baseline
    #[arg(long = "logs", value_name = "PATH", required = true)]
    logs: Vec<PathBuf>,
    /// Audit events as JSON lines (a file or a directory; repeatable)
    #[arg(long = "audit", value_name = "PATH")]
    audit: Vec<PathBuf>,
    /// A biv audit log directory, read only after it verified in full
    #[arg(long, value_name = "DIR")]
    audit_dir: Option<PathBuf>,
    /// The audit log's verifier key (name+hex8+base64) obtained independently; without it
    /// the key stored in --audit-dir is used, with a warning
    #[arg(long, value_name = "VKEY", requires = "audit_dir")]
    vkey: Option<String>,
    /// The end of the 24-hour window (RFC 3339, e.g. 2026-11-26T06:00:00Z)
    #[arg(long, value_name = "TIME")]
    end: String,
    /// A Prometheus text scrape taken at the start of the window (drop counters)
    #[arg(long, value_name = "FILE", requires = "metrics_end")]
    metrics_start: Option<PathBuf>,
    /// A Prometheus text scrape taken at the end of the window (drop counters)
    #[arg(long, value_name = "FILE")]
    metrics_end: Option<PathBuf>,
    /// No working hours: do not flag access outside them
    #[arg(long)]
    no_working_hours: bool,
    /// The output form
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
}

#[derive(Debug, Args)]
pub(super) struct SignOffArgs {
    /// The digest, in the JSON form of `biv logs digest --format json`
    #[arg(long, value_name = "FILE")]
    digest: PathBuf,
    /// The SHA-256 the reviewer read in the digest they reviewed (64 hex digits)
    #[arg(long, value_name = "HEX")]
    sha256: String,
    /// The reviewer's user id
    #[arg(long, value_name = "USER")]
    reviewer: String,
    /// The reviewer's role code (e.g. security-officer, developer)
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// Remarks (kept out of the audit event in clear: only their hash is recorded)
    #[arg(long, value_name = "TEXT", default_value = "")]
    remarks: String,
    /// The biv audit log that records the sign-off (key at `<dir>/log.key`)
    #[arg(long, value_name = "DIR")]
    audit_dir: PathBuf,
}

fn time(text: &str, flag: &str) -> Result<Timestamp, Failure> {
    Timestamp::parse_rfc3339(text).map_err(|e| usage(format!("{flag}: {e}")))
}

pub(super) fn digest(args: &DigestArgs) -> Result<Exit, Failure> {
    let window = ReviewWindow::ending_at(time(&args.end, "--end")?)
        .map_err(|e| usage(format!("--end: {e}")))?;
    let mut config = DigestConfig::default();
    if args.no_working_hours {
        config.working_hours = None;
    }
    let redactor = PiiRedactor::new(&PiiConfig::default()).map_err(|e| failed(e.to_string()))?;
    let mut input =
        DigestInput::from_paths(args.logs.iter().cloned()).with_redactor(Arc::new(redactor));
    for path in &args.audit {
        input = input.with_audit_path(path.clone());
    }
    if let Some(end) = &args.metrics_end {
        input = input.with_counter_paths(args.metrics_start.clone(), end.clone());
    }
    // A biv audit log's events join those of --audit; the log is verified in full first.
    let events = match &args.audit_dir {
        Some(dir) => {
            crate::commands::audit::read::verified_events(dir, args.vkey.as_deref())
                .map_err(usage)?
                .0
        }
        None => Vec::new(),
    };
    let digest = Digest::build_with_events(&input, window, &config, events.iter().map(|(_, e)| e))
        .map_err(|e| usage(e.to_string()))?;
    let text = match args.format {
        Format::Md => digest.to_markdown(),
        Format::Html => digest.to_html(),
        Format::Json => digest.to_json(),
    }
    .map_err(|e| failed(e.to_string()))?;
    print(text.trim_end())?;
    let hash = digest.sha256_hex().map_err(|e| failed(e.to_string()))?;
    eprintln!("biv logs digest: sha256 {hash}");
    Ok(Exit::Ok)
}

pub(super) fn sign_off(args: &SignOffArgs) -> Result<Exit, Failure> {
    let text = std::fs::read_to_string(&args.digest)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.digest.display())))?;
    let digest =
        Digest::from_json(&text).map_err(|e| usage(format!("{}: {e}", args.digest.display())))?;
    // The time is the clock's, never the caller's: a sign-off cannot be backdated.
    let at = SystemClock::new().now();
    let mut sign_off = SignOff::new(&args.reviewer, at, &args.sha256).with_remarks(&args.remarks);
    if let Some(role) = &args.role {
        sign_off = sign_off.with_role(role);
    }
    let redactor = PiiRedactor::new(&PiiConfig::default()).map_err(|e| failed(e.to_string()))?;
    let log = crate::commands::audit::keyfile::open_log(&args.audit_dir).map_err(usage)?;
    let sink: Arc<dyn AuditSink> = Arc::new(log);
    let recorder =
        SignOffRecorder::new(sink, SourceSystem::new("biv-logs")).with_redactor(Arc::new(redactor));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the runtime: {e}")))?;
    let record = runtime
        .block_on(digest.sign_off(&sign_off, &recorder))
        .map_err(|e| failed(format!("the sign-off was not recorded: {e}")))?;
    print(
        &serde_json::json!({
            "event_id": record.event.id.to_string(),
            "index": record.receipt.index(),
            "digest_sha256": args.sha256,
            "reviewer": args.reviewer,
            "signed_at": at.to_rfc3339_millis(),
        })
        .to_string(),
    )?;
    Ok(Exit::Ok)
}
