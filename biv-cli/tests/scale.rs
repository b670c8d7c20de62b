//! Runs the real `biv` binary: `biv scale recommend`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn biv(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_biv"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the biv binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().expect("biv finishes");
    writer.join().expect("the stdin writer finishes");
    output
}

fn input_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write the input");
    path
}

fn advice(output: &Output) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout.clone()).expect("UTF-8");
    assert!(text.ends_with('\n'));
    serde_json::from_str(&text).expect("one JSON object")
}

/// kubernetes TestReplicaCalcScaleUp: 3 pods at 300/500/700 m of 1000 m, target 30 % → 5.
const SCALE_UP: &str = r#"{
  "current_replicas": 3, "min_replicas": 1, "max_replicas": 10, "tolerance": 0.1,
  "target": {"type": "utilization", "value": 30},
  "pods": [
    {"name": "test-pod-0", "ready": true, "request_milli": 1000, "usage_milli": 300},
    {"name": "test-pod-1", "ready": true, "request_milli": 1000, "usage_milli": 500},
    {"name": "test-pod-2", "ready": true, "request_milli": 1000, "usage_milli": 700}
  ]
}"#;

#[test]
fn recommends_a_scale_up_from_a_file() {
    let path = input_file("up.json", SCALE_UP);
    let output = biv(
        &["scale", "recommend", "--input", path.to_str().unwrap()],
        b"",
    );
    let value = advice(&output);
    assert_eq!(
        value,
        serde_json::json!({"desired_replicas": 5, "utilization": 50, "reason": "DesiredWithinRange"})
    );
}

#[test]
fn reads_standard_input_and_honours_behavior_and_history() {
    // kubernetes TestScalingWithRules "scaleUp with pod policy and previous scale up events":
    // 100 replicas, events +1/+5/+9 in the last 120 s, at most 150 pods per 120 s → 235.
    let pods: Vec<String> = (0..100)
        .map(|i| {
            format!(r#"{{"name":"p{i}","ready":true,"request_milli":1000,"usage_milli":1000}}"#)
        })
        .collect();
    let input = format!(
        r#"{{"current_replicas": 100, "max_replicas": 1000,
            "target": {{"type": "utilization", "value": 20}},
            "pods": [{}],
            "behavior": {{"scaleUp": {{"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                          "policies": [{{"type": "Pods", "value": 150, "periodSeconds": 120}}]}}}},
            "history": [{{"seconds_ago": 100, "replica_change": 1}},
                        {{"seconds_ago": 60, "replica_change": 5}},
                        {{"seconds_ago": 20, "replica_change": 9}}]}}"#,
        pods.join(",")
    );
    let output = biv(&["scale", "recommend", "--input", "-"], input.as_bytes());
    let value = advice(&output);
    assert_eq!(value["desired_replicas"], 235);
    assert_eq!(value["utilization"], 100);
    assert_eq!(value["reason"], "ScaleUpLimit");
}

#[test]
fn average_value_targets_and_default_scale_down_stabilization() {
    // kubernetes TestReplicaCalcScaleDownCM: 5 pods at 12 qps against 20 qps → 3; a
    // recommendation of 5 a minute ago keeps it at 5 inside the default 300 s window.
    let input = r#"{"current_replicas": 5, "max_replicas": 10,
        "target": {"type": "average_value", "value": 20000},
        "pods": [
          {"name": "a", "ready": true, "usage_milli": 12000},
          {"name": "b", "ready": true, "usage_milli": 12000},
          {"name": "c", "ready": true, "usage_milli": 12000},
          {"name": "d", "ready": true, "usage_milli": 12000},
          {"name": "e", "ready": true, "usage_milli": 12000}],
        "history": [{"seconds_ago": 60, "recommendation": 5}]}"#;
    let value = advice(&biv(
        &["scale", "recommend", "--input", "-"],
        input.as_bytes(),
    ));
    assert_eq!(value["desired_replicas"], 5);
    assert_eq!(value["utilization"], 12000);
    assert_eq!(value["reason"], "ScaleDownStabilized");
    let without_history = input.replace(
        r#""history": [{"seconds_ago": 60, "recommendation": 5}]"#,
        r#""history": []"#,
    );
    let value = advice(&biv(
        &["scale", "recommend", "--input", "-"],
        without_history.as_bytes(),
    ));
    assert_eq!(value["desired_replicas"], 3);
}

#[test]
fn malformed_input_is_refused_naming_the_key() {
    for (input, needle) in [
        (r#"{"current_replicas": 3}"#, "max_replicas"),
        (
            &SCALE_UP.replace("\"tolerance\"", "\"tolerence\""),
            "tolerence",
        ),
        (
            &SCALE_UP.replace("\"utilization\"", "\"percent\""),
            "percent",
        ),
        (
            &SCALE_UP.replace("\"min_replicas\": 1", "\"min_replicas\": 11"),
            "min_replicas",
        ),
        ("not json", "malformed"),
    ] {
        let output = biv(&["scale", "recommend", "--input", "-"], input.as_bytes());
        assert_eq!(output.status.code(), Some(2), "{input}");
        assert!(output.stdout.is_empty());
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(needle), "{needle} not in {err}");
    }
}

#[test]
fn a_missing_file_and_uncomputable_input_are_errors() {
    let output = biv(
        &["scale", "recommend", "--input", "/nonexistent/biv.json"],
        b"",
    );
    assert_eq!(output.status.code(), Some(2));
    let no_ready = SCALE_UP.replace("\"ready\": true", "\"ready\": false");
    let output = biv(&["scale", "recommend", "--input", "-"], no_ready.as_bytes());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no recommendation"));
}
