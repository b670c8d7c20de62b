//! The evidence about a change: who wrote it, who reviewed which commit, which checks ran.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// An account or git identity. Contributors are matched on login and on e-mail, case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Identity {
    /// The account login (GitHub `login`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The e-mail address of a git identity, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the account is a bot (GitHub `type == "Bot"` or a `[bot]` login).
    #[serde(default)]
    pub is_bot: bool,
}

impl Identity {
    /// An account by login.
    pub fn login(login: impl Into<String>) -> Self {
        let login = login.into();
        let is_bot = login.ends_with("[bot]");
        Identity {
            login: Some(login),
            email: None,
            is_bot,
        }
    }

    /// A git identity by e-mail.
    pub fn email(email: impl Into<String>) -> Self {
        Identity {
            login: None,
            email: Some(email.into()),
            is_bot: false,
        }
    }

    /// Adds an e-mail to an account.
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Marks the identity as a bot.
    #[must_use]
    pub fn bot(mut self) -> Self {
        self.is_bot = true;
        self
    }

    /// Whether two identities are the same person: same login or same e-mail, ignoring case.
    ///
    /// ```
    /// use biv_core::Identity;
    /// let a = Identity::login("Alice").with_email("alice@example.org");
    /// assert!(a.same_as(&Identity::email("ALICE@example.org")));
    /// assert!(!a.same_as(&Identity::login("bob")));
    /// ```
    pub fn same_as(&self, other: &Identity) -> bool {
        let eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        eq(&self.login, &other.login) || eq(&self.email, &other.email)
    }

    /// The login, else the e-mail, else `unknown`.
    pub fn display_name(&self) -> &str {
        self.login
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or("unknown")
    }
}

/// A commit of the change, with everyone who has a hand in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Commit {
    /// The commit SHA (hex).
    pub sha: String,
    /// The author.
    pub author: Identity,
    /// The committer.
    pub committer: Identity,
    /// People named in `Co-authored-by:` trailers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_authors: Vec<Identity>,
}

impl Commit {
    /// A commit authored and committed by the same identity.
    pub fn new(sha: impl Into<String>, author: Identity) -> Self {
        Commit {
            sha: sha.into(),
            committer: author.clone(),
            author,
            co_authors: Vec::new(),
        }
    }

    /// Sets a different committer.
    #[must_use]
    pub fn with_committer(mut self, committer: Identity) -> Self {
        self.committer = committer;
        self
    }

    /// Adds a co-author.
    #[must_use]
    pub fn with_co_author(mut self, co_author: Identity) -> Self {
        self.co_authors.push(co_author);
        self
    }
}

/// The state of a review, normalised (GitHub webhooks send lower case, REST upper case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ReviewState {
    /// Approved.
    Approved,
    /// Changes were requested.
    ChangesRequested,
    /// A comment without a verdict.
    Commented,
    /// A review that was dismissed.
    Dismissed,
    /// Started but not submitted.
    Pending,
}

impl ReviewState {
    /// Parses a GitHub review state in any case (`approved`, `APPROVED`, `changes_requested`).
    ///
    /// ```
    /// use biv_core::ReviewState;
    /// assert_eq!(ReviewState::parse("approved"), Some(ReviewState::Approved));
    /// assert_eq!(ReviewState::parse("CHANGES_REQUESTED"), Some(ReviewState::ChangesRequested));
    /// assert_eq!(ReviewState::parse("lgtm"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let states = [
            ("APPROVED", ReviewState::Approved),
            ("CHANGES_REQUESTED", ReviewState::ChangesRequested),
            ("COMMENTED", ReviewState::Commented),
            ("DISMISSED", ReviewState::Dismissed),
            ("PENDING", ReviewState::Pending),
        ];
        states
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, s)| *s)
    }
}

/// One submitted review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Review {
    /// The reviewer.
    pub reviewer: Identity,
    /// The state.
    pub state: ReviewState,
    /// The commit the review was made on.
    pub commit_sha: String,
    /// When it was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Timestamp>,
}

impl Review {
    /// A review.
    pub fn new(reviewer: Identity, state: ReviewState, commit_sha: impl Into<String>) -> Self {
        Review {
            reviewer,
            state,
            commit_sha: commit_sha.into(),
            submitted_at: None,
        }
    }

    /// Sets the submission time.
    #[must_use]
    pub fn at(mut self, submitted_at: Timestamp) -> Self {
        self.submitted_at = Some(submitted_at);
        self
    }
}

/// The conclusion of an automated check (GitHub check run or commit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckConclusion {
    /// Passed.
    Success,
    /// Failed.
    Failure,
    /// Neither passed nor failed.
    Neutral,
    /// Cancelled.
    Cancelled,
    /// Skipped.
    Skipped,
    /// Timed out.
    TimedOut,
    /// Needs a person.
    ActionRequired,
    /// Not finished.
    Pending,
}

/// An automated check on a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckRun {
    /// The check's name (the required-check context).
    pub name: String,
    /// The commit it ran on.
    pub head_sha: String,
    /// Its conclusion.
    pub conclusion: CheckConclusion,
}

impl CheckRun {
    /// A check run.
    pub fn new(
        name: impl Into<String>,
        head_sha: impl Into<String>,
        conclusion: CheckConclusion,
    ) -> Self {
        CheckRun {
            name: name.into(),
            head_sha: head_sha.into(),
            conclusion,
        }
    }
}

/// What is being changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// Application code.
    Code,
    /// Server or application configuration.
    Configuration,
}

/// The SHA-256 of one input the evidence was built from (a raw GitHub payload), so a verdict can
/// be recomputed offline and its inputs proven unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InputDigest {
    /// What the input was, e.g. `pulls/42`, `pulls/42/reviews`.
    pub name: String,
    /// Lower-case hex SHA-256 of the exact bytes received.
    pub sha256: String,
}

impl InputDigest {
    /// An input digest.
    pub fn new(name: impl Into<String>, sha256: impl Into<String>) -> Self {
        InputDigest {
            name: name.into(),
            sha256: sha256.into(),
        }
    }
}

/// A change under review (a pull request), normalised from the forge's payloads.
///
/// ```
/// use biv_core::{Change, ChangeKind, Commit, Identity, Review, ReviewState};
///
/// let author = Identity::login("alice");
/// let change = Change::new("acme/ehr#42", ChangeKind::Code, "c0ffee", author.clone())
///     .with_commit(Commit::new("c0ffee", author))
///     .with_review(Review::new(Identity::login("bob"), ReviewState::Approved, "c0ffee"));
/// assert_eq!(change.reviews.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// A stable id, e.g. `owner/repo#123`.
    pub id: String,
    /// Code or configuration.
    pub kind: ChangeKind,
    /// The commit that would be merged.
    pub head_sha: String,
    /// Who opened the change.
    pub author: Identity,
    /// Its commits.
    #[serde(default)]
    pub commits: Vec<Commit>,
    /// Its reviews, in submission order.
    #[serde(default)]
    pub reviews: Vec<Review>,
    /// Checks that ran.
    #[serde(default)]
    pub checks: Vec<CheckRun>,
    /// Everyone seen pushing to the branch (from the timeline).
    #[serde(default)]
    pub pushers: Vec<Identity>,
    /// Changed file paths, for code-owner rules.
    #[serde(default)]
    pub changed_paths: Vec<String>,
    /// Digests of the raw inputs.
    #[serde(default)]
    pub inputs: Vec<InputDigest>,
}

impl Change {
    /// A change with no commits, reviews or checks yet.
    pub fn new(
        id: impl Into<String>,
        kind: ChangeKind,
        head_sha: impl Into<String>,
        author: Identity,
    ) -> Self {
        Change {
            id: id.into(),
            kind,
            head_sha: head_sha.into(),
            author,
            commits: Vec::new(),
            reviews: Vec::new(),
            checks: Vec::new(),
            pushers: Vec::new(),
            changed_paths: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// Adds a commit.
    #[must_use]
    pub fn with_commit(mut self, commit: Commit) -> Self {
        self.commits.push(commit);
        self
    }

    /// Adds a review.
    #[must_use]
    pub fn with_review(mut self, review: Review) -> Self {
        self.reviews.push(review);
        self
    }

    /// Adds a check run.
    #[must_use]
    pub fn with_check(mut self, check: CheckRun) -> Self {
        self.checks.push(check);
        self
    }

    /// Adds a pusher.
    #[must_use]
    pub fn with_pusher(mut self, pusher: Identity) -> Self {
        self.pushers.push(pusher);
        self
    }

    /// Everyone who contributed: the author, commit authors, committers, co-authors and pushers.
    pub fn contributors(&self) -> Vec<&Identity> {
        let mut all = vec![&self.author];
        for c in &self.commits {
            all.push(&c.author);
            all.push(&c.committer);
            all.extend(&c.co_authors);
        }
        all.extend(&self.pushers);
        all
    }
}
