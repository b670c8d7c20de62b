//! Changes, reviews and verdicts, and the [`Reviewer`] that decides them (six-eyes).

mod change;
mod verdict;

use std::fmt::Debug;
use std::sync::Arc;

pub use change::{
    Change, ChangeKind, CheckConclusion, CheckRun, Commit, Identity, InputDigest, Review,
    ReviewState,
};
pub use verdict::{Decision, IgnoredReview, Reason, ReasonCode, Verdict};

use crate::BackendError;

/// Why a change could not be judged. A change that fails the policy is *not* an error: it gets
/// a [`Verdict`] with [`Decision::Rejected`] and its reasons.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// The evidence is inconsistent (a review for an unknown commit of another repository, a
    /// head commit missing from the commit list, …).
    #[error("change evidence is invalid: {0}")]
    InvalidInput(String),
    /// The reviewer's policy is misconfigured.
    #[error("review policy is invalid: {0}")]
    InvalidPolicy(String),
    /// A backend the reviewer consults failed.
    #[error("reviewer backend failed: {0}")]
    Backend(#[source] BackendError),
}

/// Judges a change from its evidence: a pure, deterministic decision.
///
/// Given the same [`Change`] a reviewer returns the same [`Verdict`], so an auditor can
/// recompute it offline from the recorded inputs (whose digests the verdict lists).
/// biv-integrity's six-eyes reviewer requires two approvals on the head commit from reviewers
/// who did not contribute.
///
/// # Example
/// ```
/// use biv_core::{Change, Decision, Reason, ReasonCode, ReviewError, Reviewer, Verdict};
///
/// /// Approves nothing: a stand-in while a repository is frozen.
/// #[derive(Debug)]
/// struct Freeze;
///
/// impl Reviewer for Freeze {
///     fn review(&self, change: &Change) -> Result<Verdict, ReviewError> {
///         Ok(Verdict::rejected(vec![Reason::new(ReasonCode::PolicyViolation, "repository frozen")])
///             .with_inputs(change.inputs.clone()))
///     }
/// }
/// ```
pub trait Reviewer: Send + Sync + Debug {
    /// Decides whether the change may merge.
    ///
    /// # Errors
    /// [`ReviewError`] when the change cannot be judged at all.
    fn review(&self, change: &Change) -> Result<Verdict, ReviewError>;
}

impl<T: Reviewer + ?Sized> Reviewer for Arc<T> {
    fn review(&self, change: &Change) -> Result<Verdict, ReviewError> {
        (**self).review(change)
    }
}

impl<T: Reviewer + ?Sized> Reviewer for Box<T> {
    fn review(&self, change: &Change) -> Result<Verdict, ReviewError> {
        (**self).review(change)
    }
}
