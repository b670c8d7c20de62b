//! `biv slo` (availability): account for service-level objectives, error budgets and uptime.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`SloArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "slo";

/// Arguments of `biv slo`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Account for service-level objectives, error budgets and uptime"),
    long_about = "Compute service-level objectives, the remaining error budget and uptime over a \
                  period, excluding planned maintenance, against the 99.99% availability target."
)]
pub(crate) struct SloArgs {
    /// Everything after `biv slo`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv slo`.
pub(crate) fn run(args: &SloArgs) -> Exit {
    args.pending.report(GROUP)
}
