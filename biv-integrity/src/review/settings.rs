//! Findings on a repository's GitHub settings: branch protection and rulesets.
//!
//! GitHub cannot express six eyes itself, but its settings decide what reaches the branch
//! without biv: fewer than two required approvals, approvals that survive new pushes, admins or
//! bypass actors who skip the rules. Each gap becomes a [`Finding`]; an empty list means the
//! settings back the six-eyes policy. A missing setting is a finding too (absent = not enforced).
//!
//! Inputs are the REST payloads: `GET /repos/{o}/{r}/branches/{b}/protection` for
//! [`evaluate_branch_protection`], and `GET /repos/{o}/{r}/rulesets/{id}` (one ruleset, or an
//! array of them) for [`evaluate_rulesets`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; the six-eyes policy still holds.
    Info,
    /// Weakens the review process.
    Warning,
    /// Lets a change reach the branch without six-eyes review.
    High,
}

/// What a finding is about. Serialized in snake_case; the set only grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingCode {
    /// The branch has no protection at all.
    BranchNotProtected,
    /// Pull-request reviews are not required.
    ReviewsNotRequired,
    /// Fewer approvals required than the policy's minimum.
    TooFewApprovals,
    /// Approvals are kept when new commits are pushed.
    StaleReviewsKept,
    /// The last pusher's approval is not required to be someone else's.
    LastPushApprovalNotRequired,
    /// Code owners' review is not required.
    CodeOwnerReviewNotRequired,
    /// Review threads need not be resolved.
    ThreadResolutionNotRequired,
    /// No status checks are required.
    NoRequiredChecks,
    /// Required checks need not run on the latest base (`strict`).
    ChecksNotStrict,
    /// Administrators are exempt from the rules.
    AdminsExempt,
    /// Someone may bypass the rules.
    BypassAllowed,
    /// Force pushes are allowed.
    ForcePushesAllowed,
    /// The branch may be deleted.
    DeletionsAllowed,
    /// The ruleset is not enforced (`evaluate` or `disabled`).
    RulesetNotEnforced,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// What it is about.
    pub code: FindingCode,
    /// How serious it is.
    pub severity: Severity,
    /// Detail for people, naming the setting.
    pub detail: String,
}

impl Finding {
    fn new(code: FindingCode, severity: Severity, detail: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            detail: detail.into(),
        }
    }
}

/// What the settings are measured against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsPolicy {
    min_approvals: u64,
}

impl Default for SettingsPolicy {
    /// Two approvals: six eyes.
    fn default() -> Self {
        SettingsPolicy { min_approvals: 2 }
    }
}

impl SettingsPolicy {
    /// Sets the minimum `required_approving_review_count`.
    #[must_use]
    pub fn with_min_approvals(mut self, count: u64) -> Self {
        self.min_approvals = count;
        self
    }
}

/// Why settings could not be evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The input is not JSON.
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// A field has the wrong type or value.
    #[error("field `{field}` {problem}")]
    Field {
        /// The field's path, e.g. `rules[0].parameters.required_approving_review_count`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

fn field_error(field: impl Into<String>, problem: impl Into<String>) -> SettingsError {
    SettingsError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A member that may be absent or null.
fn get<'a>(value: &'a Value, key: &str, path: &str) -> Result<Option<&'a Value>, SettingsError> {
    let object = value
        .as_object()
        .ok_or_else(|| field_error(path, "is not an object"))?;
    Ok(object.get(key).filter(|v| !v.is_null()))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A boolean member; absent or null is `false` (not enforced).
fn flag(value: &Value, key: &str, path: &str) -> Result<bool, SettingsError> {
    match get(value, key, path)? {
        None => Ok(false),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| field_error(join(path, key), "is not a boolean")),
    }
}

/// A `{"enabled": bool}` member (branch protection style); absent is `false`.
fn enabled(value: &Value, key: &str) -> Result<bool, SettingsError> {
    match get(value, key, "")? {
        None => Ok(false),
        Some(v) => flag(v, "enabled", key),
    }
}

fn count(value: &Value, key: &str, path: &str) -> Result<u64, SettingsError> {
    match get(value, key, path)? {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| field_error(join(path, key), "is not a non-negative integer")),
    }
}

fn list<'a>(value: &'a Value, key: &str, path: &str) -> Result<&'a [Value], SettingsError> {
    match get(value, key, path)? {
        None => Ok(&[]),
        Some(v) => v
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| field_error(join(path, key), "is not an array")),
    }
}

fn actor_name(actor: &Value) -> String {
    for key in ["login", "slug", "name"] {
        if let Some(name) = actor.get(key).and_then(Value::as_str) {
            return name.to_owned();
        }
    }
    "unnamed".to_owned()
}

/// The review rules shared by branch protection and the ruleset `pull_request` rule.
struct ReviewRules<'a> {
    approvals: u64,
    stale_dismissed: bool,
    last_push: bool,
    code_owners: bool,
    threads: Option<bool>,
    where_: &'a str,
}

fn review_findings(rules: &ReviewRules<'_>, policy: &SettingsPolicy, out: &mut Vec<Finding>) {
    let w = rules.where_;
    if rules.approvals < policy.min_approvals {
        out.push(Finding::new(
            FindingCode::TooFewApprovals,
            Severity::High,
            format!(
                "{w}required_approving_review_count is {}, the policy needs at least {}",
                rules.approvals, policy.min_approvals
            ),
        ));
    }
    if !rules.stale_dismissed {
        out.push(Finding::new(
            FindingCode::StaleReviewsKept,
            Severity::High,
            format!("{w}approvals are not dismissed when new commits are pushed"),
        ));
    }
    if !rules.last_push {
        out.push(Finding::new(
            FindingCode::LastPushApprovalNotRequired,
            Severity::High,
            format!("{w}require_last_push_approval is off: the last pusher's own approval counts"),
        ));
    }
    if !rules.code_owners {
        out.push(Finding::new(
            FindingCode::CodeOwnerReviewNotRequired,
            Severity::Warning,
            format!("{w}code owners' review is not required"),
        ));
    }
    if rules.threads == Some(false) {
        out.push(Finding::new(
            FindingCode::ThreadResolutionNotRequired,
            Severity::Warning,
            format!("{w}required_review_thread_resolution is off"),
        ));
    }
}

/// Evaluates a branch-protection payload (`GET /repos/{o}/{r}/branches/{b}/protection`).
///
/// A `{"message": "Branch not protected"}` body (GitHub's 404 answer) gives one
/// [`FindingCode::BranchNotProtected`] finding.
///
/// ```
/// use biv_integrity::review::settings::{FindingCode, SettingsPolicy, evaluate_branch_protection};
/// let json = br#"{"required_pull_request_reviews": {"required_approving_review_count": 1,
///     "dismiss_stale_reviews": true, "require_code_owner_reviews": true,
///     "require_last_push_approval": true},
///   "required_status_checks": {"strict": true, "contexts": ["ci"], "checks": [{"context": "ci", "app_id": 15368}]},
///   "enforce_admins": {"enabled": true},
///   "allow_force_pushes": {"enabled": false}, "allow_deletions": {"enabled": false},
///   "required_conversation_resolution": {"enabled": true}}"#;
/// let findings = evaluate_branch_protection(json, &SettingsPolicy::default())?;
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].code, FindingCode::TooFewApprovals);
/// # Ok::<(), biv_integrity::review::settings::SettingsError>(())
/// ```
///
/// # Errors
/// [`SettingsError`] when the input is not JSON or a field has the wrong type.
pub fn evaluate_branch_protection(
    json: &[u8],
    policy: &SettingsPolicy,
) -> Result<Vec<Finding>, SettingsError> {
    let root: Value = serde_json::from_slice(json).map_err(SettingsError::Json)?;
    if !root.is_object() {
        return Err(field_error("(top level)", "is not an object"));
    }
    let mut out = Vec::new();
    if root.get("message").and_then(Value::as_str) == Some("Branch not protected") {
        out.push(Finding::new(
            FindingCode::BranchNotProtected,
            Severity::High,
            "the branch is not protected: anyone with write access can push to it",
        ));
        return Ok(out);
    }
    match get(&root, "required_pull_request_reviews", "")? {
        None => out.push(Finding::new(
            FindingCode::ReviewsNotRequired,
            Severity::High,
            "required_pull_request_reviews is absent: changes can merge without review",
        )),
        Some(reviews) => {
            let path = "required_pull_request_reviews";
            review_findings(
                &ReviewRules {
                    approvals: count(reviews, "required_approving_review_count", path)?,
                    stale_dismissed: flag(reviews, "dismiss_stale_reviews", path)?,
                    last_push: flag(reviews, "require_last_push_approval", path)?,
                    code_owners: flag(reviews, "require_code_owner_reviews", path)?,
                    threads: Some(enabled(&root, "required_conversation_resolution")?),
                    where_: "",
                },
                policy,
                &mut out,
            );
            if let Some(bypass) = get(reviews, "bypass_pull_request_allowances", path)? {
                let bpath = format!("{path}.bypass_pull_request_allowances");
                for kind in ["users", "teams", "apps"] {
                    for actor in list(bypass, kind, &bpath)? {
                        out.push(Finding::new(
                            FindingCode::BypassAllowed,
                            Severity::High,
                            format!(
                                "bypass_pull_request_allowances.{kind}: {} may merge without the required reviews",
                                actor_name(actor)
                            ),
                        ));
                    }
                }
            }
        }
    }
    match get(&root, "required_status_checks", "")? {
        None => out.push(Finding::new(
            FindingCode::NoRequiredChecks,
            Severity::High,
            "required_status_checks is absent: changes can merge without passing tests",
        )),
        Some(checks) => {
            let path = "required_status_checks";
            let contexts = list(checks, "contexts", path)?.len();
            let named = list(checks, "checks", path)?.len();
            if contexts == 0 && named == 0 {
                out.push(Finding::new(
                    FindingCode::NoRequiredChecks,
                    Severity::High,
                    "required_status_checks lists no contexts or checks",
                ));
            }
            if !flag(checks, "strict", path)? {
                out.push(Finding::new(
                    FindingCode::ChecksNotStrict,
                    Severity::Info,
                    "required_status_checks.strict is off: checks need not run on the latest base",
                ));
            }
        }
    }
    if !enabled(&root, "enforce_admins")? {
        out.push(Finding::new(
            FindingCode::AdminsExempt,
            Severity::High,
            "enforce_admins is off: administrators can merge without review",
        ));
    }
    if enabled(&root, "allow_force_pushes")? {
        out.push(Finding::new(
            FindingCode::ForcePushesAllowed,
            Severity::High,
            "allow_force_pushes is on: reviewed history can be rewritten",
        ));
    }
    if enabled(&root, "allow_deletions")? {
        out.push(Finding::new(
            FindingCode::DeletionsAllowed,
            Severity::Warning,
            "allow_deletions is on: the branch can be deleted",
        ));
    }
    Ok(out)
}

/// Evaluates one ruleset (`GET /repos/{o}/{r}/rulesets/{id}`) or an array of them: the
/// `pull_request` and `required_status_checks` rules, `enforcement` and `bypass_actors`.
/// Across an array, the review rules must be met by at least one active ruleset; every bypass
/// actor and every ruleset that is not active is a finding.
///
/// ```
/// use biv_integrity::review::settings::{FindingCode, SettingsPolicy, evaluate_rulesets};
/// let json = br#"{"id": 42, "name": "main", "target": "branch", "enforcement": "active",
///   "bypass_actors": [{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}],
///   "rules": [{"type": "pull_request", "parameters": {"required_approving_review_count": 2,
///     "dismiss_stale_reviews_on_push": true, "require_code_owner_review": true,
///     "require_last_push_approval": true, "required_review_thread_resolution": true}},
///    {"type": "required_status_checks", "parameters": {"strict_required_status_checks_policy": true,
///     "required_status_checks": [{"context": "phpunit"}]}}]}"#;
/// let findings = evaluate_rulesets(json, &SettingsPolicy::default())?;
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].code, FindingCode::BypassAllowed);
/// # Ok::<(), biv_integrity::review::settings::SettingsError>(())
/// ```
///
/// # Errors
/// [`SettingsError`] when the input is not JSON, not a ruleset, or a field has the wrong type.
pub fn evaluate_rulesets(
    json: &[u8],
    policy: &SettingsPolicy,
) -> Result<Vec<Finding>, SettingsError> {
    let root: Value = serde_json::from_slice(json).map_err(SettingsError::Json)?;
    let rulesets: Vec<(String, &Value)> = match &root {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        Value::Object(_) => vec![(String::new(), &root)],
        _ => {
            return Err(field_error(
                "(top level)",
                "is not a ruleset or an array of rulesets",
            ));
        }
    };
    let mut out = Vec::new();
    let mut best_reviews: Option<Vec<Finding>> = None;
    let mut has_checks = false;
    let mut strict = false;
    for (path, ruleset) in rulesets {
        let name = get(ruleset, "name", &path)?
            .and_then(Value::as_str)
            .unwrap_or("unnamed")
            .to_owned();
        let rules_path = join(&path, "rules");
        let rules = get(ruleset, "rules", &path)?
            .ok_or_else(|| field_error(&rules_path, "is missing"))?
            .as_array()
            .ok_or_else(|| field_error(&rules_path, "is not an array"))?;
        let enforcement = get(ruleset, "enforcement", &path)?
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| field_error(join(&path, "enforcement"), "is not a string"))
            })
            .transpose()?
            .unwrap_or("active");
        if enforcement != "active" {
            out.push(Finding::new(
                FindingCode::RulesetNotEnforced,
                Severity::High,
                format!("ruleset {name}: enforcement is {enforcement:?}, not \"active\""),
            ));
            continue;
        }
        for (i, actor) in list(ruleset, "bypass_actors", &path)?.iter().enumerate() {
            let apath = format!("{}[{i}]", join(&path, "bypass_actors"));
            let kind = get(actor, "actor_type", &apath)?
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let id = get(actor, "actor_id", &apath)?
                .map(ToString::to_string)
                .unwrap_or_else(|| "-".to_owned());
            let mode = get(actor, "bypass_mode", &apath)?
                .and_then(Value::as_str)
                .unwrap_or("always");
            out.push(Finding::new(
                FindingCode::BypassAllowed,
                Severity::High,
                format!("ruleset {name}: bypass actor {kind} {id} (bypass_mode {mode}) may skip the rules"),
            ));
        }
        for (i, rule) in rules.iter().enumerate() {
            let rpath = format!("{rules_path}[{i}]");
            let kind = get(rule, "type", &rpath)?
                .and_then(Value::as_str)
                .ok_or_else(|| field_error(join(&rpath, "type"), "is missing"))?;
            let ppath = join(&rpath, "parameters");
            let empty = Value::Object(serde_json::Map::new());
            let params = get(rule, "parameters", &rpath)?.unwrap_or(&empty);
            match kind {
                "pull_request" => {
                    let mut found = Vec::new();
                    review_findings(
                        &ReviewRules {
                            approvals: count(params, "required_approving_review_count", &ppath)?,
                            stale_dismissed: flag(params, "dismiss_stale_reviews_on_push", &ppath)?,
                            last_push: flag(params, "require_last_push_approval", &ppath)?,
                            code_owners: flag(params, "require_code_owner_review", &ppath)?,
                            threads: Some(flag(
                                params,
                                "required_review_thread_resolution",
                                &ppath,
                            )?),
                            where_: &format!("ruleset {name}: "),
                        },
                        policy,
                        &mut found,
                    );
                    if best_reviews.as_ref().is_none_or(|b| found.len() < b.len()) {
                        best_reviews = Some(found);
                    }
                }
                "required_status_checks" => {
                    if !list(params, "required_status_checks", &ppath)?.is_empty() {
                        has_checks = true;
                    }
                    strict |= flag(params, "strict_required_status_checks_policy", &ppath)?;
                }
                _ => {}
            }
        }
    }
    match best_reviews {
        Some(found) => out.extend(found),
        None => out.push(Finding::new(
            FindingCode::ReviewsNotRequired,
            Severity::High,
            "no active ruleset has a pull_request rule: changes can merge without review",
        )),
    }
    if !has_checks {
        out.push(Finding::new(
            FindingCode::NoRequiredChecks,
            Severity::High,
            "no active ruleset requires status checks",
        ));
    } else if !strict {
        out.push(Finding::new(
            FindingCode::ChecksNotStrict,
            Severity::Info,
            "strict_required_status_checks_policy is off: checks need not run on the latest base",
        ));
    }
    Ok(out)
}
