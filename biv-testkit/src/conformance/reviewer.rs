//! Conformance checks for [`Reviewer`] implementations.

use std::sync::Arc;

use biv_core::{Decision, InputDigest, ReasonCode, ReviewState, Reviewer, Verdict};

use crate::samples::sample_change;

fn judge(reviewer: &dyn Reviewer, change: &biv_core::Change) -> Verdict {
    match reviewer.review(change) {
        Ok(v) => v,
        Err(e) => panic!("a well-formed change could not be judged: {e}"),
    }
}

/// The same change always gets the same verdict.
pub async fn verdicts_are_deterministic(reviewer: Arc<dyn Reviewer>) {
    let changes = [
        sample_change(&[]),
        sample_change(&[
            ("bob", ReviewState::Approved),
            ("carol", ReviewState::Approved),
        ]),
        sample_change(&[
            ("bob", ReviewState::Approved),
            ("bob", ReviewState::ChangesRequested),
        ]),
    ];
    for change in &changes {
        assert_eq!(
            judge(&*reviewer, change),
            judge(&*reviewer, change),
            "verdict changed between runs"
        );
    }
}

/// A change nobody reviewed is rejected.
pub async fn unreviewed_change_is_rejected(reviewer: Arc<dyn Reviewer>) {
    let v = judge(&*reviewer, &sample_change(&[]));
    assert_eq!(
        v.decision,
        Decision::Rejected,
        "an unreviewed change was approved: {v:?}"
    );
}

/// Approval by the change's own author does not count.
pub async fn self_approval_does_not_count(reviewer: Arc<dyn Reviewer>) {
    let v = judge(
        &*reviewer,
        &sample_change(&[("alice", ReviewState::Approved)]),
    );
    assert_eq!(
        v.decision,
        Decision::Rejected,
        "the author approved their own change: {v:?}"
    );
    assert!(
        !v.approvers.iter().any(|a| a == "alice"),
        "the author is listed as an approver"
    );
}

/// The verdict carries the digests of the inputs it was made from.
pub async fn verdict_lists_the_inputs(reviewer: Arc<dyn Reviewer>) {
    let mut change = sample_change(&[("bob", ReviewState::Approved)]);
    change.inputs = vec![InputDigest::new("pulls/42", "ab".repeat(32))];
    let v = judge(&*reviewer, &change);
    assert_eq!(
        v.inputs, change.inputs,
        "the verdict must list the input digests"
    );
}

/// A rejection names at least one rule that was not met.
pub async fn rejections_give_reasons(reviewer: Arc<dyn Reviewer>) {
    for change in [
        sample_change(&[]),
        sample_change(&[("alice", ReviewState::Approved)]),
    ] {
        let v = judge(&*reviewer, &change);
        if v.decision == Decision::Rejected {
            assert!(
                v.reasons.iter().any(|r| r.code != ReasonCode::Satisfied),
                "rejected without a reason: {v:?}"
            );
        }
    }
}
