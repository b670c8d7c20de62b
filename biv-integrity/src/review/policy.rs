//! The policy of the six-eyes reviewer, built in code or read from JSON.

use std::collections::BTreeMap;

use biv_core::{Identity, ReviewError};
use serde::Deserialize;

use super::glob::Glob;

/// A code-owner rule: a change touching a path that matches the pattern needs an approval
/// (one that counts) from at least one of the owners.
///
/// Patterns: `dir/` matches everything under `dir`; a pattern without `/` (`*.sql`) matches a
/// file name in any directory; otherwise the whole path is matched, `*` and `?` within one path
/// segment, `**` across segments, `**/` for zero or more directories.
///
/// ```
/// use biv_integrity::review::CodeOwnerRule;
/// let rule = CodeOwnerRule::new("config/", ["ops-lead", "sre-oncall"])?;
/// assert!(rule.matches("config/nginx/site.conf"));
/// assert!(!rule.matches("src/main.rs"));
/// # Ok::<(), biv_core::ReviewError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeOwnerRule {
    pub(super) pattern: String,
    glob: Glob,
    pub(super) owners: Vec<String>,
}

impl CodeOwnerRule {
    /// A rule: paths matching `pattern` need an approval by one of `owners` (logins).
    ///
    /// # Errors
    /// [`ReviewError::InvalidPolicy`] for an empty pattern, no owners or an empty owner.
    pub fn new<I, S>(pattern: &str, owners: I) -> Result<Self, ReviewError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let glob = Glob::new(pattern).ok_or_else(|| {
            ReviewError::InvalidPolicy("a code-owner rule has an empty pattern".to_owned())
        })?;
        let mut owners: Vec<String> = owners.into_iter().map(Into::into).collect();
        if owners.is_empty() || owners.iter().any(|o| o.trim().is_empty()) {
            return Err(ReviewError::InvalidPolicy(format!(
                "code-owner rule `{pattern}` needs at least one non-empty owner"
            )));
        }
        owners.sort_by_key(|o| o.to_ascii_lowercase());
        owners.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        Ok(CodeOwnerRule {
            pattern: pattern.trim().to_owned(),
            glob,
            owners,
        })
    }

    /// Whether the rule applies to this path.
    pub fn matches(&self, path: &str) -> bool {
        self.glob.matches(path)
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The owners, sorted.
    pub fn owners(&self) -> &[String] {
        &self.owners
    }
}

/// What [`SixEyes`](super::SixEyes) requires. The default is six eyes: two approvals besides the author, no
/// allow-list, no required checks, no code-owner rules.
///
/// ```
/// use biv_integrity::review::{CodeOwnerRule, SixEyesPolicy};
/// let policy = SixEyesPolicy::default()
///     .with_required_approvals(3)
///     .with_allowed_reviewers(["bob", "carol", "dave"])
///     .with_required_check("phpunit")
///     .with_code_owner_rule(CodeOwnerRule::new("config/", ["ops-lead"])?);
/// assert_eq!(policy.required_approvals(), 3);
/// # Ok::<(), biv_core::ReviewError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SixEyesPolicy {
    pub(super) required_approvals: usize,
    pub(super) allowed_reviewers: Option<Vec<String>>,
    pub(super) required_checks: Vec<String>,
    pub(super) code_owners: Vec<CodeOwnerRule>,
    /// Lower-case login → the e-mails known to belong to it.
    pub(super) identities: BTreeMap<String, Vec<String>>,
}

impl Default for SixEyesPolicy {
    fn default() -> Self {
        SixEyesPolicy {
            required_approvals: 2,
            allowed_reviewers: None,
            required_checks: Vec::new(),
            code_owners: Vec::new(),
            identities: BTreeMap::new(),
        }
    }
}

impl SixEyesPolicy {
    /// Sets how many distinct eligible approvals the head commit needs (at least 1).
    #[must_use]
    pub fn with_required_approvals(mut self, count: usize) -> Self {
        self.required_approvals = count;
        self
    }

    /// Only these logins may approve (matched ignoring case); everyone else's reviews are
    /// ignored as [`ReasonCode::ReviewerNotAllowed`](biv_core::ReasonCode::ReviewerNotAllowed).
    #[must_use]
    pub fn with_allowed_reviewers<I, S>(mut self, logins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut list: Vec<String> = logins.into_iter().map(Into::into).collect();
        list.sort_by_key(|l| l.to_ascii_lowercase());
        list.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        self.allowed_reviewers = Some(list);
        self
    }

    /// Adds a check that must have succeeded on the head commit.
    #[must_use]
    pub fn with_required_check(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.required_checks.contains(&name) {
            self.required_checks.push(name);
            self.required_checks.sort();
        }
        self
    }

    /// Adds a code-owner rule.
    #[must_use]
    pub fn with_code_owner_rule(mut self, rule: CodeOwnerRule) -> Self {
        self.code_owners.push(rule);
        self
    }

    /// Records e-mails that belong to an account, e.g. from the organisation's directory.
    ///
    /// Commits carry git e-mails that GitHub does not always link to an account; a reviewer
    /// whose known e-mail authored, committed or co-authored a commit is a contributor too.
    #[must_use]
    pub fn with_identity<I, S>(mut self, login: &str, emails: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let known = self
            .identities
            .entry(login.to_ascii_lowercase())
            .or_default();
        for email in emails {
            let email = email.into();
            if !known.iter().any(|k| k.eq_ignore_ascii_case(&email)) {
                known.push(email);
            }
        }
        known.sort_by_key(|e| e.to_ascii_lowercase());
        self
    }

    /// The reviewer together with every identity the policy knows for their login.
    pub(super) fn known_identities(&self, reviewer: &Identity) -> Vec<Identity> {
        let mut all = vec![reviewer.clone()];
        if let Some(login) = &reviewer.login
            && let Some(emails) = self.identities.get(&login.to_ascii_lowercase())
        {
            all.extend(emails.iter().map(|e| Identity::email(e.clone())));
        }
        all
    }

    /// Reads a policy from JSON; every member is optional and unknown members are refused:
    ///
    /// ```json
    /// {"required_approvals": 2, "allowed_reviewers": ["bob", "carol"],
    ///  "required_checks": ["phpunit", "jest"],
    ///  "code_owners": [{"pattern": "config/", "owners": ["ops-lead"]}],
    ///  "identities": {"bob": ["bob@acme.example"]}}
    /// ```
    ///
    /// ```
    /// use biv_integrity::review::SixEyesPolicy;
    /// let policy = SixEyesPolicy::from_json(br#"{"required_approvals": 3, "required_checks": ["phpunit"]}"#)?;
    /// assert_eq!(policy.required_approvals(), 3);
    /// assert!(SixEyesPolicy::from_json(br#"{"required_aprovals": 3}"#).is_err());
    /// # Ok::<(), biv_core::ReviewError>(())
    /// ```
    ///
    /// # Errors
    /// [`ReviewError::InvalidPolicy`] for malformed JSON, an unknown member, a bad code-owner
    /// rule or a policy [`SixEyes::new`](super::SixEyes::new) would refuse.
    pub fn from_json(json: &[u8]) -> Result<Self, ReviewError> {
        let file: PolicyFile = serde_json::from_slice(json)
            .map_err(|e| ReviewError::InvalidPolicy(format!("policy JSON: {e}")))?;
        let mut policy = SixEyesPolicy::default();
        if let Some(n) = file.required_approvals {
            policy = policy.with_required_approvals(n);
        }
        if let Some(list) = file.allowed_reviewers {
            policy = policy.with_allowed_reviewers(list);
        }
        for check in file.required_checks {
            policy = policy.with_required_check(check);
        }
        for rule in file.code_owners {
            policy = policy.with_code_owner_rule(CodeOwnerRule::new(&rule.pattern, rule.owners)?);
        }
        for (login, emails) in file.identities {
            policy = policy.with_identity(&login, emails);
        }
        policy.validate()?;
        Ok(policy)
    }

    /// The number of approvals required.
    pub fn required_approvals(&self) -> usize {
        self.required_approvals
    }

    /// The allow-list, if any.
    pub fn allowed_reviewers(&self) -> Option<&[String]> {
        self.allowed_reviewers.as_deref()
    }

    /// The required checks, sorted.
    pub fn required_checks(&self) -> &[String] {
        &self.required_checks
    }

    /// The code-owner rules, in the order given.
    pub fn code_owner_rules(&self) -> &[CodeOwnerRule] {
        &self.code_owners
    }

    pub(super) fn validate(&self) -> Result<(), ReviewError> {
        if self.required_approvals == 0 {
            return Err(ReviewError::InvalidPolicy(
                "at least one approval must be required".to_owned(),
            ));
        }
        if self.required_checks.iter().any(|c| c.trim().is_empty()) {
            return Err(ReviewError::InvalidPolicy(
                "a required check has an empty name".to_owned(),
            ));
        }
        if self
            .allowed_reviewers
            .as_ref()
            .is_some_and(|l| l.iter().any(|r| r.trim().is_empty()))
        {
            return Err(ReviewError::InvalidPolicy(
                "the allow-list holds an empty login".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The JSON form of a policy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    required_approvals: Option<usize>,
    #[serde(default)]
    allowed_reviewers: Option<Vec<String>>,
    #[serde(default)]
    required_checks: Vec<String>,
    #[serde(default)]
    code_owners: Vec<CodeOwnerFile>,
    #[serde(default)]
    identities: BTreeMap<String, Vec<String>>,
}

/// The JSON form of a code-owner rule.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeOwnerFile {
    pattern: String,
    owners: Vec<String>,
}
