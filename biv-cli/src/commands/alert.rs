//! `biv alert` (availability): send and test alerts through Alertmanager or a webhook.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`AlertArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "alert";

/// Arguments of `biv alert`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Send and test alerts through Alertmanager or a webhook"),
    long_about = "Send a test or real alert through the configured Alertmanager (API v2) or \
                  webhook, and show the error reporter's deduplication and rate-limit state."
)]
pub(crate) struct AlertArgs {
    /// Everything after `biv alert`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv alert`.
pub(crate) fn run(args: &AlertArgs) -> Exit {
    args.pending.report(GROUP)
}
