//! [`AlertmanagerNotifier`]: alerts to Prometheus Alertmanager through its API v2.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{Alert, BackendError, Clock, Notifier, NotifyError, Redactor};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use zeroize::Zeroizing;

use super::payload::postable_alerts;
use crate::metrics::{Collector, MetricFamily, MetricKind, Sample, SampleValue};

/// How long one request to one Alertmanager may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often [`AlertmanagerNotifier::spawn_resend`] re-sends firing alerts by default: well
/// inside Alertmanager's default `resolve_timeout` of 5 minutes, after which an alert that is
/// not re-sent resolves by itself.
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);

/// The most firing alerts the notifier keeps for re-sending; a new one beyond this is still
/// sent once, but not kept (and counted).
pub const MAX_ACTIVE_ALERTS: usize = 1000;

/// The most bytes of an error answer kept for the error message.
const MAX_ERROR_BODY: usize = 4096;

/// Why an [`AlertmanagerNotifier`] could not be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlertmanagerConfigError {
    /// No Alertmanager URL was given.
    #[error("at least one Alertmanager URL is needed")]
    NoUrl,
    /// A URL is not an absolute `http://host[:port][/prefix]` URL. `url` is the URL as given,
    /// with any user information replaced by `<redacted>`.
    #[error("invalid Alertmanager URL {url:?}: {reason}")]
    Url {
        /// The URL as given, credentials redacted.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A credential cannot be sent in an HTTP header (a control character).
    #[error("the Alertmanager credential cannot be sent in an HTTP header")]
    Credential,
    /// [`AlertmanagerNotifier::spawn_resend`] was called outside a Tokio runtime.
    #[error("the resend task needs a Tokio runtime")]
    NoRuntime,
}

/// `url` with anything between `://` and `@` replaced, for error messages.
fn redact_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

/// The `alerts` endpoint under an Alertmanager base URL.
fn endpoint(url: &str) -> Result<Uri, AlertmanagerConfigError> {
    let bad = |reason| AlertmanagerConfigError::Url {
        url: redact_userinfo(url),
        reason,
    };
    let base: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    match base.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(bad("https is not supported yet (no TLS client in biv)")),
        _ => return Err(bad("needs http://")),
    }
    let Some(authority) = base.authority() else {
        return Err(bad("needs a host"));
    };
    if authority.as_str().contains('@') {
        return Err(bad(
            "credentials in the URL are not supported; use a bearer token",
        ));
    }
    if base.query().is_some() {
        return Err(bad("must not have a query"));
    }
    let prefix = base.path().trim_end_matches('/');
    format!("http://{}{prefix}/api/v2/alerts", authority.as_str())
        .parse()
        .map_err(|_| bad("not a URL"))
}

/// Configures an [`AlertmanagerNotifier`]; everything is set before the notifier exists, so a
/// shared notifier can never be half-configured.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use biv_availability::alerting::AlertmanagerNotifier;
/// use biv_core::SystemClock;
///
/// let notifier = AlertmanagerNotifier::builder(&["http://127.0.0.1:9093"], Arc::new(SystemClock::new()))
///     .timeout(Duration::from_secs(1))
///     .bearer_token("token-from-a-secret-store")?
///     .build()?;
/// assert!(!format!("{notifier:?}").contains("token-from"));
/// # Ok::<(), biv_availability::alerting::AlertmanagerConfigError>(())
/// ```
pub struct AlertmanagerNotifierBuilder {
    urls: Vec<String>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    authorization: Option<HeaderValue>,
    redactor: Option<Arc<dyn Redactor>>,
}

impl std::fmt::Debug for AlertmanagerNotifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertmanagerNotifierBuilder")
            .field(
                "urls",
                &self
                    .urls
                    .iter()
                    .map(|u| redact_userinfo(u))
                    .collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("redactor", &self.redactor.is_some())
            .finish_non_exhaustive()
    }
}

impl AlertmanagerNotifierBuilder {
    /// Bounds each delivery (to all Alertmanagers together, connecting included) by `timeout`
    /// (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Passes every label and annotation value and the generator URL through `redactor`
    /// before it leaves the process.
    #[must_use]
    pub fn redactor(mut self, redactor: Arc<dyn Redactor>) -> Self {
        self.redactor = Some(redactor);
        self
    }

    /// Sends `Authorization: Bearer <token>` (an Alertmanager behind an authenticating proxy).
    /// The token is kept as a sensitive header value, never printed.
    ///
    /// # Errors
    /// [`AlertmanagerConfigError::Credential`] for a token with control characters.
    pub fn bearer_token(mut self, token: &str) -> Result<Self, AlertmanagerConfigError> {
        let text = Zeroizing::new(format!("Bearer {token}"));
        let mut value =
            HeaderValue::from_str(&text).map_err(|_| AlertmanagerConfigError::Credential)?;
        value.set_sensitive(true);
        self.authorization = Some(value);
        Ok(self)
    }

    /// The notifier.
    ///
    /// # Errors
    /// [`AlertmanagerConfigError`] when no URL was given or one is not an `http://` URL
    /// without credentials.
    pub fn build(self) -> Result<AlertmanagerNotifier, AlertmanagerConfigError> {
        if self.urls.is_empty() {
            return Err(AlertmanagerConfigError::NoUrl);
        }
        let endpoints = self
            .urls
            .iter()
            .map(|u| endpoint(u))
            .collect::<Result<Vec<_>, _>>()?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(self.timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(AlertmanagerNotifier {
            inner: Arc::new(Inner {
                endpoints,
                client,
                timeout: self.timeout,
                authorization: self.authorization,
                redactor: self.redactor,
                clock: self.clock,
                state: Mutex::new(State::default()),
                stats: Stats::default(),
            }),
        })
    }
}

/// Sends [`Alert`]s to one or more Prometheus Alertmanagers (`POST {url}/api/v2/alerts`), as
/// Prometheus does:
///
/// - every alert goes to **every** configured Alertmanager at once (an HA cluster
///   deduplicates); a notification succeeds when at least one accepted it;
/// - a firing alert is remembered by its label set and [re-sent](Self::resend_now) until an
///   alert with the same labels arrives resolved (or its own `endsAt` passes): Alertmanager
///   resolves an alert that is not re-sent within its `resolve_timeout`. A resolution that
///   crosses a resend in flight is sent again after it, so a stale "firing" never reopens it;
/// - label and annotation values and the generator URL pass an optional [`Redactor`] first,
///   so personal data in a message never reaches a pager;
/// - each delivery is bounded by a timeout, so a notifier never stalls the host; a 4xx that a
///   retry cannot fix (400, 404, 405, 410, 413, 414, 415, 422) is [`NotifyError::Rejected`]
///   and the alert is not kept; anything else (408, 429, 401/403 from a proxy, 5xx, no
///   connection, no answer) is [`NotifyError::Unavailable`] and a firing alert is kept for the
///   next resend;
/// - deliveries, failures and alerts not kept are counted: register the notifier as a
///   metrics [`Collector`] for `biv_alerts_sent_total{outcome}` and `biv_alerts_active`.
///
/// Only `http://` is supported: biv has no TLS client yet (ADR 0005); reach a TLS
/// Alertmanager through a local proxy. The wire format is in `docs/formats/alertmanager.md`.
///
/// ```no_run
/// use std::sync::Arc;
/// use biv_availability::alerting::{AlertmanagerNotifier, DEFAULT_RESEND_INTERVAL};
/// use biv_core::{Alert, Clock, Notifier, Severity, SystemClock};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = Arc::new(SystemClock::new());
/// let notifier = AlertmanagerNotifier::builder(&["http://127.0.0.1:9093"], clock.clone()).build()?;
/// let _resend = notifier.spawn_resend(DEFAULT_RESEND_INTERVAL)?;
/// let alert = Alert::new("BivDiskFilling", Severity::Warning, clock.now())?
///     .with_label("service", "ehr-api")?
///     .with_annotation("summary", "the data disk is full within 4 hours at this rate");
/// notifier.notify(&alert).await?;
/// // … later, when the condition has cleared:
/// notifier.notify(&alert.clone().resolved_at(clock.now())?).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AlertmanagerNotifier {
    inner: Arc<Inner>,
}

type Labels = BTreeMap<String, String>;

/// The alerts being re-sent, each with the generation of its last change.
#[derive(Debug, Default)]
struct State {
    active: BTreeMap<Labels, (Alert, u64)>,
    /// Resolutions since the last resend snapshot, to send again after that resend.
    resolved_since_snapshot: BTreeMap<Labels, Alert>,
    generation: u64,
}

/// Delivery counters.
#[derive(Debug, Default)]
struct Stats {
    delivered: AtomicU64,
    rejected: AtomicU64,
    unavailable: AtomicU64,
    not_kept: AtomicU64,
}

struct Inner {
    endpoints: Vec<Uri>,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    authorization: Option<HeaderValue>,
    redactor: Option<Arc<dyn Redactor>>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    stats: Stats,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertmanagerNotifier")
            .field("endpoints", &self.endpoints)
            .field("timeout", &self.timeout)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("redactor", &self.redactor.is_some())
            .finish_non_exhaustive()
    }
}

impl AlertmanagerNotifier {
    /// Starts configuring a notifier for the Alertmanagers at `urls` (base URLs such as
    /// `http://am:9093`, with a route prefix if Alertmanager runs with `--web.route-prefix`);
    /// `clock` decides which alerts are resolved.
    pub fn builder(urls: &[&str], clock: Arc<dyn Clock>) -> AlertmanagerNotifierBuilder {
        AlertmanagerNotifierBuilder {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            clock,
            timeout: DEFAULT_TIMEOUT,
            authorization: None,
            redactor: None,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The firing alerts that are being re-sent, in label order.
    pub fn active(&self) -> Vec<Alert> {
        self.state()
            .active
            .values()
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Sends every remembered firing alert again, in one request per Alertmanager; alerts
    /// whose own `endsAt` has passed are forgotten first. A resolution that arrived while the
    /// request was in flight is sent again afterwards. Does nothing when none is firing.
    ///
    /// # Errors
    /// As [`Notifier::notify`].
    pub async fn resend_now(&self) -> Result<(), NotifyError> {
        let now = self.inner.clock.now();
        let snapshot: Vec<Alert> = {
            let mut state = self.state();
            state.active.retain(|_, (a, _)| !a.is_resolved_at(now));
            state.resolved_since_snapshot.clear();
            state.active.values().map(|(a, _)| a.clone()).collect()
        };
        if snapshot.is_empty() {
            return Ok(());
        }
        let refs: Vec<&Alert> = snapshot.iter().collect();
        let result = self.inner.post(&refs).await;
        let crossed: Vec<Alert> = {
            let mut state = self.state();
            let resolved = std::mem::take(&mut state.resolved_since_snapshot);
            resolved
                .into_iter()
                .filter(|(key, _)| snapshot.iter().any(|a| a.labels() == key))
                .map(|(_, alert)| alert)
                .collect()
        };
        if !crossed.is_empty() {
            let refs: Vec<&Alert> = crossed.iter().collect();
            self.inner.post(&refs).await?;
        }
        result
    }

    /// Re-sends the firing alerts every `interval` on the current Tokio runtime until the
    /// returned task is dropped. Keep `interval` well under Alertmanager's `resolve_timeout`.
    /// A failed resend is counted and tried again at the next tick.
    ///
    /// # Errors
    /// [`AlertmanagerConfigError::NoRuntime`] outside a Tokio runtime.
    pub fn spawn_resend(&self, interval: Duration) -> Result<ResendTask, AlertmanagerConfigError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| AlertmanagerConfigError::NoRuntime)?;
        let notifier = self.clone();
        let task = handle.spawn(async move {
            let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                // Counted in the stats; the next tick tries again.
                let _ = notifier.resend_now().await;
            }
        });
        Ok(ResendTask(task))
    }
}

/// The background resend of [`AlertmanagerNotifier::spawn_resend`]; stops when dropped.
#[derive(Debug)]
pub struct ResendTask(tokio::task::JoinHandle<()>);

impl Drop for ResendTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How one Alertmanager failed.
enum Failure {
    Rejected(String),
    Unavailable(String),
}

/// Statuses a retry cannot fix: the alert itself is refused.
fn is_permanent(status: u16) -> bool {
    matches!(status, 400 | 404 | 405 | 410 | 413 | 414 | 415 | 422)
}

impl Inner {
    /// Posts `alerts` to every Alertmanager at once; succeeds when one accepted them.
    async fn post(&self, alerts: &[&Alert]) -> Result<(), NotifyError> {
        let body = Bytes::from(postable_alerts(alerts, self.redactor.as_deref()));
        // All at once, each bounded by the timeout: the whole delivery is too.
        let results = join_all(
            self.endpoints
                .iter()
                .map(|endpoint| self.post_one(endpoint, body.clone())),
        )
        .await;
        let mut rejected = None;
        let mut unavailable = Vec::new();
        let mut accepted = false;
        for result in results {
            match result {
                Ok(()) => accepted = true,
                Err(Failure::Rejected(message)) => rejected = Some(message),
                Err(Failure::Unavailable(message)) => unavailable.push(message),
            }
        }
        let count = alerts.len() as u64;
        if accepted {
            self.stats.delivered.fetch_add(count, Ordering::Relaxed);
            return Ok(());
        }
        if let Some(message) = rejected {
            self.stats.rejected.fetch_add(count, Ordering::Relaxed);
            return Err(NotifyError::Rejected(message));
        }
        self.stats.unavailable.fetch_add(count, Ordering::Relaxed);
        Err(NotifyError::Unavailable(BackendError::msg(
            unavailable.join("; "),
        )))
    }

    async fn post_one(&self, endpoint: &Uri, body: Bytes) -> Result<(), Failure> {
        match tokio::time::timeout(self.timeout, self.exchange(endpoint, body)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Unavailable(format!(
                "{endpoint}: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    async fn exchange(&self, endpoint: &Uri, body: Bytes) -> Result<(), Failure> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = endpoint.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(auth) = &self.authorization {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| Failure::Unavailable(format!("{endpoint}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = match Limited::new(response.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
        {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).trim().to_owned(),
            Err(_) => String::new(),
        };
        let message = format!("{endpoint}: HTTP {}: {text}", status.as_u16());
        if is_permanent(status.as_u16()) {
            Err(Failure::Rejected(message))
        } else {
            Err(Failure::Unavailable(message))
        }
    }
}

/// Runs `futures` concurrently on the current task and returns their results in order.
async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *result = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

#[async_trait]
impl Notifier for AlertmanagerNotifier {
    async fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        let now = self.inner.clock.now();
        let key = alert.labels().clone();
        let resolved = alert.is_resolved_at(now);
        // The resend set changes before the request, under the lock, so a slower request for
        // an older state of the same alert can never undo a newer one.
        let generation = {
            let mut state = self.state();
            state.generation += 1;
            let generation = state.generation;
            if resolved {
                // Remembered until the next resend, which sends it again if it crossed one.
                if state.active.remove(&key).is_some()
                    && state.resolved_since_snapshot.len() < MAX_ACTIVE_ALERTS
                {
                    state
                        .resolved_since_snapshot
                        .insert(key.clone(), alert.clone());
                }
            } else if state.active.len() < MAX_ACTIVE_ALERTS || state.active.contains_key(&key) {
                state
                    .active
                    .insert(key.clone(), (alert.clone(), generation));
            } else {
                self.inner.stats.not_kept.fetch_add(1, Ordering::Relaxed);
            }
            generation
        };
        let result = self.inner.post(&[alert]).await;
        if !resolved && matches!(result, Err(NotifyError::Rejected(_))) {
            // Refused for good: stop re-sending it, unless it changed meanwhile.
            let mut state = self.state();
            if state
                .active
                .get(&key)
                .is_some_and(|(_, g)| *g == generation)
            {
                state.active.remove(&key);
            }
        }
        result
    }
}

impl Collector for AlertmanagerNotifier {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        let stats = &self.inner.stats;
        let mut sent = MetricFamily::new(
            "biv_alerts_sent",
            "Alerts posted to Alertmanager, by outcome (not_kept: firing alerts beyond the resend cap).",
            MetricKind::Counter,
        );
        for (outcome, counter) in [
            ("delivered", &stats.delivered),
            ("rejected", &stats.rejected),
            ("unavailable", &stats.unavailable),
            ("not_kept", &stats.not_kept),
        ] {
            sent = sent.with_sample(Sample::new(
                vec![("outcome".to_owned(), outcome.to_owned())],
                SampleValue::Counter(counter.load(Ordering::Relaxed)),
            ));
        }
        out.push(sent);
        #[expect(clippy::cast_precision_loss, reason = "at most MAX_ACTIVE_ALERTS")]
        let active = self.state().active.len() as f64;
        out.push(
            MetricFamily::new(
                "biv_alerts_active",
                "Firing alerts the notifier re-sends.",
                MetricKind::Gauge,
            )
            .with_sample(Sample::new(vec![], SampleValue::Gauge(active))),
        );
    }
}
