//! `biv pii` (confidentiality): find and redact personal data, such as BSN numbers, in logs and text.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`PiiArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "pii";

/// Arguments of `biv pii`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Find and redact personal data, such as BSN numbers, in logs and text"),
    long_about = "Run biv's redactor over text or log files: find personal data such as BSN \
                  numbers, e-mail addresses and phone numbers, and show or remove it before logs \
                  and error reports leave the host."
)]
pub(crate) struct PiiArgs {
    /// Everything after `biv pii`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv pii`.
pub(crate) fn run(args: &PiiArgs) -> Exit {
    args.pending.report(GROUP)
}
