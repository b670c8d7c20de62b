//! Runs the real `biv` binary: `biv health check`.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn biv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biv"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the biv binary runs")
}

fn config_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write the config");
    path
}

fn closed_port() -> u16 {
    biv_testkit::net::ClosedPort::for_process()
        .expect("a closed port")
        .port()
}

fn report(output: &Output) -> Value {
    let text = String::from_utf8(output.stdout.clone()).expect("UTF-8");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn passing_checks_exit_zero_and_print_health_json() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let tmp = std::env::temp_dir();
    let config = format!(
        r#"{{"checks": [
          {{"name": "tmp:writable", "type": "writable_dir", "path": "{}", "groups": ["live", "ready"]}},
          {{"name": "tmp:free", "type": "disk", "path": "{}", "warn_below_percent": 0, "fail_below_percent": 0}},
          {{"name": "peer:responseTime", "type": "tcp", "address": "{addr}"}}
        ]}}"#,
        tmp.display(),
        tmp.display()
    );
    let path = config_file("pass.json", &config);
    let output = biv(&["health", "check", "--config", path.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = report(&output);
    assert_eq!(value["status"], "pass");
    assert_eq!(value["checks"]["tmp:free"][0]["observedUnit"], "percent");
    assert_eq!(value["checks"]["peer:responseTime"][0]["status"], "pass");

    let live = biv(&[
        "health",
        "check",
        "--config",
        path.to_str().unwrap(),
        "--group",
        "live",
    ]);
    assert_eq!(live.status.code(), Some(0));
    let value = report(&live);
    assert_eq!(value["checks"].as_object().unwrap().len(), 1);
}

#[test]
fn a_failing_critical_check_exits_one_and_a_non_critical_one_warns() {
    let port = closed_port();
    let failing = format!(
        r#"{{"checks": [{{"name": "db:responseTime", "type": "tcp", "address": "127.0.0.1:{port}"}}]}}"#
    );
    let path = config_file("fail.json", &failing);
    let output = biv(&["health", "check", "--config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let value = report(&output);
    assert_eq!(value["status"], "fail");
    assert!(
        value["checks"]["db:responseTime"][0]["output"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );

    let warning = failing.replace(r#""type": "tcp""#, r#""type": "tcp", "critical": false"#);
    let path = config_file("warn.json", &warning);
    let output = biv(&["health", "check", "--config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(report(&output)["status"], "warn");
}

#[test]
fn a_malformed_config_is_refused_naming_the_key() {
    for (config, key) in [
        (
            r#"{"checks": [{"name": "a:b", "type": "tcp"}]}"#,
            "checks[0].address",
        ),
        (
            r#"{"checks": [{"name": "a:b", "type": "smtp"}]}"#,
            "checks[0].type",
        ),
        (
            r#"{"checks": [{"name": "a:b", "type": "tcp", "adress": "x:1"}]}"#,
            "checks[0].adress",
        ),
        (
            r#"{"checks": [{"name": "a:b", "type": "http", "url": "https://x/"}]}"#,
            "checks[0].url",
        ),
        (
            r#"{"checks": [{"name": "a b", "type": "memory"}]}"#,
            "checks[0].name",
        ),
        (
            r#"{"checks": [{"name": "a:b", "type": "memory", "groups": []}]}"#,
            "checks[0].groups",
        ),
        (
            r#"{"checks": [{"name": "a:b", "type": "memory", "path": "/"}]}"#,
            "checks[0].path",
        ),
        (
            r#"{"checks": [{"name": "a:b", "type": "disk", "path": "/", "fail_below_percent": 50}]}"#,
            "checks[0].fail_below_percent",
        ),
        (
            r#"{"checks": [{"name": "a:b", "type": "memory"}], "check": []}"#,
            "check",
        ),
        (r#"{"checks": [{"type": "memory"}]}"#, "checks[0].name"),
        ("[", "(document)"),
    ] {
        let path = config_file("bad.json", config);
        let output = biv(&["health", "check", "--config", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{config}");
        assert!(output.stdout.is_empty(), "{config}");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(&format!("{key}:")), "{key} not in {err}");
    }
    let output = biv(&["health", "check", "--config", "/nonexistent/health.json"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_unknown_group_is_refused() {
    let path = config_file(
        "group.json",
        r#"{"checks": [{"name": "m:a", "type": "memory"}]}"#,
    );
    let output = biv(&[
        "health",
        "check",
        "--config",
        path.to_str().unwrap(),
        "--group",
        "nope",
    ]);
    assert_eq!(output.status.code(), Some(2));
}
