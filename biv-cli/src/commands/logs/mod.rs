//! `biv logs` (availability): ship spooled ECS records to Elasticsearch without loss.
//!
//! - `biv logs ship --spool DIR --url http://HOST:PORT --index NAME [--once [--timeout SECS]]
//!   [--api-key-file F | --basic-auth-file F] [--dead-letter F] [--batch-bytes N]
//!   [--batch-records N] [--linger-ms N]` drains the spool with `_bulk` `create` requests (the
//!   record id is the `_id`, so a record sent twice is stored once). Without `--once` it runs
//!   until SIGTERM or SIGINT; with `--once` it stops when the spool is drained, or fails after
//!   `--timeout` seconds. It prints a JSON summary on standard output when it stops.
//! - `biv logs spool-append --spool DIR` appends NDJSON lines from standard input to the spool
//!   (one JSON object per line; `log.level`, `event.dataset` and `@timestamp` are read when
//!   present) and prints `{"appended":N,"dropped":M}`. For tests and for feeding a spool by
//!   hand; hosts write through `SpoolSink`.
//! - `biv logs digest --logs PATH… [--audit PATH]… [--audit-dir DIR [--vkey K]] --end TIME
//!   [--metrics-start F] [--metrics-end F] [--no-working-hours] [--format md|html|json]`
//!   prints the daily review digest of the 24 hours before `--end` (docs/log-review.md), and
//!   its SHA-256 on standard error.
//! - `biv logs sign-off --digest F --sha256 HEX --reviewer USER [--role R] [--remarks TEXT]
//!   --audit-dir DIR` records the reviewer's sign-off of that digest, at the clock's time, as
//!   an audit event (`log-review.sign-off`; the remarks only as a hash) and prints the receipt.
//!
//! Exit status: 0 shipped (or stopped by a signal) / appended / printed / recorded; 1 shipping
//! did not finish (timeout with records left, credentials or URL refused, spool or dead-letter
//! file failing), or the sign-off was refused (another digest's hash) or not recorded; 2 bad
//! arguments or input. Formats: `docs/formats/log-spool.md`, `docs/log-review.md`. Plain HTTP
//! only: biv has no TLS crate yet (ADR 0005).

use std::io::{self, Write};

use clap::{Args, Subcommand};

use crate::exit::Exit;

mod review;
mod ship;

use review::{DigestArgs, SignOffArgs, digest, sign_off};
use ship::{ShipArgs, SpoolAppendArgs, ship, spool_append};

/// Arguments of `biv logs`.
#[derive(Debug, Args)]
#[command(
    about = "Ship, check and review the central logs (ECS JSON, syslog, Elasticsearch)",
    long_about = "Work with the central logs: ship spooled ECS JSON records to Elasticsearch \
                  without loss (at least once on the wire, exactly once in the index), print \
                  the daily review digest, and record a reviewer's sign-off in the audit log.",
    after_help = "Exit status: 0 done; 1 shipping did not finish (timeout, credentials or URL \
                  refused, spool failure) or a sign-off was refused; 2 bad arguments or input. \
                  Formats: docs/formats/log-spool.md, docs/log-review.md. Plain HTTP only (no \
                  TLS crate in biv yet)."
)]
pub(crate) struct LogsArgs {
    #[command(subcommand)]
    command: LogsCommand,
}

#[derive(Debug, Subcommand)]
enum LogsCommand {
    /// Ship a spool to Elasticsearch with _bulk create requests
    Ship(ShipArgs),
    /// Append NDJSON lines from standard input to a spool
    SpoolAppend(SpoolAppendArgs),
    /// Print the daily review digest of the last 24 hours (Markdown, HTML or JSON)
    Digest(DigestArgs),
    /// Record a reviewer's sign-off of a digest in the audit log
    SignOff(SignOffArgs),
}

/// Runs `biv logs`.
pub(crate) fn run(args: &LogsArgs) -> Exit {
    let (name, result) = match &args.command {
        LogsCommand::Ship(a) => ("ship", ship(a)),
        LogsCommand::SpoolAppend(a) => ("spool-append", spool_append(a)),
        LogsCommand::Digest(a) => ("digest", digest(a)),
        LogsCommand::SignOff(a) => ("sign-off", sign_off(a)),
    };
    match result {
        Ok(exit) => exit,
        Err(Failure { exit, message }) => {
            eprintln!("biv logs {name}: {message}");
            exit
        }
    }
}

/// A failure with its exit status.
struct Failure {
    exit: Exit,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        exit: Exit::Usage,
        message: message.into(),
    }
}

fn failed(message: impl Into<String>) -> Failure {
    Failure {
        exit: Exit::CheckFailed,
        message: message.into(),
    }
}

fn print(line: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| failed(format!("cannot write to stdout: {e}")))
}
