//! The outcome of a review: a decision with machine-readable reasons.

use serde::{Deserialize, Serialize};

use super::change::{InputDigest, ReviewState};

/// May the change go ahead?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Decision {
    /// Every rule is met.
    Approved,
    /// At least one rule is not met; the reasons say which.
    Rejected,
}

/// A machine-readable reason code. Serialized in snake_case; the set only grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// Fewer eligible approvals than required.
    InsufficientApprovals,
    /// An eligible reviewer's latest review requests changes.
    ChangesRequested,
    /// An approval was given on an older commit than the head.
    StaleApproval,
    /// The approver contributed to the change.
    ContributorApproval,
    /// The approver is a bot.
    BotApproval,
    /// The approver is not on the allow-list.
    ReviewerNotAllowed,
    /// A later review by the same person supersedes this one.
    Superseded,
    /// The review was dismissed.
    Dismissed,
    /// A comment-only or pending review, which does not count.
    NotAVerdict,
    /// A required check did not run on the head commit.
    RequiredCheckMissing,
    /// A required check did not succeed on the head commit.
    RequiredCheckFailed,
    /// A path owner did not approve.
    CodeOwnerApprovalMissing,
    /// A rule of the reviewer's own policy is broken.
    PolicyViolation,
    /// A rule is met (recorded so a verdict lists what was checked).
    Satisfied,
}

/// One reason, with a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reason {
    /// The code.
    pub code: ReasonCode,
    /// Detail for people, e.g. "1 of 2 required approvals".
    pub detail: String,
}

impl Reason {
    /// A reason.
    pub fn new(code: ReasonCode, detail: impl Into<String>) -> Self {
        Reason {
            code,
            detail: detail.into(),
        }
    }
}

/// A review that did not count, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IgnoredReview {
    /// Who gave it.
    pub reviewer: String,
    /// Its state.
    pub state: ReviewState,
    /// Why it did not count.
    pub why: ReasonCode,
}

impl IgnoredReview {
    /// An ignored review.
    pub fn new(reviewer: impl Into<String>, state: ReviewState, why: ReasonCode) -> Self {
        IgnoredReview {
            reviewer: reviewer.into(),
            state,
            why,
        }
    }
}

/// A reviewer's decision: deterministic, explained, recomputable.
///
/// ```
/// use biv_core::{Decision, Reason, ReasonCode, Verdict};
/// let v = Verdict::rejected(vec![Reason::new(ReasonCode::InsufficientApprovals, "1 of 2")]);
/// assert_eq!(v.decision, Decision::Rejected);
/// assert!(v.has_reason(ReasonCode::InsufficientApprovals));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verdict {
    /// The decision.
    pub decision: Decision,
    /// Every rule checked, met or not.
    pub reasons: Vec<Reason>,
    /// The reviewers whose approvals counted.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Reviews that did not count, with why.
    #[serde(default)]
    pub ignored: Vec<IgnoredReview>,
    /// Digests of the inputs the decision was made from.
    #[serde(default)]
    pub inputs: Vec<InputDigest>,
}

impl Verdict {
    /// An approval with the reasons that were met.
    pub fn approved(reasons: Vec<Reason>) -> Self {
        Verdict {
            decision: Decision::Approved,
            reasons,
            approvers: Vec::new(),
            ignored: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// A rejection with its reasons.
    pub fn rejected(reasons: Vec<Reason>) -> Self {
        Verdict {
            decision: Decision::Rejected,
            ..Self::approved(reasons)
        }
    }

    /// Sets the counted approvers.
    #[must_use]
    pub fn with_approvers(mut self, approvers: Vec<String>) -> Self {
        self.approvers = approvers;
        self
    }

    /// Sets the ignored reviews.
    #[must_use]
    pub fn with_ignored(mut self, ignored: Vec<IgnoredReview>) -> Self {
        self.ignored = ignored;
        self
    }

    /// Sets the input digests.
    #[must_use]
    pub fn with_inputs(mut self, inputs: Vec<InputDigest>) -> Self {
        self.inputs = inputs;
        self
    }

    /// Whether any reason has this code.
    pub fn has_reason(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}
