//! [`AccessLogLayer`]: a tower layer that logs every HTTP request as an ECS access event.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use tower::{Layer, Service};

/// Logs each request once it is answered, as a `tracing` event in the `access` dataset with the
/// ECS fields `http.request.method`, `url.path`, `url.query` (when present),
/// `http.response.status_code`, `event.duration` (nanoseconds), `client.address` (when the
/// server records peers) and `user_agent.original`. With [`EcsLayer`](super::EcsLayer) installed
/// the line is redacted like every other, so a BSN in a query string never reaches the log.
///
/// ```
/// use axum::{Router, routing::get};
/// use biv_availability::logging::AccessLogLayer;
///
/// let app: Router = Router::new().route("/", get(|| async { "ok" })).layer(AccessLogLayer::new());
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer {
    _private: (),
}

impl AccessLogLayer {
    /// The layer.
    pub fn new() -> Self {
        AccessLogLayer { _private: () }
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

/// The service [`AccessLogLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AccessLog<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().map(str::to_owned);
        let client = request
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let agent = request
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let status = result.as_ref().map(|r| r.status().as_u16()).unwrap_or(500);
            tracing::info!(
                event.dataset = "access",
                http.request.method = method.as_str(),
                url.path = path.as_str(),
                url.query = query.as_deref(),
                http.response.status_code = status,
                event.duration = nanos,
                client.address = client.as_deref(),
                user_agent.original = agent.as_deref(),
                "{method} {path} {status}"
            );
            result
        })
    }
}
