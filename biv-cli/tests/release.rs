//! `biv release`: the real binary on JUnit fixtures (biv-integrity/tests/data/junit/) and a
//! verdict made by `biv review check` from the GitHub fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The head commit of biv-integrity/tests/data/github/pull.json.
const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

fn digest() -> String {
    format!("sha256:{}", "ab".repeat(32))
}

fn data(dir: &str, name: &str) -> String {
    let mut path = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    path.push("../biv-integrity/tests/data");
    path.push(dir);
    path.push(name);
    path.to_str().expect("UTF-8 path").to_owned()
}

fn biv(args: &[&str]) -> Output {
    biv_with_state_url(args, None)
}

/// Runs `biv` with `BIV_GATE_STATE_URL` set to `url`, or removed.
fn biv_with_state_url(args: &[&str], url: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_biv"));
    match url {
        Some(url) => command.env("BIV_GATE_STATE_URL", url),
        None => command.env_remove("BIV_GATE_STATE_URL"),
    };
    command
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the biv binary runs")
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-release-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A verdict from `biv review check`, whose check-runs input names the head commit.
fn verdict(dir: &Path) -> String {
    let g = |n: &str| data("github", n);
    let out = biv(&[
        "review",
        "check",
        "--pr",
        &g("pull.json"),
        "--reviews",
        &g("reviews-approved.json"),
        "--commits",
        &g("commits.json"),
        "--timeline",
        &g("timeline.json"),
        "--checks",
        &g("check-runs.json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("verdict.json");
    std::fs::write(&path, &out.stdout).expect("written");
    path.to_str().expect("UTF-8").to_owned()
}

fn promote(state: &str, to: &str, extra: &[&str]) -> Output {
    let d = digest();
    let mut args = vec![
        "release",
        "promote",
        "--state",
        state,
        "--artifact",
        &d,
        "--commit",
        HEAD,
        "--to",
        to,
        "--deployer",
        "dave",
    ];
    args.extend_from_slice(extra);
    biv(&args)
}

#[test]
fn an_artifact_walks_to_production_and_every_decision_is_in_the_audit_log() {
    let dir = fresh("walk");
    let state = dir.join("state.json");
    let state = state.to_str().expect("UTF-8");
    let audit = dir.join("audit");
    let audit = audit.to_str().expect("UTF-8");
    let out = biv(&[
        "audit",
        "init",
        "--dir",
        audit,
        "--origin",
        "biv.test/release",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict = verdict(&dir);
    let (phpunit, jest) = (
        data("junit", "phpunit-pass.xml"),
        data("junit", "jest-pass.xml"),
    );
    let evidence = [
        "--evidence",
        phpunit.as_str(),
        "--evidence",
        jest.as_str(),
        "--verdict",
        verdict.as_str(),
        "--contributors",
        "octocat,alice",
        "--audit-dir",
        audit,
    ];

    let out = promote(state, "development", &["--audit-dir", audit]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["allowed"], true);

    // Skipping test is refused, and the refusal is recorded too.
    let out = promote(state, "acceptance", &evidence);
    assert_eq!(out.status.code(), Some(1));
    let d = json(&out);
    assert_eq!(d["allowed"], false);
    let unmet: Vec<&str> = d["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter(|r| r["met"] == false)
        .map(|r| r["check"].as_str().expect("check"))
        .collect();
    assert_eq!(unmet, ["previous_stage"]);

    for stage in ["test", "acceptance"] {
        let out = promote(state, stage, &evidence);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stage}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // Production needs the product owner, who must not be the deployer.
    let out = promote(state, "production", &evidence);
    assert_eq!(out.status.code(), Some(1));
    let mut with_po = evidence.to_vec();
    with_po.extend_from_slice(&["--approved-by", "dave"]);
    let out = promote(state, "production", &with_po);
    assert_eq!(out.status.code(), Some(1));
    let mut with_po = evidence.to_vec();
    with_po.extend_from_slice(&["--approved-by", "petra"]);
    let out = promote(state, "production", &with_po);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let d = json(&out);
    assert_eq!(d["kind"], "promotion");
    assert_eq!(d["evidence"].as_array().map(Vec::len), Some(2));

    let out = biv(&["release", "status", "--state", state]);
    assert_eq!(out.status.code(), Some(0));
    let s = json(&out);
    assert_eq!(s["stages"][3]["stage"], "production");
    assert_eq!(s["stages"][3]["current"]["artifact"]["digest"], digest());
    assert_eq!(s["history"].as_array().map(Vec::len), Some(4));

    // Seven decisions, allowed or refused, each an entry of the audit log.
    for (index, action, outcome) in [
        (0, "release.promote", "success"),
        (1, "release.promote", "serious_failure"),
        (6, "release.promote", "success"),
    ] {
        let out = biv(&[
            "audit",
            "entry",
            "--dir",
            audit,
            "--index",
            &index.to_string(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(action), "{index}: {text}");
        assert!(text.contains(outcome), "{index}: {text}");
        assert!(text.contains(HEAD), "{index}: {text}");
    }
    let out = biv(&["audit", "entry", "--dir", audit, "--index", "7"]);
    assert_ne!(out.status.code(), Some(0));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn failing_evidence_is_refused_and_changes_nothing() {
    let dir = fresh("failing");
    let state = dir.join("state.json");
    let state = state.to_str().expect("UTF-8");
    let verdict = verdict(&dir);
    assert_eq!(promote(state, "development", &[]).status.code(), Some(0));
    let before = std::fs::read(state).expect("state");
    let failing = data("junit", "jest-suite-failed.xml");
    let out = promote(
        state,
        "test",
        &["--evidence", &failing, "--verdict", &verdict],
    );
    assert_eq!(out.status.code(), Some(1));
    let d = json(&out);
    let failed = d["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .find(|r| r["check"] == "test_evidence_passing")
        .expect("the rule is listed");
    assert_eq!(failed["met"], false);
    assert_eq!(std::fs::read(state).expect("state"), before);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn an_oap_policy_from_a_file_applies_to_a_new_state() {
    let dir = fresh("oap");
    let state = dir.join("state.json");
    let state = state.to_str().expect("UTF-8");
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"stages":[{"name":"ontwikkeling","requires_tests":false,"requires_verdicts":false},{"name":"acceptatie"},{"name":"productie","requires_product_owner":true}]}"#,
    )
    .expect("written");
    let out = promote(
        state,
        "ontwikkeling",
        &["--policy", policy.to_str().expect("UTF-8")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = promote(state, "development", &[]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn bad_input_exits_2_and_prints_nothing() {
    let dir = fresh("bad");
    let state = dir.join("state.json");
    let state = state.to_str().expect("UTF-8");
    let malformed = data("junit", "malformed.xml");
    let not_a_verdict = data("junit", "jest-pass.xml");
    let cases: Vec<Vec<&str>> = vec![
        vec!["--evidence", &malformed],
        vec!["--verdict", &not_a_verdict],
        vec!["--evidence", "/nonexistent/junit.xml"],
        vec!["--audit-dir", "/nonexistent/audit"],
    ];
    for extra in cases {
        let out = promote(state, "development", &extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(out.stdout.is_empty(), "{extra:?}");
        assert!(!out.stderr.is_empty(), "{extra:?}");
    }
    let out = biv(&[
        "release",
        "promote",
        "--state",
        state,
        "--artifact",
        "md5:0",
        "--commit",
        HEAD,
        "--to",
        "development",
        "--deployer",
        "dave",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("digest"), "{err}");
    let out = promote(state, "development", &["--evidence", &malformed]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("byte"));
    assert!(!Path::new(state).exists(), "nothing was written");
    let out = biv(&["release", "status", "--state", state]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn evidence_prints_counts_and_exits_by_passing() {
    let out = biv(&[
        "release",
        "evidence",
        "--junit",
        &data("junit", "phpunit-pass.xml"),
        "--junit",
        &data("junit", "dusk-pass.xml"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v[0]["report"]["totals"]["tests"], 5);
    assert_eq!(v[1]["passing"], true);
    let out = biv(&[
        "release",
        "evidence",
        "--junit",
        &data("junit", "jest-failure.xml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)[0]["report"]["totals"]["failures"], 1);
    let out = biv(&[
        "release",
        "evidence",
        "--junit",
        &data("junit", "malformed.xml"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_rollback_is_allowed_without_evidence_and_shown_in_the_history() {
    let dir = fresh("rollback");
    let state = dir.join("state.json");
    let state = state.to_str().expect("UTF-8");
    // Two artifacts that both ran in development; the second replaced the first.
    assert_eq!(promote(state, "development", &[]).status.code(), Some(0));
    let newer = format!("sha256:{}", "cd".repeat(32));
    let commit = "1".repeat(40);
    let args = [
        "release",
        "promote",
        "--state",
        state,
        "--artifact",
        &newer,
        "--commit",
        &commit,
        "--to",
        "development",
        "--deployer",
        "dave",
    ];
    assert_eq!(biv(&args).status.code(), Some(0));
    let out = promote(state, "development", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let d = json(&out);
    assert_eq!(d["kind"], "rollback");
    assert!(
        d["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r["check"] == "rollback" && r["met"] == true)
    );
    let out = biv(&["release", "history", "--state", state]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["rollback"], true);
    assert_eq!(lines[2]["artifact"]["digest"], digest());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn an_otr_report_must_name_the_artifacts_commit() {
    let dir = fresh("otr");
    let state = dir.join("state.json");
    let state = state.to_str().expect("UTF-8");
    let verdict = verdict(&dir);
    let otr = data("junit", "phpunit-otr-pass.xml");
    assert_eq!(promote(state, "development", &[]).status.code(), Some(0));
    let out = promote(state, "test", &["--otr", &otr, "--verdict", &verdict]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The same report for an artifact built from another commit is refused.
    let other = format!("sha256:{}", "ef".repeat(32));
    let commit = "2".repeat(40);
    let args = [
        "release",
        "promote",
        "--state",
        state,
        "--artifact",
        &other,
        "--commit",
        &commit,
        "--to",
        "development",
        "--deployer",
        "dave",
    ];
    assert_eq!(biv(&args).status.code(), Some(0));
    let mut args = args.to_vec();
    args[9] = "test";
    args.extend_from_slice(&["--otr", &otr, "--verdict", &verdict]);
    let out = biv(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("names commit"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn exactly_one_state_store_is_required() {
    let dir = fresh("stores");
    let state = dir.join("state.json");
    let state = state.to_str().expect("UTF-8");
    let d = digest();
    let base = [
        "release",
        "promote",
        "--artifact",
        &d,
        "--commit",
        HEAD,
        "--to",
        "development",
        "--deployer",
        "dave",
    ];
    for extra in [
        vec![],
        vec![
            "--state",
            state,
            "--state-url",
            "postgresql://biv@127.0.0.1:1/x",
        ],
        vec!["--state", state, "--gate-id", "shop"],
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(&extra);
        let out = biv(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(out.stdout.is_empty(), "{extra:?}");
    }
    // An exported variable does not get in the way of an explicit state file.
    let out = biv_with_state_url(
        &["release", "status", "--state", state],
        Some("postgresql://biv@127.0.0.1:1/x"),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such state file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An unreachable database is bad input too, and the connection string is not printed.
    let secret_url = "postgresql://biv:s3cret-pw@127.0.0.1:1/biv?connect_timeout=2";
    let out = biv_with_state_url(&["release", "status"], Some(secret_url));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--state-url"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(!Path::new(state).exists());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
#[ignore = "server: postgresql; run by cargo xtask test"]
fn the_gate_state_can_live_in_postgresql() {
    let url = biv_testkit::servers::postgres_url();
    let dir = fresh("pg");
    let audit = dir.join("audit");
    let audit = audit.to_str().expect("UTF-8");
    let out = biv(&[
        "audit",
        "init",
        "--dir",
        audit,
        "--origin",
        "biv.test/release-pg",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gate = format!("cli-test-{}", std::process::id());
    let d = digest();
    let promote_pg = |to: &str, extra: &[&str]| {
        let mut args = vec![
            "release",
            "promote",
            "--gate-id",
            &gate,
            "--artifact",
            &d,
            "--commit",
            HEAD,
            "--to",
            to,
            "--deployer",
            "dave",
            "--audit-dir",
            audit,
        ];
        args.extend_from_slice(extra);
        biv_with_state_url(&args, Some(&url))
    };

    let out = promote_pg("development", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["allowed"], true);
    // Refused (no test evidence): recorded in the audit log, nothing stored.
    let out = promote_pg("test", &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["allowed"], false);

    let out = biv_with_state_url(&["release", "status", "--gate-id", &gate], Some(&url));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json(&out);
    assert_eq!(s["stages"][0]["stage"], "development");
    assert_eq!(s["stages"][0]["current"]["artifact"]["digest"], d);
    assert!(s["stages"][1]["current"].is_null());
    let out = biv_with_state_url(&["release", "history", "--gate-id", &gate], Some(&url));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    // Both decisions are in the audit log, in order.
    for (index, outcome) in [(0, "success"), (1, "serious_failure")] {
        let out = biv(&[
            "audit",
            "entry",
            "--dir",
            audit,
            "--index",
            &index.to_string(),
        ]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains(outcome));
    }
    // A gate without a row is an error for status, naming the gate.
    let out = biv_with_state_url(
        &["release", "status", "--gate-id", "no-such-gate"],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-gate"));

    // When the audit log cannot take the decision, nothing changes in PostgreSQL.
    let out = biv_with_state_url(
        &[
            "release",
            "promote",
            "--gate-id",
            &gate,
            "--artifact",
            &d,
            "--commit",
            HEAD,
            "--to",
            "development",
            "--deployer",
            "dave",
            "--audit-dir",
            "/nonexistent/audit",
        ],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = biv_with_state_url(&["release", "history", "--gate-id", &gate], Some(&url));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
