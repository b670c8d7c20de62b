//! `biv release` (integrity): gate promotion from Development through Acceptance to Production.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`ReleaseArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "release";

/// Arguments of `biv release`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Gate promotion from Development through Acceptance to Production"),
    long_about = "Evaluate the DTAP promotion gate: automated test reports, review verdicts and \
                  the product owner's approval decide whether a release may move to the next \
                  environment. The decision is recorded in the audit log."
)]
pub(crate) struct ReleaseArgs {
    /// Everything after `biv release`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv release`.
pub(crate) fn run(args: &ReleaseArgs) -> Exit {
    args.pending.report(GROUP)
}
