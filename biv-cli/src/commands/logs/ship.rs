//! `biv logs ship` and `biv logs spool-append`: drain a spool to Elasticsearch, feed a spool.

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use biv_availability::shipping::{
    Auth, BulkShipper, ElasticConfig, FsyncPolicy, Secret, ShipReport, ShipperConfig, Spool,
    SpoolConfig, SpoolReader,
};
use biv_core::{Clock, Dataset, Level, LogRecord, SystemClock, Timestamp};
use clap::Args;
use zeroize::Zeroize;

use super::{Failure, failed, print, usage};
use crate::exit::Exit;

#[derive(Debug, Args)]
pub(super) struct ShipArgs {
    /// The spool directory
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,
    /// Elasticsearch's base URL (http only), e.g. http://127.0.0.1:9200
    #[arg(long, value_name = "URL")]
    url: String,
    /// The index or data stream
    #[arg(long, value_name = "NAME")]
    index: String,
    /// Stop when the spool is drained instead of running until SIGTERM/SIGINT
    #[arg(long)]
    once: bool,
    /// With --once: give up (status 1) after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 300, requires = "once")]
    timeout: u64,
    /// A file holding an Elasticsearch API key (sent as `Authorization: ApiKey …`)
    #[arg(long, value_name = "FILE", conflicts_with = "basic_auth_file")]
    api_key_file: Option<PathBuf>,
    /// A file holding `user:password` for basic authentication
    #[arg(long, value_name = "FILE")]
    basic_auth_file: Option<PathBuf>,
    /// Where refused records go (default <spool>/dead-letter.ndjson)
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Bytes of record lines per request at most
    #[arg(long, value_name = "N", default_value_t = 5 << 20)]
    batch_bytes: usize,
    /// Records per request at most
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    batch_records: usize,
    /// How long a small batch waits for more records, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    linger_ms: u64,
}

#[derive(Debug, Args)]
pub(super) struct SpoolAppendArgs {
    /// The spool directory
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,
}

/// Reads a credential file; its content never appears in a message.
fn read_secret(path: &Path) -> Result<Secret, Failure> {
    let mut text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {}", path.display(), e.kind())))?;
    let secret = Secret::new(text.trim());
    text.zeroize();
    Ok(secret)
}

fn auth(args: &ShipArgs) -> Result<Option<Auth>, Failure> {
    if let Some(path) = &args.api_key_file {
        return Ok(Some(Auth::ApiKey(read_secret(path)?)));
    }
    let Some(path) = &args.basic_auth_file else {
        return Ok(None);
    };
    let mut text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {}", path.display(), e.kind())))?;
    let parsed = text
        .trim()
        .split_once(':')
        .map(|(user, password)| (user.to_owned(), Secret::new(password)));
    text.zeroize();
    let (user, password) =
        parsed.ok_or_else(|| usage(format!("{} must hold user:password", path.display())))?;
    Ok(Some(Auth::Basic { user, password }))
}

fn summary(report: &ShipReport, shipper: &BulkShipper) -> String {
    let spool = shipper.spool_stats();
    serde_json::json!({
        "delivered": report.delivered,
        "conflicts": report.conflicts,
        "dead_lettered": report.dead_lettered,
        "corrupt_regions": report.corrupt_regions,
        "torn_frames": spool.torn_frames(),
        "corrupt_frames": spool.corrupt_frames(),
        "acked": report.acked.to_string(),
        "dead_letter_file": shipper.dead_letter_path().display().to_string(),
    })
    .to_string()
}

pub(super) fn ship(args: &ShipArgs) -> Result<Exit, Failure> {
    let mut elastic =
        ElasticConfig::new(&args.url, &args.index).map_err(|e| usage(e.to_string()))?;
    if let Some(auth) = auth(args)? {
        elastic = elastic.with_auth(auth);
    }
    let reader = SpoolReader::open(&args.spool).map_err(|e| usage(e.to_string()))?;
    let mut config = ShipperConfig::new()
        .with_batch(args.batch_bytes.max(1), args.batch_records)
        .with_timing(
            Duration::from_millis(args.linger_ms),
            Duration::from_millis(args.linger_ms.clamp(1, 100)),
        );
    if let Some(path) = &args.dead_letter {
        config = config.with_dead_letter(path);
    }
    let mut shipper = BulkShipper::new(reader, elastic, config, Arc::new(SystemClock::new()))
        .map_err(|e| usage(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the runtime: {e}")))?;
    let result = runtime.block_on(async {
        if args.once {
            let limit = Duration::from_secs(args.timeout);
            match tokio::time::timeout(limit, shipper.ship_available()).await {
                Ok(result) => result.map(Some),
                Err(_) => Ok(None),
            }
        } else {
            shipper.run(shutdown_signal()).await.map(Some)
        }
    });
    let report = shipper.report();
    print(&summary(&report, &shipper))?;
    match result {
        Ok(Some(_)) => Ok(Exit::Ok),
        Ok(None) => Err(failed(format!(
            "the spool was not drained within {} s; the rest stays spooled (acknowledged up to {})",
            args.timeout, report.acked
        ))),
        Err(e) => Err(failed(e.to_string())),
    }
}

/// Completes on SIGTERM or SIGINT. If the handlers cannot be installed, never completes after
/// saying so (the process can still be stopped by SIGKILL; nothing is lost either way).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            eprintln!("biv logs ship: cannot install the SIGTERM/SIGINT handlers");
            std::future::pending::<()>().await;
        }
    }
}

fn level_of(value: &serde_json::Value) -> Level {
    match value.get("log.level").and_then(|v| v.as_str()) {
        Some("trace") => Level::Trace,
        Some("debug") => Level::Debug,
        Some("warn" | "warning") => Level::Warn,
        Some("error") => Level::Error,
        _ => Level::Info,
    }
}

fn dataset_of(value: &serde_json::Value) -> Dataset {
    match value.get("event.dataset").and_then(|v| v.as_str()) {
        Some("access") => Dataset::Access,
        Some("system") => Dataset::System,
        Some("audit") => Dataset::Audit,
        _ => Dataset::Application,
    }
}

pub(super) fn spool_append(args: &SpoolAppendArgs) -> Result<Exit, Failure> {
    let spool = Spool::open(
        &args.spool,
        SpoolConfig::new().with_fsync(FsyncPolicy::OsManaged),
    )
    .map_err(|e| usage(e.to_string()))?;
    let clock = SystemClock::new();
    let stdin = io::stdin().lock();
    let (mut appended, mut dropped, mut refused) = (0u64, 0u64, 0u64);
    let mut batch = Vec::with_capacity(1024);
    let flush = |batch: &mut Vec<LogRecord>, appended: &mut u64, dropped: &mut u64| {
        let outcome = spool
            .append_batch(batch)
            .map_err(|e| failed(e.to_string()))?;
        *appended += outcome.appended;
        *dropped += outcome.dropped_cap;
        batch.clear();
        Ok::<(), Failure>(())
    };
    for (n, line) in stdin.lines().enumerate() {
        let line = line.map_err(|e| usage(format!("reading standard input: {e}")))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: Option<serde_json::Value> = serde_json::from_str(line)
            .ok()
            .filter(serde_json::Value::is_object);
        let Some(value) = value else {
            eprintln!("biv logs spool-append: line {}: not a JSON object", n + 1);
            refused += 1;
            continue;
        };
        let time = value
            .get("@timestamp")
            .and_then(|v| v.as_str())
            .and_then(|t| Timestamp::parse_rfc3339(t).ok())
            .unwrap_or_else(|| clock.now());
        match LogRecord::new(
            spool.next_record_id(),
            time,
            level_of(&value),
            dataset_of(&value),
            line,
        ) {
            Ok(record) => batch.push(record),
            Err(e) => {
                eprintln!("biv logs spool-append: line {}: {e}", n + 1);
                refused += 1;
                continue;
            }
        }
        if batch.len() >= 1024 {
            flush(&mut batch, &mut appended, &mut dropped)?;
        }
    }
    flush(&mut batch, &mut appended, &mut dropped)?;
    spool
        .sync()
        .map_err(|e| failed(format!("syncing the spool: {e}")))?;
    print(&serde_json::json!({ "appended": appended, "dropped": dropped }).to_string())?;
    if refused > 0 {
        return Err(usage(format!("{refused} lines were not JSON objects")));
    }
    Ok(Exit::Ok)
}
