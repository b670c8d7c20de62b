//! The top-level command line of `biv`.

use clap::Parser;

use crate::commands::Command;

/// `biv`: operate and audit the availability, integrity and confidentiality controls of a biv
/// deployment.
#[derive(Debug, Parser)]
#[command(
    name = "biv",
    bin_name = "biv",
    version,
    about = "Operate and audit the availability, integrity and confidentiality (BIV) controls of a biv deployment",
    long_about = "Operate and audit the availability, integrity and confidentiality (BIV) controls of a \
                  biv deployment: the tamper-evident audit log, encryption keys, reviews, releases, \
                  logs, health, scaling, SLOs, alerts and audit evidence.",
    after_help = "Exit status: 0 success, 1 a check or verification failed, 2 usage error or a \
                  command group that is not available yet.",
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    /// The command group to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
