//! Building a `Change` from GitHub REST payloads (fixtures in tests/data/github/).

use biv_core::{ChangeKind, CheckConclusion, ReviewState};
use biv_integrity::review::github::{GithubParseError, GithubPayloads, sha256_hex};

const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/github/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).expect("fixture exists")
}

#[test]
fn a_full_set_of_payloads_becomes_a_change() {
    let (pr, reviews, commits) = (
        data("pull.json"),
        data("reviews-approved.json"),
        data("commits.json"),
    );
    let (timeline, checks, files) = (
        data("timeline.json"),
        data("check-runs.json"),
        data("files.json"),
    );
    let change = GithubPayloads::new(&pr, &reviews, &commits)
        .with_timeline(&timeline)
        .with_check_runs(&checks)
        .with_files(&files)
        .parse(ChangeKind::Code)
        .unwrap();
    assert_eq!(change.id, "acme/ehr#42");
    assert_eq!(change.kind, ChangeKind::Code);
    assert_eq!(change.head_sha, HEAD);
    assert_eq!(change.author.login.as_deref(), Some("alice"));
    assert_eq!(change.commits.len(), 2);
    let first = &change.commits[0];
    assert_eq!(first.author.login.as_deref(), Some("alice"));
    assert_eq!(first.author.email.as_deref(), Some("alice@acme.example"));
    assert_eq!(first.co_authors.len(), 1);
    assert_eq!(first.co_authors[0].login.as_deref(), Some("dave"));
    // Signed-off-by is not a co-author.
    assert!(change.commits[1].co_authors.is_empty());
    assert_eq!(change.reviews.len(), 3);
    assert_eq!(change.reviews[0].state, ReviewState::Commented);
    assert_eq!(change.reviews[1].state, ReviewState::Approved);
    assert_eq!(change.reviews[1].commit_sha, HEAD);
    assert!(change.reviews[1].submitted_at.is_some());
    // Pushers: erin's committed event (author, committer, co-author gina) and her force push.
    let pushers: Vec<_> = change.pushers.iter().map(|p| p.display_name()).collect();
    assert_eq!(
        pushers,
        [
            "erin@acme.example",
            "erin@acme.example",
            "gina@acme.example",
            "erin"
        ]
    );
    assert_eq!(change.checks.len(), 3);
    assert_eq!(change.checks[0].conclusion, CheckConclusion::Success);
    assert_eq!(change.checks[2].name, "dusk");
    assert_eq!(change.checks[2].conclusion, CheckConclusion::Pending);
    assert_eq!(
        change.changed_paths,
        [
            "app/Medication/Dose.php",
            "config/dose.php",
            "config/medication.php",
            "tests/Unit/DoseTest.php"
        ]
    );
    let names: Vec<_> = change.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "repos/acme/ehr/pulls/42",
            "repos/acme/ehr/pulls/42/commits",
            "repos/acme/ehr/pulls/42/reviews",
            "repos/acme/ehr/issues/42/timeline",
            "repos/acme/ehr/commits/6dcb09b5b57875f334f61aebed695e2e4193db5e/check-runs",
            "repos/acme/ehr/pulls/42/files",
        ]
    );
    for (input, bytes) in change
        .inputs
        .iter()
        .zip([&pr, &commits, &reviews, &timeline, &checks, &files])
    {
        assert_eq!(input.sha256, sha256_hex(bytes), "{}", input.name);
    }
}

#[test]
fn digests_cover_the_exact_bytes() {
    let (pr, reviews, commits) = (
        data("pull.json"),
        data("reviews-approved.json"),
        data("commits.json"),
    );
    let a = GithubPayloads::new(&pr, &reviews, &commits)
        .parse(ChangeKind::Code)
        .unwrap();
    // The same JSON with different whitespace is a different input.
    let mut spaced = reviews.clone();
    spaced.push(b'\n');
    let b = GithubPayloads::new(&pr, &spaced, &commits)
        .parse(ChangeKind::Code)
        .unwrap();
    assert_eq!(a.reviews, b.reviews);
    assert_ne!(a.inputs[2].sha256, b.inputs[2].sha256);
    assert_eq!(a.inputs[0], b.inputs[0]);
}

#[test]
fn webhook_lower_case_states_are_normalised() {
    let change = GithubPayloads::new(
        &data("pull.json"),
        &data("reviews-lowercase.json"),
        &data("commits.json"),
    )
    .parse(ChangeKind::Configuration)
    .unwrap();
    let states: Vec<_> = change.reviews.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            ReviewState::Approved,
            ReviewState::Approved,
            ReviewState::Commented,
            ReviewState::Pending
        ]
    );
    assert!(change.reviews[3].submitted_at.is_none());
    assert_eq!(change.kind, ChangeKind::Configuration);
}

#[test]
fn bots_and_web_flow_are_recognised() {
    let change = GithubPayloads::new(
        &data("pull.json"),
        &data("reviews-bot.json"),
        &data("commits-update-branch.json"),
    )
    .parse(ChangeKind::Code)
    .unwrap();
    assert!(change.reviews[0].reviewer.is_bot);
    assert!(!change.reviews[1].reviewer.is_bot);
    let merge = &change.commits[1];
    assert_eq!(merge.author.login.as_deref(), Some("frank"));
    assert_eq!(merge.committer.login.as_deref(), Some("web-flow"));
    assert_eq!(merge.committer.email.as_deref(), Some("noreply@github.com"));
}

#[test]
fn a_null_commit_id_leaves_the_review_on_no_commit() {
    let change = GithubPayloads::new(
        &data("pull.json"),
        &data("reviews-missing-commit.json"),
        &data("commits.json"),
    )
    .parse(ChangeKind::Code)
    .unwrap();
    assert_eq!(change.reviews[0].commit_sha, "");
    assert_eq!(change.reviews[1].commit_sha, HEAD);
}

#[test]
fn a_commit_without_a_linked_account_keeps_its_email() {
    let mut commits: serde_json::Value = serde_json::from_slice(&data("commits.json")).unwrap();
    commits[0]["author"] = serde_json::Value::Null;
    commits[0]["commit"]["author"]["email"] = "77+gina@users.noreply.github.com".into();
    commits[1]["committer"] = serde_json::json!({});
    let bytes = serde_json::to_vec(&commits).unwrap();
    let change = GithubPayloads::new(&data("pull.json"), &data("reviews-approved.json"), &bytes)
        .parse(ChangeKind::Code)
        .unwrap();
    assert_eq!(change.commits[0].author.login.as_deref(), Some("gina"));
    assert_eq!(change.commits[1].committer.login, None);
    assert_eq!(
        change.commits[1].committer.email.as_deref(),
        Some("alice@acme.example")
    );
}

#[test]
fn check_runs_may_be_a_bare_array() {
    let checks: serde_json::Value =
        serde_json::from_slice(&data("check-runs-failed.json")).unwrap();
    let bare = serde_json::to_vec(&checks["check_runs"]).unwrap();
    let change = GithubPayloads::new(
        &data("pull.json"),
        &data("reviews-approved.json"),
        &data("commits.json"),
    )
    .with_check_runs(&bare)
    .parse(ChangeKind::Code)
    .unwrap();
    assert_eq!(change.checks[0].conclusion, CheckConclusion::Failure);
}

/// Replaces one JSON pointer in a fixture, or removes it when `value` is `None`.
fn edit(name: &str, pointer: &str, value: Option<serde_json::Value>) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(&data(name)).expect("fixture is JSON");
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let target = json.pointer_mut(parent).expect("pointer exists");
    match (value, target) {
        (Some(v), serde_json::Value::Array(a)) => a[key.parse::<usize>().expect("index")] = v,
        (Some(v), t) => t[key] = v,
        (None, t) => {
            t.as_object_mut().expect("object").remove(key);
        }
    }
    serde_json::to_vec(&json).expect("serialises")
}

fn field_error(result: Result<biv_core::Change, GithubParseError>) -> (String, String) {
    match result {
        Err(GithubParseError::Field { input, field, .. }) => (input.to_owned(), field),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn bad_payloads_name_the_input_and_field() {
    let pr = data("pull.json");
    let reviews = data("reviews-approved.json");
    let commits = data("commits.json");
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "reviews",
            edit("reviews-approved.json", "/1/state", Some("LGTM".into())),
            "reviews",
            "[1].state",
        ),
        (
            "reviews",
            edit("reviews-approved.json", "/2/user/login", None),
            "reviews",
            "[2].user.login",
        ),
        (
            "reviews",
            edit(
                "reviews-approved.json",
                "/0/commit_id",
                Some("not-a-sha".into()),
            ),
            "reviews",
            "[0].commit_id",
        ),
        (
            "reviews",
            edit(
                "reviews-approved.json",
                "/0/submitted_at",
                Some("yesterday".into()),
            ),
            "reviews",
            "[0].submitted_at",
        ),
        (
            "reviews",
            edit("reviews-approved.json", "/0/state", Some(7.into())),
            "reviews",
            "[0].state",
        ),
        (
            "pull",
            edit("pull.json", "/head/sha", None),
            "pull_request",
            "head.sha",
        ),
        (
            "pull",
            edit("pull.json", "/number", Some("42".into())),
            "pull_request",
            "number",
        ),
        (
            "pull",
            edit("pull.json", "/base/repo/full_name", Some("ehr".into())),
            "pull_request",
            "base.repo.full_name",
        ),
        (
            "pull",
            edit("pull.json", "/user", Some(serde_json::Value::Null)),
            "pull_request",
            "user",
        ),
        (
            "commits",
            edit("commits.json", "/1/commit/message", None),
            "commits",
            "[1].commit.message",
        ),
        (
            "commits",
            edit("commits.json", "/0/commit/author/email", None),
            "commits",
            "[0].commit.author.email",
        ),
        ("commits", b"{}".to_vec(), "commits", "(top level)"),
        ("commits", b"[]".to_vec(), "commits", "(top level)"),
    ];
    for (which, bytes, input, field) in cases {
        let (p, r, c) = match which {
            "reviews" => (&pr, &bytes, &commits),
            "pull" => (&bytes, &reviews, &commits),
            _ => (&pr, &reviews, &bytes),
        };
        let got = field_error(GithubPayloads::new(p, r, c).parse(ChangeKind::Code));
        assert_eq!(got, (input.to_owned(), field.to_owned()));
    }
}

#[test]
fn optional_inputs_are_checked_too() {
    let (pr, reviews, commits) = (
        data("pull.json"),
        data("reviews-approved.json"),
        data("commits.json"),
    );
    let timeline = edit("timeline.json", "/1/actor", None);
    let got = field_error(
        GithubPayloads::new(&pr, &reviews, &commits)
            .with_timeline(&timeline)
            .parse(ChangeKind::Code),
    );
    assert_eq!(got, ("timeline".to_owned(), "[1].actor".to_owned()));
    let checks = edit(
        "check-runs.json",
        "/check_runs/0/conclusion",
        Some("great".into()),
    );
    let got = field_error(
        GithubPayloads::new(&pr, &reviews, &commits)
            .with_check_runs(&checks)
            .parse(ChangeKind::Code),
    );
    assert_eq!(
        got,
        (
            "check_runs".to_owned(),
            "check_runs[0].conclusion".to_owned()
        )
    );
    let files = edit("files.json", "/0/filename", None);
    let got = field_error(
        GithubPayloads::new(&pr, &reviews, &commits)
            .with_files(&files)
            .parse(ChangeKind::Code),
    );
    assert_eq!(got, ("files".to_owned(), "[0].filename".to_owned()));
}

#[test]
fn malformed_json_and_contradictions_are_errors() {
    let (pr, reviews, commits) = (
        data("pull.json"),
        data("reviews-approved.json"),
        data("commits.json"),
    );
    let err = GithubPayloads::new(&pr, b"[{\"id\": 1,", &commits)
        .parse(ChangeKind::Code)
        .unwrap_err();
    assert!(
        matches!(
            err,
            GithubParseError::Json {
                input: "reviews",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("reviews: not valid JSON"),
        "{err}"
    );

    let other_head = edit(
        "pull.json",
        "/head/sha",
        Some("0000000000000000000000000000000000000001".into()),
    );
    let err = GithubPayloads::new(&other_head, &reviews, &commits)
        .parse(ChangeKind::Code)
        .unwrap_err();
    match &err {
        GithubParseError::Inconsistent { input, field, .. } => {
            assert_eq!((*input, field.as_str()), ("pull_request", "head.sha"));
        }
        other => panic!("expected an inconsistency, got {other:?}"),
    }
    assert!(err.to_string().contains("head.sha"), "{err}");
}

mod robustness {
    use biv_core::ChangeKind;
    use biv_integrity::review::github::GithubPayloads;
    use biv_integrity::review::settings::{
        SettingsPolicy, evaluate_branch_protection, evaluate_rulesets,
    };
    use proptest::prelude::*;

    use super::data;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Corrupting any byte of any payload gives an error or a change, never a panic.
        #[test]
        fn corrupted_payloads_never_panic(which in 0..6usize, pos in any::<usize>(), byte in any::<u8>()) {
            let names = ["pull.json", "reviews-approved.json", "commits.json", "timeline.json", "check-runs.json", "files.json"];
            let mut inputs: Vec<Vec<u8>> = names.iter().map(|n| data(n)).collect();
            let target = &mut inputs[which];
            let at = pos % target.len();
            target[at] = byte;
            let _ = GithubPayloads::new(&inputs[0], &inputs[1], &inputs[2])
                .with_timeline(&inputs[3])
                .with_check_runs(&inputs[4])
                .with_files(&inputs[5])
                .parse(ChangeKind::Code);
            let _ = evaluate_branch_protection(&inputs[which], &SettingsPolicy::default());
            let _ = evaluate_rulesets(&inputs[which], &SettingsPolicy::default());
        }

        /// Arbitrary JSON values in place of a payload are errors, not panics.
        #[test]
        fn arbitrary_json_never_panics(text in "[\\[\\]{}\",:0-9a-z ]{0,64}") {
            let pr = data("pull.json");
            let commits = data("commits.json");
            let _ = GithubPayloads::new(&pr, text.as_bytes(), &commits).parse(ChangeKind::Code);
            let _ = evaluate_rulesets(text.as_bytes(), &SettingsPolicy::default());
        }
    }
}
