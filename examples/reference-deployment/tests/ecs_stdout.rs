//! The reference deployment's standard output is ECS JSON from its first line.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn stdout_starts_with_an_ecs_line() {
    let data_dir = std::env::temp_dir().join(format!("biv-reference-ecs-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_biv-reference"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("biv-reference starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a first line on stdout");
    let first: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    let url = first["url.full"].as_str().expect("url").to_owned();
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .write_all(b"GET /?bsn=111222333 HTTP/1.1\r\nHost: x\r\nUser-Agent: ecs-test\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // The first heartbeat goes out right after "listening", on another task: either line may
    // come first.
    let (mut heartbeat, mut access) = (None, None);
    while heartbeat.is_none() || access.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a heartbeat and an access line on stdout");
        if line.contains(r#""event.action":"heartbeat""#) {
            heartbeat = Some(line);
        } else {
            access = Some(line);
        }
    }
    let (heartbeat, access) = (heartbeat.expect("heartbeat"), access.expect("access"));
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut metrics = String::new();
    stream.read_to_string(&mut metrics).expect("response");
    child.kill().expect("stop the service");
    child.wait().expect("reap");
    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(line.starts_with(r#"{"@timestamp":""#), "{line}");
    let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(v["log.level"], "info");
    assert_eq!(v["message"], "listening");
    assert_eq!(v["event.dataset"], "system");
    assert_eq!(v["service.name"], "biv-reference");
    assert!(
        v["url.full"]
            .as_str()
            .expect("url")
            .starts_with("http://127.0.0.1:")
    );
    assert!(v["ecs.version"].is_string());
    let h: serde_json::Value = serde_json::from_str(&heartbeat).expect("JSON");
    assert_eq!(h["event.action"], "heartbeat", "{heartbeat}");
    assert_eq!(h["labels"]["sequence"], 1, "{heartbeat}");
    let a: serde_json::Value = serde_json::from_str(&access).expect("JSON");
    assert_eq!(a["event.dataset"], "access", "{access}");
    assert_eq!(a["url.path"], "/");
    assert_eq!(a["http.response.status_code"], 200);
    assert_eq!(a["client.address"], "127.0.0.1");
    assert_eq!(a["user_agent.original"], "ecs-test");
    assert!(!access.contains("111222333"), "BSN leaked: {access}");
    // The binary exposes the log layer's losses: none so far.
    for reason in ["full", "closed", "backend", "encoding"] {
        let series = format!("biv_log_records_dropped_total{{reason=\"{reason}\"}} 0\n");
        assert!(metrics.contains(&series), "{series} missing from {metrics}");
    }
    assert!(
        metrics.contains("biv_log_records_lost_total 0\n"),
        "{metrics}"
    );
}
