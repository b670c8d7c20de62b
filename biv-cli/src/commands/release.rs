//! `biv release` (integrity): gate promotion from Development through Acceptance to Production.
//!
//! - `biv release promote --state F --artifact sha256:… --commit SHA --to STAGE --deployer LOGIN
//!   [--approved-by LOGIN]… [--evidence junit.xml]… [--otr otr.xml]… [--verdict verdict.json]…
//!   [--contributors a,b] [--onboarding CUSTOMER] [--policy F] [--audit-dir D]` decides the
//!   promotion, records it in the audit log when `--audit-dir` is given, saves an allowed one in
//!   the state file and prints the decision as JSON. Exit 0 allowed, 1 refused, 2 bad input.
//! - `biv release status --state F` prints what runs in each stage and the history;
//!   `biv release history --state F` prints the history as JSON lines.
//! - `biv release evidence --junit F… --otr F… [--max-skipped-percent N]` prints the parsed
//!   reports.
//!
//! Formats: `docs/formats/release-gate.md`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use biv_core::{Actor, Clock, EventId, SourceSystem, SystemClock, Verdict};
use biv_integrity::release::{
    Artifact, DecisionRecord, GatePolicy, GateState, PromotionRequest, TestEvidence,
    VerdictEvidence, decide, decision_event, load_state, lock_state, parse_junit, parse_otr,
    save_state,
};
use clap::{ArgGroup, Args, Subcommand};

use crate::exit::Exit;

/// Arguments of `biv release`.
#[derive(Debug, Args)]
#[command(
    about = "Gate promotion from Development through Acceptance to Production",
    long_about = "Evaluate the DTAP promotion gate: automated test reports, review verdicts and \
                  the product owner's approval decide whether an artifact may move to the next \
                  environment. The decision is recorded in the audit log.",
    after_help = "Exit status of promote and evidence: 0 allowed / passing, 1 refused / failing, \
                  2 bad arguments or input. Formats: docs/formats/release-gate.md."
)]
pub(crate) struct ReleaseArgs {
    #[command(subcommand)]
    command: ReleaseCommand,
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Decide whether an artifact may enter a stage, record and print the decision
    Promote(Box<PromoteArgs>),
    /// Print what runs in each stage and the history
    Status(StatusArgs),
    /// Print every arrival in a stage, oldest first, as JSON lines
    History(StatusArgs),
    /// Parse JUnit reports and print their counts as JSON
    Evidence(EvidenceArgs),
}

#[derive(Debug, Args)]
struct PromoteArgs {
    /// The gate's state file (created with the policy when absent)
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// The artifact's digest, `sha256:` and 64 hex digits
    #[arg(long, value_name = "DIGEST")]
    artifact: String,
    /// The commit the artifact was built from
    #[arg(long, value_name = "SHA")]
    commit: String,
    /// The stage to enter
    #[arg(long, value_name = "STAGE")]
    to: String,
    /// Who deploys
    #[arg(long, value_name = "LOGIN")]
    deployer: String,
    /// A product owner who approved (repeatable)
    #[arg(long = "approved-by", value_name = "LOGIN")]
    approved_by: Vec<String>,
    /// A JUnit report of tests run against this artifact (repeatable)
    #[arg(long, value_name = "FILE")]
    evidence: Vec<PathBuf>,
    /// A PHPUnit Open Test Reporting report (`--log-otr`) of tests run against this artifact;
    /// the commit it names must be the artifact's (repeatable)
    #[arg(long, value_name = "FILE")]
    otr: Vec<PathBuf>,
    /// A six-eyes verdict printed by `biv review check` (repeatable)
    #[arg(long, value_name = "FILE")]
    verdict: Vec<PathBuf>,
    /// Everyone who contributed to the artifact's changes
    #[arg(long, value_name = "LOGIN,…", value_delimiter = ',')]
    contributors: Vec<String>,
    /// This promotion onboards a customer (needs the product owner in any stage)
    #[arg(long, value_name = "CUSTOMER")]
    onboarding: Option<String>,
    /// The gate policy as JSON, used when the state file does not exist yet [default: DTAP]
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Append the decision to this biv audit log (key at `<dir>/log.key`)
    #[arg(long, value_name = "DIR")]
    audit_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The gate's state file
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("reports").required(true).multiple(true).args(["junit", "otr"])))]
struct EvidenceArgs {
    /// A JUnit report (repeatable)
    #[arg(long, value_name = "FILE")]
    junit: Vec<PathBuf>,
    /// A PHPUnit Open Test Reporting report (repeatable)
    #[arg(long, value_name = "FILE")]
    otr: Vec<PathBuf>,
    /// Largest share of skipped tests, in percent, that still passes
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    max_skipped_percent: u8,
}

/// Runs `biv release`.
pub(crate) fn run(args: &ReleaseArgs) -> Exit {
    let (name, result) = match &args.command {
        ReleaseCommand::Promote(a) => ("promote", promote(a)),
        ReleaseCommand::Status(a) => ("status", status(a)),
        ReleaseCommand::History(a) => ("history", history(a)),
        ReleaseCommand::Evidence(a) => ("evidence", evidence(a)),
    };
    match result {
        Ok(exit) => exit,
        Err(message) => {
            eprintln!("biv release {name}: {message}");
            Exit::Usage
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn print_json(json: serde_json::Result<String>) -> Result<(), String> {
    let text = json.map_err(|e| e.to_string())?;
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}

fn request(args: &PromoteArgs) -> Result<PromotionRequest, String> {
    let artifact = Artifact::new(&args.artifact, &args.commit).map_err(|e| e.to_string())?;
    let mut request = PromotionRequest::new(artifact.clone(), &args.to, &args.deployer)
        .with_contributors(args.contributors.iter().map(|c| c.trim().to_owned()));
    for login in &args.approved_by {
        request = request.approved_by(login.clone());
    }
    for path in &args.evidence {
        let e = TestEvidence::from_junit(artifact.clone(), &read(path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        request = request.with_evidence(e);
    }
    for path in &args.otr {
        let e = TestEvidence::from_otr(artifact.clone(), &read(path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        request = request.with_evidence(e);
    }
    for path in &args.verdict {
        let verdict: Verdict = serde_json::from_slice(&read(path)?)
            .map_err(|e| format!("{}: not a review verdict: {e}", path.display()))?;
        let v = VerdictEvidence::from_verdict(&verdict)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        request = request.with_verdict(v);
    }
    if let Some(customer) = &args.onboarding {
        request = request.onboarding(customer.clone());
    }
    Ok(request)
}

fn promote(args: &PromoteArgs) -> Result<Exit, String> {
    let request = request(args)?;
    // Held until the decision is recorded and the state saved.
    let _lock = lock_state(&args.state).map_err(|e| e.to_string())?;
    let mut state = match load_state(&args.state).map_err(|e| e.to_string())? {
        Some(state) => state,
        None => GateState::new(match &args.policy {
            Some(path) => GatePolicy::from_json(&read(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?,
            None => GatePolicy::dtap(),
        }),
    };
    let now = SystemClock::new().now();
    let decision = decide(&state, &request, now);
    if let Some(dir) = &args.audit_dir {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| format!("no randomness for the event id: {e}"))?;
        // UUID version 4, variant 1.
        id[6] = (id[6] & 0x0f) | 0x40;
        id[8] = (id[8] & 0x3f) | 0x80;
        let record = DecisionRecord::new(
            EventId::from_bytes(id),
            now,
            Actor::new(args.deployer.clone()),
            SourceSystem::new("biv-release"),
        );
        let event = decision_event(&record, &decision).map_err(|e| e.to_string())?;
        let log = super::audit::keyfile::open_log(dir)?;
        log.append_blocking(&event)
            .map_err(|e| format!("the decision was not recorded, nothing changed: {e}"))?;
        drop(log);
    }
    if state.apply(&decision, now) {
        save_state(&args.state, &state).map_err(|e| e.to_string())?;
    }
    print_json(serde_json::to_string_pretty(&decision))?;
    Ok(if decision.allowed {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

fn existing_state(args: &StatusArgs) -> Result<GateState, String> {
    load_state(&args.state)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: no such state file", args.state.display()))
}

fn history(args: &StatusArgs) -> Result<Exit, String> {
    let state = existing_state(args)?;
    for entry in &state.history {
        print_json(serde_json::to_string(entry))?;
    }
    Ok(Exit::Ok)
}

fn status(args: &StatusArgs) -> Result<Exit, String> {
    let state = existing_state(args)?;
    let stages: Vec<serde_json::Value> = state
        .policy
        .stages
        .iter()
        .map(|s| {
            serde_json::json!({
                "stage": s.name,
                "current": state.current(&s.name),
            })
        })
        .collect();
    print_json(serde_json::to_string_pretty(&serde_json::json!({
        "stages": stages,
        "history": state.history,
    })))?;
    Ok(Exit::Ok)
}

fn evidence(args: &EvidenceArgs) -> Result<Exit, String> {
    let mut reports = Vec::new();
    let mut passing = true;
    let files = args
        .junit
        .iter()
        .map(|p| (p, false))
        .chain(args.otr.iter().map(|p| (p, true)));
    for (path, otr) in files {
        let bytes = read(path)?;
        let report = if otr {
            parse_otr(&bytes)
        } else {
            parse_junit(&bytes)
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let failure = report.failure(args.max_skipped_percent);
        passing &= failure.is_none();
        reports.push(serde_json::json!({
            "file": path.display().to_string(),
            "passing": failure.is_none(),
            "failure": failure,
            "report": report,
        }));
    }
    print_json(serde_json::to_string_pretty(&reports))?;
    Ok(if passing { Exit::Ok } else { Exit::CheckFailed })
}
