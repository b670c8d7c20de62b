//! `biv scale` (availability): Kubernetes-compatible scaling advice from current metrics.
//!
//! `biv scale recommend --input FILE` reads one JSON object (standard input for `-`):
//!
//! ```text
//! {"current_replicas": 3, "min_replicas": 1, "max_replicas": 10, "tolerance": 0.1,
//!  "target": {"type": "utilization", "value": 50},
//!  "pods": [{"name": "web-0", "ready": true, "request_milli": 1000, "usage_milli": 800}],
//!  "missing_pods": ["web-1"],
//!  "behavior": {"scaleUp": {...}, "scaleDown": {...}},
//!  "history": [{"seconds_ago": 60, "recommendation": 4}, {"seconds_ago": 30, "replica_change": 1}]}
//! ```
//!
//! and prints `{"desired_replicas":N,"utilization":X,"reason":"S"}` with the Kubernetes
//! HorizontalPodAutoscaler's algorithm (`biv_availability::scale`). `target.type` is
//! `utilization` (percent of requests) or `average_value` (milli-units per pod); `behavior` has
//! the `autoscaling/v2` shape; `min_replicas` (1), `tolerance` (0.1), `missing_pods`,
//! `behavior` and `history` are optional.

use std::io::Read;
use std::path::PathBuf;

use biv_availability::scale::{ScaleInput, recommend};
use clap::{Args, Subcommand};

use crate::exit::Exit;

/// Arguments of `biv scale`.
#[derive(Debug, Args)]
#[command(
    about = "Give Kubernetes-compatible scaling advice from current metrics",
    long_about = "Compute scaling advice from current metrics with the Kubernetes \
                  HorizontalPodAutoscaler algorithm (tolerance, unready and missing pods, \
                  stabilization windows, scaling policies), so that the service scales out at \
                  peaks.",
    after_help = "Exit status: 0 advice printed; 2 bad arguments, or input that is not valid \
                  (the message names the offending key) or from which no replica count can be \
                  computed."
)]
pub(crate) struct ScaleArgs {
    #[command(subcommand)]
    command: ScaleCommand,
}

#[derive(Debug, Subcommand)]
enum ScaleCommand {
    /// Print the replica count the HPA algorithm recommends:
    /// {"desired_replicas","utilization","reason"}
    Recommend(RecommendArgs),
}

#[derive(Debug, Args)]
struct RecommendArgs {
    /// The input (JSON): current and min/max replicas, target, pods, optional behavior and
    /// history; `-` for standard input
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
}

/// Runs `biv scale`.
pub(crate) fn run(args: &ScaleArgs) -> Exit {
    let ScaleCommand::Recommend(a) = &args.command;
    match recommend_from(a) {
        Ok(json) => {
            println!("{json}");
            Exit::Ok
        }
        Err(message) => {
            eprintln!("biv scale recommend: {message}");
            Exit::Usage
        }
    }
}

fn recommend_from(args: &RecommendArgs) -> Result<String, String> {
    let text = if args.input.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        text
    } else {
        std::fs::read_to_string(&args.input)
            .map_err(|e| format!("cannot read {}: {e}", args.input.display()))?
    };
    let input = ScaleInput::from_json(&text).map_err(|e| e.to_string())?;
    let advice = recommend(&input).map_err(|e| format!("no recommendation: {e}"))?;
    serde_json::to_string(&advice).map_err(|e| format!("cannot encode the advice: {e}"))
}
