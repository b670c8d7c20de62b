//! A loopback load run of the cached health endpoint, with its baseline in the same run.
//!
//! Issue 8 asks that the cached `/health/ready` answer at p99 ≤ 1 ms at 2,000 requests per second
//! from a separate process on loopback. This program is that separate process. It starts
//!
//! - **biv**: the reference deployment's binary (`biv-reference`, next to this program in the
//!   target directory), whose `/health/ready` serves the background-refreshed health registry
//!   as `application/health+json` through the full stack: RED metrics, the ECS access log (to a
//!   pipe this program drains), routing;
//! - **baseline**: this program again, in a child process, serving a bare axum route that
//!   returns a fixed `{"status":"pass"}` — the cheapest probe a host could write,
//!
//! and drives each with the same schedule: `--rate` requests per second for `--seconds` after a
//! warm-up, spread round-robin over `--connections` keep-alive HTTP/1.1 connections, each
//! request due at a fixed time. A connection sends its next request only after the previous
//! answer (HTTP/1.1 without pipelining), so a slow answer delays the requests queued behind it
//! on that connection: the latency **from the due time** counts that queueing (the
//! coordinated-omission-corrected view, used for the verdict), the latency from the moment of
//! sending does not. A failed request is counted and the connection reopened. The targets run
//! twice, in the order biv, baseline, baseline, biv, so neither always runs on a warmer or a
//! colder machine.
//!
//! Run (release build, nothing else busy):
//!
//! ```text
//! cargo build --release -p biv-reference -p biv-benches --bin health-load
//! target/release/health-load --rate 2000 --seconds 10
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run is told.
#[derive(Debug, Clone)]
struct Options {
    rate: u32,
    seconds: u64,
    warmup_seconds: u64,
    connections: u32,
    reference: PathBuf,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-baseline") {
        return serve_baseline();
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("health-load: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("health-load: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let mut options = Options {
        rate: 2000,
        seconds: 10,
        warmup_seconds: 2,
        connections: 16,
        reference: exe.with_file_name("biv-reference"),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {value:?} is not a whole number"))
        };
        match flag.as_str() {
            "--rate" => options.rate = u32::try_from(number()?).map_err(|_| "--rate: too large")?,
            "--seconds" => options.seconds = number()?,
            "--warmup" => options.warmup_seconds = number()?,
            "--connections" => {
                options.connections =
                    u32::try_from(number()?).map_err(|_| "--connections: too large")?;
            }
            "--reference" => options.reference = PathBuf::from(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if options.rate == 0 || options.connections == 0 || options.seconds == 0 {
        return Err("--rate, --connections and --seconds must be at least 1".to_owned());
    }
    Ok(options)
}

fn run(options: &Options) -> Result<(), String> {
    println!(
        "health-load: {} requests/s for {} s (after {} s warm-up) over {} connections",
        options.rate, options.seconds, options.warmup_seconds, options.connections
    );
    println!(
        "| target | answered | p50 sent | p99 sent | p50 due | p90 due | p99 due | p99.9 due | max due | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut biv = RunResult::default();
    let mut baseline = RunResult::default();
    for target in [Target::Biv, Target::Baseline, Target::Baseline, Target::Biv] {
        let server = start(target, options)?;
        let result = drive(server.addr, target.path(), options);
        drop(server);
        let result = result?;
        result.print(target.name());
        match target {
            Target::Biv => biv.absorb(result),
            Target::Baseline => baseline.absorb(result),
        }
    }
    let ratio = |a: Duration, b: Duration| {
        if b.is_zero() {
            f64::NAN
        } else {
            a.as_secs_f64() / b.as_secs_f64()
        }
    };
    println!(
        "both runs: biv p99 from due time {} µs (target ≤ 1000 µs), baseline {} µs; ratio {:.2}x at p99, {:.2}x at p50",
        biv.due.p(0.99).as_micros(),
        baseline.due.p(0.99).as_micros(),
        ratio(biv.due.p(0.99), baseline.due.p(0.99)),
        ratio(biv.due.p(0.50), baseline.due.p(0.50)),
    );
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Biv,
    Baseline,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Biv => "biv-reference `/health/ready`",
            Target::Baseline => "baseline: axum static `{\"status\":\"pass\"}`",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Target::Biv => "/health/ready",
            Target::Baseline => "/ready",
        }
    }
}

/// A server process, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    data_dir: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn start(target: Target, options: &Options) -> Result<Server, String> {
    let (mut command, data_dir) = match target {
        Target::Biv => {
            let dir = std::env::temp_dir().join(format!("biv-health-load-{}", std::process::id()));
            let mut command = Command::new(&options.reference);
            command
                .args(["--listen", "127.0.0.1:0"])
                .env("BIV_DATA_DIR", &dir)
                .env("BIV_DRAIN_GRACE_MS", "0");
            (command, Some(dir))
        }
        Target::Baseline => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
            let mut command = Command::new(exe);
            command.arg("--serve-baseline");
            (command, None)
        }
    };
    let mut child = command
        .env_remove("BIV_LISTEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", target.name()))?;
    // Drain stdout (biv's ECS log lines) so the server never blocks on a full pipe.
    if let Some(mut stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
    }
    let stderr = child.stderr.take().ok_or("the child has no stderr pipe")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            return Err(format!("{} ended before it listened", target.name()));
        };
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .trim()
                .parse::<SocketAddr>()
                .map_err(|e| format!("bad listening line {line:?}: {e}"))?;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        addr,
        data_dir,
    })
}

/// Latencies in microseconds, sorted on demand.
#[derive(Debug, Default)]
struct Latencies(Vec<u64>);

impl Latencies {
    fn p(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1;
        Duration::from_micros(self.0[index])
    }
}

#[derive(Debug, Default)]
struct RunResult {
    sent: Latencies,
    due: Latencies,
    errors: u64,
}

impl RunResult {
    fn print(&self, name: &str) {
        let us = |d: Duration| format!("{} µs", d.as_micros());
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.sent.0.len(),
            us(self.sent.p(0.50)),
            us(self.sent.p(0.99)),
            us(self.due.p(0.50)),
            us(self.due.p(0.90)),
            us(self.due.p(0.99)),
            us(self.due.p(0.999)),
            us(self.due.p(1.0)),
            self.errors,
        );
    }

    /// Adds `other`'s measurements to these.
    fn absorb(&mut self, other: RunResult) {
        self.sent.0.extend(other.sent.0);
        self.due.0.extend(other.due.0);
        self.errors += other.errors;
        self.sent.0.sort_unstable();
        self.due.0.sort_unstable();
    }
}

/// Drives `addr` with the open-loop schedule and returns the measured part.
fn drive(addr: SocketAddr, path: &'static str, options: &Options) -> Result<RunResult, String> {
    let total = u64::from(options.rate) * (options.warmup_seconds + options.seconds);
    let warmup = u64::from(options.rate) * options.warmup_seconds;
    let interval = Duration::from_secs(1) / options.rate;
    let start = Instant::now() + Duration::from_millis(100);
    let request = Arc::new(format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: health-load\r\n\r\n"
    ));
    let connections = u64::from(options.connections);
    let mut workers = Vec::new();
    for c in 0..connections {
        let request = request.clone();
        workers.push(std::thread::spawn(move || -> Result<RunResult, String> {
            let connect = || -> Result<(TcpStream, BufReader<TcpStream>), String> {
                let stream =
                    TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .map_err(|e| e.to_string())?;
                let writer = stream.try_clone().map_err(|e| e.to_string())?;
                Ok((writer, BufReader::new(stream)))
            };
            let (mut writer, mut reader) = connect()?;
            let mut result = RunResult::default();
            let mut i = c;
            while i < total {
                let due = start + interval * u32::try_from(i).map_err(|_| "run too long")?;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let sent = Instant::now();
                let ok = writer.write_all(request.as_bytes()).is_ok()
                    && read_response(&mut reader).is_ok_and(|status| status == 200);
                let done = Instant::now();
                if i >= warmup {
                    if ok {
                        result.sent.0.push(micros(done - sent));
                        result
                            .due
                            .0
                            .push(micros(done.saturating_duration_since(due)));
                    } else {
                        result.errors += 1;
                    }
                }
                if !ok {
                    // The connection's state is unknown after a failure: start a new one.
                    (writer, reader) = connect()?;
                }
                i += connections;
            }
            Ok(result)
        }));
    }
    let mut all = RunResult::default();
    for worker in workers {
        let part = worker
            .join()
            .map_err(|_| "a worker thread panicked".to_owned())??;
        all.sent.0.extend(part.sent.0);
        all.due.0.extend(part.due.0);
        all.errors += part.errors;
    }
    all.sent.0.sort_unstable();
    all.due.0.sort_unstable();
    Ok(all)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Reads one HTTP/1.1 response with a `Content-Length` body; returns its status code.
fn read_response(reader: &mut BufReader<TcpStream>) -> Result<u16, String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let length = length.ok_or("no content-length")?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok(status)
}

/// The baseline server: a bare axum route with a fixed body, on a free loopback port.
fn serve_baseline() -> ExitCode {
    use axum::Router;
    use axum::http::header;
    use axum::routing::get;

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("baseline: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        eprintln!("baseline: listening on http://{}", listener.local_addr()?);
        let app = Router::new().route(
            "/ready",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/health+json")],
                    r#"{"status":"pass"}"#,
                )
            }),
        );
        axum::serve(listener, app).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baseline: {e}");
            ExitCode::FAILURE
        }
    }
}
