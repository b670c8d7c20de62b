//! `biv alert send|test`: bad input, an unreachable Alertmanager, and delivery through the real
//! Alertmanager that `cargo xtask test` starts.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn biv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biv"))
        .args(args)
        .env_remove("BIV_ALERTMANAGER_TOKEN")
        .output()
        .expect("the biv binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A URL where nothing listens.
fn closed_port_url() -> String {
    let addr = biv_testkit::net::ClosedPort::for_process().expect("a closed port");
    format!("http://{addr}")
}

#[test]
fn bad_input_is_exit_2_with_a_clear_message() {
    for (args, expected) in [
        (
            vec![
                "alert",
                "send",
                "--alertmanager",
                "https://am:9093",
                "--name",
                "X",
                "--severity",
                "info",
            ],
            "https is not supported",
        ),
        (
            vec![
                "alert",
                "send",
                "--alertmanager",
                "http://am:9093",
                "--name",
                "X",
                "--severity",
                "loud",
            ],
            "invalid value 'loud'",
        ),
        (
            vec![
                "alert",
                "send",
                "--alertmanager",
                "http://am:9093",
                "--name",
                "X",
                "--severity",
                "info",
                "--label",
                "1bad=v",
            ],
            "--label 1bad",
        ),
        (
            vec![
                "alert",
                "send",
                "--alertmanager",
                "http://am:9093",
                "--name",
                "X",
                "--severity",
                "info",
                "--label",
                "novalue",
            ],
            "is not NAME=VALUE",
        ),
        (vec!["alert", "test"], "--alertmanager <URL>"),
    ] {
        let output = biv(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(expected),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn an_unreachable_alertmanager_is_exit_1() {
    let url = closed_port_url();
    let output = biv(&[
        "alert",
        "send",
        "--alertmanager",
        &url,
        "--name",
        "BivCliUnreachable",
        "--severity",
        "warning",
        "--timeout-ms",
        "500",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).expect("test setup");
    assert_eq!(
        line,
        serde_json::json!({"alertname": "BivCliUnreachable", "status": "firing", "accepted": false})
    );
    assert!(
        text(&output.stderr).contains("not delivered"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
#[ignore = "server: alertmanager; run by cargo xtask test"]
fn send_reaches_the_receiver_with_personal_data_redacted() {
    let am = biv_testkit::servers::alertmanager();
    let name = format!("BivCliSend{}", std::process::id());
    let output = biv(&[
        "alert",
        "send",
        "--alertmanager",
        &am.url,
        "--name",
        &name,
        "--severity",
        "critical",
        "--label",
        "service=ehr-api",
        "--annotation",
        "summary=export of patient 111222333 failed",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).expect("test setup");
    assert_eq!(line["accepted"], true);

    let deadline = Instant::now() + Duration::from_secs(60);
    let notification = loop {
        if let Some(n) = am.notifications_for(&name).into_iter().next() {
            break n;
        }
        assert!(Instant::now() < deadline, "no notification for {name}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let alert = &notification["alerts"][0];
    assert_eq!(alert["labels"]["service"], "ehr-api");
    assert_eq!(alert["labels"]["severity"], "critical");
    let summary = alert["annotations"]["summary"]
        .as_str()
        .expect("test setup");
    assert!(!summary.contains("111222333"), "{summary}");
    assert!(summary.contains("[BSN]"), "{summary}");

    let output = biv(&[
        "alert",
        "send",
        "--alertmanager",
        &am.url,
        "--name",
        &name,
        "--severity",
        "critical",
        "--label",
        "service=ehr-api",
        "--resolved",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    loop {
        if am
            .notifications_for(&name)
            .iter()
            .any(|n| n["status"] == "resolved")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no resolved notification for {name}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "server: alertmanager; run by cargo xtask test"]
fn test_fires_and_resolves() {
    let am = biv_testkit::servers::alertmanager();
    let output = biv(&["alert", "test", "--alertmanager", &am.url]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("test setup"))
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"alertname": "BivTestAlert", "status": "firing", "accepted": true}),
            serde_json::json!({"alertname": "BivTestAlert", "status": "resolved", "accepted": true}),
        ]
    );
}
