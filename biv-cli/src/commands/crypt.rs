//! `biv crypt` (confidentiality): encrypt and decrypt fields of special personal data with per-subject keys.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`CryptArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "crypt";

/// Arguments of `biv crypt`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Encrypt and decrypt fields of special personal data with per-subject keys"),
    long_about = "Encrypt and decrypt fields of special personal data in biv's ciphertext format, \
                  under per-subject data keys and bound to their encryption context, for \
                  operators who move or repair records."
)]
pub(crate) struct CryptArgs {
    /// Everything after `biv crypt`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv crypt`.
pub(crate) fn run(args: &CryptArgs) -> Exit {
    args.pending.report(GROUP)
}
