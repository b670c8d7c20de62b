//! The `/metrics` route with content negotiation, and a tower layer recording RED metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower::{Layer, Service};

use super::Format;
use super::registry::{CounterVec, DEFAULT_BUCKETS, HistogramVec, MetricsError, Registry};

/// A router serving `GET /metrics` from `registry`, in OpenMetrics or the Prometheus text format
/// as the `Accept` header asks ([`Format::negotiate`]).
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::metrics::{Registry, metrics_router};
/// let app: axum::Router = metrics_router(Arc::new(Registry::new()));
/// ```
pub fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(registry)
}

async fn metrics_handler(
    State(registry): State<Arc<Registry>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let body = registry.encode(format);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
}

#[derive(Debug)]
struct RedMetrics {
    requests: CounterVec,
    errors: CounterVec,
    duration: HistogramVec,
}

/// A tower layer recording RED metrics for HTTP requests:
/// `http_requests_total{method,route,status}`, `http_request_errors_total{method,route}` (5xx
/// responses and service errors) and `http_request_duration_seconds{method,route}`. The route is
/// axum's [`MatchedPath`] (the route template, so the label set stays bounded) or `unmatched`.
/// Add the layer with `Router::layer` after the routes; requests no route matches reach it only
/// when the router has an explicit `fallback` set before the layer.
///
/// ```
/// use biv_availability::metrics::{RedLayer, Registry};
/// use axum::{Router, routing::get};
/// let registry = Registry::new();
/// let app: Router = Router::new()
///     .route("/patients/{id}", get(|| async { "ok" }))
///     .layer(RedLayer::new(&registry)?);
/// # Ok::<(), biv_availability::metrics::MetricsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RedLayer {
    metrics: Arc<RedMetrics>,
}

impl RedLayer {
    /// Registers the RED metrics in `registry` with [`DEFAULT_BUCKETS`].
    ///
    /// # Errors
    /// [`MetricsError::Duplicate`] when they are registered already.
    pub fn new(registry: &Registry) -> Result<Self, MetricsError> {
        Self::with_buckets(registry, &DEFAULT_BUCKETS)
    }

    /// Registers the RED metrics with latency `buckets` (put the SLO thresholds among them).
    ///
    /// # Errors
    /// [`MetricsError`] for duplicate names or bad buckets.
    pub fn with_buckets(registry: &Registry, buckets: &[f64]) -> Result<Self, MetricsError> {
        Ok(RedLayer {
            metrics: Arc::new(RedMetrics {
                requests: registry.counter_vec(
                    "http_requests",
                    "HTTP requests by method, route and status.",
                    &["method", "route", "status"],
                )?,
                errors: registry.counter_vec(
                    "http_request_errors",
                    "HTTP requests answered with a 5xx status or failed.",
                    &["method", "route"],
                )?,
                duration: registry.histogram_vec(
                    "http_request_duration_seconds",
                    "HTTP request duration in seconds.",
                    &["method", "route"],
                    buckets,
                )?,
            }),
        })
    }
}

impl<S> Layer<S> for RedLayer {
    type Service = RedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RedService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`RedLayer`].
#[derive(Debug, Clone)]
pub struct RedService<S> {
    inner: S,
    metrics: Arc<RedMetrics>,
}

impl RedMetrics {
    fn record(&self, method: &str, route: &str, status: Option<StatusCode>, seconds: f64) {
        let status_str = status.as_ref().map_or("error", StatusCode::as_str);
        if let Ok(c) = self
            .requests
            .with_label_values(&[method, route, status_str])
        {
            c.inc();
        }
        if status.is_none_or(|s| s.is_server_error())
            && let Ok(c) = self.errors.with_label_values(&[method, route])
        {
            c.inc();
        }
        if let Ok(h) = self.duration.with_label_values(&[method, route]) {
            h.observe(seconds);
        }
    }
}

/// The `method` label: one of the nine methods of RFC 9110 and PATCH, or `_OTHER`. A client can
/// send any token as a method; without this mapping each one would add series for good.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

impl<S, B, RB> Service<Request<B>> for RedService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let method = req.method().clone();
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
        let metrics = self.metrics.clone();
        // the clone that was driven to readiness serves this request
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let start = Instant::now();
        Box::pin(async move {
            let result = inner.call(req).await;
            let seconds = start.elapsed().as_secs_f64();
            let status = result.as_ref().ok().map(Response::status);
            metrics.record(method_label(&method), &route, status, seconds);
            result
        })
    }
}
