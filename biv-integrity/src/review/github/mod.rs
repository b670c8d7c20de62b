//! Building a [`Change`] from the raw GitHub REST payloads a host or CI job fetched.
//!
//! The library makes no network calls: the caller fetches
//!
//! | input | REST endpoint | required |
//! |---|---|---|
//! | pull request | `GET /repos/{o}/{r}/pulls/{n}` | yes |
//! | reviews | `GET /repos/{o}/{r}/pulls/{n}/reviews` (chronological) | yes |
//! | commits | `GET /repos/{o}/{r}/pulls/{n}/commits` | yes |
//! | timeline | `GET /repos/{o}/{r}/issues/{n}/timeline` | no |
//! | check runs | `GET /repos/{o}/{r}/commits/{head}/check-runs` | no |
//! | files | `GET /repos/{o}/{r}/pulls/{n}/files` | no (needed for code-owner rules) |
//!
//! and hands over the exact bytes (all pages of a paginated list joined into one JSON array).
//! [`GithubPayloads::parse`] records the SHA-256 of each input's bytes as an [`InputDigest`], so
//! a verdict can be recomputed offline and its inputs proven unchanged.
//!
//! What becomes of the payloads:
//! - the change id is `base.repo.full_name#number`, the head is `head.sha`, the author `user`;
//! - each commit's author and committer carry the account login (`author.login`,
//!   `committer.login`, nullable) and the git e-mail (`commit.author.email`,
//!   `commit.committer.email`); `Co-authored-by:` lines of `commit.message` become co-authors;
//!   an e-mail `ID+login@users.noreply.github.com` also gives the login;
//! - an account is a bot when `type == "Bot"` or its login ends in `[bot]`;
//! - review states are accepted in REST upper case and webhook lower case; a review whose
//!   `commit_id` is null (the commit was garbage-collected) keeps an empty commit, so it is never
//!   on the head;
//! - from the timeline, the actor of every `head_ref_force_pushed` event and the author,
//!   committer and co-authors of every `committed` event become pushers — so people whose
//!   commits were force-pushed away still count as contributors (other events are skipped);
//! - a check run that has not completed counts as pending.

mod fields;
mod trailers;

use biv_core::{
    Change, ChangeKind, CheckConclusion, CheckRun, Commit, Identity, InputDigest, Review,
    ReviewState, Timestamp,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::fields::Field;
pub use self::trailers::co_authors;

/// Why GitHub payloads could not be turned into a [`Change`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GithubParseError {
    /// An input is not JSON.
    #[error("{input}: not valid JSON: {source}")]
    Json {
        /// Which input (`pull_request`, `reviews`, `commits`, `timeline`, `check_runs`, `files`).
        input: &'static str,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A field is missing, null where it may not be, of the wrong type or has a bad value.
    #[error("{input}: field `{field}` {problem}")]
    Field {
        /// Which input.
        input: &'static str,
        /// The field's path in the input, e.g. `[2].user.login`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The inputs contradict each other, e.g. the head commit is not among the commits.
    #[error("{input}: field `{field}` is inconsistent: {detail}")]
    Inconsistent {
        /// Which input.
        input: &'static str,
        /// The field.
        field: String,
        /// The contradiction.
        detail: String,
    },
}

/// The raw payloads of one pull request, as fetched from GitHub's REST API.
///
/// ```
/// use biv_core::ChangeKind;
/// use biv_integrity::review::github::GithubPayloads;
///
/// let head = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
/// let pr = format!(r#"{{"number": 7, "user": {{"login": "alice", "type": "User"}},
///     "head": {{"sha": "{head}", "ref": "fix"}},
///     "base": {{"ref": "main", "repo": {{"full_name": "acme/ehr"}}}}}}"#);
/// let reviews = format!(r#"[{{"id": 1, "user": {{"login": "bob", "type": "User"}},
///     "state": "APPROVED", "commit_id": "{head}", "submitted_at": "2026-11-20T10:00:00Z"}}]"#);
/// let commits = format!(r#"[{{"sha": "{head}", "author": {{"login": "alice", "type": "User"}},
///     "committer": {{"login": "alice", "type": "User"}},
///     "commit": {{"author": {{"name": "Alice", "email": "alice@example.org"}},
///                 "committer": {{"name": "Alice", "email": "alice@example.org"}},
///                 "message": "Fix\n\nCo-authored-by: Carol <carol@example.org>"}}}}]"#);
/// let change = GithubPayloads::new(pr.as_bytes(), reviews.as_bytes(), commits.as_bytes())
///     .parse(ChangeKind::Code)?;
/// assert_eq!(change.id, "acme/ehr#7");
/// assert_eq!(change.commits[0].co_authors[0].email.as_deref(), Some("carol@example.org"));
/// assert_eq!(change.inputs.len(), 3);
/// # Ok::<(), biv_integrity::review::github::GithubParseError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GithubPayloads<'a> {
    pull_request: &'a [u8],
    reviews: &'a [u8],
    commits: &'a [u8],
    timeline: Option<&'a [u8]>,
    check_runs: Option<&'a [u8]>,
    files: Option<&'a [u8]>,
}

impl<'a> GithubPayloads<'a> {
    /// The three required payloads: the pull request, its reviews and its commits.
    pub fn new(pull_request: &'a [u8], reviews: &'a [u8], commits: &'a [u8]) -> Self {
        GithubPayloads {
            pull_request,
            reviews,
            commits,
            timeline: None,
            check_runs: None,
            files: None,
        }
    }

    /// Adds the issue timeline (`issues/{n}/timeline`).
    #[must_use]
    pub fn with_timeline(mut self, timeline: &'a [u8]) -> Self {
        self.timeline = Some(timeline);
        self
    }

    /// Adds the check runs of the head commit (`commits/{sha}/check-runs`: the object with
    /// `check_runs`, or a bare array of check runs).
    #[must_use]
    pub fn with_check_runs(mut self, check_runs: &'a [u8]) -> Self {
        self.check_runs = Some(check_runs);
        self
    }

    /// Adds the changed files (`pulls/{n}/files`).
    #[must_use]
    pub fn with_files(mut self, files: &'a [u8]) -> Self {
        self.files = Some(files);
        self
    }

    /// Builds the change.
    ///
    /// # Errors
    /// [`GithubParseError`] naming the input and field when a payload is not JSON, lacks a field,
    /// has a value of the wrong type or an unknown review state, or contradicts another payload.
    pub fn parse(&self, kind: ChangeKind) -> Result<Change, GithubParseError> {
        let pr_json = json("pull_request", self.pull_request)?;
        let pr = Field::root("pull_request", &pr_json);
        let number = pr.field("number")?.u64()?;
        let head_sha = pr.field("head")?.field("sha")?.sha()?;
        let repo = pr.field("base")?.field("repo")?.field("full_name")?;
        let full_name = repo.str()?;
        if full_name.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(repo.error(format!("is not `owner/name`: {full_name:?}")));
        }
        let author = account(&pr.field("user")?)?;
        let base = format!("repos/{full_name}");
        let mut change = Change::new(format!("{full_name}#{number}"), kind, &head_sha, author);
        change
            .inputs
            .push(digest(format!("{base}/pulls/{number}"), self.pull_request));

        let commits_json = json("commits", self.commits)?;
        change.commits = parse_commits(&Field::root("commits", &commits_json))?;
        if !change.commits.iter().any(|c| c.sha == head_sha) {
            return Err(GithubParseError::Inconsistent {
                input: "pull_request",
                field: "head.sha".to_owned(),
                detail: format!(
                    "{head_sha} is not among the {} commits",
                    change.commits.len()
                ),
            });
        }
        change.inputs.push(digest(
            format!("{base}/pulls/{number}/commits"),
            self.commits,
        ));

        let reviews_json = json("reviews", self.reviews)?;
        change.reviews = parse_reviews(&Field::root("reviews", &reviews_json))?;
        change.inputs.push(digest(
            format!("{base}/pulls/{number}/reviews"),
            self.reviews,
        ));

        if let Some(bytes) = self.timeline {
            let timeline = json("timeline", bytes)?;
            change.pushers = parse_timeline(&Field::root("timeline", &timeline))?;
            change
                .inputs
                .push(digest(format!("{base}/issues/{number}/timeline"), bytes));
        }
        if let Some(bytes) = self.check_runs {
            let checks = json("check_runs", bytes)?;
            change.checks = parse_check_runs(&Field::root("check_runs", &checks))?;
            change.inputs.push(digest(
                format!("{base}/commits/{head_sha}/check-runs"),
                bytes,
            ));
        }
        if let Some(bytes) = self.files {
            let files = json("files", bytes)?;
            change.changed_paths = parse_files(&Field::root("files", &files))?;
            change
                .inputs
                .push(digest(format!("{base}/pulls/{number}/files"), bytes));
        }
        Ok(change)
    }
}

/// Lower-case hex SHA-256 of the bytes.
///
/// ```
/// assert_eq!(
///     biv_integrity::review::github::sha256_hex(b""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn digest(name: String, bytes: &[u8]) -> InputDigest {
    InputDigest::new(name, sha256_hex(bytes))
}

fn json(input: &'static str, bytes: &[u8]) -> Result<Value, GithubParseError> {
    serde_json::from_slice(bytes).map_err(|source| GithubParseError::Json { input, source })
}

/// A GitHub account (`simple-user`): its login, and whether it is a bot.
fn account(user: &Field<'_>) -> Result<Identity, GithubParseError> {
    let login = user.field("login")?.str()?;
    if login.is_empty() {
        return Err(user.field("login")?.error("is empty"));
    }
    let mut identity = Identity::login(login);
    if let Some(kind) = user.get("type")?
        && kind.str()? == "Bot"
    {
        identity.is_bot = true;
    }
    Ok(identity)
}

/// The login hidden in a GitHub no-reply address: `ID+login@users.noreply.github.com` or
/// `login@users.noreply.github.com`.
fn login_from_noreply(email: &str) -> Option<&str> {
    let (local, domain) = email.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case("users.noreply.github.com") {
        return None;
    }
    let login = local.split_once('+').map_or(local, |(_, login)| login);
    (!login.is_empty()).then_some(login)
}

/// A git identity by e-mail, with the login of a no-reply address.
pub(super) fn git_identity(email: &str) -> Identity {
    match login_from_noreply(email) {
        Some(login) => Identity::login(login).with_email(email),
        None => Identity::email(email),
    }
}

/// A commit's author or committer: the account (nullable) plus the git identity.
fn commit_person(item: &Field<'_>, role: &str) -> Result<Identity, GithubParseError> {
    let git = item.field("commit")?.field(role)?;
    let email = git.field("email")?.str()?;
    let mut identity = match item.get(role)? {
        // GitHub returns `{}` for an account it cannot resolve in some responses.
        Some(user) if user.get("login")?.is_some() => {
            let mut id = account(&user)?;
            if !email.is_empty() {
                id.email = Some(email.to_owned());
            }
            id
        }
        _ if email.is_empty() => {
            return Err(git
                .field("email")?
                .error("is empty and no account is linked"));
        }
        _ => git_identity(email),
    };
    if identity
        .login
        .as_deref()
        .is_some_and(|l| l.ends_with("[bot]"))
    {
        identity.is_bot = true;
    }
    Ok(identity)
}

fn parse_commits(root: &Field<'_>) -> Result<Vec<Commit>, GithubParseError> {
    let mut commits = Vec::new();
    for item in root.elements()? {
        let sha = item.field("sha")?.sha()?;
        let author = commit_person(&item, "author")?;
        let committer = commit_person(&item, "committer")?;
        let message = item.field("commit")?.field("message")?.str()?;
        let mut commit = Commit::new(sha, author).with_committer(committer);
        commit.co_authors = co_authors(message);
        commits.push(commit);
    }
    if commits.is_empty() {
        return Err(root.error("is empty: a pull request has at least one commit"));
    }
    Ok(commits)
}

fn parse_reviews(root: &Field<'_>) -> Result<Vec<Review>, GithubParseError> {
    let mut reviews = Vec::new();
    for item in root.elements()? {
        // A deleted account shows as null; GitHub names it `ghost`.
        let reviewer = match item.get("user")? {
            Some(user) => account(&user)?,
            None => Identity::login("ghost"),
        };
        let state_field = item.field("state")?;
        let state_text = state_field.str()?;
        let state = ReviewState::parse(state_text)
            .ok_or_else(|| state_field.error(format!("is not a review state: {state_text:?}")))?;
        let commit_sha = match item.get("commit_id")? {
            Some(id) => id.sha()?,
            None => String::new(),
        };
        let mut review = Review::new(reviewer, state, commit_sha);
        if let Some(at) = item.get("submitted_at")? {
            let text = at.str()?;
            review.submitted_at = Some(
                Timestamp::parse_rfc3339(text)
                    .map_err(|e| at.error(format!("is not an RFC 3339 time: {e}")))?,
            );
        }
        reviews.push(review);
    }
    Ok(reviews)
}

fn parse_timeline(root: &Field<'_>) -> Result<Vec<Identity>, GithubParseError> {
    let mut pushers = Vec::new();
    for item in root.elements()? {
        match item.field("event")?.str()? {
            "head_ref_force_pushed" => pushers.push(account(&item.field("actor")?)?),
            "committed" => {
                for role in ["author", "committer"] {
                    let email = item.field(role)?.field("email")?.str()?;
                    if !email.is_empty() {
                        pushers.push(git_identity(email));
                    }
                }
                // A commit force-pushed away may have had co-authors too.
                if let Some(message) = item.get("message")? {
                    pushers.extend(co_authors(message.str()?));
                }
            }
            _ => {}
        }
    }
    Ok(pushers)
}

fn parse_check_runs(root: &Field<'_>) -> Result<Vec<CheckRun>, GithubParseError> {
    let list = if root.is_array() {
        root.clone()
    } else {
        root.field("check_runs")?
    };
    let mut checks = Vec::new();
    for item in list.elements()? {
        let name = item.field("name")?.str()?;
        let head_sha = item.field("head_sha")?.sha()?;
        let status = item.field("status")?.str()?;
        let conclusion = if status == "completed" {
            let field = item.field("conclusion")?;
            match field.str()? {
                "success" => CheckConclusion::Success,
                "failure" | "startup_failure" => CheckConclusion::Failure,
                "neutral" => CheckConclusion::Neutral,
                "cancelled" => CheckConclusion::Cancelled,
                "skipped" => CheckConclusion::Skipped,
                "timed_out" => CheckConclusion::TimedOut,
                "action_required" => CheckConclusion::ActionRequired,
                // GitHub marks a check that never completed within 14 days `stale`.
                "stale" => CheckConclusion::Cancelled,
                other => return Err(field.error(format!("is not a check conclusion: {other:?}"))),
            }
        } else {
            CheckConclusion::Pending
        };
        checks.push(CheckRun::new(name, head_sha, conclusion));
    }
    Ok(checks)
}

fn parse_files(root: &Field<'_>) -> Result<Vec<String>, GithubParseError> {
    let mut paths = Vec::new();
    for item in root.elements()? {
        paths.push(item.field("filename")?.str()?.to_owned());
        // A file renamed away from an owned path still touches that path.
        if let Some(previous) = item.get("previous_filename")? {
            paths.push(previous.str()?.to_owned());
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noreply_addresses_give_the_login() {
        assert_eq!(
            login_from_noreply("1234+bob@users.noreply.github.com"),
            Some("bob")
        );
        assert_eq!(
            login_from_noreply("bob@users.noreply.github.com"),
            Some("bob")
        );
        assert_eq!(login_from_noreply("bob@example.org"), None);
        assert_eq!(login_from_noreply("@users.noreply.github.com"), None);
    }
}
