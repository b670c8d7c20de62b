//! `biv release` (integrity): gate promotion from Development through Acceptance to Production.
//!
//! - `biv release promote (--state F | --state-url URL [--gate-id ID]) --artifact sha256:…
//!   --commit SHA --to STAGE --deployer LOGIN [--approved-by LOGIN]… [--evidence junit.xml]…
//!   [--otr otr.xml]… [--verdict verdict.json]… [--contributors a,b] [--onboarding CUSTOMER]
//!   [--policy F] [--audit-dir D]` decides the promotion, records it in the audit log when
//!   `--audit-dir` is given, saves an allowed one in the state (a file, or PostgreSQL with the
//!   gate's row locked from decision to commit) and prints the decision as JSON. Exit 0
//!   allowed, 1 refused, 2 bad input.
//! - `biv release status` / `biv release history` with the same `--state` or `--state-url`
//!   print what runs in each stage and the history, or the history as JSON lines.
//!
//! The PostgreSQL connection string may carry a password: give it through `BIV_GATE_STATE_URL`
//! (used when neither `--state` nor `--state-url` is given) rather than on the command line,
//! where `ps` shows it; it is never printed.
//! - `biv release evidence --junit F… --otr F… [--max-skipped-percent N]` prints the parsed
//!   reports.
//!
//! Formats: `docs/formats/release-gate.md`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use biv_core::{Actor, Clock, EventId, SourceSystem, SystemClock, Verdict};
use biv_integrity::release::{
    Artifact, DecisionRecord, GatePolicy, GateState, PgGateStateStore, PromotionRequest,
    TestEvidence, VerdictEvidence, decide, decision_event, load_state, lock_state, parse_junit,
    parse_otr, save_state,
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

/// Where the gate's state lives: a file, or a row in PostgreSQL.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("store").args(["state", "state_url"])))]
struct StoreArgs {
    /// The gate's state file (created with the policy when absent)
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// The gate's state in PostgreSQL instead of a file (a libpq connection string or
    /// postgresql:// URL; tables created when absent). Without --state and --state-url, the
    /// variable BIV_GATE_STATE_URL is used, which keeps a password out of `ps`
    #[arg(long, value_name = "URL")]
    state_url: Option<String>,
    /// The gate's id in PostgreSQL (one database can hold many gates) [default: default]
    #[arg(long, value_name = "ID")]
    gate_id: Option<String>,
}

/// The variable naming the PostgreSQL gate state when neither `--state` nor `--state-url` is
/// given.
const STATE_URL_ENV: &str = "BIV_GATE_STATE_URL";

/// A store chosen on the command line.
enum Store<'a> {
    File(&'a Path),
    Postgres { url: String, gate_id: &'a str },
}

impl StoreArgs {
    fn store(&self) -> Result<Store<'_>, String> {
        let gate_id = self.gate_id.as_deref().unwrap_or("default");
        match (&self.state, &self.state_url) {
            (Some(_), None) if self.gate_id.is_some() => {
                Err("--gate-id names a gate in PostgreSQL: it needs --state-url".to_owned())
            }
            (Some(path), None) => Ok(Store::File(path)),
            (None, Some(url)) => Ok(Store::Postgres {
                url: url.clone(),
                gate_id,
            }),
            (None, None) => match std::env::var(STATE_URL_ENV) {
                Ok(url) if !url.is_empty() => Ok(Store::Postgres { url, gate_id }),
                _ => Err(format!(
                    "give --state FILE or --state-url URL (or set {STATE_URL_ENV})"
                )),
            },
            (Some(_), Some(_)) => Err("give only one of --state and --state-url".to_owned()),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Connects to the gate's state in PostgreSQL; the error never shows the connection string.
async fn pg_store(url: &str, gate_id: &str) -> Result<PgGateStateStore, String> {
    PgGateStateStore::connect(url, gate_id)
        .await
        .map_err(|e| format!("gate state in PostgreSQL (--state-url): {e}"))
}

#[derive(Debug, Args)]
struct PromoteArgs {
    #[command(flatten)]
    store: StoreArgs,
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
    #[command(flatten)]
    store: StoreArgs,
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

/// Appends `decision` to the audit log in `dir`; returns once it is durable.
fn record_decision(
    dir: &Path,
    deployer: &str,
    decision: &biv_integrity::release::PromotionDecision,
    now: biv_core::Timestamp,
) -> Result<(), String> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| format!("no randomness for the event id: {e}"))?;
    // UUID version 4, variant 1.
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let record = DecisionRecord::new(
        EventId::from_bytes(id),
        now,
        Actor::new(deployer.to_owned()),
        SourceSystem::new("biv-release"),
    );
    let event = decision_event(&record, decision).map_err(|e| e.to_string())?;
    let log = super::audit::keyfile::open_log(dir)?;
    log.append_blocking(&event)
        .map_err(|e| format!("audit append: {e}"))?;
    drop(log);
    Ok(())
}

fn policy_if_new(args: &PromoteArgs) -> Result<GatePolicy, String> {
    match &args.policy {
        Some(path) => {
            GatePolicy::from_json(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => Ok(GatePolicy::dtap()),
    }
}

fn promote(args: &PromoteArgs) -> Result<Exit, String> {
    let request = request(args)?;
    let now = SystemClock::new().now();
    let decision = match args.store.store()? {
        Store::File(path) => {
            // Held until the decision is recorded and the state saved.
            let _lock = lock_state(path).map_err(|e| e.to_string())?;
            let mut state = match load_state(path).map_err(|e| e.to_string())? {
                Some(state) => state,
                None => GateState::new(policy_if_new(args)?),
            };
            let decision = decide(&state, &request, now);
            if let Some(dir) = &args.audit_dir {
                record_decision(dir, &args.deployer, &decision, now)
                    .map_err(|e| format!("the decision was not recorded, nothing changed: {e}"))?;
            }
            if state.apply(&decision, now) {
                save_state(path, &state).map_err(|e| e.to_string())?;
            }
            decision
        }
        Store::Postgres { url, gate_id } => {
            let policy = policy_if_new(args)?;
            runtime()?.block_on(async {
                let store = pg_store(&url, gate_id).await?;
                // The audit append happens under the gate's row lock, before the commit.
                let audit = args.audit_dir.clone();
                let deployer = args.deployer.clone();
                let done = store
                    .promote_recorded(&policy, &request, now, |decision| async move {
                        let Some(dir) = audit else {
                            return Ok(());
                        };
                        tokio::task::spawn_blocking(move || {
                            record_decision(&dir, &deployer, &decision, now)
                        })
                        .await
                        .map_err(|e| format!("the audit append did not finish: {e}"))?
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(done.decision)
            })?
        }
    };
    print_json(serde_json::to_string_pretty(&decision))?;
    Ok(if decision.allowed {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

fn existing_state(args: &StatusArgs) -> Result<GateState, String> {
    match args.store.store()? {
        Store::File(path) => load_state(path)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{}: no such state file", path.display())),
        Store::Postgres { url, gate_id } => runtime()?.block_on(async {
            let store = pg_store(&url, gate_id).await?;
            store
                .load()
                .await
                .map_err(|e| e.to_string())?
                .map(|stored| stored.state)
                .ok_or_else(|| format!("gate {gate_id:?}: no state in PostgreSQL yet"))
        }),
    }
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
