//! The gate's vocabulary: artifacts, stages and the chain they form.

use serde::{Deserialize, Serialize};

/// Why an artifact identity or a stage chain is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The digest is not `sha256:` followed by 64 lower-case hex digits.
    #[error("artifact digest {0:?} is not sha256:<64 lower-case hex digits>")]
    Digest(String),
    /// The commit is not 40 or 64 lower-case hex digits.
    #[error("commit {0:?} is not 40 or 64 lower-case hex digits")]
    Commit(String),
    /// The chain is not valid.
    #[error("stage chain: {0}")]
    Chain(String),
}

/// What moves between stages, unchanged: the built artifact's digest and the commit it was
/// built from. No rebuild happens between stages, so both stay the same all the way.
///
/// ```
/// use biv_integrity::release::Artifact;
/// let a = Artifact::new(format!("sha256:{}", "ab".repeat(32)), "c0ffee".repeat(6) + "c0ff")?;
/// assert_eq!(a.commit().len(), 40);
/// assert!(Artifact::new("md5:00", a.commit()).is_err());
/// # Ok::<(), biv_integrity::release::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "ArtifactWire", into = "ArtifactWire")]
pub struct Artifact {
    digest: String,
    commit: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArtifactWire {
    digest: String,
    commit: String,
}

impl TryFrom<ArtifactWire> for Artifact {
    type Error = ModelError;
    fn try_from(w: ArtifactWire) -> Result<Self, ModelError> {
        Artifact::new(w.digest, w.commit)
    }
}

impl From<Artifact> for ArtifactWire {
    fn from(a: Artifact) -> Self {
        ArtifactWire {
            digest: a.digest,
            commit: a.commit,
        }
    }
}

pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Artifact {
    /// An artifact identity: `digest` is `sha256:` and 64 lower-case hex digits (an OCI image
    /// digest or the SHA-256 of a tarball), `commit` a git commit id (40 or 64 hex digits).
    ///
    /// # Errors
    /// [`ModelError::Digest`] or [`ModelError::Commit`] when malformed.
    pub fn new(digest: impl Into<String>, commit: impl Into<String>) -> Result<Self, ModelError> {
        let (digest, commit) = (digest.into(), commit.into());
        match digest.strip_prefix("sha256:") {
            Some(hex) if hex.len() == 64 && is_lower_hex(hex) => {}
            _ => return Err(ModelError::Digest(digest)),
        }
        if !(commit.len() == 40 || commit.len() == 64) || !is_lower_hex(&commit) {
            return Err(ModelError::Commit(commit));
        }
        Ok(Artifact { digest, commit })
    }

    /// The digest, `sha256:…`.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The commit it was built from.
    pub fn commit(&self) -> &str {
        &self.commit
    }
}

fn default_true() -> bool {
    true
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One stage and what entering it requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Its name, e.g. `production`.
    pub name: String,
    /// Passing test evidence for the artifact is required (default true).
    #[serde(default = "default_true")]
    pub requires_tests: bool,
    /// An approved six-eyes verdict covering the artifact's commit is required (default true).
    #[serde(default = "default_true")]
    pub requires_verdicts: bool,
    /// A product owner who is neither a contributor nor the deployer must approve (default false).
    #[serde(default)]
    pub requires_product_owner: bool,
    /// Seconds the artifact must have been in the previous stage (default 0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub soak_seconds: u64,
}

impl StageSpec {
    /// A stage requiring tests and verdicts, no product owner and no soak time.
    pub fn new(name: impl Into<String>) -> Self {
        StageSpec {
            name: name.into(),
            requires_tests: true,
            requires_verdicts: true,
            requires_product_owner: false,
            soak_seconds: 0,
        }
    }

    /// A first stage: nothing is required to enter it.
    fn entry(name: &str) -> Self {
        StageSpec {
            requires_tests: false,
            requires_verdicts: false,
            ..Self::new(name)
        }
    }

    /// Requires the product owner's approval.
    #[must_use]
    pub fn with_product_owner(mut self) -> Self {
        self.requires_product_owner = true;
        self
    }

    /// Requires the artifact to have been in the previous stage this many seconds.
    #[must_use]
    pub fn with_soak_seconds(mut self, seconds: u64) -> Self {
        self.soak_seconds = seconds;
        self
    }
}

fn default_skipped() -> u8 {
    10
}

/// The chain of stages an artifact passes, in order, and the gate's evidence policy.
///
/// ```
/// use biv_integrity::release::GatePolicy;
/// let p = GatePolicy::from_json(br#"{"stages":[
///     {"name":"ontwikkeling","requires_tests":false,"requires_verdicts":false},
///     {"name":"acceptatie"},
///     {"name":"productie","requires_product_owner":true,"soak_seconds":86400}]}"#)?;
/// assert_eq!(p.previous("productie").map(|s| s.name.as_str()), Some("acceptatie"));
/// assert_eq!(p, GatePolicy::oap().with_soak("productie", 86400));
/// # Ok::<(), biv_integrity::release::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    /// The stages in order; at least two, names unique and non-empty.
    pub stages: Vec<StageSpec>,
    /// Largest share of skipped tests, in percent, that still passes (default 10).
    #[serde(default = "default_skipped")]
    pub max_skipped_percent: u8,
    /// Logins that may approve as product owner; empty: anyone named (default empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_owners: Vec<String>,
    /// Distinct product owners who must approve where one is required (default 1).
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub required_product_owners: u8,
    /// Suite names the test reports must hold together, so a deleted test file or a suite
    /// left out of the report is caught (default none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_suites: Vec<String>,
}

fn default_one() -> u8 {
    1
}

fn is_one(n: &u8) -> bool {
    *n == 1
}

impl Default for GatePolicy {
    fn default() -> Self {
        Self::dtap()
    }
}

impl GatePolicy {
    fn chain(names: &[&str]) -> Self {
        let mut stages: Vec<StageSpec> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let spec = if i == 0 {
                StageSpec::entry(name)
            } else if i + 1 == names.len() {
                StageSpec::new(*name).with_product_owner()
            } else {
                StageSpec::new(*name)
            };
            stages.push(spec);
        }
        GatePolicy {
            stages,
            max_skipped_percent: default_skipped(),
            product_owners: Vec::new(),
            required_product_owners: 1,
            expected_suites: Vec::new(),
        }
    }

    /// development → test → acceptance → production; production needs the product owner.
    pub fn dtap() -> Self {
        Self::chain(&["development", "test", "acceptance", "production"])
    }

    /// The Dutch names: ontwikkeling → test → acceptatie → productie.
    pub fn otap() -> Self {
        Self::chain(&["ontwikkeling", "test", "acceptatie", "productie"])
    }

    /// OTAP without test: ontwikkeling → acceptatie → productie.
    pub fn oap() -> Self {
        Self::chain(&["ontwikkeling", "acceptatie", "productie"])
    }

    /// Only these logins may approve as product owner, and `required` of them must.
    #[must_use]
    pub fn with_product_owners<I, S>(mut self, logins: I, required: u8) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.product_owners = logins.into_iter().map(Into::into).collect();
        self.required_product_owners = required;
        self
    }

    /// Requires a suite of this name in the test reports.
    #[must_use]
    pub fn with_expected_suite(mut self, name: impl Into<String>) -> Self {
        self.expected_suites.push(name.into());
        self
    }

    /// Sets the soak time before entering `stage` (no effect for an unknown stage).
    #[must_use]
    pub fn with_soak(mut self, stage: &str, seconds: u64) -> Self {
        if let Some(s) = self.stages.iter_mut().find(|s| s.name == stage) {
            s.soak_seconds = seconds;
        }
        self
    }

    /// Reads and validates a policy from JSON (unknown members refused).
    ///
    /// # Errors
    /// [`ModelError::Chain`] when it is not JSON of this shape or not valid.
    pub fn from_json(json: &[u8]) -> Result<Self, ModelError> {
        let policy: GatePolicy =
            serde_json::from_slice(json).map_err(|e| ModelError::Chain(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks: at least two stages, names non-empty and unique, the skipped share ≤ 100, at
    /// least one product owner required, no empty login or suite name.
    ///
    /// # Errors
    /// [`ModelError::Chain`] naming the problem.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.stages.len() < 2 {
            return Err(ModelError::Chain("at least two stages are needed".into()));
        }
        for (i, s) in self.stages.iter().enumerate() {
            if s.name.trim().is_empty() {
                return Err(ModelError::Chain(format!("stage {i} has no name")));
            }
            if self.stages[..i].iter().any(|o| o.name == s.name) {
                return Err(ModelError::Chain(format!(
                    "stage {:?} appears twice",
                    s.name
                )));
            }
        }
        if self.max_skipped_percent > 100 {
            return Err(ModelError::Chain("max_skipped_percent is above 100".into()));
        }
        if self.required_product_owners == 0 {
            return Err(ModelError::Chain("required_product_owners is 0".into()));
        }
        if self.product_owners.iter().any(|p| p.trim().is_empty()) {
            return Err(ModelError::Chain("an empty product owner login".into()));
        }
        if self.expected_suites.iter().any(String::is_empty) {
            return Err(ModelError::Chain("an empty expected suite name".into()));
        }
        Ok(())
    }

    /// The stage's position in the chain.
    pub fn position(&self, stage: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == stage)
    }

    /// The stage named so.
    pub fn stage(&self, stage: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|s| s.name == stage)
    }

    /// The stage before it, if any.
    pub fn previous(&self, stage: &str) -> Option<&StageSpec> {
        self.position(stage)
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.stages.get(i))
    }
}
