//! `biv logs` (availability): ship, check and review the central logs (ECS JSON, syslog, Elasticsearch).
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`LogsArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "logs";

/// Arguments of `biv logs`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Ship, check and review the central logs (ECS JSON, syslog, Elasticsearch)"),
    long_about = "Work with the central logs: ship spooled ECS JSON records to Elasticsearch or \
                  an RFC 5424 syslog receiver without loss, check a log stream, and produce the \
                  daily review digest."
)]
pub(crate) struct LogsArgs {
    /// Everything after `biv logs`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv logs`.
pub(crate) fn run(args: &LogsArgs) -> Exit {
    args.pending.report(GROUP)
}
