//! `biv review` (integrity): check six-eyes review of code and configuration changes.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`ReviewArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "review";

/// Arguments of `biv review`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Check six-eyes review of code and configuration changes"),
    long_about = "Judge a change to code or configuration (for example a GitHub pull request) \
                  against the six-eyes rule: the author plus two independent approvers. The \
                  verdict is recorded in the audit log."
)]
pub(crate) struct ReviewArgs {
    /// Everything after `biv review`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv review`.
pub(crate) fn run(args: &ReviewArgs) -> Exit {
    args.pending.report(GROUP)
}
