//! The HTTP surface of the reference deployment: the router and the documents it serves.
//!
//! | request         | response                                                          |
//! |-----------------|-------------------------------------------------------------------|
//! | `GET /`         | `200`, `application/json`: an [`About`] document                 |
//! | `GET /health`, `/health/live`, `/health/ready`, `/health/startup` | `200` (pass, warn) or `503` (fail), `application/health+json` (docs/formats/health-json.md) |
//! | `GET /metrics`  | `200`, Prometheus text 0.0.4 or OpenMetrics 1.0 by the `Accept` header (docs/formats/metrics.md): RED metrics of every route, process and host metrics |
//! | other method on `/` | `405`, `application/json`: an [`ErrorBody`]                  |
//! | any other path  | `404`, `application/json`: an [`ErrorBody`]                       |

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use biv_availability::health::{HealthRegistry, health_router};
use biv_availability::metrics::{ProcessCollector, RedLayer, Registry, metrics_router};
use serde::Serialize;

/// What `GET /` says biv is.
pub const DESCRIPTION: &str = "biv puts the Dutch BIV model (Beschikbaarheid, Integriteit, \
    Vertrouwelijkheid: availability, integrity, confidentiality) into code that a host \
    application embeds; this service is its reference deployment, the host that shows the \
    controls wired in.";

/// What `GET /` says about the wiring so far.
pub const CONTROLS_NOTE: &str = "Health checks and probes (/health, /health/live, \
    /health/ready, /health/startup) and metrics (/metrics) are wired in; every other control is \
    listed as planned until a release wires it in.";

/// Builds the router of the reference deployment, answering the health routes from `health`'s
/// cache and `/metrics` from a fresh metrics registry with the process collector.
///
/// It needs no external server, so it can be served as is or driven in-process (for example
/// with `tower::ServiceExt::oneshot`).
pub fn router(health: HealthRegistry) -> Router {
    let metrics = Arc::new(Registry::new());
    metrics.register_collector(Arc::new(ProcessCollector::new()));
    match RedLayer::new(&metrics) {
        Ok(red) => router_with_metrics(health, metrics, red),
        // unreachable: the registry is fresh, so the RED metric names are free
        Err(_) => routes(health, metrics),
    }
}

/// As [`router`], serving `/metrics` from `metrics` (which the host may share with its own
/// metrics) and recording every request, including 404s and 405s, through `red`.
pub fn router_with_metrics(
    health: HealthRegistry,
    metrics: Arc<Registry>,
    red: RedLayer,
) -> Router {
    routes(health, metrics).layer(red)
}

fn routes(health: HealthRegistry, metrics: Arc<Registry>) -> Router {
    Router::new()
        .route("/", get(about_handler))
        .merge(health_router(health))
        .merge(metrics_router(metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

/// The document `GET /` returns: what this service is and which controls it wires in.
#[derive(Debug, Clone, Serialize)]
pub struct About {
    /// The name of the service, `biv-reference`.
    pub name: &'static str,
    /// The version of the service (the biv release it belongs to).
    pub version: &'static str,
    /// One sentence on what biv is and what this service is for.
    pub description: &'static str,
    /// How many of the [`controls`](Self::controls) are wired in.
    pub wired: usize,
    /// A sentence summing up the wiring so far.
    pub note: &'static str,
    /// Every pillar control biv provides, with whether it is wired into this service.
    pub controls: Vec<Control>,
}

/// One control of a BIV pillar, as listed by `GET /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Control {
    /// The pillar the control belongs to.
    pub pillar: Pillar,
    /// What the control does, in a few words.
    pub control: &'static str,
    /// Whether the control is wired into this service.
    pub status: ControlStatus,
}

/// The three pillars of the BIV model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pillar {
    /// Beschikbaarheid: the service stays up and problems are caught early.
    Availability,
    /// Integriteit: every action is registered and every change reviewed.
    Integrity,
    /// Vertrouwelijkheid: special personal data stays confidential.
    Confidentiality,
}

/// Whether a control is wired into the reference deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlStatus {
    /// Wired into this service.
    Wired,
    /// Not wired in yet; a later release wires it in.
    Planned,
}

/// The body of every error response: a stable machine-readable code and a sentence for people.
///
/// It never echoes the request (paths may carry personal data such as a BSN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// A stable code, such as `not_found`.
    pub error: &'static str,
    /// What went wrong, for people.
    pub message: &'static str,
}

/// The controls wired into this service (the first entries of [`CONTROLS`]).
const WIRED: [&str; 3] = [
    "health checks and probes (application/health+json)",
    "metrics (Prometheus and OpenMetrics text)",
    "deviation detectors",
];

/// The pillar controls biv provides (DESIGN.md, "What each pillar gives the host").
const CONTROLS: [(Pillar, &str); 19] = [
    (
        Pillar::Availability,
        "health checks and probes (application/health+json)",
    ),
    (
        Pillar::Availability,
        "metrics (Prometheus and OpenMetrics text)",
    ),
    (Pillar::Availability, "deviation detectors"),
    (Pillar::Availability, "Kubernetes-compatible scaling advice"),
    (Pillar::Availability, "ECS logging with loss-free shipping"),
    (Pillar::Availability, "daily log review digest"),
    (
        Pillar::Availability,
        "error reporter with real-time alert delivery",
    ),
    (Pillar::Availability, "SLO and uptime accounting"),
    (
        Pillar::Integrity,
        "tamper-evident audit log with signed checkpoints and proofs",
    ),
    (Pillar::Integrity, "NEN 7513 access records"),
    (
        Pillar::Integrity,
        "six-eyes review of code and configuration",
    ),
    (
        Pillar::Integrity,
        "DTAP promotion gate with product-owner approval",
    ),
    (Pillar::Integrity, "configuration drift detection"),
    (Pillar::Integrity, "evidence export (NIST OSCAL)"),
    (
        Pillar::Confidentiality,
        "field-level encryption with per-subject keys",
    ),
    (Pillar::Confidentiality, "key rotation and crypto-shredding"),
    (
        Pillar::Confidentiality,
        "blind indexes for searching encrypted fields",
    ),
    (Pillar::Confidentiality, "access decisions with break-glass"),
    (
        Pillar::Confidentiality,
        "redaction of personal data from logs and error reports",
    ),
];

/// The [`About`] document of this build.
pub fn about() -> About {
    let controls: Vec<Control> = CONTROLS
        .iter()
        .map(|&(pillar, control)| Control {
            pillar,
            control,
            status: if WIRED.contains(&control) {
                ControlStatus::Wired
            } else {
                ControlStatus::Planned
            },
        })
        .collect();
    let wired = controls
        .iter()
        .filter(|c| c.status == ControlStatus::Wired)
        .count();
    About {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        description: DESCRIPTION,
        wired,
        note: CONTROLS_NOTE,
        controls,
    }
}

async fn about_handler() -> Json<About> {
    Json(about())
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        ErrorBody {
            error: "not_found",
            message: "There is no resource at this path; GET / describes this service.",
        },
    )
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorBody {
            error: "method_not_allowed",
            message: "This resource does not support the request method; use GET.",
        },
    )
}

fn error_response(status: StatusCode, body: ErrorBody) -> Response {
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::{ControlStatus, Pillar, about};

    #[test]
    fn every_pillar_has_controls_and_health_metrics_and_detectors_are_wired() {
        let about = about();
        assert_eq!(about.wired, 3);
        for pillar in [
            Pillar::Availability,
            Pillar::Integrity,
            Pillar::Confidentiality,
        ] {
            assert!(
                about.controls.iter().any(|c| c.pillar == pillar),
                "{pillar:?}"
            );
        }
        let wired: Vec<_> = about
            .controls
            .iter()
            .filter(|c| c.status == ControlStatus::Wired)
            .collect();
        assert_eq!(wired.len(), 3);
        assert!(wired.iter().all(|c| c.pillar == Pillar::Availability));
        assert!(wired[0].control.starts_with("health checks"));
        assert!(wired[1].control.starts_with("metrics"));
        assert_eq!(wired[2].control, "deviation detectors");
    }
}
