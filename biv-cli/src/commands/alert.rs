//! `biv alert` (availability): send alerts to Prometheus Alertmanager (API v2).
//!
//! - `biv alert send --alertmanager URL… --name NAME --severity info|warning|critical
//!   [--label K=V]… [--annotation K=V]… [--generator-url URL] [--resolved]` sends one alert,
//!   firing or (with `--resolved`) resolved now;
//! - `biv alert test --alertmanager URL…` sends `BivTestAlert` firing and then resolved, to check
//!   the path to the people on call.
//!
//! Label and annotation values pass biv's personal-data redactor first. A bearer token for an
//! authenticating proxy comes from `BIV_ALERTMANAGER_TOKEN` (never from the command line, where
//! `ps` shows it). Each prints one JSON object per alert sent: `{"alertname","status",
//! "accepted"}`. Exit 0 accepted by an Alertmanager, 1 none accepted, 2 bad input.

use std::sync::Arc;
use std::time::Duration;

use biv_availability::alerting::AlertmanagerNotifier;
use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
use biv_core::{Alert, Clock, Notifier, NotifyError, Severity, SystemClock};
use clap::{Args, Subcommand, ValueEnum};

use crate::exit::Exit;

/// The variable holding a bearer token for the Alertmanager.
const TOKEN_ENV: &str = "BIV_ALERTMANAGER_TOKEN";

/// Arguments of `biv alert`.
#[derive(Debug, Args)]
#[command(
    about = "Send alerts to Prometheus Alertmanager, and test the path to the people on call",
    long_about = "Send an alert to one or more Prometheus Alertmanagers through their API v2, \
                  firing or resolved, with personal data redacted from its labels and \
                  annotations; or send a test alert that fires and resolves. A bearer token \
                  for an authenticating proxy is read from BIV_ALERTMANAGER_TOKEN.",
    after_help = "Exit status: 0 an Alertmanager accepted the alert; 1 none accepted it \
                  (unreachable, or it refused the alert); 2 bad arguments."
)]
pub(crate) struct AlertArgs {
    #[command(subcommand)]
    command: AlertCommand,
}

#[derive(Debug, Subcommand)]
enum AlertCommand {
    /// Send one alert, firing or resolved
    Send(SendArgs),
    /// Send BivTestAlert firing, then resolved
    Test(TargetArgs),
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// An Alertmanager base URL (http://host:9093, with a route prefix if it has one);
    /// repeat for each member of an HA cluster
    #[arg(long = "alertmanager", value_name = "URL", required = true)]
    alertmanagers: Vec<String>,
    /// How long each Alertmanager may take to answer, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u64,
}

#[derive(Debug, Args)]
struct SendArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The alert's name (label alertname)
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Its severity
    #[arg(long, value_enum)]
    severity: SeverityArg,
    /// A label, NAME=VALUE; repeatable
    #[arg(long = "label", value_name = "K=V", value_parser = key_value)]
    labels: Vec<(String, String)>,
    /// An annotation (summary, description, runbook_url, …), NAME=VALUE; repeatable
    #[arg(long = "annotation", value_name = "K=V", value_parser = key_value)]
    annotations: Vec<(String, String)>,
    /// Where the alert comes from
    #[arg(long, value_name = "URL")]
    generator_url: Option<String>,
    /// Send it resolved now (ends the alert with these labels)
    #[arg(long)]
    resolved: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SeverityArg {
    Info,
    Warning,
    Critical,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Self {
        match s {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
    if k.is_empty() {
        return Err(format!("{text:?} has an empty name"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// A failure and how the process ends because of it.
struct Failure(Exit, String);

fn usage(message: impl Into<String>) -> Failure {
    Failure(Exit::Usage, message.into())
}

/// Runs `biv alert`.
pub(crate) fn run(args: &AlertArgs) -> Exit {
    let (name, result) = match &args.command {
        AlertCommand::Send(a) => ("send", send(a)),
        AlertCommand::Test(a) => ("test", test(a)),
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(Failure(exit, message)) => {
            eprintln!("biv alert {name}: {message}");
            exit
        }
    }
}

fn notifier(target: &TargetArgs, clock: Arc<dyn Clock>) -> Result<AlertmanagerNotifier, Failure> {
    alertmanager_notifier(&target.alertmanagers, target.timeout_ms, clock).map_err(usage)
}

/// A notifier for `urls` with biv's redactor and the token of `BIV_ALERTMANAGER_TOKEN`, for
/// every command that sends alerts.
pub(crate) fn alertmanager_notifier(
    urls: &[String],
    timeout_ms: u64,
    clock: Arc<dyn Clock>,
) -> Result<AlertmanagerNotifier, String> {
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let redactor = PiiRedactor::new(&PiiConfig::default())
        .map_err(|e| format!("cannot build the redactor: {e}"))?;
    let mut builder = AlertmanagerNotifier::builder(&urls, clock)
        .timeout(Duration::from_millis(timeout_ms.max(1)))
        .redactor(Arc::new(redactor));
    if let Ok(token) = std::env::var(TOKEN_ENV) {
        builder = builder
            .bearer_token(&token)
            .map_err(|e| format!("{TOKEN_ENV}: {e}"))?;
    }
    builder.build().map_err(|e| e.to_string())
}

fn build_alert(args: &SendArgs, clock: &dyn Clock) -> Result<Alert, Failure> {
    let now = clock.now();
    let mut alert =
        Alert::new(&args.name, args.severity.into(), now).map_err(|e| usage(e.to_string()))?;
    for (k, v) in &args.labels {
        alert = alert
            .with_label(k, v)
            .map_err(|e| usage(format!("--label {k}: {e}")))?;
    }
    for (k, v) in &args.annotations {
        alert = alert.with_annotation(k, v);
    }
    if let Some(url) = &args.generator_url {
        alert = alert.with_generator_url(url);
    }
    if args.resolved {
        alert = alert.resolved_at(now).map_err(|e| usage(e.to_string()))?;
    }
    Ok(alert)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(format!("cannot start the runtime: {e}")))
}

/// Sends `alert` and prints its line; a refusal or an unreachable Alertmanager is exit 1.
async fn deliver(
    notifier: &AlertmanagerNotifier,
    alert: &Alert,
    now: biv_core::Timestamp,
) -> Result<(), Failure> {
    let status = if alert.is_resolved_at(now) {
        "resolved"
    } else {
        "firing"
    };
    let result = notifier.notify(alert).await;
    let line = serde_json::json!({
        "alertname": alert.name(),
        "status": status,
        "accepted": result.is_ok(),
    });
    println!("{line}");
    result.map_err(|e| {
        let what = match e {
            NotifyError::Rejected(_) => "refused",
            _ => "not delivered",
        };
        Failure(Exit::CheckFailed, format!("{} {what}: {e}", alert.name()))
    })
}

fn send(args: &SendArgs) -> Result<(), Failure> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let alert = build_alert(args, clock.as_ref())?;
    let notifier = notifier(&args.target, clock.clone())?;
    runtime()?.block_on(deliver(&notifier, &alert, clock.now()))
}

fn test(args: &TargetArgs) -> Result<(), Failure> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let notifier = notifier(args, clock.clone())?;
    let firing = Alert::new("BivTestAlert", Severity::Info, clock.now())
        .map_err(|e| usage(e.to_string()))?
        .with_annotation(
            "summary",
            "Test alert from `biv alert test`: the path to the people on call works.",
        );
    runtime()?.block_on(async {
        deliver(&notifier, &firing, clock.now()).await?;
        let now = clock.now();
        let resolved = firing
            .clone()
            .resolved_at(now)
            .map_err(|e| usage(e.to_string()))?;
        deliver(&notifier, &resolved, now).await
    })
}
