//! `biv logs digest` and `biv logs sign-off`: the daily review from ECS log files and audit
//! events, and the sign-off recorded in a biv audit log.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn biv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biv"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the biv binary runs")
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-review-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A day of ECS lines: one error in the window, one warning, and an error of the baseline.
fn write_logs(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let line = |time: &str, level: &str, message: &str| {
        format!(
            r#"{{"@timestamp":"{time}","log.level":"{level}","message":"{message}","ecs.version":"8.11.0","service.name":"ehr-api","event.dataset":"application"}}"#
        )
    };
    let lines = [
        line(
            "2026-11-16T10:00:00.000Z",
            "error",
            "timeout after 3000 ms talking to lab",
        ),
        line(
            "2026-11-23T08:00:00.000Z",
            "error",
            "cannot reach <db> at 10.0.0.7",
        ),
        line(
            "2026-11-23T08:30:00.000Z",
            "error",
            "lookup of jan.jansen@example.nl failed",
        ),
        line("2026-11-23T09:00:00.000Z", "warn", "slow query"),
        "not json at all".to_owned(),
    ];
    std::fs::write(logs.join("ehr-api.ndjson"), lines.join("\n") + "\n").expect("write");
    logs
}

fn examples_audit() -> String {
    let mut path = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    path.push("../examples/audit-events.jsonl");
    path.to_str().expect("UTF-8").to_owned()
}

#[test]
fn digest_in_every_format_with_the_hash_on_stderr() {
    let dir = fresh("formats");
    let logs = write_logs(&dir);
    let audit = examples_audit();
    let run = |format: &str| {
        biv(&[
            "logs",
            "digest",
            "--logs",
            s(&logs),
            "--audit",
            &audit,
            "--end",
            "2026-11-24T00:00:00Z",
            "--format",
            format,
        ])
    };
    let json_out = run("json");
    assert_eq!(
        json_out.status.code(),
        Some(0),
        "{}",
        text(&json_out.stderr)
    );
    let digest: serde_json::Value = serde_json::from_slice(&json_out.stdout).expect("JSON");
    let hash = text(&json_out.stderr)
        .trim()
        .strip_prefix("biv logs digest: sha256 ")
        .expect("the hash line")
        .to_owned();
    assert_eq!(hash.len(), 64);
    assert_eq!(digest["logs"]["records"], 3, "{digest}");
    // Error examples are redacted, whatever the service logged.
    assert!(!text(&json_out.stdout).contains("jan.jansen@example.nl"));
    let findings = digest["access"]["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["kind"] == "break_glass"),
        "{findings:?}"
    );
    // The same input gives the same digest, in every form.
    let md = run("md");
    assert_eq!(md.status.code(), Some(0));
    let markdown = text(&md.stdout);
    assert!(markdown.contains(&hash), "the Markdown shows the hash");
    assert!(
        markdown.contains("\\<db\\>") || markdown.contains("&lt;db&gt;"),
        "{markdown}"
    );
    let html = run("html");
    let page = text(&html.stdout);
    assert!(page.contains("&lt;db&gt;"), "escaped in HTML");
    assert!(!page.contains("<db>"));
    assert_eq!(text(&run("json").stdout), text(&json_out.stdout));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_sign_off_is_recorded_once_and_only_for_the_digest_that_was_read() {
    let dir = fresh("sign-off");
    let logs = write_logs(&dir);
    let audit_dir = dir.join("audit");
    let out = biv(&[
        "audit",
        "init",
        "--dir",
        s(&audit_dir),
        "--origin",
        "biv.test/review",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = biv(&[
        "logs",
        "digest",
        "--logs",
        s(&logs),
        "--audit",
        &examples_audit(),
        "--end",
        "2026-11-24T00:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let digest_file = dir.join("digest.json");
    std::fs::write(&digest_file, &out.stdout).expect("write");
    let hash = text(&out.stderr)
        .trim()
        .rsplit(' ')
        .next()
        .expect("hash")
        .to_owned();

    let sign = |sha: &str| {
        biv(&[
            "logs",
            "sign-off",
            "--digest",
            s(&digest_file),
            "--sha256",
            sha,
            "--reviewer",
            "u-9001",
            "--role",
            "security-officer",
            "--remarks",
            "break-glass for BSN 111222333 checked with the ward",
            "--audit-dir",
            s(&audit_dir),
        ])
    };
    // The hash of another digest: refused, nothing recorded.
    let other = "0".repeat(64);
    let out = sign(&other);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let out = biv(&["audit", "entry", "--dir", s(&audit_dir), "--index", "0"]);
    assert_ne!(out.status.code(), Some(0), "nothing was appended");

    let out = sign(&hash);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(receipt["index"], 0);
    assert_eq!(receipt["digest_sha256"], hash.as_str());
    let out = biv(&["audit", "entry", "--dir", s(&audit_dir), "--index", "0"]);
    assert_eq!(out.status.code(), Some(0));
    let entry = text(&out.stdout);
    assert!(entry.contains("log-review.sign-off"), "{entry}");
    assert!(entry.contains(&hash), "{entry}");
    assert!(
        !entry.contains("111222333"),
        "remarks never in clear: {entry}"
    );
    assert!(!entry.contains("ward"), "remarks never in clear: {entry}");
    // There is no way to choose the sign-off time.
    let out = biv(&[
        "logs",
        "sign-off",
        "--digest",
        s(&digest_file),
        "--sha256",
        &hash,
        "--reviewer",
        "u-9001",
        "--at",
        "2026-11-24T08:15:00Z",
        "--audit-dir",
        s(&audit_dir),
    ]);
    assert_eq!(out.status.code(), Some(2));

    // The digest can read the verified audit log itself: the sign-off is an audit event.
    let half_a_day_ahead = biv_core::Clock::now(&biv_core::SystemClock::new())
        .checked_add(std::time::Duration::from_secs(43_200))
        .expect("a valid time")
        .to_rfc3339_millis();
    let out = biv(&[
        "logs",
        "digest",
        "--logs",
        s(&logs),
        "--audit-dir",
        s(&audit_dir),
        "--end",
        &half_a_day_ahead,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let digest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(digest["access"]["events"], 1, "{digest}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn bad_input_is_exit_2() {
    let dir = fresh("bad");
    let logs = write_logs(&dir);
    for args in [
        vec!["logs", "digest", "--logs", s(&logs), "--end", "yesterday"],
        vec![
            "logs",
            "digest",
            "--logs",
            "/nonexistent/logs",
            "--end",
            "2026-11-24T00:00:00Z",
        ],
        vec!["logs", "digest", "--end", "2026-11-24T00:00:00Z"],
        vec![
            "logs",
            "sign-off",
            "--digest",
            "/nonexistent.json",
            "--sha256",
            "00",
            "--reviewer",
            "u",
            "--audit-dir",
            "/nonexistent",
        ],
    ] {
        let out = biv(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
