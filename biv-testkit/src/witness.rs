//! [`TlogWitness`]: a stand-in transparency-log witness on 127.0.0.1, for tests of log
//! anchoring.
//!
//! No real witness (sunlight/torchwood `litewitness`, transparency-dev `witness`, sigsum's) can be
//! installed in biv's test environment. This stand-in implements the documented contract of
//! c2sp.org/tlog-witness, section "add-checkpoint", with its own code for c2sp.org/signed-note
//! (parsing, Ed25519 log signatures), c2sp.org/tlog-checkpoint (the note text),
//! c2sp.org/tlog-cosignature (`cosignature/v1`, type 0x04) and the RFC 9162 §2.1.4.2 consistency
//! check — independent of `biv-integrity`, so a mistake in one is caught by the other:
//!
//! - `POST <url>/add-checkpoint`, body `old <size>\n`, at most 63 base64 proof lines, an empty
//!   line, the signed checkpoint; anything malformed (including more than 63 proof lines, a
//!   proof with `old 0`, or `old` above the checkpoint's size) is **400**;
//! - an origin it was not configured for ([`TlogWitness::add_log`]) is **404**; a checkpoint
//!   without a verifying signature by a configured log key, or with a failing one (C2SP#241),
//!   is **403**; signatures by other keys are ignored;
//! - `old` other than the size it last cosigned for the origin (0 if none) is **409** with
//!   `Content-Type: text/x.tlog.size` and that size and a newline as the body; `old` equal to
//!   the checkpoint's size with another root than the one it holds is **409** too;
//! - a consistency proof that does not verify from the root it holds is **422**;
//! - otherwise it records the checkpoint (check and update under one lock, so two requests
//!   cannot roll it back) and answers **200** with one `— <name> <base64>` cosignature line.
//!
//! The monitoring prefix (still "TBD" in the spec) is not implemented. Tests can script
//! answers ([`TlogWitness::respond_next`]), make the witness refuse or hang connections
//! ([`TlogWitness::set_availability`]), read its state and counters, and set its state directly
//! ([`TlogWitness::set_state`]).
//!
//! ```
//! use biv_testkit::witness::TlogWitness;
//!
//! let witness = TlogWitness::start("witness.example/w1", &[9; 32])?;
//! assert!(witness.vkey().starts_with("witness.example/w1+"));
//! assert_eq!(witness.size("biv.example/audit"), None);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::loopback::LoopbackServer;

/// Largest request body read.
const MAX_BODY: usize = 1 << 20;
/// Most consistency proof lines (c2sp.org/tlog-witness).
const MAX_PROOF_LINES: usize = 63;
const SIG_TYPE_ED25519: u8 = 0x01;
const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// Whether the witness serves, refuses or hangs connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Availability {
    /// Serves requests.
    #[default]
    Up,
    /// Accepts connections and closes them at once (a crashed or restarting witness).
    Refusing,
    /// Accepts connections and never answers (a hung witness).
    Hanging,
}

/// A scripted answer for the next request, instead of the protocol's (see
/// [`TlogWitness::respond_next`]). The witness's state does not change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scripted {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
}

impl Scripted {
    /// An answer with `status`, an optional `Content-Type` and `body`.
    pub fn new(status: u16, content_type: Option<&str>, body: impl Into<String>) -> Self {
        Scripted {
            status,
            content_type: content_type.map(str::to_owned),
            body: body.into(),
        }
    }
}

/// What the witness has seen (a snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WitnessStats {
    /// Requests that reached the handler.
    pub requests: u64,
    /// Answers by status.
    pub responses: BTreeMap<u16, u64>,
    /// The `old` size of each well-formed request, in order.
    pub old_sizes: Vec<u64>,
    /// Connections refused or left hanging by [`Availability`].
    pub dropped_connections: u64,
}

#[derive(Debug, Clone)]
struct LogKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

#[derive(Debug, Default)]
struct LogState {
    keys: Vec<LogKey>,
    size: u64,
    root: [u8; 32],
}

#[derive(Debug, Default)]
struct State {
    logs: HashMap<String, LogState>,
    script: VecDeque<Scripted>,
    stats: WitnessStats,
}

struct Shared {
    name: String,
    key_id: u32,
    key: SigningKey,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A loopback stand-in for a c2sp.org/tlog-witness witness (see the [module docs](self)).
///
/// It runs on its own thread and runtime, so it serves synchronous tests, async tests and
/// child processes alike; dropping it stops it.
pub struct TlogWitness {
    server: LoopbackServer,
    shared: Arc<Shared>,
    availability: watch::Sender<Availability>,
}

impl std::fmt::Debug for TlogWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlogWitness")
            .field("addr", &self.server.addr())
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.to_owned())
}

impl TlogWitness {
    /// Starts a witness named `name` (its cosignature key name) with a 32-byte Ed25519 seed, on
    /// 127.0.0.1 with a free port.
    ///
    /// # Errors
    /// The I/O error of binding the port or starting the thread.
    pub fn start(name: &str, seed: &[u8; 32]) -> io::Result<Self> {
        if name.is_empty() || name.contains(['+', ' ', '\n']) {
            return Err(invalid("invalid witness name"));
        }
        let key = SigningKey::from_bytes(seed);
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            key_id: key_id(
                name,
                SIG_TYPE_COSIGNATURE_V1,
                key.verifying_key().as_bytes(),
            ),
            key,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let (availability, availability_rx) = watch::channel(Availability::Up);
        let server = {
            let shared = Arc::clone(&shared);
            LoopbackServer::start("biv-tlog-witness", move |listener, _addr| {
                serve(listener, shared, availability_rx)
            })?
        };
        Ok(TlogWitness {
            server,
            shared,
            availability,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The submission prefix, `http://127.0.0.1:PORT` (requests go to `…/add-checkpoint`).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The witness's verifier key, `name+hex8+base64(0x04 ‖ public key)`.
    pub fn vkey(&self) -> String {
        let mut raw = vec![SIG_TYPE_COSIGNATURE_V1];
        raw.extend_from_slice(self.shared.key.verifying_key().as_bytes());
        format!(
            "{}+{:08x}+{}",
            self.shared.name,
            self.shared.key_id,
            B64.encode(raw)
        )
    }

    /// Trusts the Ed25519 log key `log_vkey` (`name+hex8+base64(0x01 ‖ key)`) for `origin`.
    /// The first key for an origin makes the witness accept it, with size 0.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] when the key is not a valid Ed25519 verifier key.
    pub fn add_log(&self, origin: &str, log_vkey: &str) -> io::Result<()> {
        let mut parts = log_vkey.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("a verifier key is name+hex8+base64"));
        };
        let raw = B64
            .decode(b64)
            .map_err(|_| invalid("the key is not base64"))?;
        let (Some(&SIG_TYPE_ED25519), Some(public)) = (raw.first(), raw.get(1..)) else {
            return Err(invalid("not an Ed25519 (type 0x01) key"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| invalid("the public key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| invalid("bad public key"))?;
        let id = key_id(name, SIG_TYPE_ED25519, &public);
        if u32::from_str_radix(hex, 16).ok() != Some(id) || hex.len() != 8 {
            return Err(invalid("the key ID does not match the key"));
        }
        self.shared
            .lock()
            .logs
            .entry(origin.to_owned())
            .or_default()
            .keys
            .push(LogKey {
                name: name.to_owned(),
                key_id: id,
                key,
            });
        Ok(())
    }

    /// The size the witness last cosigned for `origin` (0 before the first), `None` for an
    /// origin it does not know.
    pub fn size(&self, origin: &str) -> Option<u64> {
        self.shared.lock().logs.get(origin).map(|l| l.size)
    }

    /// The size and root the witness holds for `origin`.
    pub fn checkpoint(&self, origin: &str) -> Option<(u64, [u8; 32])> {
        self.shared
            .lock()
            .logs
            .get(origin)
            .map(|l| (l.size, l.root))
    }

    /// Sets the size and root the witness holds for a known `origin` (e.g. to simulate a
    /// witness that cosigned for another instance of the log). Returns whether it knew it.
    pub fn set_state(&self, origin: &str, size: u64, root: [u8; 32]) -> bool {
        let mut state = self.shared.lock();
        let Some(log) = state.logs.get_mut(origin) else {
            return false;
        };
        (log.size, log.root) = (size, root);
        true
    }

    /// Waits until the witness holds at least `size` for `origin`, at most `timeout`; returns
    /// the size it holds then.
    pub fn wait_for_size(&self, origin: &str, size: u64, timeout: Duration) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let held = state.logs.get(origin).map(|l| l.size);
            let left = deadline.saturating_duration_since(Instant::now());
            if held.is_some_and(|h| h >= size) || left.is_zero() {
                return held;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WitnessStats {
        self.shared.lock().stats.clone()
    }

    /// Answers the next request with `answer` instead of the protocol's (answers queue up).
    pub fn respond_next(&self, answer: Scripted) {
        self.shared.lock().script.push_back(answer);
    }

    /// Serves, refuses or hangs connections from now on (connections already hanging are
    /// closed when it serves again).
    pub fn set_availability(&self, availability: Availability) {
        let _ = self.availability.send(availability);
    }
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    availability: watch::Receiver<Availability>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let mode = *availability.borrow();
        if mode != Availability::Up {
            shared.lock().stats.dropped_connections += 1;
        }
        match mode {
            Availability::Up => {
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Availability::Refusing => {
                let _ = stream.set_zero_linger();
                drop(stream);
            }
            Availability::Hanging => {
                let mut watch = availability.clone();
                tokio::spawn(async move {
                    let _ = watch.wait_for(|a| *a != Availability::Hanging).await;
                    drop(stream);
                });
            }
        }
    }
}

fn respond(status: u16, content_type: Option<&str>, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if let Some(ct) = content_type
        && let Ok(v) = hyper::header::HeaderValue::from_str(ct)
    {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// An answer of the protocol: status, content type, body.
struct Answer(u16, Option<&'static str>, String);

fn text(status: u16, why: &str) -> Answer {
    Answer(
        status,
        Some("text/plain; charset=utf-8"),
        format!("{why}\n"),
    )
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Answer(status, content_type, body) = if req.method() != Method::POST {
        text(405, "method not allowed")
    } else if req.uri().path() != "/add-checkpoint" {
        text(404, "not found")
    } else {
        match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(body) => {
                let scripted = shared.lock().script.pop_front();
                match scripted {
                    Some(s) => {
                        let mut state = shared.lock();
                        state.stats.requests += 1;
                        *state.stats.responses.entry(s.status).or_default() += 1;
                        return respond(s.status, s.content_type.as_deref(), s.body);
                    }
                    None => add_checkpoint(shared, &body.to_bytes()),
                }
            }
            Err(_) => text(400, "body too large or unreadable"),
        }
    };
    {
        let mut state = shared.lock();
        state.stats.requests += 1;
        *state.stats.responses.entry(status).or_default() += 1;
    }
    shared.changed.notify_all();
    respond(status, content_type, body)
}

/// A parsed request: old size, proof, note text, signatures `(name, key ID, signature)`.
struct Submission<'a> {
    old: u64,
    proof: Vec<[u8; 32]>,
    text: &'a str,
    signatures: Vec<(&'a str, u32, Vec<u8>)>,
}

fn canonical_u64(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

fn hash32(b64: &str) -> Option<[u8; 32]> {
    B64.decode(b64).ok()?.try_into().ok()
}

fn parse_submission(body: &[u8]) -> Option<Submission<'_>> {
    let body = std::str::from_utf8(body).ok()?;
    // The head (old line and proof lines) ends at the first empty line; the note follows.
    let (head, note) = body.split_once("\n\n")?;
    let mut lines = head.split('\n');
    let old = canonical_u64(lines.next()?.strip_prefix("old ")?)?;
    let proof = lines.map(hash32).collect::<Option<Vec<_>>>()?;
    if proof.len() > MAX_PROOF_LINES {
        return None;
    }
    if note.bytes().any(|b| b < 0x20 && b != b'\n') {
        return None;
    }
    // c2sp.org/signed-note: the text ends at the last blank line, signature lines follow.
    let split = note.rfind("\n\n")?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    let sigs = sigs.strip_suffix('\n')?;
    let mut signatures = Vec::new();
    for line in sigs.split('\n') {
        let (name, b64) = line.strip_prefix("\u{2014} ")?.split_once(' ')?;
        let raw = B64.decode(b64).ok()?;
        if name.is_empty() || name.contains('+') || raw.len() < 5 {
            return None;
        }
        let id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        signatures.push((name, id, raw[4..].to_vec()));
    }
    Some(Submission {
        old,
        proof,
        text,
        signatures,
    })
}

/// Origin, size and root of a checkpoint text.
fn parse_checkpoint(text: &str) -> Option<(&str, u64, [u8; 32])> {
    let mut lines = text.strip_suffix('\n')?.split('\n');
    let origin = lines.next().filter(|o| !o.is_empty())?;
    let size = canonical_u64(lines.next()?)?;
    let root = hash32(lines.next()?)?;
    if lines.any(str::is_empty) {
        return None;
    }
    Some((origin, size, root))
}

fn add_checkpoint(shared: &Shared, body: &[u8]) -> Answer {
    let Some(sub) = parse_submission(body) else {
        return text(400, "malformed request");
    };
    let Some((origin, size, root)) = parse_checkpoint(sub.text) else {
        return text(400, "malformed checkpoint");
    };
    let mut state = shared.lock();
    state.stats.old_sizes.push(sub.old);
    let Some(log) = state.logs.get_mut(origin) else {
        return text(404, "unknown log");
    };
    // Signatures by trusted keys must all verify, and at least one must be there.
    let mut trusted = 0;
    for (name, id, sig) in &sub.signatures {
        let Some(key) = log.keys.iter().find(|k| k.name == *name && k.key_id == *id) else {
            continue;
        };
        let ok = Signature::from_slice(sig)
            .is_ok_and(|s| key.key.verify_strict(sub.text.as_bytes(), &s).is_ok());
        if !ok {
            return text(403, "invalid signature by a trusted log key");
        }
        trusted += 1;
    }
    if trusted == 0 {
        return text(403, "no signature by a trusted log key");
    }
    if sub.old > size || (sub.old == 0 && !sub.proof.is_empty()) {
        return text(400, "bad old size or proof");
    }
    if sub.old != log.size {
        return Answer(409, Some("text/x.tlog.size"), format!("{}\n", log.size));
    }
    if sub.old == size && sub.old > 0 {
        if root != log.root {
            return Answer(409, Some("text/x.tlog.size"), format!("{}\n", log.size));
        }
        if !sub.proof.is_empty() {
            return text(422, "a proof between equal sizes must be empty");
        }
    } else if sub.old > 0 && !consistent(sub.old, size, &sub.proof, &log.root, &root) {
        return text(422, "the consistency proof does not verify");
    }
    (log.size, log.root) = (size, root);
    drop(state);
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(sub.text.as_bytes());
    let mut raw = shared.key_id.to_be_bytes().to_vec();
    raw.extend_from_slice(&timestamp.to_be_bytes());
    raw.extend_from_slice(&shared.key.sign(&message).to_bytes());
    Answer(
        200,
        Some("text/plain; charset=utf-8"),
        format!("\u{2014} {} {}\n", shared.name, B64.encode(raw)),
    )
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 9162 §2.1.4.2, for `0 < size1 < size2`.
fn consistent(
    size1: u64,
    size2: u64,
    proof: &[[u8; 32]],
    root1: &[u8; 32],
    root2: &[u8; 32],
) -> bool {
    let mut path: Vec<[u8; 32]> = proof.to_vec();
    if size1.is_power_of_two() {
        path.insert(0, *root1);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *root1 && sr == *root2 && sn == 0
}
