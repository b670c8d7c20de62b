//! The promotion decision: a pure function of the gate's state, the request and the time.

use biv_core::{Decision, Timestamp, Verdict};
use serde::{Deserialize, Serialize};

use super::junit::TestEvidence;
use super::model::{Artifact, GatePolicy, is_lower_hex};
use crate::review::{RecordVerdictError, verdict_digest};

/// One arrival of an artifact in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageEntry {
    /// The artifact.
    pub artifact: Artifact,
    /// The stage it reached.
    pub stage: String,
    /// When.
    pub at: Timestamp,
    /// Who deployed it.
    pub deployer: String,
    /// Whether this was a rollback.
    #[serde(default)]
    pub rollback: bool,
}

/// What the gate knows: its policy and which artifact reached which stage when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateState {
    /// The format version, 1.
    pub version: u32,
    /// The stage chain and evidence policy.
    pub policy: GatePolicy,
    /// Every arrival, oldest first.
    pub history: Vec<StageEntry>,
}

impl GateState {
    /// An empty state with this policy.
    pub fn new(policy: GatePolicy) -> Self {
        GateState {
            version: 1,
            policy,
            history: Vec::new(),
        }
    }

    /// The first arrival of this artifact in the stage.
    pub fn reached(&self, artifact: &Artifact, stage: &str) -> Option<&StageEntry> {
        self.history
            .iter()
            .find(|e| e.stage == stage && &e.artifact == artifact)
    }

    /// The latest arrival in the stage: what runs there now.
    pub fn current(&self, stage: &str) -> Option<&StageEntry> {
        self.history.iter().rev().find(|e| e.stage == stage)
    }

    /// Records an allowed decision as an arrival; a refused one changes nothing.
    /// Returns whether the state changed.
    pub fn apply(&mut self, decision: &PromotionDecision, at: Timestamp) -> bool {
        if !decision.allowed {
            return false;
        }
        self.history.push(StageEntry {
            artifact: decision.artifact.clone(),
            stage: decision.stage.clone(),
            at,
            deployer: decision.deployer.clone(),
            rollback: decision.kind == PromotionKind::Rollback,
        });
        true
    }
}

/// A six-eyes verdict as the gate sees it: its digest, whether it approved, and the commits
/// its inputs name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictEvidence {
    /// `sha256:` and the hex SHA-256 of the verdict's canonical JSON
    /// ([`crate::review::verdict_digest`]).
    pub digest: String,
    /// Whether the verdict approved the change.
    pub approved: bool,
    /// Commits the verdict covers.
    pub commits: Vec<String>,
}

impl VerdictEvidence {
    /// From a verdict: its digest, its decision, and every commit id (40 or 64 hex digits)
    /// that appears as a path segment of an input name, e.g. the head in
    /// `repos/o/r/commits/{sha}/check-runs`.
    ///
    /// # Errors
    /// [`RecordVerdictError::Canonical`] when the verdict has no canonical form.
    pub fn from_verdict(verdict: &Verdict) -> Result<Self, RecordVerdictError> {
        let mut commits: Vec<String> = verdict
            .inputs
            .iter()
            .flat_map(|i| i.name.split(['/', '@', ':']))
            .filter(|s| (s.len() == 40 || s.len() == 64) && is_lower_hex(s))
            .map(str::to_owned)
            .collect();
        commits.sort();
        commits.dedup();
        Ok(VerdictEvidence {
            digest: format!("sha256:{}", verdict_digest(verdict)?),
            approved: verdict.decision == Decision::Approved,
            commits,
        })
    }

    /// A verdict known by its digest, e.g. from an earlier audit entry.
    pub fn new(digest: impl Into<String>, approved: bool, commit: impl Into<String>) -> Self {
        VerdictEvidence {
            digest: digest.into(),
            approved,
            commits: vec![commit.into()],
        }
    }
}

/// A request to put an artifact in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionRequest {
    /// The artifact.
    pub artifact: Artifact,
    /// The stage it is to enter.
    pub to: String,
    /// Who deploys it.
    pub deployer: String,
    /// Product owners who approved.
    #[serde(default)]
    pub approved_by: Vec<String>,
    /// Test reports bound to artifacts.
    #[serde(default)]
    pub evidence: Vec<TestEvidence>,
    /// Six-eyes verdicts.
    #[serde(default)]
    pub verdicts: Vec<VerdictEvidence>,
    /// Everyone who contributed to the artifact's changes (logins or e-mails).
    #[serde(default)]
    pub contributors: Vec<String>,
    /// A customer onboarding (needs the product owner whatever the stage): the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<String>,
}

impl PromotionRequest {
    /// A request with no evidence, verdicts or approvals yet.
    pub fn new(artifact: Artifact, to: impl Into<String>, deployer: impl Into<String>) -> Self {
        PromotionRequest {
            artifact,
            to: to.into(),
            deployer: deployer.into(),
            approved_by: Vec::new(),
            evidence: Vec::new(),
            verdicts: Vec::new(),
            contributors: Vec::new(),
            onboarding: None,
        }
    }

    /// Adds a product owner's approval.
    #[must_use]
    pub fn approved_by(mut self, login: impl Into<String>) -> Self {
        self.approved_by.push(login.into());
        self
    }

    /// Adds a test report.
    #[must_use]
    pub fn with_evidence(mut self, evidence: TestEvidence) -> Self {
        self.evidence.push(evidence);
        self
    }

    /// Adds a verdict.
    #[must_use]
    pub fn with_verdict(mut self, verdict: VerdictEvidence) -> Self {
        self.verdicts.push(verdict);
        self
    }

    /// Adds contributors.
    #[must_use]
    pub fn with_contributors<I, S>(mut self, logins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.contributors.extend(logins.into_iter().map(Into::into));
        self
    }

    /// Marks it as a customer onboarding.
    #[must_use]
    pub fn onboarding(mut self, customer: impl Into<String>) -> Self {
        self.onboarding = Some(customer.into());
        self
    }
}

/// A promotion or a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PromotionKind {
    /// A new artifact for the stage.
    Promotion,
    /// An artifact that was in the stage before returns to it.
    Rollback,
}

/// A rule of the gate. Serialized in snake_case; the set only grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GateCheck {
    /// The stage is in the chain.
    StageKnown,
    /// The deployer is named.
    DeployerNamed,
    /// The artifact's digest was never seen with another commit.
    ArtifactIdentity,
    /// The artifact is not already what runs in the stage.
    NotAlreadyCurrent,
    /// The artifact reached the previous stage.
    PreviousStage,
    /// The artifact has been in the previous stage long enough.
    SoakTime,
    /// Test evidence is given.
    TestEvidencePresent,
    /// Every test report is bound to this artifact (digest and commit), and none names another
    /// commit.
    TestEvidenceArtifact,
    /// Every test report passes.
    TestEvidencePassing,
    /// The reports hold every expected suite.
    TestEvidenceSuites,
    /// An approved six-eyes verdict covers the artifact's commit, and none given rejects it.
    SixEyesVerdict,
    /// Enough product owners (on the policy's list, when it has one) approved.
    ProductOwnerApproval,
    /// The approving product owner did not contribute.
    ProductOwnerNotContributor,
    /// The approving product owner is not the deployer.
    ProductOwnerNotDeployer,
    /// A rollback to an artifact that was in the stage before.
    Rollback,
}

/// One rule, met or not, with detail for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateReason {
    /// The rule.
    pub check: GateCheck,
    /// Whether it is met.
    pub met: bool,
    /// Detail.
    pub detail: String,
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionDecision {
    /// Whether the artifact may enter the stage: every reason is met.
    pub allowed: bool,
    /// Promotion or rollback.
    pub kind: PromotionKind,
    /// The artifact.
    pub artifact: Artifact,
    /// The stage.
    pub stage: String,
    /// The deployer.
    pub deployer: String,
    /// When it was decided.
    pub decided_at: Timestamp,
    /// Every rule checked, in a fixed order.
    pub reasons: Vec<GateReason>,
    /// `sha256:…` of each test report given.
    pub evidence: Vec<String>,
    /// Digest of each verdict given.
    pub verdicts: Vec<String>,
}

impl PromotionDecision {
    /// The rules not met.
    pub fn unmet(&self) -> Vec<GateCheck> {
        self.reasons
            .iter()
            .filter(|r| !r.met)
            .map(|r| r.check)
            .collect()
    }
}

fn reason(check: GateCheck, met: bool, detail: impl Into<String>) -> GateReason {
    GateReason {
        check,
        met,
        detail: detail.into(),
    }
}

fn same_person(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Decides a promotion. Pure and deterministic: the same state, request and time give the
/// same decision.
///
/// Rules, in this order (see `docs/formats/release-gate.md`): the stage is known; the deployer
/// is named; the artifact's digest was never seen with another commit; it is not already what
/// runs in the stage. An artifact that was in the stage before is a **rollback**, allowed
/// without new evidence. Otherwise, per the stage's [`super::StageSpec`]: the artifact reached
/// the previous stage, and at least `soak_seconds` before `now`; test reports are given, all
/// bound to this artifact, all passing and together holding the policy's expected suites; an
/// approved verdict covers the commit and no verdict given rejects; for a stage that requires
/// it, or a customer onboarding, enough product owners (from the policy's list, when set)
/// approved, none of them a contributor or the deployer.
///
/// ```
/// use biv_core::Timestamp;
/// use biv_integrity::release::{Artifact, GateCheck, GateState, PromotionRequest, decide};
///
/// let state = GateState::new(Default::default());
/// let artifact = Artifact::new(format!("sha256:{}", "ab".repeat(32)), "c".repeat(40))?;
/// let now = Timestamp::from_unix_seconds(1_790_000_000, 0)?;
/// let d = decide(&state, &PromotionRequest::new(artifact.clone(), "development", "dave"), now);
/// assert!(d.allowed);
/// let d = decide(&state, &PromotionRequest::new(artifact, "production", "dave"), now);
/// assert!(!d.allowed);
/// assert!(d.unmet().contains(&GateCheck::PreviousStage));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decide(state: &GateState, request: &PromotionRequest, now: Timestamp) -> PromotionDecision {
    let artifact = &request.artifact;
    let mut reasons = Vec::new();
    let mut kind = PromotionKind::Promotion;
    let policy = &state.policy;
    let stage = policy.stage(&request.to);
    reasons.push(match stage {
        Some(_) => reason(GateCheck::StageKnown, true, format!("stage {}", request.to)),
        None => reason(
            GateCheck::StageKnown,
            false,
            format!("stage {:?} is not in the chain", request.to),
        ),
    });
    let deployer_named = !request.deployer.trim().is_empty();
    reasons.push(reason(
        GateCheck::DeployerNamed,
        deployer_named,
        if deployer_named {
            format!("deployed by {}", request.deployer)
        } else {
            "no deployer named".into()
        },
    ));
    let conflict = state.history.iter().find(|e| {
        e.artifact.digest() == artifact.digest() && e.artifact.commit() != artifact.commit()
    });
    reasons.push(match conflict {
        None => reason(
            GateCheck::ArtifactIdentity,
            true,
            format!("{} built from {}", artifact.digest(), artifact.commit()),
        ),
        Some(e) => reason(
            GateCheck::ArtifactIdentity,
            false,
            format!(
                "{} reached {} as built from {}, not {}",
                artifact.digest(),
                e.stage,
                e.artifact.commit(),
                artifact.commit()
            ),
        ),
    });
    if let Some(stage) = stage {
        let current = state.current(&stage.name);
        let is_current = current.is_some_and(|c| &c.artifact == artifact);
        reasons.push(reason(
            GateCheck::NotAlreadyCurrent,
            !is_current,
            if is_current {
                format!("{} already runs in {}", artifact.digest(), stage.name)
            } else {
                format!("{} does not run in {} yet", artifact.digest(), stage.name)
            },
        ));
        if let (false, Some(before)) = (is_current, state.reached(artifact, &stage.name)) {
            kind = PromotionKind::Rollback;
            reasons.push(reason(
                GateCheck::Rollback,
                true,
                format!(
                    "rollback: {} reached {} at {}",
                    artifact.digest(),
                    stage.name,
                    before.at.to_rfc3339_millis()
                ),
            ));
        } else {
            stage_rules(state, request, stage, now, &mut reasons);
        }
    }
    let allowed = reasons.iter().all(|r| r.met);
    PromotionDecision {
        allowed,
        kind,
        artifact: artifact.clone(),
        stage: request.to.clone(),
        deployer: request.deployer.clone(),
        decided_at: now,
        reasons,
        evidence: request
            .evidence
            .iter()
            .map(|e| format!("sha256:{}", e.report.sha256))
            .collect(),
        verdicts: request.verdicts.iter().map(|v| v.digest.clone()).collect(),
    }
}

fn stage_rules(
    state: &GateState,
    request: &PromotionRequest,
    stage: &super::StageSpec,
    now: Timestamp,
    reasons: &mut Vec<GateReason>,
) {
    let artifact = &request.artifact;
    if let Some(previous) = state.policy.previous(&stage.name) {
        let reached = state.reached(artifact, &previous.name);
        reasons.push(match reached {
            Some(e) => reason(
                GateCheck::PreviousStage,
                true,
                format!("reached {} at {}", previous.name, e.at.to_rfc3339_millis()),
            ),
            None => reason(
                GateCheck::PreviousStage,
                false,
                format!("{} never reached {}", artifact.digest(), previous.name),
            ),
        });
        if stage.soak_seconds > 0 {
            let waited = reached.map(|e| (now.unix_nanos() - e.at.unix_nanos()) / 1_000_000_000);
            let needed = i128::from(stage.soak_seconds);
            reasons.push(match waited {
                Some(w) if w >= needed => reason(
                    GateCheck::SoakTime,
                    true,
                    format!("{w} s in {}, {needed} s required", previous.name),
                ),
                Some(w) => reason(
                    GateCheck::SoakTime,
                    false,
                    format!("{w} s in {}, {needed} s required", previous.name),
                ),
                None => reason(
                    GateCheck::SoakTime,
                    false,
                    format!("not in {}, {needed} s required", previous.name),
                ),
            });
        }
    }
    if stage.requires_tests {
        test_rules(state, request, reasons);
    }
    if stage.requires_verdicts {
        let covering =
            |v: &&super::VerdictEvidence| v.commits.iter().any(|c| c == artifact.commit());
        let rejected: Vec<&str> = request
            .verdicts
            .iter()
            .filter(|v| !v.approved)
            .map(|v| v.digest.as_str())
            .collect();
        let approved = request
            .verdicts
            .iter()
            .filter(|v| v.approved)
            .find(covering);
        reasons.push(match (approved, rejected.first()) {
            (_, Some(r)) => reason(
                GateCheck::SixEyesVerdict,
                false,
                format!("verdict {r} rejects"),
            ),
            (Some(v), None) => reason(
                GateCheck::SixEyesVerdict,
                true,
                format!("verdict {} approves {}", v.digest, artifact.commit()),
            ),
            (None, None) => reason(
                GateCheck::SixEyesVerdict,
                false,
                format!("no approved verdict covers {}", artifact.commit()),
            ),
        });
    }
    if stage.requires_product_owner || request.onboarding.is_some() {
        product_owner_rules(&state.policy, request, reasons);
    }
}

fn test_rules(state: &GateState, request: &PromotionRequest, reasons: &mut Vec<GateReason>) {
    let artifact = &request.artifact;
    let n = request.evidence.len();
    reasons.push(reason(
        GateCheck::TestEvidencePresent,
        n > 0,
        format!("{n} test reports"),
    ));
    let foreign: Vec<&TestEvidence> = request
        .evidence
        .iter()
        .filter(|e| &e.artifact != artifact)
        .collect();
    let other_commit = request.evidence.iter().find_map(|e| {
        e.report
            .commit
            .as_ref()
            .filter(|c| c.as_str() != artifact.commit())
            .map(|c| (e, c))
    });
    reasons.push(match (foreign.first(), other_commit) {
        (None, None) => reason(
            GateCheck::TestEvidenceArtifact,
            n > 0,
            format!(
                "{n} reports for {} at {}",
                artifact.digest(),
                artifact.commit()
            ),
        ),
        (None, Some((e, c))) => reason(
            GateCheck::TestEvidenceArtifact,
            false,
            format!(
                "report sha256:{} names commit {c}, not {}",
                e.report.sha256,
                artifact.commit()
            ),
        ),
        (Some(e), _) => reason(
            GateCheck::TestEvidenceArtifact,
            false,
            format!(
                "report sha256:{} tested {} at {}, not {} at {}",
                e.report.sha256,
                e.artifact.digest(),
                e.artifact.commit(),
                artifact.digest(),
                artifact.commit()
            ),
        ),
    });
    let failing = request.evidence.iter().find_map(|e| {
        e.failure(state.policy.max_skipped_percent)
            .map(|why| format!("report sha256:{}: {why}", e.report.sha256))
    });
    reasons.push(match failing {
        None => reason(
            GateCheck::TestEvidencePassing,
            n > 0,
            format!(
                "{} tests in {n} reports pass",
                request
                    .evidence
                    .iter()
                    .map(|e| e.report.totals.tests)
                    .sum::<u64>()
            ),
        ),
        Some(why) => reason(GateCheck::TestEvidencePassing, false, why),
    });
    let expected = &state.policy.expected_suites;
    if !expected.is_empty() {
        let missing: Vec<&str> = expected
            .iter()
            .filter(|name| {
                !request
                    .evidence
                    .iter()
                    .any(|e| e.report.suites.iter().any(|s| &&s.name == name))
            })
            .map(String::as_str)
            .collect();
        reasons.push(reason(
            GateCheck::TestEvidenceSuites,
            missing.is_empty(),
            if missing.is_empty() {
                format!("all {} expected suites reported", expected.len())
            } else {
                format!("expected suites missing: {}", missing.join(", "))
            },
        ));
    }
}

fn product_owner_rules(
    policy: &super::GatePolicy,
    request: &PromotionRequest,
    reasons: &mut Vec<GateReason>,
) {
    let mut owners: Vec<&str> = Vec::new();
    for login in request.approved_by.iter().map(|s| s.trim()) {
        if !login.is_empty() && !owners.iter().any(|o| same_person(o, login)) {
            owners.push(login);
        }
    }
    let (listed, unlisted): (Vec<&str>, Vec<&str>) = owners.iter().partition(|o| {
        policy.product_owners.is_empty() || policy.product_owners.iter().any(|p| same_person(p, o))
    });
    let needed = usize::from(policy.required_product_owners);
    let why = request
        .onboarding
        .as_ref()
        .map_or(String::new(), |c| format!(" (onboarding of {c})"));
    let not_counted = if unlisted.is_empty() {
        String::new()
    } else {
        format!("; not product owners: {}", unlisted.join(", "))
    };
    reasons.push(reason(
        GateCheck::ProductOwnerApproval,
        listed.len() >= needed,
        if listed.is_empty() {
            format!("no product owner approved, {needed} required{why}{not_counted}")
        } else {
            format!(
                "{} of {needed} product owners approved ({}){why}{not_counted}",
                listed.len(),
                listed.join(", ")
            )
        },
    ));
    let owners = listed;
    let contributing: Vec<&str> = owners
        .iter()
        .copied()
        .filter(|o| request.contributors.iter().any(|c| same_person(c, o)))
        .collect();
    reasons.push(reason(
        GateCheck::ProductOwnerNotContributor,
        !owners.is_empty() && contributing.is_empty(),
        if contributing.is_empty() {
            "no approving product owner contributed".to_owned()
        } else {
            format!("{} contributed to the changes", contributing.join(", "))
        },
    ));
    let deploying = owners.iter().any(|o| same_person(o, &request.deployer));
    reasons.push(reason(
        GateCheck::ProductOwnerNotDeployer,
        !owners.is_empty() && !deploying,
        if deploying {
            format!("{} approves and deploys", request.deployer)
        } else {
            "the deployer is not an approving product owner".to_owned()
        },
    ));
}
