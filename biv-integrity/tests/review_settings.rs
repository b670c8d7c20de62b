//! Findings on branch protection and rulesets (fixtures in tests/data/github/).

use FindingCode::*;
use biv_integrity::review::settings::{
    FindingCode, SettingsError, SettingsPolicy, Severity, evaluate_branch_protection,
    evaluate_rulesets,
};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/github/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).expect("fixture exists")
}

fn protection(name: &str) -> Vec<FindingCode> {
    evaluate_branch_protection(&data(name), &SettingsPolicy::default())
        .expect("evaluates")
        .iter()
        .map(|f| f.code)
        .collect()
}

fn rulesets(bytes: &[u8]) -> Vec<FindingCode> {
    evaluate_rulesets(bytes, &SettingsPolicy::default())
        .expect("evaluates")
        .iter()
        .map(|f| f.code)
        .collect()
}

#[test]
fn six_eyes_protection_has_no_findings() {
    assert_eq!(protection("protection-six-eyes.json"), []);
}

#[test]
fn weak_protection_lists_every_gap() {
    assert_eq!(
        protection("protection-weak.json"),
        [
            TooFewApprovals,
            StaleReviewsKept,
            LastPushApprovalNotRequired,
            CodeOwnerReviewNotRequired,
            ThreadResolutionNotRequired,
            BypassAllowed,
            BypassAllowed,
            NoRequiredChecks,
            AdminsExempt,
            ForcePushesAllowed,
            DeletionsAllowed,
        ]
    );
    let findings =
        evaluate_branch_protection(&data("protection-weak.json"), &SettingsPolicy::default())
            .unwrap();
    assert_eq!(findings[0].severity, Severity::High);
    assert!(
        findings[0]
            .detail
            .contains("required_approving_review_count is 1")
    );
    assert!(
        findings[5].detail.contains("users: alice"),
        "{}",
        findings[5].detail
    );
    assert!(findings[6].detail.contains("teams: release-managers"));
    let json = serde_json::to_value(&findings[0]).unwrap();
    assert_eq!(json["code"], "too_few_approvals");
    assert_eq!(json["severity"], "high");
}

#[test]
fn an_unprotected_branch_is_one_finding() {
    assert_eq!(protection("protection-none.json"), [BranchNotProtected]);
}

#[test]
fn missing_settings_count_as_not_enforced() {
    assert_eq!(
        rulesets_or_protection_of(b"{}"),
        [ReviewsNotRequired, NoRequiredChecks, AdminsExempt]
    );
}

fn rulesets_or_protection_of(bytes: &[u8]) -> Vec<FindingCode> {
    evaluate_branch_protection(bytes, &SettingsPolicy::default())
        .expect("evaluates")
        .iter()
        .map(|f| f.code)
        .collect()
}

#[test]
fn the_minimum_is_configurable() {
    let three = SettingsPolicy::default().with_min_approvals(3);
    let findings = evaluate_branch_protection(&data("protection-six-eyes.json"), &three).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, TooFewApprovals);
}

#[test]
fn six_eyes_ruleset_has_no_findings() {
    assert_eq!(rulesets(&data("ruleset-six-eyes.json")), []);
}

#[test]
fn weak_ruleset_lists_bypass_actors_and_gaps() {
    assert_eq!(
        rulesets(&data("ruleset-weak.json")),
        [
            BypassAllowed,
            BypassAllowed,
            TooFewApprovals,
            StaleReviewsKept,
            LastPushApprovalNotRequired,
            CodeOwnerReviewNotRequired,
            ThreadResolutionNotRequired,
            NoRequiredChecks,
        ]
    );
}

#[test]
fn a_ruleset_in_evaluate_mode_enforces_nothing() {
    assert_eq!(
        rulesets(&data("ruleset-evaluate.json")),
        [RulesetNotEnforced, ReviewsNotRequired, NoRequiredChecks]
    );
}

#[test]
fn an_array_of_rulesets_is_judged_together() {
    let mut all = String::from("[");
    all.push_str(std::str::from_utf8(&data("ruleset-evaluate.json")).unwrap());
    all.push(',');
    all.push_str(std::str::from_utf8(&data("ruleset-six-eyes.json")).unwrap());
    all.push(']');
    assert_eq!(rulesets(all.as_bytes()), [RulesetNotEnforced]);
}

#[test]
fn bad_input_names_the_field() {
    let policy = SettingsPolicy::default();
    assert!(matches!(
        evaluate_branch_protection(b"{not json", &policy),
        Err(SettingsError::Json(_))
    ));
    let err = evaluate_branch_protection(
        br#"{"required_pull_request_reviews": {"required_approving_review_count": "two"}}"#,
        &policy,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `required_pull_request_reviews.required_approving_review_count` is not a non-negative integer"
    );
    let err = evaluate_branch_protection(br#"{"enforce_admins": {"enabled": "yes"}}"#, &policy)
        .unwrap_err();
    assert!(err.to_string().contains("enforce_admins.enabled"), "{err}");
    let err = evaluate_rulesets(br#"{"name": "x"}"#, &policy).unwrap_err();
    assert!(err.to_string().contains("`rules` is missing"), "{err}");
    let err = evaluate_rulesets(
        br#"[{"rules": [{"type": "pull_request", "parameters": {"dismiss_stale_reviews_on_push": 1}}]}]"#,
        &policy,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("[0].rules[0].parameters.dismiss_stale_reviews_on_push"),
        "{err}"
    );
    assert!(evaluate_rulesets(b"7", &policy).is_err());
    assert!(evaluate_branch_protection(b"[]", &policy).is_err());
}
