//! `biv scale` (availability): give Kubernetes-compatible scaling advice from current metrics.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`ScaleArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "scale";

/// Arguments of `biv scale`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Give Kubernetes-compatible scaling advice from current metrics"),
    long_about = "Compute scaling advice from current metrics with the Kubernetes \
                  HorizontalPodAutoscaler algorithm, so that the service scales out at peaks."
)]
pub(crate) struct ScaleArgs {
    /// Everything after `biv scale`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv scale`.
pub(crate) fn run(args: &ScaleArgs) -> Exit {
    args.pending.report(GROUP)
}
