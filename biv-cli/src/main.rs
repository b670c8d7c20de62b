//! `biv`: the command line for operators and auditors of a biv deployment.
//!
//! biv puts the Dutch BIV model (*Beschikbaarheid, Integriteit, Vertrouwelijkheid*: availability,
//! integrity, confidentiality) into code that a host application embeds. This binary is the
//! operator's and auditor's view of it: one command group per control area.
//!
//! # Command groups
//!
//! | group      | pillar          | what it is for                                                      |
//! |------------|-----------------|---------------------------------------------------------------------|
//! | `audit`    | integrity       | append to, verify and prove the tamper-evident audit log            |
//! | `crypt`    | confidentiality | encrypt and decrypt fields of special personal data                 |
//! | `keys`     | confidentiality | create, rotate and crypto-shred the keys behind encrypted data      |
//! | `pii`      | confidentiality | find and redact personal data in logs and text                      |
//! | `review`   | integrity       | check six-eyes review of code and configuration changes             |
//! | `release`  | integrity       | gate promotion from Development through Acceptance to Production    |
//! | `drift`    | integrity       | detect drift between deployed configuration and version control    |
//! | `logs`     | availability    | ship, check and review the central logs                             |
//! | `health`   | availability    | probe health checks and print `application/health+json`             |
//! | `scale`    | availability    | give Kubernetes-compatible scaling advice                           |
//! | `slo`      | availability    | account for SLOs, error budgets and uptime                          |
//! | `alert`    | availability    | send and test alerts                                                |
//! | `evidence` | integrity       | export audit evidence as NIST OSCAL and a readable report           |
//!
//! The groups arrive one release at a time. A group that has not arrived yet still shows its help
//! (`biv audit --help`), but running it prints a message naming the group to standard error, writes
//! nothing to standard output and exits with status 2. It never pretends to have done the work.
//!
//! # Exit status
//!
//! | status | meaning                                                                                  |
//! |--------|------------------------------------------------------------------------------------------|
//! | 0      | success; also `--help` and `--version`                                                   |
//! | 1      | a check or verification ran and failed (for example an audit log that does not verify)  |
//! | 2      | usage error (unknown command, bad arguments), or a command group that is not available yet |
//!
//! Scripts can therefore tell "the evidence is bad" (1) from "the question was not understood" (2).
//!
//! # Layout
//!
//! Each group lives in its own file under `src/commands/`; [`commands::Command`] lists the groups
//! once. A group that is not available yet flattens [`not_available::NotAvailable`] into its
//! arguments; giving it real subcommands means editing only that group's file.

mod cli;
mod commands;
mod exit;
mod not_available;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with status 0; every other parse outcome is a usage
            // error reported on stderr with status 2.
            let exit = if err.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            // A closed stdout or stderr leaves nothing to report the failure on.
            let _ = err.print();
            return exit.into();
        }
    };
    cli.command.run().into()
}
