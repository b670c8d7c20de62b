//! `biv logs`: the real binary feeding a spool and shipping it to the stand-in `_bulk`
//! receiver (biv_testkit::elastic; Elasticsearch itself cannot be installed here), including a
//! shipper killed with SIGKILL in mid-stream and restarted.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use biv_testkit::elastic::{ElasticReceiver, Scripted};

const INDEX: &str = "biv-logs";
const BOUND: Duration = Duration::from_secs(60);

fn biv() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_biv"));
    c.env_remove("RUST_BACKTRACE");
    c
}

fn run(args: &[&str]) -> Output {
    biv().args(args).output().expect("the biv binary runs")
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-logs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// `n` ECS lines, each with a unique `seq` label.
fn lines(n: u64) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"@timestamp\":\"2026-11-26T09:30:00.000Z\",\"log.level\":\"info\",\"message\":\"request served\",\"ecs.version\":\"8.11.0\",\"labels\":{{\"seq\":\"{i}\"}}}}\n"
            )
        })
        .collect()
}

fn append(spool: &Path, input: &str) -> Output {
    let mut child = biv()
        .args(["logs", "spool-append", "--spool", s(spool)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn ship_args<'a>(spool: &'a Path, url: &'a str) -> Vec<&'a str> {
    vec![
        "logs",
        "ship",
        "--spool",
        s(spool),
        "--url",
        url,
        "--index",
        INDEX,
    ]
}

/// Every appended line is stored exactly once: `n` documents, each `seq` once.
fn assert_exactly_once(es: &ElasticReceiver, n: u64) {
    let docs = es.documents(INDEX);
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (_, source) in &docs {
        let v: serde_json::Value = serde_json::from_str(source).expect("json source");
        let seq = v["labels"]["seq"].as_str().expect("seq").to_owned();
        *seen.entry(seq).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    assert_eq!(docs.len() as u64, n, "every record stored");
    assert_eq!(seen.len() as u64, n);
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "the child did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn spool_append_then_ship_once_delivers_everything_and_a_second_run_sends_nothing() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("once");
    let spool = dir.join("spool");
    let out = append(&spool, &lines(300));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["appended"], 300);
    assert_eq!(json(&out)["dropped"], 0);

    let url = es.url();
    let mut args = ship_args(&spool, &url);
    args.push("--once");
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["delivered"], 300);
    assert_eq!(summary["conflicts"], 0);
    assert_eq!(summary["dead_lettered"], 0);
    assert_exactly_once(&es, 300);
    // Levels and timestamps came from the lines; the source is the line itself.
    let (_, first) = &es.documents(INDEX)[0];
    assert!(first.starts_with("{\"@timestamp\":\"2026-11-26T09:30:00.000Z\""));

    let requests = es.stats().requests;
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["delivered"], 0);
    assert_eq!(es.stats().requests, requests, "nothing left to send");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_shipper_killed_with_sigkill_in_mid_stream_and_restarted_stores_every_record_once() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("sigkill");
    let spool = dir.join("spool");
    let total = 4000;
    let out = append(&spool, &lines(total));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A slow cluster and small batches: the kill lands while requests are in flight.
    es.set_delay(Duration::from_millis(10));
    let url = es.url();
    let mut args = ship_args(&spool, &url);
    args.extend(["--batch-records", "40", "--linger-ms", "1"]);
    let mut child = biv()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn shipper");
    wait_until("the first deliveries", || es.count(INDEX) >= 400);
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "killed by SIGKILL"
    );
    // Requests still in the killed shipper's sockets are handled before those connections
    // close: wait for that, not only for the requests already being handled.
    wait_until("the killed shipper's connections closed", || {
        es.open_connections() == 0 && es.in_flight() == 0
    });
    let at_kill = es.count(INDEX) as u64;
    assert!(
        at_kill < total,
        "killed in mid-stream ({at_kill} of {total})"
    );

    es.set_delay(Duration::ZERO);
    let mut again = ship_args(&spool, &url);
    again.push("--once");
    let out = run(&again);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["delivered"].as_u64(), Some(total - at_kill));
    assert_exactly_once(&es, total);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn sigterm_stops_a_running_shipper_cleanly_with_a_summary() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("sigterm");
    let spool = dir.join("spool");
    let out = append(&spool, &lines(50));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let url = es.url();
    let mut args = ship_args(&spool, &url);
    args.extend(["--linger-ms", "1"]);
    let child = biv()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shipper");
    wait_until("every record", || es.count(INDEX) >= 50);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let mut child = child;
    let status = wait_exit(&mut child);
    let out = child.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["delivered"], 50);
    assert_exactly_once(&es, 50);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn once_with_the_receiver_down_gives_up_after_the_timeout_with_status_1() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("down");
    let spool = dir.join("spool");
    append(&spool, &lines(5));
    es.stop();
    let url = es.url();
    let mut args = ship_args(&spool, &url);
    args.extend(["--once", "--timeout", "1"]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not drained"), "{}", stderr(&out));
    assert_eq!(json(&out)["delivered"], 0);
    // Nothing was lost: once the receiver is back, everything arrives.
    es.resume();
    args.truncate(args.len() - 2);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_exactly_once(&es, 5);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn refused_credentials_exit_1_and_the_key_is_never_printed() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("auth");
    let spool = dir.join("spool");
    append(&spool, &lines(3));
    let key_file = dir.join("api.key");
    std::fs::write(&key_file, "top-secret-key-material\n").expect("key file");
    es.respond_next(Scripted::status(401));
    let url = es.url();
    let mut args = ship_args(&spool, &url);
    args.extend(["--once", "--api-key-file", s(&key_file)]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    let everything = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!everything.contains("top-secret"));
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        es.stats().last_authorization.as_deref(),
        Some("ApiKey top-secret-key-material")
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn bad_arguments_and_input_exit_2() {
    let dir = fresh("usage");
    let spool = dir.join("spool");
    for (url, index, needle) in [
        ("https://127.0.0.1:9200", INDEX, "https is not supported"),
        (
            "http://u:p@127.0.0.1:9200",
            INDEX,
            "credentials in the Elasticsearch URL",
        ),
        ("http://127.0.0.1:9200", "Upper", "invalid index name"),
        ("not a url", INDEX, "invalid Elasticsearch URL"),
    ] {
        let out = run(&[
            "logs",
            "ship",
            "--spool",
            s(&spool),
            "--url",
            url,
            "--index",
            index,
            "--once",
        ]);
        assert_eq!(out.status.code(), Some(2), "{url} {index}");
        assert!(out.stdout.is_empty());
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        assert!(!stderr(&out).contains("u:p@"));
    }
    let out = append(&spool, "{\"message\":\"ok\"}\nnot json\n[1]\n");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(json(&out)["appended"], 1);
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));

    let out = run(&["logs", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("ship") && help.contains("spool-append"),
        "{help}"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
