//! Runs the real `biv-reference` binary: startup line, `GET /` over a real socket, 404, graceful
//! shutdown on SIGTERM and SIGINT, the `BIV_LISTEN` variable, and a clear failure when the port is
//! taken.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long the binary may take to start, answer or stop (generous for a loaded CI machine).
const TIMEOUT: Duration = Duration::from_secs(30);

/// A running `biv-reference`; killed on drop so a failing test leaves no process behind.
struct Server {
    child: Child,
    data_dir: std::path::PathBuf,
    stderr: Receiver<String>,
    addr: SocketAddr,
}

impl Server {
    /// Starts the binary with `args` (and `BIV_LISTEN` set to `env_listen`, if given) and waits for
    /// its startup line.
    fn start(args: &[&str], env_listen: Option<&str>) -> Self {
        Self::start_with_grace(args, env_listen, "0")
    }

    /// Like [`Server::start`], with `BIV_DRAIN_GRACE_MS` set to `grace_ms`.
    fn start_with_grace(args: &[&str], env_listen: Option<&str>, grace_ms: &str) -> Self {
        let data_dir = data_dir();
        let mut child = spawn_with_grace(args, env_listen, grace_ms, &data_dir);
        let stderr = stderr_lines(&mut child);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = stderr
                .recv_timeout(remaining)
                .expect("biv-reference logs its listening line in time");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                assert!(
                    line.starts_with(&format!("biv-reference {}: ", env!("CARGO_PKG_VERSION"))),
                    "startup line: {line}"
                );
                let addr = rest
                    .trim()
                    .parse()
                    .expect("the startup line carries the address");
                return Self {
                    child,
                    data_dir,
                    stderr,
                    addr,
                };
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    fn wait(&mut self) -> ExitStatus {
        wait_with_timeout(&mut self.child)
    }

    /// The rest of stderr, up to its end; call after the process has exited.
    fn rest_of_stderr(&self) -> Vec<String> {
        self.stderr.iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A data directory of its own for each started binary.
fn data_dir() -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("biv-reference-test-{}-{n}", std::process::id()))
}

/// Starts the binary for a run that must fail before it creates its data directory.
fn spawn(args: &[&str], env_listen: Option<&str>) -> Child {
    spawn_with_grace(args, env_listen, "0", &data_dir())
}

/// Starts the binary with `BIV_DRAIN_GRACE_MS` set to `grace_ms`.
fn spawn_with_grace(
    args: &[&str],
    env_listen: Option<&str>,
    grace_ms: &str,
    data_dir: &std::path::Path,
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_biv-reference"));
    command
        .args(args)
        .env_remove("BIV_LISTEN")
        .env("BIV_DATA_DIR", data_dir)
        .env("BIV_DRAIN_GRACE_MS", grace_ms)
        // Readiness must not depend on how full the build machine's disk is.
        .env("BIV_DISK_WARN_BELOW_PERCENT", "0")
        .env("BIV_DISK_FAIL_BELOW_PERCENT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(value) = env_listen {
        command.env("BIV_LISTEN", value);
    }
    command.spawn().expect("biv-reference starts")
}

/// Forwards the child's stderr, line by line, to a channel.
fn stderr_lines(child: &mut Child) -> Receiver<String> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_with_timeout(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait works") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "biv-reference did not exit in time"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A parsed HTTP/1.1 response.
struct Response {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// Sends a hand-written HTTP/1.1 request and reads the whole response (the server closes the
/// connection because of `Connection: close`).
fn request(addr: SocketAddr, method: &str, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("sets a timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .expect("sends the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reads the response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("the response has a header block");
    let head = String::from_utf8(raw[..split].to_vec()).expect("headers are ASCII");
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line").to_owned();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let response = Response {
        status_line,
        headers,
        body,
    };
    if let Some(length) = response.header("content-length") {
        assert_eq!(length.parse::<usize>().ok(), Some(response.body.len()));
    }
    response
}

#[test]
fn serves_the_about_document_and_stops_on_sigterm() {
    let mut server = Server::start(&["--listen", "127.0.0.1:0"], None);
    assert!(server.addr.ip().is_loopback());
    assert_ne!(server.addr.port(), 0, "the real bound port is logged");

    let response = request(server.addr, "GET", "/");
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let about = response.json();
    assert_eq!(about["name"], "biv-reference");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        about["description"]
            .as_str()
            .is_some_and(|d| d.contains("BIV model"))
    );
    assert_eq!(about["wired"], 3);
    let controls = about["controls"].as_array().expect("a list of controls");
    assert!(!controls.is_empty());
    for pillar in ["availability", "integrity", "confidentiality"] {
        assert!(controls.iter().any(|c| c["pillar"] == pillar), "{pillar}");
    }
    assert_eq!(
        controls.iter().filter(|c| c["status"] == "wired").count(),
        3
    );

    let response = request(server.addr, "GET", "/patients/123456782");
    assert_eq!(response.status_line, "HTTP/1.1 404 Not Found");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json()["error"], "not_found");
    assert!(!String::from_utf8_lossy(&response.body).contains("123456782"));

    server.signal("TERM");
    let status = server.wait();
    assert_eq!(status.code(), Some(0), "a clean shutdown exits 0");
    let lines = server.rest_of_stderr();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("SIGTERM received, shutting down")),
        "{lines:?}"
    );
}

#[test]
fn serves_health_and_fails_readiness_while_draining() {
    let mut server = Server::start_with_grace(&["--listen", "127.0.0.1:0"], None, "3000");
    let ready = request(server.addr, "GET", "/health/ready");
    assert_eq!(ready.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        ready.header("content-type"),
        Some("application/health+json")
    );
    let body = ready.json();
    assert_eq!(body["checks"]["data:writable"][0]["status"], "pass");
    assert!(body["checks"]["disk:free"][0]["observedValue"].is_number());

    server.signal("TERM");
    // During the drain grace the server still answers, but readiness fails and liveness passes.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let ready = request(server.addr, "GET", "/health/ready");
        if ready.status_line == "HTTP/1.1 503 Service Unavailable" {
            assert!(ready.json()["checks"]["shutdown:draining"].is_array());
            break;
        }
        assert!(Instant::now() < deadline, "readiness never failed");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        request(server.addr, "GET", "/health/live").status_line,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(server.wait().code(), Some(0));
}

#[test]
fn stops_on_sigint() {
    let mut server = Server::start(&["--listen", "127.0.0.1:0"], None);
    server.signal("INT");
    assert_eq!(server.wait().code(), Some(0));
}

#[test]
fn listen_address_comes_from_biv_listen() {
    let mut server = Server::start(&[], Some("127.0.0.1:0"));
    assert_ne!(server.addr.port(), 0);
    assert_eq!(
        request(server.addr, "GET", "/").status_line,
        "HTTP/1.1 200 OK"
    );
    server.signal("TERM");
    assert_eq!(server.wait().code(), Some(0));
}

#[test]
fn the_listen_flag_wins_over_biv_listen() {
    // The variable names an address that cannot be parsed: the flag must win before it matters.
    let mut server = Server::start(&["--listen", "127.0.0.1:0"], Some("not an address"));
    assert_eq!(
        request(server.addr, "GET", "/").status_line,
        "HTTP/1.1 200 OK"
    );
    server.signal("TERM");
    assert_eq!(server.wait().code(), Some(0));
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("binds a port");
    let addr = taken.local_addr().expect("has an address");
    let mut child = spawn(&["--listen", &addr.to_string()], None);
    let stderr = stderr_lines(&mut child);
    let status = wait_with_timeout(&mut child);
    assert_eq!(status.code(), Some(1));
    let lines: Vec<String> = stderr.iter().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("biv-reference: cannot listen on {addr}: "))),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("listening on")),
        "{lines:?}"
    );
    drop(taken);
}

#[test]
fn a_malformed_address_is_a_usage_error() {
    let mut child = spawn(&["--listen", "localhost"], None);
    let stderr = stderr_lines(&mut child);
    assert_eq!(wait_with_timeout(&mut child).code(), Some(2));
    let text = stderr.iter().collect::<Vec<_>>().join("\n");
    assert!(text.contains("--listen <ADDR>"), "{text}");
}

/// Writes `json` to a health configuration file of its own and returns the path.
fn health_config(json: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "biv-reference-health-{}-{}.json",
        std::process::id(),
        json.len()
    ));
    std::fs::write(&path, json).expect("writes the health configuration");
    path
}

#[test]
fn a_malformed_health_config_is_refused_with_its_key() {
    let path = health_config(r#"{"checks": [{"name": "db:connect", "type": "tcp"}]}"#);
    let mut child = spawn(
        &[
            "--listen",
            "127.0.0.1:0",
            "--health-config",
            path.to_str().expect("a UTF-8 temp path"),
        ],
        None,
    );
    let stderr = stderr_lines(&mut child);
    assert_eq!(wait_with_timeout(&mut child).code(), Some(2));
    let text = stderr.iter().collect::<Vec<_>>().join("\n");
    assert!(text.contains("checks[0].address"), "{text}");
    assert!(!text.contains("listening on"), "{text}");
    let _ = std::fs::remove_file(path);

    let mut child = spawn(
        &[
            "--listen",
            "127.0.0.1:0",
            "--health-config",
            "/nonexistent/health.json",
        ],
        None,
    );
    let stderr = stderr_lines(&mut child);
    assert_eq!(wait_with_timeout(&mut child).code(), Some(2));
    let text = stderr.iter().collect::<Vec<_>>().join("\n");
    assert!(
        text.contains("cannot read the health configuration /nonexistent/health.json"),
        "{text}"
    );
}

#[test]
fn configured_dependencies_join_readiness() {
    let up = TcpListener::bind("127.0.0.1:0").expect("binds a port");
    let down = biv_testkit::net::ClosedPort::new().expect("a closed port");
    let down_addr = down.addr();
    let path = health_config(&format!(
        r#"{{"checks": [
            {{"name": "cache:connect", "type": "tcp", "address": "{}"}},
            {{"name": "search:connect", "type": "tcp", "address": "{down_addr}", "critical": false}}
        ]}}"#,
        up.local_addr().expect("has an address"),
    ));
    let mut server = Server::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--health-config",
            path.to_str().expect("a UTF-8 temp path"),
        ],
        None,
    );
    let ready = request(server.addr, "GET", "/health/ready");
    let body = ready.json();
    assert_eq!(
        body["checks"]["cache:connect"][0]["status"], "pass",
        "{body}"
    );
    // A non-critical dependency that is down warns; readiness still passes.
    assert_eq!(
        body["checks"]["search:connect"][0]["status"], "warn",
        "{body}"
    );
    assert_eq!(
        body["checks"]["data:writable"][0]["status"], "pass",
        "{body}"
    );
    assert_eq!(ready.status_line, "HTTP/1.1 200 OK");
    server.signal("TERM");
    assert_eq!(server.wait().code(), Some(0));
    let _ = std::fs::remove_file(path);
    drop(up);
}

#[test]
fn an_https_alertmanager_is_refused_at_start() {
    let mut child = spawn(
        &[
            "--listen",
            "127.0.0.1:0",
            "--alertmanager",
            "https://am.example:9093",
        ],
        None,
    );
    let stderr = stderr_lines(&mut child);
    assert_eq!(wait_with_timeout(&mut child).code(), Some(2));
    let text = stderr.iter().collect::<Vec<_>>().join("\n");
    assert!(text.contains("--alertmanager"), "{text}");
    assert!(text.contains("https is not supported"), "{text}");
}

#[test]
fn the_disk_watch_exports_its_score() {
    let mut server = Server::start(&["--listen", "127.0.0.1:0"], None);
    // The series exists from the start; it holds 0 until the detector has two samples (its
    // behaviour is tested in tests/watch.rs).
    let metrics = request(server.addr, "GET", "/metrics");
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(text.contains("# TYPE biv_anomaly_score gauge"), "{text}");
    assert!(
        text.contains("biv_anomaly_score{signal=\"disk_available_bytes\"} "),
        "{text}"
    );
    server.signal("TERM");
    assert_eq!(server.wait().code(), Some(0));
}
