//! `biv evidence` (integrity): export audit evidence as NIST OSCAL and a readable report.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`EvidenceArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "evidence";

/// Arguments of `biv evidence`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Export audit evidence as NIST OSCAL and a readable report"),
    long_about = "Build the evidence an auditor asks for: control results mapped to ISO \
                  27001:2022 Annex A and NEN 7510, as NIST OSCAL assessment results plus a \
                  readable report with audit-log proofs."
)]
pub(crate) struct EvidenceArgs {
    /// Everything after `biv evidence`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv evidence`.
pub(crate) fn run(args: &EvidenceArgs) -> Exit {
    args.pending.report(GROUP)
}
