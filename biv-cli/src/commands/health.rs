//! `biv health` (availability): run health checks and print the result as
//! `application/health+json`.
//!
//! `biv health check --config FILE [--group GROUP]` runs every configured check once (each
//! bounded by its timeout), prints the health+json document on standard output and exits 0
//! for `pass` or `warn` and 1 for `fail`. The configuration is JSON (see
//! `biv_availability::health::HealthConfig`); a malformed one is refused with status 2 and a
//! message naming the offending key. The document format is specified in
//! `docs/formats/health-json.md`.

use std::path::PathBuf;
use std::sync::Arc;

use biv_availability::health::{Group, HealthConfig};
use biv_core::{Status, SystemClock};
use clap::{Args, Subcommand};

use crate::exit::Exit;

/// Arguments of `biv health`.
#[derive(Debug, Args)]
#[command(
    about = "Run health checks and print the result as application/health+json",
    long_about = "Run the configured health checks once and print the result as \
                  application/health+json, for operators and for Kubernetes exec probes.",
    after_help = "Exit status: 0 pass or warn; 1 fail; 2 bad arguments or a configuration that \
                  cannot be read (the message names the offending key). The output format is \
                  specified in docs/formats/health-json.md."
)]
pub(crate) struct HealthArgs {
    #[command(subcommand)]
    command: HealthCommand,
}

#[derive(Debug, Subcommand)]
enum HealthCommand {
    /// Run the configured checks once and print application/health+json
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The checks (JSON): {"checks":[{"name","type","groups","critical","timeout_ms",…}]}
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Report only this group (`live`, `ready`, `startup` or a custom group); default: every
    /// check
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
}

/// Runs `biv health`.
pub(crate) fn run(args: &HealthArgs) -> Exit {
    let HealthCommand::Check(a) = &args.command;
    match check(a) {
        Ok((json, status)) => {
            println!("{json}");
            if status == Status::Fail {
                Exit::CheckFailed
            } else {
                Exit::Ok
            }
        }
        Err(message) => {
            eprintln!("biv health check: {message}");
            Exit::Usage
        }
    }
}

fn check(args: &CheckArgs) -> Result<(String, Status), String> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("cannot read {}: {e}", args.config.display()))?;
    let config =
        HealthConfig::from_json(&text).map_err(|e| format!("invalid configuration: {e}"))?;
    let registry = config.build(Arc::new(SystemClock::new()));
    let group = args.group.as_deref().map(Group::from_name);
    if let Some(group) = group.as_ref().filter(|g| !registry.has_group(g)) {
        return Err(format!("no check is in group {:?}", group.as_str()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(registry.refresh_now());
    let report = match &group {
        Some(group) => registry.report(group),
        None => registry.report_all(),
    };
    Ok((report.to_json(), report.status))
}
