//! The command groups of `biv`, one file each, listed once here.

pub(crate) mod alert;
pub(crate) mod audit;
pub(crate) mod crypt;
pub(crate) mod drift;
pub(crate) mod evidence;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod logs;
pub(crate) mod pii;
pub(crate) mod release;
pub(crate) mod review;
pub(crate) mod scale;
pub(crate) mod slo;

use clap::Subcommand;

use crate::exit::Exit;

/// A command group of `biv`.
///
/// Each variant's `about` text and arguments come from its group's file, so a group can gain real
/// subcommands without this list changing. (The variants carry plain comments, not doc comments:
/// clap would turn a doc comment into the group's `about` text and hide the one in the group's file.)
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    // `biv audit`: append to, verify and prove the tamper-evident audit log.
    Audit(audit::AuditArgs),
    // `biv crypt`: encrypt and decrypt fields of special personal data with per-subject keys.
    Crypt(crypt::CryptArgs),
    // `biv keys`: create, rotate and crypto-shred the keys behind encrypted personal data.
    Keys(keys::KeysArgs),
    // `biv pii`: find and redact personal data, such as BSN numbers, in logs and text.
    Pii(pii::PiiArgs),
    // `biv review`: check six-eyes review of code and configuration changes.
    Review(review::ReviewArgs),
    // `biv release`: gate promotion from Development through Acceptance to Production.
    Release(release::ReleaseArgs),
    // `biv drift`: detect drift between deployed configuration and version control.
    Drift(drift::DriftArgs),
    // `biv logs`: ship, check and review the central logs (ECS JSON, syslog, Elasticsearch).
    Logs(logs::LogsArgs),
    // `biv health`: run health checks and print the result as application/health+json.
    Health(health::HealthArgs),
    // `biv scale`: give Kubernetes-compatible scaling advice from current metrics.
    Scale(scale::ScaleArgs),
    // `biv slo`: account for service-level objectives, error budgets and uptime.
    Slo(slo::SloArgs),
    // `biv alert`: send and test alerts through Alertmanager or a webhook.
    Alert(alert::AlertArgs),
    // `biv evidence`: export audit evidence as NIST OSCAL and a readable report.
    Evidence(evidence::EvidenceArgs),
}

impl Command {
    /// Runs the selected command group.
    pub(crate) fn run(&self) -> Exit {
        match self {
            Self::Audit(args) => audit::run(args),
            Self::Crypt(args) => crypt::run(args),
            Self::Keys(args) => keys::run(args),
            Self::Pii(args) => pii::run(args),
            Self::Review(args) => review::run(args),
            Self::Release(args) => release::run(args),
            Self::Drift(args) => drift::run(args),
            Self::Logs(args) => logs::run(args),
            Self::Health(args) => health::run(args),
            Self::Scale(args) => scale::run(args),
            Self::Slo(args) => slo::run(args),
            Self::Alert(args) => alert::run(args),
            Self::Evidence(args) => evidence::run(args),
        }
    }
}

/// The command group names, in the order `biv --help` lists them.
#[cfg(test)]
pub(crate) const GROUP_NAMES: [&str; 13] = [
    "audit", "crypt", "keys", "pii", "review", "release", "drift", "logs", "health", "scale",
    "slo", "alert", "evidence",
];

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::GROUP_NAMES;
    use crate::cli::Cli;

    #[test]
    fn every_group_is_listed_with_an_about_line() {
        let command = Cli::command();
        let listed: Vec<&str> = command
            .get_subcommands()
            .map(clap::Command::get_name)
            .filter(|name| *name != "help")
            .collect();
        assert_eq!(listed, GROUP_NAMES);
        for group in command.get_subcommands().filter(|c| c.get_name() != "help") {
            let about = group
                .get_about()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(
                !about.is_empty(),
                "biv {} has no about line",
                group.get_name()
            );
        }
    }
}
