//! `biv drift` (integrity): detect drift between deployed configuration and version control.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`DriftArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "drift";

/// Arguments of `biv drift`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Detect drift between deployed configuration and version control"),
    long_about = "Compare the configuration that is deployed with the version under version \
                  control and report every difference, so that unreviewed changes are caught."
)]
pub(crate) struct DriftArgs {
    /// Everything after `biv drift`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv drift`.
pub(crate) fn run(args: &DriftArgs) -> Exit {
    args.pending.report(GROUP)
}
