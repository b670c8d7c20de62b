//! `biv review` (integrity): check six-eyes review of code and configuration changes.
//!
//! - `biv review check --pr F --reviews F --commits F [--timeline F] [--checks F] [--files F]
//!   [--policy F] [policy options]` builds the change from GitHub REST payloads saved by a CI job (`gh api …`), judges it with
//!   the six-eyes reviewer and prints the verdict as JSON (see `docs/formats/review-verdict.md`).
//!   Exit 0 approved, 1 rejected, 2 bad input — bad input never yields an approval.
//! - `biv review settings --protection F | --ruleset F` evaluates branch protection or rulesets
//!   and prints the findings as a JSON array. Exit 0 when no finding is worse than `info`, 1
//!   otherwise, 2 bad input.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use biv_core::{ChangeKind, Decision, Reviewer};
use biv_integrity::review::github::GithubPayloads;
use biv_integrity::review::settings::{
    Finding, SettingsPolicy, Severity, evaluate_branch_protection, evaluate_rulesets,
};
use biv_integrity::review::{CodeOwnerRule, SixEyes, SixEyesPolicy};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};

use crate::exit::Exit;

/// Arguments of `biv review`.
#[derive(Debug, Args)]
#[command(
    about = "Check six-eyes review of code and configuration changes",
    long_about = "Judge a change to code or configuration (a GitHub pull request) against the \
                  six-eyes rule: the author plus two approvers who did not contribute, on the \
                  head commit, with the required checks passed; and check that the repository's \
                  branch protection or rulesets back that rule. Works offline on payloads a CI \
                  job fetched.",
    after_help = "Exit status: 0 approved (check) or no findings worse than info (settings); 1 \
                  rejected, or findings; 2 bad arguments or input. The verdict format is \
                  specified in docs/formats/review-verdict.md."
)]
pub(crate) struct ReviewArgs {
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Debug, Subcommand)]
enum ReviewCommand {
    /// Judge a pull request from its GitHub payloads and print the verdict as JSON
    Check(CheckArgs),
    /// Evaluate branch protection or rulesets and print the findings as JSON
    Settings(SettingsArgs),
}

/// What is changed.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// Application code
    Code,
    /// Server or application configuration
    Configuration,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The pull request: `gh api repos/O/R/pulls/N`
    #[arg(long, value_name = "FILE")]
    pr: PathBuf,
    /// Its reviews: `gh api --paginate --slurp repos/O/R/pulls/N/reviews` joined into one array
    #[arg(long, value_name = "FILE")]
    reviews: PathBuf,
    /// Its commits: `gh api repos/O/R/pulls/N/commits`
    #[arg(long, value_name = "FILE")]
    commits: PathBuf,
    /// The issue timeline, for pushers: `gh api repos/O/R/issues/N/timeline`
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// Check runs of the head commit: `gh api repos/O/R/commits/SHA/check-runs`
    #[arg(long, value_name = "FILE")]
    checks: Option<PathBuf>,
    /// Changed files, for code-owner rules: `gh api repos/O/R/pulls/N/files`
    #[arg(long, value_name = "FILE")]
    files: Option<PathBuf>,
    /// The six-eyes policy as JSON (see docs/formats/review-verdict.md); the options below
    /// override or extend it
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Approvals required from distinct reviewers who did not contribute [default: 2, or the
    /// policy's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    required_approvals: Option<u16>,
    /// A check that must have succeeded on the head commit (repeatable)
    #[arg(long = "require-check", value_name = "NAME")]
    require_checks: Vec<String>,
    /// Only these logins may approve (repeatable; default: anyone who did not contribute)
    #[arg(long = "allow-reviewer", value_name = "LOGIN")]
    allow_reviewers: Vec<String>,
    /// Paths matching PATTERN need an approval by one of the owners (repeatable), e.g.
    /// `config/=ops-lead,sre`
    #[arg(long = "code-owner", value_name = "PATTERN=LOGIN[,LOGIN…]")]
    code_owners: Vec<String>,
    /// Whether the change is to code or to configuration
    #[arg(long, value_enum, default_value_t = Kind::Code)]
    kind: Kind,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["protection", "ruleset"])))]
struct SettingsArgs {
    /// Branch protection: `gh api repos/O/R/branches/B/protection`
    #[arg(long, value_name = "FILE")]
    protection: Option<PathBuf>,
    /// A ruleset or an array of rulesets: `gh api repos/O/R/rulesets/ID`
    #[arg(long, value_name = "FILE")]
    ruleset: Option<PathBuf>,
    /// The minimum required approving review count
    #[arg(long, value_name = "N", default_value_t = 2)]
    min_approvals: u64,
}

/// Runs `biv review`.
pub(crate) fn run(args: &ReviewArgs) -> Exit {
    let (name, result) = match &args.command {
        ReviewCommand::Check(a) => ("check", check(a)),
        ReviewCommand::Settings(a) => ("settings", settings(a)),
    };
    match result {
        Ok(exit) => exit,
        Err(message) => {
            eprintln!("biv review {name}: {message}");
            Exit::Usage
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_opt(path: Option<&PathBuf>) -> Result<Option<Vec<u8>>, String> {
    path.map(|p| read(p)).transpose()
}

fn print_json(json: serde_json::Result<String>) -> Result<(), String> {
    let text = json.map_err(|e| e.to_string())?;
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}

fn policy(args: &CheckArgs) -> Result<SixEyesPolicy, String> {
    let mut policy = match &args.policy {
        Some(path) => SixEyesPolicy::from_json(&read(path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => SixEyesPolicy::default(),
    };
    if let Some(n) = args.required_approvals {
        policy = policy.with_required_approvals(usize::from(n));
    }
    for name in &args.require_checks {
        policy = policy.with_required_check(name.clone());
    }
    if !args.allow_reviewers.is_empty() {
        policy = policy.with_allowed_reviewers(args.allow_reviewers.iter().cloned());
    }
    for spec in &args.code_owners {
        let (pattern, owners) = spec
            .split_once('=')
            .ok_or_else(|| format!("--code-owner {spec:?} is not PATTERN=LOGIN[,LOGIN…]"))?;
        let owners: Vec<&str> = owners.split(',').map(str::trim).collect();
        let rule = CodeOwnerRule::new(pattern, owners).map_err(|e| e.to_string())?;
        policy = policy.with_code_owner_rule(rule);
    }
    Ok(policy)
}

fn check(args: &CheckArgs) -> Result<Exit, String> {
    let reviewer = SixEyes::new(policy(args)?).map_err(|e| e.to_string())?;
    let (pr, reviews, commits) = (read(&args.pr)?, read(&args.reviews)?, read(&args.commits)?);
    let timeline = read_opt(args.timeline.as_ref())?;
    let checks = read_opt(args.checks.as_ref())?;
    let files = read_opt(args.files.as_ref())?;
    let mut payloads = GithubPayloads::new(&pr, &reviews, &commits);
    if let Some(t) = &timeline {
        payloads = payloads.with_timeline(t);
    }
    if let Some(c) = &checks {
        payloads = payloads.with_check_runs(c);
    }
    if let Some(f) = &files {
        payloads = payloads.with_files(f);
    }
    let kind = match args.kind {
        Kind::Code => ChangeKind::Code,
        Kind::Configuration => ChangeKind::Configuration,
    };
    let change = payloads.parse(kind).map_err(|e| e.to_string())?;
    let verdict = reviewer.review(&change).map_err(|e| e.to_string())?;
    print_json(serde_json::to_string_pretty(&verdict))?;
    Ok(if verdict.decision == Decision::Approved {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

fn settings(args: &SettingsArgs) -> Result<Exit, String> {
    let policy = SettingsPolicy::default().with_min_approvals(args.min_approvals);
    let findings: Vec<Finding> = match (&args.protection, &args.ruleset) {
        (Some(path), None) => evaluate_branch_protection(&read(path)?, &policy),
        (None, Some(path)) => evaluate_rulesets(&read(path)?, &policy),
        _ => return Err("give exactly one of --protection and --ruleset".to_owned()),
    }
    .map_err(|e| e.to_string())?;
    print_json(serde_json::to_string_pretty(&findings))?;
    Ok(if findings.iter().any(|f| f.severity > Severity::Info) {
        Exit::CheckFailed
    } else {
        Exit::Ok
    })
}
