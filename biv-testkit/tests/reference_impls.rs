//! Small reference implementations of Monitor, Redactor and Reviewer, run through the
//! conformance macros — and broken variants that the checks must catch.

use std::time::Duration;

use async_trait::async_trait;
use biv_core::{
    Change, CheckResult, Decision, Finding, Monitor, PiiKind, Reason, ReasonCode, Redactor,
    ReviewError, ReviewState, Reviewer, Verdict,
};
use biv_testkit::{conformance, monitor_conformance, redactor_conformance, reviewer_conformance};

/// Passes when a number is under a limit.
#[derive(Debug)]
struct Threshold(u64);

#[async_trait]
impl Monitor for Threshold {
    fn name(&self) -> &str {
        "queue:depth"
    }
    async fn check(&self) -> CheckResult {
        if self.0 < 100 {
            CheckResult::pass()
        } else {
            CheckResult::warn("queue above 100")
        }
    }
}

/// Finds whitespace-separated tokens that are e-mail addresses or 11-proof BSNs.
#[derive(Debug)]
struct TokenRedactor;

fn is_bsn(token: &str) -> bool {
    let digits: Vec<u32> = token.chars().filter_map(|c| c.to_digit(10)).collect();
    if token.len() != 9 || digits.len() != 9 || token == "000000000" {
        return false;
    }
    let sum: i64 = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| i64::from(d) * if i == 8 { -1 } else { 9 - i as i64 })
        .sum();
    sum % 11 == 0
}

impl Redactor for TokenRedactor {
    fn scan(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            let is_token = c.is_alphanumeric() || matches!(c, '@' | '.' | '_' | '-');
            match (start, is_token) {
                (None, true) => start = Some(i),
                (Some(s), false) => {
                    let token = text[s..i].trim_end_matches('.');
                    let end = s + token.len();
                    let at = token.find('@');
                    if at.is_some_and(|a| a > 0 && token[a + 1..].contains('.')) {
                        out.push(Finding::new(PiiKind::Email, s, end, 0.9));
                    } else if is_bsn(token) {
                        out.push(Finding::new(PiiKind::Bsn, s, end, 0.8));
                    }
                    start = None;
                }
                _ => {}
            }
        }
        out
    }
}

/// Requires two approvals on the head commit from people who are not contributors.
#[derive(Debug)]
struct TwoApprovals;

impl Reviewer for TwoApprovals {
    fn review(&self, change: &Change) -> Result<Verdict, ReviewError> {
        let contributors = change.contributors();
        let mut approvers: Vec<String> = change
            .reviews
            .iter()
            .filter(|r| r.state == ReviewState::Approved && r.commit_sha == change.head_sha)
            .filter(|r| !contributors.iter().any(|c| c.same_as(&r.reviewer)))
            .map(|r| r.reviewer.display_name().to_owned())
            .collect();
        approvers.sort();
        approvers.dedup();
        let verdict = if approvers.len() >= 2 {
            Verdict::approved(vec![Reason::new(ReasonCode::Satisfied, "two approvals")])
        } else {
            Verdict::rejected(vec![Reason::new(
                ReasonCode::InsufficientApprovals,
                format!("{} of 2", approvers.len()),
            )])
        };
        Ok(verdict
            .with_approvers(approvers)
            .with_inputs(change.inputs.clone()))
    }
}

monitor_conformance!(Threshold(5));
redactor_conformance!(TokenRedactor);
reviewer_conformance!(TwoApprovals);

#[test]
fn the_reference_reviewer_approves_two_outside_reviewers() {
    let change = biv_testkit::sample_change(&[
        ("bob", ReviewState::Approved),
        ("carol", ReviewState::Approved),
    ]);
    assert_eq!(
        TwoApprovals.review(&change).unwrap().decision,
        Decision::Approved
    );
}

// The checks must be able to fail: each broken implementation below breaks one rule.

#[derive(Debug)]
struct Hangs;

#[async_trait]
impl Monitor for Hangs {
    fn name(&self) -> &str {
        "hangs:forever"
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(50)
    }
    async fn check(&self) -> CheckResult {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        CheckResult::pass()
    }
}

#[test]
#[should_panic(expected = "did not finish within its timeout")]
fn a_hanging_monitor_fails_the_timeout_rule() {
    conformance::run(conformance::monitor::check_finishes_within_its_timeout(
        std::sync::Arc::new(Hangs),
    ));
}

#[derive(Debug)]
struct SilentFailure;

#[async_trait]
impl Monitor for SilentFailure {
    fn name(&self) -> &str {
        "silent:failure"
    }
    async fn check(&self) -> CheckResult {
        let mut r = CheckResult::fail("x");
        r.output = None;
        r
    }
}

#[test]
#[should_panic(expected = "without an output")]
fn an_unexplained_failure_fails_the_explanation_rule() {
    conformance::run(conformance::monitor::problems_are_explained(
        std::sync::Arc::new(SilentFailure),
    ));
}

#[derive(Debug)]
struct FindsNothing;

impl Redactor for FindsNothing {
    fn scan(&self, _text: &str) -> Vec<Finding> {
        Vec::new()
    }
}

#[test]
#[should_panic(expected = "survived")]
fn a_redactor_that_finds_nothing_fails() {
    conformance::run(conformance::redactor::email_and_bsn_are_removed(
        std::sync::Arc::new(FindsNothing),
    ));
}

#[derive(Debug)]
struct ApprovesEverything;

impl Reviewer for ApprovesEverything {
    fn review(&self, change: &Change) -> Result<Verdict, ReviewError> {
        Ok(Verdict::approved(vec![]).with_inputs(change.inputs.clone()))
    }
}

#[test]
#[should_panic(expected = "unreviewed change was approved")]
fn a_rubber_stamp_reviewer_fails() {
    conformance::run(conformance::reviewer::unreviewed_change_is_rejected(
        std::sync::Arc::new(ApprovesEverything),
    ));
}
