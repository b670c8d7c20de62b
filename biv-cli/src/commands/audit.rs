//! `biv audit` (integrity): append to, verify and prove the tamper-evident audit log.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`AuditArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "audit";

/// Arguments of `biv audit`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Append to, verify and prove the tamper-evident audit log"),
    long_about = "Append to, verify and prove the tamper-evident audit log: NEN 7513 access \
                  records in an RFC 6962 Merkle tree with signed C2SP checkpoints. Appends \
                  events, verifies the chain and its checkpoints, and produces inclusion and \
                  consistency proofs that an auditor can check independently."
)]
pub(crate) struct AuditArgs {
    /// Everything after `biv audit`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv audit`.
pub(crate) fn run(args: &AuditArgs) -> Exit {
    args.pending.report(GROUP)
}
