//! The NEN 7513 audit event.

use serde::{Deserialize, Serialize};

use super::ids::{ActionName, EventId, SealedDetail, SubjectRef};
use crate::Timestamp;

/// What kind of action an event records: NEN 7513 / RFC 3881 `EventActionCode`.
///
/// Serialized as the single letter of the standard (`"C"`, `"R"`, `"U"`, `"D"`, `"E"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventAction {
    /// Create: a record, dossier or identifier was made.
    #[serde(rename = "C")]
    Create,
    /// Read: data was viewed, printed, copied or searched.
    #[serde(rename = "R")]
    Read,
    /// Update: data was changed, merged or split.
    #[serde(rename = "U")]
    Update,
    /// Delete: data was removed or a key destroyed.
    #[serde(rename = "D")]
    Delete,
    /// Execute: a function ran (an export, a login, a break-glass grant, a search).
    #[serde(rename = "E")]
    Execute,
}

impl EventAction {
    /// The NEN 7513 / RFC 3881 code letter.
    pub fn code(&self) -> char {
        match self {
            EventAction::Create => 'C',
            EventAction::Read => 'R',
            EventAction::Update => 'U',
            EventAction::Delete => 'D',
            EventAction::Execute => 'E',
        }
    }
}

/// How the action ended: NEN 7513 / RFC 3881 `EventOutcomeIndicator`.
///
/// A refused access is [`Outcome::SeriousFailure`] (the action was terminated), as in IHE ATNA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Code 0: the action succeeded.
    Success,
    /// Code 4: minor failure, the action was restarted (e.g. a mistyped password).
    MinorFailure,
    /// Code 8: serious failure, the action was terminated (e.g. access denied).
    SeriousFailure,
    /// Code 12: major failure, the action made the system unavailable.
    MajorFailure,
}

impl Outcome {
    /// The numeric RFC 3881 code: 0, 4, 8 or 12.
    pub fn code(&self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::MinorFailure => 4,
            Outcome::SeriousFailure => 8,
            Outcome::MajorFailure => 12,
        }
    }
}

/// A person or system that took part in the event (NEN 7513 §7.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Actor {
    /// The stable user id in the host's identity system (`UserID`).
    pub id: String,
    /// Display name (`UserName`), if the host records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role code at the time of the event (`RoleIDCode`), e.g. `physician`, `nurse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Actor {
    /// An actor with an id only.
    pub fn new(id: impl Into<String>) -> Self {
        Actor {
            id: id.into(),
            name: None,
            role: None,
        }
    }

    /// Sets the role.
    #[must_use]
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Sets the display name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// The kind of network access point (RFC 3881 `NetworkAccessPointTypeCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccessPointKind {
    /// Code 1: a machine name (DNS name).
    MachineName,
    /// Code 2: an IP address.
    IpAddress,
    /// Code 3: a telephone number.
    TelephoneNumber,
    /// Code 4: an e-mail address.
    EmailAddress,
    /// Code 5: a URI.
    Uri,
}

/// Where the user acted from (NEN 7513 §7.3 access point).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AccessPoint {
    /// What `id` is.
    pub kind: AccessPointKind,
    /// The address, name or number.
    pub id: String,
}

impl AccessPoint {
    /// An access point.
    pub fn new(kind: AccessPointKind, id: impl Into<String>) -> Self {
        AccessPoint {
            kind,
            id: id.into(),
        }
    }
}

/// The type of an involved object (RFC 3881 `ParticipantObjectTypeCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectType {
    /// Code 1: a person.
    Person,
    /// Code 2: a system object (a record, a document, a file, a key).
    SystemObject,
    /// Code 3: an organisation.
    Organization,
    /// Code 4: anything else.
    Other,
}

/// An object the event touched (NEN 7513 §7.4 involved object).
///
/// `id` identifies the object in the host (a record id, a document id). It must not be a direct
/// personal identifier such as a BSN: refer to people through [`SubjectRef`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InvolvedObject {
    /// The object type.
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    /// Its role in the event (`ParticipantObjectTypeCodeRole`), e.g. `report`, `resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// What kind of id `id` is (`ParticipantObjectIDTypeCode`), e.g. `medication-order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_type: Option<String>,
    /// The object's id in the host.
    pub id: String,
    /// Data life cycle stage (`ParticipantObjectDataLifeCycle`), e.g. `origination`, `access`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<String>,
    /// Sensitivity label (`ParticipantObjectSensitivity`), e.g. `special-category`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<String>,
}

impl InvolvedObject {
    /// An object with a type and an id.
    pub fn new(object_type: ObjectType, id: impl Into<String>) -> Self {
        InvolvedObject {
            object_type,
            role: None,
            id_type: None,
            id: id.into(),
            lifecycle: None,
            sensitivity: None,
        }
    }

    /// Sets the role.
    #[must_use]
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Sets the id type.
    #[must_use]
    pub fn with_id_type(mut self, id_type: impl Into<String>) -> Self {
        self.id_type = Some(id_type.into());
        self
    }

    /// Sets the sensitivity label.
    #[must_use]
    pub fn with_sensitivity(mut self, sensitivity: impl Into<String>) -> Self {
        self.sensitivity = Some(sensitivity.into());
        self
    }
}

/// The system that reported the event (RFC 3881 audit source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SourceSystem {
    /// The system's id (`AuditSourceID`), e.g. `ehr-api`.
    pub system: String,
    /// The site or organisation (`AuditEnterpriseSiteID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The kind of source (`AuditSourceTypeCode`), e.g. `application-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The software version that reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl SourceSystem {
    /// A source system by id.
    pub fn new(system: impl Into<String>) -> Self {
        SourceSystem {
            system: system.into(),
            site: None,
            kind: None,
            version: None,
        }
    }

    /// Sets the site.
    #[must_use]
    pub fn with_site(mut self, site: impl Into<String>) -> Self {
        self.site = Some(site.into());
        self
    }

    /// Sets the version.
    #[must_use]
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }
}

/// The Dutch authorisation context of an access (Logius NEN 7513 extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthorizationContext {
    /// The authorisation protocol applied (`autorisatieProtocol`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The treatment relation protocol (`behandelrelatieProtocol`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment_relation: Option<String>,
    /// The consent profile (`toestemmingsProfiel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_profile: Option<String>,
    /// The checks that were made (`controles`), e.g. `treatment-relation-verified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
}

impl AuthorizationContext {
    /// An empty context; fill the fields you have.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the protocol.
    #[must_use]
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Adds a check that was made.
    #[must_use]
    pub fn with_check(mut self, check: impl Into<String>) -> Self {
        self.checks.push(check.into());
        self
    }
}

/// One auditable action, with the fields NEN 7513 asks for.
///
/// NEN 7513 ch. 5 requires at least: which event, when, which patient, who the user was and the
/// responsible user on whose behalf the user acted. This type carries those and the optional
/// groups of ch. 7 (access point, involved objects, source, authorisation context, break-glass).
/// The patient is a [`SubjectRef`] (a keyed pseudonym), never a BSN in clear.
///
/// Build one with [`AuditEvent::builder`]. The JSON form (serde) is specified in
/// `docs/formats/audit-event.md`.
///
/// # Example
/// ```
/// use biv_core::{Actor, AuditEvent, EventAction, EventId, Outcome, SourceSystem, SubjectRef, Timestamp};
///
/// let event = AuditEvent::builder(
///     EventId::from_bytes([7; 16]),
///     Timestamp::parse_rfc3339("2026-11-26T09:30:00Z")?,
///     EventAction::Read,
///     "record.read",
///     Actor::new("u-1042").with_role("physician"),
///     SourceSystem::new("ehr-api"),
/// )
/// .subject(SubjectRef::parse("hmac-sha256:t1:9f86d081884c7d659a2feaa0c55ad015")?)
/// .purpose_of_use("treatment")
/// .build()?;
/// assert_eq!(event.outcome, Outcome::Success);
/// assert_eq!(event.action_name.as_str(), "record.read");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditEvent {
    /// Unique id of this event (`EventID` instance).
    pub id: EventId,
    /// The NEN 7513 action class.
    pub action: EventAction,
    /// The host's name for the action (`EventTypeCode`), e.g. `record.read`.
    pub action_name: ActionName,
    /// When it happened, in UTC.
    pub time: Timestamp,
    /// How it ended.
    pub outcome: Outcome,
    /// Who performed it.
    pub user: Actor,
    /// On whose behalf the user acted, when that is someone else (NEN 7513 ch. 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsible_user: Option<Actor>,
    /// Why (`PurposeOfUse`), e.g. `treatment`, `billing`, `research`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_of_use: Option<String>,
    /// Where from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_point: Option<AccessPoint>,
    /// The patient or data subject, pseudonymised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<SubjectRef>,
    /// Other objects involved (records, documents, keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<InvolvedObject>,
    /// The reporting system.
    pub source: SourceSystem,
    /// `true` when access was granted through an emergency (break-glass) procedure.
    #[serde(default)]
    pub break_glass: bool,
    /// The authorisation context, when the host has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationContext>,
    /// Detail sealed for the data subject (`ParticipantObjectDetail`), never in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<SealedDetail>,
}

/// Why an [`AuditEvent`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditEventError {
    /// The action name breaks its rule.
    #[error(transparent)]
    ActionName(#[from] crate::InvalidName),
    /// A required text field is empty or only white space.
    #[error("audit event field `{field}` must not be empty")]
    EmptyField {
        /// The field's name in the JSON form.
        field: &'static str,
    },
    /// A break-glass event must say which protocol or reason applied.
    #[error("a break-glass event needs an authorization context with a protocol")]
    BreakGlassWithoutProtocol,
}

impl AuditEvent {
    /// Starts an event with the fields every event has; the outcome defaults to success.
    pub fn builder(
        id: EventId,
        time: Timestamp,
        action: EventAction,
        action_name: impl Into<String>,
        user: Actor,
        source: SourceSystem,
    ) -> AuditEventBuilder {
        AuditEventBuilder {
            id,
            time,
            action,
            action_name: action_name.into(),
            outcome: Outcome::Success,
            user,
            responsible_user: None,
            purpose_of_use: None,
            access_point: None,
            subject: None,
            objects: Vec::new(),
            source,
            break_glass: false,
            authorization: None,
            detail: None,
        }
    }

    /// Checks the rules a deserialized event must also meet (the builder applies them too).
    ///
    /// # Errors
    /// The first rule broken.
    pub fn validate(&self) -> Result<(), AuditEventError> {
        let required = [
            ("user.id", Some(self.user.id.as_str())),
            (
                "responsible_user.id",
                self.responsible_user.as_ref().map(|a| a.id.as_str()),
            ),
            ("source.system", Some(self.source.system.as_str())),
            (
                "access_point.id",
                self.access_point.as_ref().map(|a| a.id.as_str()),
            ),
        ];
        for (field, value) in required {
            if value.is_some_and(|v| v.trim().is_empty()) {
                return Err(AuditEventError::EmptyField { field });
            }
        }
        if self.objects.iter().any(|o| o.id.trim().is_empty()) {
            return Err(AuditEventError::EmptyField {
                field: "objects[].id",
            });
        }
        let has_protocol = self
            .authorization
            .as_ref()
            .is_some_and(|a| a.protocol.as_ref().is_some_and(|p| !p.trim().is_empty()));
        if self.break_glass && !has_protocol {
            return Err(AuditEventError::BreakGlassWithoutProtocol);
        }
        Ok(())
    }
}

/// Builds an [`AuditEvent`]; see [`AuditEvent::builder`].
#[derive(Debug, Clone)]
pub struct AuditEventBuilder {
    id: EventId,
    time: Timestamp,
    action: EventAction,
    action_name: String,
    outcome: Outcome,
    user: Actor,
    responsible_user: Option<Actor>,
    purpose_of_use: Option<String>,
    access_point: Option<AccessPoint>,
    subject: Option<SubjectRef>,
    objects: Vec<InvolvedObject>,
    source: SourceSystem,
    break_glass: bool,
    authorization: Option<AuthorizationContext>,
    detail: Option<SealedDetail>,
}

impl AuditEventBuilder {
    /// Sets the outcome.
    #[must_use]
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Sets the responsible user on whose behalf the user acted.
    #[must_use]
    pub fn responsible_user(mut self, actor: Actor) -> Self {
        self.responsible_user = Some(actor);
        self
    }

    /// Sets the purpose of use.
    #[must_use]
    pub fn purpose_of_use(mut self, purpose: impl Into<String>) -> Self {
        self.purpose_of_use = Some(purpose.into());
        self
    }

    /// Sets the access point.
    #[must_use]
    pub fn access_point(mut self, access_point: AccessPoint) -> Self {
        self.access_point = Some(access_point);
        self
    }

    /// Sets the data subject.
    #[must_use]
    pub fn subject(mut self, subject: SubjectRef) -> Self {
        self.subject = Some(subject);
        self
    }

    /// Adds an involved object.
    #[must_use]
    pub fn object(mut self, object: InvolvedObject) -> Self {
        self.objects.push(object);
        self
    }

    /// Marks the event as a break-glass access; it then needs an authorisation protocol.
    #[must_use]
    pub fn break_glass(mut self, break_glass: bool) -> Self {
        self.break_glass = break_glass;
        self
    }

    /// Sets the authorisation context.
    #[must_use]
    pub fn authorization(mut self, authorization: AuthorizationContext) -> Self {
        self.authorization = Some(authorization);
        self
    }

    /// Attaches detail sealed for the data subject.
    #[must_use]
    pub fn detail(mut self, detail: SealedDetail) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Validates and builds the event.
    ///
    /// # Errors
    /// [`AuditEventError`] naming the first rule broken.
    pub fn build(self) -> Result<AuditEvent, AuditEventError> {
        let event = AuditEvent {
            id: self.id,
            action: self.action,
            action_name: ActionName::new(self.action_name)?,
            time: self.time,
            outcome: self.outcome,
            user: self.user,
            responsible_user: self.responsible_user,
            purpose_of_use: self.purpose_of_use,
            access_point: self.access_point,
            subject: self.subject,
            objects: self.objects,
            source: self.source,
            break_glass: self.break_glass,
            authorization: self.authorization,
            detail: self.detail,
        };
        event.validate()?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> AuditEventBuilder {
        AuditEvent::builder(
            EventId::from_bytes([1; 16]),
            Timestamp::from_unix_seconds(1_795_713_743, 0).unwrap(),
            EventAction::Read,
            "record.read",
            Actor::new("u-1"),
            SourceSystem::new("ehr-api"),
        )
    }

    #[test]
    fn json_form_is_stable() {
        let e = base()
            .subject(SubjectRef::parse("hmac-sha256:t1:0123456789abcdef0123").unwrap())
            .object(InvolvedObject::new(ObjectType::SystemObject, "rec-9").with_role("report"))
            .build()
            .unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"id":"01010101-0101-0101-0101-010101010101","action":"R","action_name":"record.read","time":"2026-11-26T17:22:23Z","outcome":"success","user":{"id":"u-1"},"subject":"hmac-sha256:t1:0123456789abcdef0123","objects":[{"type":"system_object","role":"report","id":"rec-9"}],"source":{"system":"ehr-api"},"break_glass":false}"#
        );
        assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), e);
    }

    #[test]
    fn rules_are_enforced() {
        assert!(matches!(
            base().break_glass(true).build(),
            Err(AuditEventError::BreakGlassWithoutProtocol)
        ));
        let ok = base()
            .break_glass(true)
            .authorization(AuthorizationContext::new().with_protocol("spoedprocedure-v2"))
            .build();
        assert!(ok.is_ok());
        let mut e = base().build().unwrap();
        e.user.id = "  ".into();
        assert_eq!(
            e.validate(),
            Err(AuditEventError::EmptyField { field: "user.id" })
        );
        let bad = AuditEvent::builder(
            EventId::from_bytes([1; 16]),
            Timestamp::UNIX_EPOCH,
            EventAction::Read,
            "Bad Name",
            Actor::new("u"),
            SourceSystem::new("s"),
        );
        assert!(matches!(bad.build(), Err(AuditEventError::ActionName(_))));
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        let good = serde_json::to_value(base().build().unwrap()).unwrap();
        let mut extra = good.clone();
        extra["bsn"] = "123456782".into();
        assert!(serde_json::from_value::<AuditEvent>(extra).is_err());
        let mut bad_action = good.clone();
        bad_action["action"] = "X".into();
        assert!(serde_json::from_value::<AuditEvent>(bad_action).is_err());
        let mut bad_time = good.clone();
        bad_time["time"] = "yesterday".into();
        assert!(serde_json::from_value::<AuditEvent>(bad_time).is_err());
        let mut nested = good;
        nested["user"]["bsn"] = "123456782".into();
        assert!(serde_json::from_value::<AuditEvent>(nested).is_err());
    }

    #[test]
    fn codes_match_rfc_3881() {
        assert_eq!(
            [
                Outcome::Success,
                Outcome::MinorFailure,
                Outcome::SeriousFailure,
                Outcome::MajorFailure
            ]
            .map(|o| o.code()),
            [0, 4, 8, 12]
        );
        assert_eq!(
            [
                EventAction::Create,
                EventAction::Read,
                EventAction::Update,
                EventAction::Delete,
                EventAction::Execute
            ]
            .map(|a| a.code()),
            ['C', 'R', 'U', 'D', 'E']
        );
    }
}
