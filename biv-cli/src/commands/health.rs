//! `biv health` (availability): run health checks and print the result as application/health+json.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`HealthArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "health";

/// Arguments of `biv health`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Run health checks and print the result as application/health+json"),
    long_about = "Run the registered health checks and probes and print the result as \
                  application/health+json, for operators and for Kubernetes liveness and \
                  readiness probes."
)]
pub(crate) struct HealthArgs {
    /// Everything after `biv health`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv health`.
pub(crate) fn run(args: &HealthArgs) -> Exit {
    args.pending.report(GROUP)
}
