//! The six-eyes reviewer: a change needs approvals on its head commit from reviewers who did not
//! contribute to it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use biv_core::{
    Change, CheckConclusion, Identity, IgnoredReview, Reason, ReasonCode, Review, ReviewError,
    ReviewState, Reviewer, Verdict,
};

use super::policy::SixEyesPolicy;

/// The six-eyes [`Reviewer`].
///
/// Rules, each reported in the verdict as met ([`ReasonCode::Satisfied`]) or not:
/// 1. **Approvals**: at least [`SixEyesPolicy::required_approvals`] distinct eligible reviewers
///    whose latest verdict review (approved, changes requested or dismissed — comments and
///    pending reviews do not change it) approves the head commit. An approval of an older
///    commit is stale; a dismissed review counts for nothing.
///    Eligible means: not a contributor (the author, every commit author, committer and
///    co-author, every pusher — by login or e-mail, ignoring case, and by the e-mails the
///    policy knows for the reviewer's login, [`SixEyesPolicy::with_identity`]), not a bot, and
///    on the allow-list when there is one.
/// 2. **Change requests**: no eligible reviewer's latest verdict review requests changes (on any
///    commit).
/// 3. **Required checks**: every required check ran on the head commit and every run of it there
///    succeeded.
/// 4. **Code owners**: for every rule matching a changed path, one of its owners is among the
///    counted approvers.
///
/// The change is approved when every rule is met. Reviews are taken in order of `submitted_at`
/// when every verdict review has one, else in the order given. The verdict lists the counted
/// approvers and every review that did not count with why, sorted, and the change's input
/// digests; it does not depend on the order of commits, checks, pushers, changed paths or of
/// different reviewers' reviews.
///
/// ```
/// use biv_core::{Change, ChangeKind, Commit, Decision, Identity, Review, ReviewState, Reviewer};
/// use biv_integrity::review::SixEyes;
///
/// let alice = Identity::login("alice");
/// let change = Change::new("acme/ehr#42", ChangeKind::Code, "c0ffee", alice.clone())
///     .with_commit(Commit::new("c0ffee", alice))
///     .with_review(Review::new(Identity::login("bob"), ReviewState::Approved, "c0ffee"))
///     .with_review(Review::new(Identity::login("carol"), ReviewState::Approved, "c0ffee"));
/// let verdict = SixEyes::default().review(&change)?;
/// assert_eq!(verdict.decision, Decision::Approved);
/// assert_eq!(verdict.approvers, ["bob", "carol"]);
/// # Ok::<(), biv_core::ReviewError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SixEyes {
    policy: SixEyesPolicy,
}

impl SixEyes {
    /// A reviewer with this policy.
    ///
    /// # Errors
    /// [`ReviewError::InvalidPolicy`] when no approval is required, or a required check or an
    /// allow-listed login is empty.
    pub fn new(policy: SixEyesPolicy) -> Result<Self, ReviewError> {
        policy.validate()?;
        Ok(SixEyes { policy })
    }

    /// The policy.
    pub fn policy(&self) -> &SixEyesPolicy {
        &self.policy
    }
}

/// The key people are grouped by: the lower-case login, else the lower-case e-mail.
fn person_key(identity: &Identity) -> Option<String> {
    identity
        .login
        .as_deref()
        .or(identity.email.as_deref())
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
}

/// What became of one reviewer's reviews.
struct Outcome<'a> {
    name: &'a str,
    ignored: Vec<IgnoredReview>,
    counted: bool,
    blocks: bool,
}

impl Reviewer for SixEyes {
    fn review(&self, change: &Change) -> Result<Verdict, ReviewError> {
        self.policy.validate()?;
        if change.head_sha.trim().is_empty() {
            return Err(ReviewError::InvalidInput(format!(
                "change {} has no head commit",
                change.id
            )));
        }
        let reviews = chronological(&change.reviews);
        // Per reviewer, in time order (BTreeMap: sorted by key, so the output is too).
        let mut by_reviewer: BTreeMap<String, Vec<&Review>> = BTreeMap::new();
        for review in reviews {
            let key = person_key(&review.reviewer).ok_or_else(|| {
                ReviewError::InvalidInput(format!(
                    "change {} has a review without a login or e-mail",
                    change.id
                ))
            })?;
            by_reviewer.entry(key).or_default().push(review);
        }
        let contributors = change.contributors();
        let outcomes: Vec<Outcome<'_>> = by_reviewer
            .values()
            .map(|list| self.judge_reviewer(list, &contributors, &change.head_sha))
            .collect();

        let approvers: Vec<String> = outcomes
            .iter()
            .filter(|o| o.counted)
            .map(|o| o.name.to_owned())
            .collect();
        let ignored: Vec<IgnoredReview> = outcomes.iter().flat_map(|o| o.ignored.clone()).collect();
        let blockers: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.blocks)
            .map(|o| o.name)
            .collect();

        let mut reasons = vec![self.approval_reason(change, &approvers, &ignored)];
        if blockers.is_empty() {
            reasons.push(Reason::new(
                ReasonCode::Satisfied,
                "no eligible reviewer requests changes",
            ));
        } else {
            for who in &blockers {
                reasons.push(Reason::new(
                    ReasonCode::ChangesRequested,
                    format!("{who} requests changes"),
                ));
            }
        }
        reasons.extend(self.check_reasons(change));
        reasons.extend(self.code_owner_reasons(change, &approvers));

        let met = reasons.iter().all(|r| r.code == ReasonCode::Satisfied);
        let verdict = if met {
            Verdict::approved(reasons)
        } else {
            Verdict::rejected(reasons)
        };
        Ok(verdict
            .with_approvers(approvers)
            .with_ignored(ignored)
            .with_inputs(change.inputs.clone()))
    }
}

/// The reviews in time order: by `submitted_at` when every verdict review has one (a stable sort,
/// so ties keep their given order), else as given.
fn chronological(reviews: &[Review]) -> Vec<&Review> {
    let mut list: Vec<&Review> = reviews.iter().collect();
    let timed = list
        .iter()
        .filter(|r| is_verdict(r.state))
        .all(|r| r.submitted_at.is_some());
    if timed {
        list.sort_by_key(|r| r.submitted_at);
    }
    list
}

fn is_verdict(state: ReviewState) -> bool {
    matches!(
        state,
        ReviewState::Approved | ReviewState::ChangesRequested | ReviewState::Dismissed
    )
}

impl SixEyes {
    fn judge_reviewer<'a>(
        &self,
        list: &[&'a Review],
        contributors: &[&Identity],
        head: &str,
    ) -> Outcome<'a> {
        let latest = list.iter().rposition(|r| is_verdict(r.state));
        let name = list
            .iter()
            .rev()
            .map(|r| r.reviewer.display_name())
            .next()
            .unwrap_or("unknown");
        let mut outcome = Outcome {
            name,
            ignored: Vec::new(),
            counted: false,
            blocks: false,
        };
        let ignore = |r: &Review, why| IgnoredReview::new(r.reviewer.display_name(), r.state, why);
        for (i, review) in list.iter().enumerate() {
            if Some(i) == latest {
                continue;
            }
            let why = if is_verdict(review.state) {
                ReasonCode::Superseded
            } else {
                ReasonCode::NotAVerdict
            };
            outcome.ignored.push(ignore(review, why));
        }
        let Some((latest_index, latest)) = latest.and_then(|i| list.get(i).map(|r| (i, r))) else {
            return outcome;
        };
        let reviewer = &latest.reviewer;
        let why = if latest.state == ReviewState::Dismissed {
            Some(ReasonCode::Dismissed)
        } else if self
            .policy
            .known_identities(reviewer)
            .iter()
            .any(|me| contributors.iter().any(|c| c.same_as(me)))
        {
            Some(ReasonCode::ContributorApproval)
        } else if reviewer.is_bot
            || reviewer
                .login
                .as_deref()
                .is_some_and(|l| l.ends_with("[bot]"))
        {
            Some(ReasonCode::BotApproval)
        } else if !self.allowed(reviewer) {
            Some(ReasonCode::ReviewerNotAllowed)
        } else if latest.state == ReviewState::Approved
            && !latest.commit_sha.eq_ignore_ascii_case(head)
        {
            Some(ReasonCode::StaleApproval)
        } else {
            None
        };
        match why {
            // Every earlier review is ignored, so its place in time order is its index.
            Some(why) => outcome.ignored.insert(latest_index, ignore(latest, why)),
            None if latest.state == ReviewState::Approved => outcome.counted = true,
            None => outcome.blocks = true,
        }
        outcome
    }

    fn allowed(&self, reviewer: &Identity) -> bool {
        match &self.policy.allowed_reviewers {
            None => true,
            Some(list) => reviewer
                .login
                .as_deref()
                .is_some_and(|login| list.iter().any(|a| a.eq_ignore_ascii_case(login))),
        }
    }

    fn approval_reason(
        &self,
        change: &Change,
        approvers: &[String],
        ignored: &[IgnoredReview],
    ) -> Reason {
        let required = self.policy.required_approvals;
        let mut detail = format!(
            "{} of {required} required approvals on head {}",
            approvers.len(),
            change.head_sha
        );
        if !approvers.is_empty() {
            let _ = write!(detail, " ({})", approvers.join(", "));
        }
        let mut not_counted: BTreeMap<String, usize> = BTreeMap::new();
        for i in ignored.iter().filter(|i| i.state == ReviewState::Approved) {
            let code = serde_json::to_value(i.why)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *not_counted.entry(code).or_default() += 1;
        }
        if !not_counted.is_empty() {
            let parts: Vec<String> = not_counted
                .iter()
                .map(|(code, n)| format!("{n} {code}"))
                .collect();
            let _ = write!(detail, "; approvals not counted: {}", parts.join(", "));
        }
        let code = if approvers.len() >= required {
            ReasonCode::Satisfied
        } else {
            ReasonCode::InsufficientApprovals
        };
        Reason::new(code, detail)
    }

    fn check_reasons(&self, change: &Change) -> Vec<Reason> {
        let head = &change.head_sha;
        self.policy
            .required_checks
            .iter()
            .map(|name| {
                let runs: Vec<_> = change
                    .checks
                    .iter()
                    .filter(|c| &c.name == name && c.head_sha.eq_ignore_ascii_case(head))
                    .collect();
                if runs.is_empty() {
                    let elsewhere = change.checks.iter().any(|c| &c.name == name);
                    let detail = if elsewhere {
                        format!("required check {name} ran only on other commits than head {head}")
                    } else {
                        format!("required check {name} did not run on head {head}")
                    };
                    Reason::new(ReasonCode::RequiredCheckMissing, detail)
                } else if let Some(bad) = runs
                    .iter()
                    .map(|c| c.conclusion)
                    .find(|c| *c != CheckConclusion::Success)
                {
                    let conclusion = serde_json::to_value(bad)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    Reason::new(
                        ReasonCode::RequiredCheckFailed,
                        format!("required check {name} is {conclusion} on head {head}"),
                    )
                } else {
                    Reason::new(
                        ReasonCode::Satisfied,
                        format!("required check {name} succeeded on head {head}"),
                    )
                }
            })
            .collect()
    }

    fn code_owner_reasons(&self, change: &Change, approvers: &[String]) -> Vec<Reason> {
        if self.policy.code_owners.is_empty() {
            return Vec::new();
        }
        if change.changed_paths.is_empty() {
            return vec![Reason::new(
                ReasonCode::CodeOwnerApprovalMissing,
                "code-owner rules apply but the change lists no changed paths",
            )];
        }
        let mut reasons = Vec::new();
        for rule in &self.policy.code_owners {
            let matched = change
                .changed_paths
                .iter()
                .filter(|p| rule.matches(p))
                .count();
            if matched == 0 {
                continue;
            }
            let owners = rule.owners.join(", ");
            let approved_by: Vec<&str> = approvers
                .iter()
                .filter(|a| rule.owners.iter().any(|o| o.eq_ignore_ascii_case(a)))
                .map(String::as_str)
                .collect();
            reasons.push(if approved_by.is_empty() {
                Reason::new(
                    ReasonCode::CodeOwnerApprovalMissing,
                    format!(
                        "{matched} changed path(s) match `{}`: an approval by one of {owners} is missing",
                        rule.pattern
                    ),
                )
            } else {
                Reason::new(
                    ReasonCode::Satisfied,
                    format!(
                        "{matched} changed path(s) match `{}`: approved by owner {}",
                        rule.pattern,
                        approved_by.join(", ")
                    ),
                )
            });
        }
        reasons
    }
}
