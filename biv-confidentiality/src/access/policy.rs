//! Access decisions: may this person, in this role, for this purpose, read this patient's data?

use std::fmt::Debug;

use biv_core::{AccessPoint, Actor, Context, SubjectRef};

/// A request to read special personal data, with everything the decision and the NEN 7513 record
/// need.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccessRequest {
    /// Who asks (with their role).
    pub user: Actor,
    /// On whose behalf, if someone else is responsible.
    pub responsible_user: Option<Actor>,
    /// Why, as a code (`treatment`, `billing`, …).
    pub purpose: String,
    /// The patient, pseudonymised.
    pub subject: SubjectRef,
    /// Where the field lives (its encryption context).
    pub context: Context,
    /// Where the request comes from.
    pub access_point: Option<AccessPoint>,
    /// Whether the host established a treatment relation between user and patient.
    pub treatment_relation: bool,
    /// A break-glass request, with the reason the user stated.
    pub break_glass_reason: Option<String>,
    /// The system asking (NEN 7513 source).
    pub source_system: String,
}

impl AccessRequest {
    /// A request for `purpose` by `user` about `subject`, for the field at `context`.
    pub fn new(
        user: Actor,
        purpose: impl Into<String>,
        subject: SubjectRef,
        context: Context,
        source_system: impl Into<String>,
    ) -> Self {
        AccessRequest {
            user,
            responsible_user: None,
            purpose: purpose.into(),
            subject,
            context,
            access_point: None,
            treatment_relation: false,
            break_glass_reason: None,
            source_system: source_system.into(),
        }
    }

    /// Records that a treatment relation exists.
    #[must_use]
    pub fn with_treatment_relation(mut self) -> Self {
        self.treatment_relation = true;
        self
    }

    /// Asks for emergency (break-glass) access, stating why.
    #[must_use]
    pub fn break_glass(mut self, reason: impl Into<String>) -> Self {
        self.break_glass_reason = Some(reason.into());
        self
    }

    /// Sets the access point.
    #[must_use]
    pub fn from(mut self, access_point: AccessPoint) -> Self {
        self.access_point = Some(access_point);
        self
    }
}

/// The outcome of an access decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessDecision {
    /// Allowed; `basis` names the rule (recorded as the authorisation protocol).
    Permit {
        /// The rule that allowed it.
        basis: String,
    },
    /// Allowed only through the emergency procedure: recorded as break-glass, alerted.
    PermitBreakGlass {
        /// The reason the user stated.
        reason: String,
    },
    /// Refused.
    Deny {
        /// Why, as a code (recorded as a check).
        reason: String,
    },
}

/// Decides on an [`AccessRequest`] before anything is decrypted. Pure: no I/O, same answer for
/// the same request.
pub trait AccessPolicy: Send + Sync + Debug {
    /// The decision.
    fn decide(&self, request: &AccessRequest) -> AccessDecision;
}

/// One rule of a [`RolePolicy`]: a role may read for these purposes, optionally only with a
/// treatment relation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoleRule {
    /// The role (as in `Actor::role`).
    pub role: String,
    /// The purposes of use it may read for.
    pub purposes: Vec<String>,
    /// Whether a treatment relation is required.
    pub requires_treatment_relation: bool,
}

impl RoleRule {
    /// A rule.
    pub fn new(
        role: impl Into<String>,
        purposes: &[&str],
        requires_treatment_relation: bool,
    ) -> Self {
        RoleRule {
            role: role.into(),
            purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
            requires_treatment_relation,
        }
    }
}

/// A role/purpose/treatment-relation policy with break-glass for listed roles.
///
/// ```
/// use biv_confidentiality::access::{AccessDecision, AccessPolicy, AccessRequest, RolePolicy, RoleRule};
/// use biv_core::{Actor, Context, SubjectRef};
///
/// let policy = RolePolicy::new(vec![RoleRule::new("physician", &["treatment"], true)], &["physician"]);
/// let subject = SubjectRef::parse("hmac-sha256:t1:9f86d081884c7d659a2feaa0c55ad015")?;
/// let req = AccessRequest::new(Actor::new("u-1").with_role("physician"), "treatment", subject, Context::new(), "ehr");
/// assert!(matches!(policy.decide(&req), AccessDecision::Deny { .. })); // no treatment relation
/// assert!(matches!(policy.decide(&req.clone().break_glass("patient unconscious at ER")), AccessDecision::PermitBreakGlass { .. }));
/// assert!(matches!(policy.decide(&req.with_treatment_relation()), AccessDecision::Permit { .. }));
/// # Ok::<(), biv_core::InvalidName>(())
/// ```
#[derive(Debug, Clone)]
pub struct RolePolicy {
    rules: Vec<RoleRule>,
    break_glass_roles: Vec<String>,
}

impl RolePolicy {
    /// A policy from rules and the roles that may use break-glass.
    pub fn new(rules: Vec<RoleRule>, break_glass_roles: &[&str]) -> Self {
        RolePolicy {
            rules,
            break_glass_roles: break_glass_roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

impl AccessPolicy for RolePolicy {
    fn decide(&self, request: &AccessRequest) -> AccessDecision {
        let role = request.user.role.as_deref().unwrap_or("");
        let permitted = self.rules.iter().find(|r| {
            r.role == role
                && r.purposes.contains(&request.purpose)
                && (!r.requires_treatment_relation || request.treatment_relation)
        });
        if let Some(rule) = permitted {
            return AccessDecision::Permit {
                basis: format!("role-policy:{}:{}", rule.role, request.purpose),
            };
        }
        match request.break_glass_reason.as_deref().map(str::trim) {
            Some(reason)
                if !reason.is_empty() && self.break_glass_roles.iter().any(|r| r == role) =>
            {
                AccessDecision::PermitBreakGlass {
                    reason: reason.to_owned(),
                }
            }
            Some("") => AccessDecision::Deny {
                reason: "break-glass-without-reason".into(),
            },
            Some(_) => AccessDecision::Deny {
                reason: "role-may-not-break-glass".into(),
            },
            None => AccessDecision::Deny {
                reason: if self
                    .rules
                    .iter()
                    .any(|r| r.role == role && r.purposes.contains(&request.purpose))
                {
                    "no-treatment-relation".into()
                } else {
                    "role-or-purpose-not-permitted".into()
                },
            },
        }
    }
}
