//! `biv review`: the real binary on GitHub payload fixtures (biv-integrity/tests/data/github/).

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    let mut path = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    path.push("../biv-integrity/tests/data/github");
    path.push(name);
    path.to_str().expect("UTF-8 path").to_owned()
}

fn biv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biv"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the biv binary runs")
}

fn check(reviews: &str, extra: &[&str]) -> Output {
    let (pr, reviews, commits) = (
        fixture("pull.json"),
        fixture(reviews),
        fixture("commits.json"),
    );
    let (timeline, checks) = (fixture("timeline.json"), fixture("check-runs.json"));
    let mut args = vec![
        "review",
        "check",
        "--pr",
        &pr,
        "--reviews",
        &reviews,
        "--commits",
        &commits,
        "--timeline",
        &timeline,
        "--checks",
        &checks,
    ];
    args.extend_from_slice(extra);
    biv(&args)
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[test]
fn an_approved_change_exits_0_with_the_verdict() {
    let out = check("reviews-approved.json", &["--require-check", "phpunit"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["decision"], "approved");
    assert_eq!(v["approvers"], serde_json::json!(["bob", "carol"]));
    assert_eq!(v["inputs"].as_array().map(Vec::len), Some(5));
    assert_eq!(v["inputs"][0]["name"], "repos/acme/ehr/pulls/42");
    assert!(out.stderr.is_empty());
}

#[test]
fn a_rejected_change_exits_1_with_its_reasons() {
    for (reviews, code) in [
        ("reviews-self-approval.json", "insufficient_approvals"),
        ("reviews-stale.json", "insufficient_approvals"),
        ("reviews-changes-requested.json", "changes_requested"),
        ("reviews-force-pusher.json", "insufficient_approvals"),
    ] {
        let out = check(reviews, &[]);
        assert_eq!(out.status.code(), Some(1), "{reviews}");
        let v = json(&out);
        assert_eq!(v["decision"], "rejected", "{reviews}");
        let codes: Vec<&str> = v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["code"].as_str())
            .collect();
        assert!(codes.contains(&code), "{reviews}: {codes:?}");
    }
}

#[test]
fn options_shape_the_policy() {
    let out = check("reviews-approved.json", &["--required-approvals", "3"]);
    assert_eq!(out.status.code(), Some(1));
    let out = check("reviews-approved.json", &["--require-check", "dusk"]);
    assert_eq!(out.status.code(), Some(1), "dusk is still running");
    assert_eq!(json(&out)["reasons"][2]["code"], "required_check_failed");
    let out = check("reviews-approved.json", &["--require-check", "behat"]);
    assert_eq!(json(&out)["reasons"][2]["code"], "required_check_missing");
    let out = check("reviews-approved.json", &["--allow-reviewer", "bob"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["ignored"][1]["why"], "reviewer_not_allowed");
    let files = fixture("files.json");
    let out = check(
        "reviews-approved.json",
        &["--files", &files, "--code-owner", "config/=carol,ops-lead"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = check(
        "reviews-approved.json",
        &[
            "--files",
            &files,
            "--code-owner",
            "*.php=pharmacist",
            "--kind",
            "configuration",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json(&out)["reasons"][2]["code"],
        "code_owner_approval_missing"
    );
}

fn bad(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "bad input must never print a verdict"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
}

#[test]
fn bad_input_exits_2_and_never_approves() {
    let dir = std::env::temp_dir().join(format!("biv-review-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let malformed = dir.join("malformed.json");
    std::fs::write(&malformed, b"[{\"state\": ").unwrap();
    let unknown = dir.join("unknown-state.json");
    let reviews = std::fs::read_to_string(fixture("reviews-approved.json")).unwrap();
    std::fs::write(&unknown, reviews.replace("\"APPROVED\"", "\"LGTM\"")).unwrap();

    bad(
        &check(malformed.to_str().unwrap(), &[]),
        "reviews: not valid JSON",
    );
    bad(
        &check(unknown.to_str().unwrap(), &[]),
        "field `[1].state` is not a review state",
    );
    bad(&check("no-such-file.json", &[]), "cannot read");
    bad(
        &check("reviews-approved.json", &["--required-approvals", "0"]),
        "",
    );
    bad(
        &check("reviews-approved.json", &["--code-owner", "config/"]),
        "PATTERN=LOGIN",
    );
    bad(
        &biv(&["review", "check", "--pr", &fixture("pull.json")]),
        "--reviews",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn settings_print_findings() {
    let out = biv(&[
        "review",
        "settings",
        "--protection",
        &fixture("protection-six-eyes.json"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out), serde_json::json!([]));

    let out = biv(&[
        "review",
        "settings",
        "--protection",
        &fixture("protection-weak.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)[0]["code"], "too_few_approvals");

    let out = biv(&[
        "review",
        "settings",
        "--ruleset",
        &fixture("ruleset-six-eyes.json"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = biv(&[
        "review",
        "settings",
        "--ruleset",
        &fixture("ruleset-six-eyes.json"),
        "--min-approvals",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)[0]["severity"], "high");

    bad(&biv(&["review", "settings"]), "--protection");
    bad(
        &biv(&[
            "review",
            "settings",
            "--protection",
            &fixture("protection-six-eyes.json"),
            "--ruleset",
            &fixture("ruleset-six-eyes.json"),
        ]),
        "cannot be used with",
    );
    bad(
        &biv(&["review", "settings", "--ruleset", &fixture("pull.json")]),
        "`rules` is missing",
    );
}

#[test]
fn help_names_the_subcommands() {
    let out = biv(&["review", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("check") && text.contains("settings"),
        "{text}"
    );
}

#[test]
fn a_policy_file_is_read_and_options_override_it() {
    let dir = std::env::temp_dir().join(format!("biv-review-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        br#"{"required_approvals": 3, "required_checks": ["phpunit"], "identities": {"carol": ["erin@acme.example"]}}"#,
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let out = check("reviews-approved.json", &["--policy", policy]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["reasons"][0]["code"], "insufficient_approvals");
    // Carol's known e-mail authored a commit that was force-pushed away: she contributed.
    assert_eq!(v["approvers"], serde_json::json!(["bob"]));
    let out = check(
        "reviews-approved.json",
        &["--policy", policy, "--required-approvals", "1"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let broken = dir.join("broken.json");
    std::fs::write(&broken, br#"{"required_approvals": 2, "reviewers": []}"#).unwrap();
    bad(
        &check(
            "reviews-approved.json",
            &["--policy", broken.to_str().unwrap()],
        ),
        "unknown field",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
