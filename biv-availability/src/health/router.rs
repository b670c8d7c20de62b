//! The axum routes `/health`, `/health/live`, `/health/ready`, `/health/startup` and
//! `/health/{group}`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::registry::{Group, HealthRegistry};
use super::report::{HEALTH_JSON, HealthReport};

/// The health routes, answering from the registry's cache: `/health` (every check),
/// `/health/live`, `/health/ready`, `/health/startup` and `/health/{group}` for custom groups
/// (404 for a group without checks). Bodies are `application/health+json`, with 200 for
/// `pass`/`warn` and 503 for `fail`, and `Cache-Control: no-store`.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::health::{HealthRegistry, health_router};
/// use biv_core::SystemClock;
///
/// let registry = HealthRegistry::builder(Arc::new(SystemClock::new())).build();
/// let app: axum::Router = health_router(registry.clone());
/// # let _ = app;
/// ```
pub fn health_router<S>(registry: HealthRegistry) -> Router<S> {
    Router::new()
        .route("/health", get(all))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/startup", get(startup))
        .route("/health/{group}", get(custom))
        .with_state(registry)
}

/// The HTTP response for a report.
pub fn health_response(report: &HealthReport) -> Response {
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(HEALTH_JSON)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        report.to_json(),
    )
        .into_response()
}

async fn all(State(registry): State<HealthRegistry>) -> Response {
    health_response(&registry.report_all())
}

async fn live(State(registry): State<HealthRegistry>) -> Response {
    health_response(&registry.report(&Group::Live))
}

async fn ready(State(registry): State<HealthRegistry>) -> Response {
    health_response(&registry.report(&Group::Ready))
}

async fn startup(State(registry): State<HealthRegistry>) -> Response {
    health_response(&registry.report(&Group::Startup))
}

async fn custom(State(registry): State<HealthRegistry>, Path(name): Path<String>) -> Response {
    let group = Group::from_name(&name);
    if registry.has_group(&group) {
        health_response(&registry.report(&group))
    } else {
        (StatusCode::NOT_FOUND, "no such health group\n").into_response()
    }
}
