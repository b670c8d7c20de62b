//! `biv keys` (confidentiality): create, rotate and crypto-shred the keys behind encrypted personal data.
//!
//! Not available yet: the group shows its help and otherwise reports that it arrives with a later
//! release. Giving it real subcommands means replacing [`KeysArgs`] and [`run`] in this file only.

use clap::Args;

use crate::exit::Exit;
use crate::not_available::{NotAvailable, planned};

/// The name of this group on the command line.
const GROUP: &str = "keys";

/// Arguments of `biv keys`.
#[derive(Debug, Args)]
#[command(
    about = planned!("Create, rotate and crypto-shred the keys behind encrypted personal data"),
    long_about = "Manage the key store: create subject keys, rotate key-encryption keys (held in \
                  a file or behind PKCS#11 in an HSM) and re-wrap data keys, and crypto-shred a \
                  subject so that their data can no longer be decrypted."
)]
pub(crate) struct KeysArgs {
    /// Everything after `biv keys`, until the group arrives.
    #[command(flatten)]
    pending: NotAvailable,
}

/// Runs `biv keys`.
pub(crate) fn run(args: &KeysArgs) -> Exit {
    args.pending.report(GROUP)
}
