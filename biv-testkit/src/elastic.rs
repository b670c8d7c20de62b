//! [`ElasticReceiver`]: a stand-in for Elasticsearch's `_bulk` API on 127.0.0.1, for tests of
//! log shippers.
//!
//! Elasticsearch itself cannot be installed in biv's test environment (it is not in Debian). This
//! receiver implements the documented request/response contract of `POST /_bulk` and
//! `POST /{index}/_bulk` (elastic/elasticsearch-specification `_global/bulk`), which is what a
//! shipper depends on:
//!
//! - the body is NDJSON, `action\n[source\n]…`, and must end with `\n` (otherwise the whole
//!   request gets 400 `illegal_argument_exception`);
//! - actions `create`, `index` and `delete` (with `_index` from the action or the path, `_id`
//!   optional for `index`); a source that is not a JSON object gets item 400
//!   `mapper_parsing_exception`;
//! - `create` of an `_id` the index already holds gets item **409**
//!   `version_conflict_engine_exception`; otherwise 201 `created`;
//! - the response is `{"took","errors","items":[{"<op>":{"_index","_id","status",…}}]}`, items
//!   in request order, `errors` true when any item failed.
//!
//! Tests script failures: whole-request answers ([`ElasticReceiver::respond_next`], e.g. 429
//! with `Retry-After`, 503, or a connection closed without an answer), per-item statuses for
//! sources containing a marker ([`ElasticReceiver::fail_items`]), a body size limit answered
//! with 413 ([`ElasticReceiver::set_max_content_length`]), a delay per request, and an outage
//! ([`ElasticReceiver::stop`] closes the listener and every connection, so connecting is
//! refused; [`ElasticReceiver::resume`] listens again on the same port).
//!
//! ```
//! use biv_testkit::elastic::ElasticReceiver;
//! use std::io::{Read, Write};
//!
//! let es = ElasticReceiver::start()?;
//! let body = "{\"create\":{\"_index\":\"logs\",\"_id\":\"a\"}}\n{\"message\":\"hi\"}\n";
//! let request = format!(
//!     "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
//!     body.len()
//! );
//! let mut tcp = std::net::TcpStream::connect(es.addr())?;
//! tcp.write_all(request.as_bytes())?;
//! let mut answer = String::new();
//! tcp.read_to_string(&mut answer)?;
//! assert!(answer.contains("\"status\":201"));
//! assert_eq!(es.documents("logs"), vec![("a".to_owned(), "{\"message\":\"hi\"}".to_owned())]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::loopback::LoopbackServer;

/// A whole-request answer scripted with [`ElasticReceiver::respond_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scripted {
    /// Answer with this status and an Elasticsearch error body, optionally with a
    /// `Retry-After` header; the request's items are not applied.
    Status {
        /// The HTTP status (429, 503, 413, 401, …).
        status: u16,
        /// The `Retry-After` header value, if any.
        retry_after: Option<String>,
    },
    /// Close the connection without answering (the server went away mid-request); the
    /// request's items are not applied.
    HangUp,
    /// Answer with this status and a `text/html` body that is not Elasticsearch's (a proxy in
    /// front of it, e.g. "400 The plain HTTP request was sent to HTTPS port"); the request's
    /// items are not applied.
    Proxy {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
}

impl Scripted {
    /// A status without `Retry-After`.
    pub fn status(status: u16) -> Self {
        Scripted::Status {
            status,
            retry_after: None,
        }
    }

    /// A status with `Retry-After: value`.
    pub fn status_retry_after(status: u16, value: impl Into<String>) -> Self {
        Scripted::Status {
            status,
            retry_after: Some(value.into()),
        }
    }
}

/// What the receiver has seen (a snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// `_bulk` requests that reached the handler, answered or not.
    pub requests: u64,
    /// Whole-request answers by status (200 for those with items).
    pub responses: BTreeMap<u16, u64>,
    /// Item results by status.
    pub items: BTreeMap<u16, u64>,
    /// Largest request body seen, in bytes.
    pub largest_body: usize,
    /// The number of items of each processed `_bulk` request (answered 200), in order.
    pub items_per_request: Vec<usize>,
    /// `Retry-After` values sent, in order.
    pub retry_after_sent: Vec<String>,
    /// The `Authorization` header of the last `_bulk` request, if it had one.
    pub last_authorization: Option<String>,
}

#[derive(Debug)]
struct ItemRule {
    marker: String,
    status: u16,
    remaining: u64,
}

#[derive(Debug, Default)]
struct State {
    /// index → id → source, plus the insertion order of ids per index.
    docs: HashMap<String, HashMap<String, String>>,
    order: HashMap<String, Vec<String>>,
    script: VecDeque<Scripted>,
    rules: Vec<ItemRule>,
    max_content_length: Option<usize>,
    delay: Duration,
    stats: ReceiverStats,
    auto_id: u64,
    /// Whether the serving loop has the port listening (it acknowledges `stop`/`resume`).
    listening: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Connections accepted and not yet closed.
    connections: std::sync::atomic::AtomicUsize,
}

/// Counts a request as in flight until dropped (answered, or abandoned with its connection).
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: &Arc<Shared>) -> Self {
        shared
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A loopback stand-in for Elasticsearch's `_bulk` API (see the [module docs](self)).
///
/// It runs on its own thread and runtime, so it serves synchronous tests, async tests and
/// child processes alike; dropping it stops it.
pub struct ElasticReceiver {
    server: LoopbackServer,
    shared: Arc<Shared>,
    up: watch::Sender<bool>,
}

impl std::fmt::Debug for ElasticReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticReceiver")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl ElasticReceiver {
    /// Starts a receiver on 127.0.0.1 with a free port.
    ///
    /// # Errors
    /// The I/O error of binding the port or starting the thread.
    pub fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        // The bound std listener already accepts connections (into its backlog).
        shared.lock().listening = true;
        let (up, up_rx) = watch::channel(true);
        let server = {
            let shared = Arc::clone(&shared);
            LoopbackServer::start("biv-elastic-receiver", move |listener, addr| {
                serve(listener, addr, shared, up_rx)
            })?
        };
        Ok(ElasticReceiver { server, shared, up })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The documents of `index` as `(_id, source)`, in the order they were first stored.
    pub fn documents(&self, index: &str) -> Vec<(String, String)> {
        let state = self.shared.lock();
        let (Some(order), Some(docs)) = (state.order.get(index), state.docs.get(index)) else {
            return Vec::new();
        };
        order
            .iter()
            .filter_map(|id| docs.get(id).map(|src| (id.clone(), src.clone())))
            .collect()
    }

    /// How many documents `index` holds.
    pub fn count(&self, index: &str) -> usize {
        self.shared.lock().docs.get(index).map_or(0, HashMap::len)
    }

    /// Waits until `index` holds at least `n` documents or `timeout` passes; returns the count.
    pub fn wait_for_count(&self, index: &str, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let count = state.docs.get(index).map_or(0, HashMap::len);
            let left = deadline.saturating_duration_since(Instant::now());
            if count >= n || left.is_zero() {
                return count;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Connections accepted and not yet closed. Once a client is gone and this is 0, nothing it
    /// sent can still arrive (a request still in a socket buffer is handled before its
    /// connection closes).
    pub fn open_connections(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests being handled right now (received, not yet answered or abandoned).
    pub fn in_flight(&self) -> usize {
        self.shared
            .in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What the receiver has seen so far.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.lock().stats.clone()
    }

    /// Answers the next `_bulk` request with `answer` instead of processing it (queued: call
    /// it several times for several requests).
    pub fn respond_next(&self, answer: Scripted) {
        self.shared.lock().script.push_back(answer);
    }

    /// Answers the next `times` items whose source contains `marker` with `status` (and the
    /// matching Elasticsearch error) instead of storing them. `u64::MAX` means always.
    pub fn fail_items(&self, marker: impl Into<String>, status: u16, times: u64) {
        self.shared.lock().rules.push(ItemRule {
            marker: marker.into(),
            status,
            remaining: times,
        });
    }

    /// Answers requests whose body is larger than `bytes` with 413 (Elasticsearch's
    /// `http.max_content_length`); `None` lifts the limit.
    pub fn set_max_content_length(&self, bytes: Option<usize>) {
        self.shared.lock().max_content_length = bytes;
    }

    /// Waits this long before answering each request (a slow cluster).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// An outage: closes the listener and every open connection; connecting is refused until
    /// [`ElasticReceiver::resume`]. Stored documents are kept.
    ///
    /// Returns once the listener is closed, so a connection made afterwards is refused.
    pub fn stop(&self) {
        let _ = self.up.send(false);
        self.wait_listening(false);
    }

    /// Ends an outage: listens on the same port again, and returns once it does.
    pub fn resume(&self) {
        let _ = self.up.send(true);
        self.wait_listening(true);
    }

    /// Waits until the serving loop reports `listening`; a test kit's stop or resume that
    /// cannot take effect within ten seconds fails the test rather than letting it go on
    /// against a receiver in the wrong state.
    fn wait_listening(&self, listening: bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut state = self.shared.lock();
        while state.listening != listening {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "ElasticReceiver on {}: still {} after 10 s",
                    self.server.addr(),
                    if listening {
                        "not listening"
                    } else {
                        "listening"
                    }
                );
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
    mut up: watch::Receiver<bool>,
) {
    let mut listener = tokio::net::TcpListener::from_std(listener).ok();
    // While stopped, the port stays bound without listening: connecting is refused, and no
    // other test's receiver can be given the port in the meantime.
    let mut placeholder: Option<tokio::net::TcpSocket> = None;
    let report = |listening: bool| {
        shared.lock().listening = listening;
        shared.changed.notify_all();
    };
    loop {
        if !*up.borrow() {
            if listener.take().is_some() || placeholder.is_none() {
                // Without SO_REUSEADDR first: then no other socket (another test's receiver
                // binding port 0) can share the port.
                placeholder = [false, true].into_iter().find_map(|reuse| {
                    tokio::net::TcpSocket::new_v4().ok().filter(|socket| {
                        socket.set_reuseaddr(reuse).is_ok() && socket.bind(addr).is_ok()
                    })
                });
            }
            report(false);
            if up.changed().await.is_err() {
                return;
            }
            continue;
        }
        placeholder = None;
        if listener.is_none() {
            // Rebind the same port (SO_REUSEADDR is set by tokio); retry briefly if the port
            // is still busy.
            for _ in 0..200 {
                if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
                    listener = Some(l);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let Some(l) = listener.as_ref() else {
            return;
        };
        report(true);
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    // Closing from this side resets the connection instead of leaving the
                    // port in TIME_WAIT, so an outage can hold the port (see above).
                    let _ = stream.set_zero_linger();
                    shared
                        .connections
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::spawn(connection(stream, Arc::clone(&shared), up.clone()));
                }
            }
            changed = up.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut up: watch::Receiver<bool>,
) {
    /// Counts the connection as open until the task ends (or is dropped with the runtime).
    struct Open(Arc<Shared>);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0
                .connections
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let _open = Open(Arc::clone(&shared));
    let service = hyper::service::service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { handle(shared, req).await }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        // An outage drops the connection (the socket closes).
        _ = up.wait_for(|up| !*up) => {}
    }
}

/// The error a service returns to make hyper close the connection without an answer.
#[derive(Debug)]
struct HangUp;

impl std::fmt::Display for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted hang-up")
    }
}

impl std::error::Error for HangUp {}

fn respond(status: u16, body: &Value, retry_after: Option<&str>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(value) = retry_after
        && let Ok(v) = hyper::header::HeaderValue::from_str(value)
    {
        headers.insert(hyper::header::RETRY_AFTER, v);
    }
    response
}

/// The Elasticsearch error type for a status.
fn error_type(status: u16) -> &'static str {
    match status {
        400 => "mapper_parsing_exception",
        401 => "security_exception",
        403 => "security_exception",
        404 => "index_not_found_exception",
        409 => "version_conflict_engine_exception",
        413 => "content_too_long_exception",
        429 => "es_rejected_execution_exception",
        _ => "unavailable_shards_exception",
    }
}

fn error_body(status: u16, reason: &str) -> Value {
    let kind = if status == 400 {
        "illegal_argument_exception"
    } else {
        error_type(status)
    };
    json!({
        "error": {
            "root_cause": [{ "type": kind, "reason": reason }],
            "type": kind,
            "reason": reason,
        },
        "status": status,
    })
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, HangUp> {
    let _in_flight = InFlight::new(&shared);
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && path == "/" {
        let body = json!({
            "name": "biv-elastic-receiver",
            "cluster_name": "biv-test",
            "version": { "number": "8.11.0" },
            "tagline": "A stand-in for the _bulk API (biv-testkit)",
        });
        return Ok(respond(200, &body, None));
    }
    let default_index = match path.trim_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["_bulk"] => None,
        [index, "_bulk"] => Some(index.to_owned()),
        _ => {
            return Ok(respond(
                404,
                &error_body(404, &format!("no handler for {path}")),
                None,
            ));
        }
    };
    if req.method() != Method::POST && req.method() != Method::PUT {
        return Ok(respond(405, &error_body(405, "method not allowed"), None));
    }
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !matches!(essence, "application/x-ndjson" | "application/json") {
        let reason = format!("Content-Type header [{content_type}] is not supported");
        return Ok(respond(406, &error_body(406, &reason), None));
    }
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (script, delay) = {
        let mut state = shared.lock();
        state.stats.requests += 1;
        state.stats.last_authorization = authorization;
        (state.script.pop_front(), state.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(HangUp),
    };
    let mut state = shared.lock();
    state.stats.largest_body = state.stats.largest_body.max(body.len());
    match script {
        Some(Scripted::HangUp) => return Err(HangUp),
        Some(Scripted::Proxy { status, body }) => {
            *state.stats.responses.entry(status).or_default() += 1;
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html"),
            );
            return Ok(response);
        }
        Some(Scripted::Status {
            status,
            retry_after,
        }) => {
            *state.stats.responses.entry(status).or_default() += 1;
            if let Some(v) = &retry_after {
                state.stats.retry_after_sent.push(v.clone());
            }
            let body = error_body(status, "scripted by the test");
            return Ok(respond(status, &body, retry_after.as_deref()));
        }
        None => {}
    }
    if let Some(max) = state.max_content_length
        && body.len() > max
    {
        *state.stats.responses.entry(413).or_default() += 1;
        let reason = format!("Request body {} bytes exceeds {max}", body.len());
        return Ok(respond(413, &error_body(413, &reason), None));
    }
    let answer = bulk(&mut state, default_index.as_deref(), &body);
    let status = answer.0;
    if status == 200 {
        let items = answer.1["items"].as_array().map_or(0, Vec::len);
        state.stats.items_per_request.push(items);
    }
    *state.stats.responses.entry(status).or_default() += 1;
    drop(state);
    shared.changed.notify_all();
    Ok(respond(status, &answer.1, None))
}

/// Applies a `_bulk` body; returns the status and the response body.
fn bulk(state: &mut State, default_index: Option<&str>, body: &[u8]) -> (u16, Value) {
    let started = Instant::now();
    if body.last() != Some(&b'\n') {
        return (
            400,
            error_body(
                400,
                "The bulk request must be terminated by a newline [\\n]",
            ),
        );
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return (400, error_body(400, "the request body is not UTF-8"));
    };
    let mut lines = text.split_terminator('\n');
    let mut items = Vec::new();
    let mut errors = false;
    while let Some(action_line) = lines.next() {
        if action_line.trim().is_empty() {
            continue;
        }
        let Ok(Value::Object(action)) = serde_json::from_str::<Value>(action_line) else {
            return (400, error_body(400, "Malformed action/metadata line"));
        };
        let Some((op, meta)) = action.iter().next() else {
            return (400, error_body(400, "Malformed action/metadata line"));
        };
        let op = op.clone();
        if !matches!(op.as_str(), "create" | "index" | "delete") {
            return (400, error_body(400, &format!("Unknown action [{op}]")));
        }
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| default_index.map(str::to_owned));
        let Some(index) = index else {
            return (
                400,
                error_body(400, "Validation Failed: 1: index is missing;"),
            );
        };
        let id = meta.get("_id").and_then(Value::as_str).map(str::to_owned);
        let source = if op == "delete" {
            None
        } else {
            match lines.next() {
                Some(s) => Some(s.to_owned()),
                None => return (400, error_body(400, "source is missing")),
            }
        };
        let (status, result, id) = apply(state, &op, &index, id, source.as_deref());
        *state.stats.items.entry(status).or_default() += 1;
        let mut item = json!({ "_index": index, "_id": id, "status": status });
        if let Some(result) = result {
            item["result"] = json!(result);
            item["_version"] = json!(1);
        } else {
            errors = true;
            let reason = match status {
                409 => format!(
                    "[{id}]: version conflict, document already exists (current version [1])"
                ),
                400 => "failed to parse".to_owned(),
                _ => "scripted by the test".to_owned(),
            };
            item["error"] = json!({ "type": error_type(status), "reason": reason });
        }
        items.push(json!({ op: item }));
    }
    let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (
        200,
        json!({ "took": took, "errors": errors, "items": items }),
    )
}

/// Applies one action; returns the item status, the result word for a success, and the id.
fn apply(
    state: &mut State,
    op: &str,
    index: &str,
    id: Option<String>,
    source: Option<&str>,
) -> (u16, Option<&'static str>, String) {
    let id = id.unwrap_or_else(|| {
        state.auto_id += 1;
        format!("auto-{}", state.auto_id)
    });
    if let Some(src) = source {
        if let Some(rule) = state
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && src.contains(&r.marker))
        {
            rule.remaining = rule.remaining.saturating_sub(1);
            return (rule.status, None, id);
        }
        if !matches!(serde_json::from_str::<Value>(src), Ok(Value::Object(_))) {
            return (400, None, id);
        }
    }
    let docs = state.docs.entry(index.to_owned()).or_default();
    match op {
        "delete" => {
            if docs.remove(&id).is_some() {
                if let Some(order) = state.order.get_mut(index) {
                    order.retain(|o| *o != id);
                }
                (200, Some("deleted"), id)
            } else {
                (404, None, id)
            }
        }
        "create" if docs.contains_key(&id) => (409, None, id),
        _ => {
            let src = source.unwrap_or_default().to_owned();
            let existed = docs.insert(id.clone(), src).is_some();
            if existed {
                (200, Some("updated"), id)
            } else {
                state
                    .order
                    .entry(index.to_owned())
                    .or_default()
                    .push(id.clone());
                (201, Some("created"), id)
            }
        }
    }
}
