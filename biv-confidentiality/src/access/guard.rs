//! [`GuardedDecryptor`]: decide, decrypt, record — and return plaintext only when the record is
//! durable.

use std::fmt;
use std::sync::Arc;

use biv_core::{
    Alert, AuditAppendError, AuditEvent, AuditEventError, AuditSink, AuthorizationContext, Clock,
    Context, DecryptError, Encryptor, EventAction, EventId, InvolvedObject, Notifier, ObjectType,
    Outcome, SealedDetail, SecretBytes, Severity, SourceSystem,
};

use super::policy::{AccessDecision, AccessPolicy, AccessRequest};

/// Why a guarded read returned no plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardedReadError {
    /// The policy refused; the refusal was recorded (if the audit log could take it).
    #[error("access denied: {reason}")]
    Denied {
        /// The policy's reason code.
        reason: String,
    },
    /// Decryption failed (opaque, key destroyed, or key unavailable); the attempt was recorded.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// The access could not be recorded, so no plaintext is returned (fail closed).
    #[error("the access could not be recorded; no plaintext returned: {0}")]
    NotRecorded(#[from] AuditAppendError),
    /// The audit event could not be built from the request (an invalid field).
    #[error("invalid access request: {0}")]
    InvalidRequest(#[from] AuditEventError),
    /// No randomness for the event id.
    #[error("no randomness for the audit event id")]
    NoRandomness,
}

/// Reads special personal data the NEN 7513 way: the [`AccessPolicy`] decides before anything is
/// decrypted; every read — allowed, refused, or failed — is recorded through the [`AuditSink`];
/// plaintext is returned only once that record is durable; a break-glass read is flagged in the
/// record and raises a critical alert through the [`Notifier`].
pub struct GuardedDecryptor {
    encryptor: Arc<dyn Encryptor>,
    policy: Arc<dyn AccessPolicy>,
    audit: Arc<dyn AuditSink>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for GuardedDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedDecryptor")
            .field("encryptor", &self.encryptor)
            .field("policy", &self.policy)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

impl GuardedDecryptor {
    /// Wires the pillars together: confidentiality's encryptor and policy, integrity's audit sink,
    /// availability's notifier, and a clock.
    pub fn new(
        encryptor: Arc<dyn Encryptor>,
        policy: Arc<dyn AccessPolicy>,
        audit: Arc<dyn AuditSink>,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        GuardedDecryptor {
            encryptor,
            policy,
            audit,
            notifier,
            clock,
        }
    }

    /// Decides, decrypts and records one read of `ciphertext` (bound to `request.context`).
    ///
    /// # Errors
    /// [`GuardedReadError`]; on any error no plaintext is returned.
    pub async fn read(
        &self,
        request: &AccessRequest,
        ciphertext: &[u8],
    ) -> Result<SecretBytes, GuardedReadError> {
        let decision = self.policy.decide(request);
        let (authorization, break_glass) = match &decision {
            AccessDecision::Permit { basis } => (
                AuthorizationContext::new().with_protocol(basis.clone()),
                false,
            ),
            AccessDecision::PermitBreakGlass { .. } => (
                AuthorizationContext::new()
                    .with_protocol("break-glass")
                    .with_check("reason-stated"),
                true,
            ),
            AccessDecision::Deny { reason } => {
                let event = self.event(
                    request,
                    Outcome::SeriousFailure,
                    AuthorizationContext::new().with_check(reason.clone()),
                    false,
                )?;
                // The refusal stands whether or not it could be recorded.
                let _ = self.audit.append(&event).await;
                return Err(GuardedReadError::Denied {
                    reason: reason.clone(),
                });
            }
        };
        let result = self.encryptor.decrypt(ciphertext, &request.context).await;
        let outcome = if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::MinorFailure
        };
        let mut event = self.event(request, outcome, authorization, break_glass)?;
        if let AccessDecision::PermitBreakGlass { reason } = &decision {
            // The stated reason is free text: it goes into the record sealed for the patient,
            // never in clear.
            event.detail = Some(self.seal_reason(request, reason).await?);
        }
        // Record before anything leaves: a failed append drops (and zeroizes) the plaintext.
        self.audit.append(&event).await?;
        if break_glass {
            self.alert(request).await;
        }
        Ok(result?)
    }

    fn event(
        &self,
        request: &AccessRequest,
        outcome: Outcome,
        authorization: AuthorizationContext,
        break_glass: bool,
    ) -> Result<AuditEvent, GuardedReadError> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|_| GuardedReadError::NoRandomness)?;
        // RFC 9562 version 4 / variant bits, so the id is a valid random UUID.
        id[6] = (id[6] & 0x0f) | 0x40;
        id[8] = (id[8] & 0x3f) | 0x80;
        let mut object = InvolvedObject::new(ObjectType::SystemObject, field_name(request))
            .with_role("resource")
            .with_sensitivity("special-category");
        object.lifecycle = Some("access".into());
        let mut builder = AuditEvent::builder(
            EventId::from_bytes(id),
            self.clock.now(),
            EventAction::Read,
            "record.read",
            request.user.clone(),
            SourceSystem::new(request.source_system.clone()),
        )
        .outcome(outcome)
        .subject(request.subject.clone())
        .purpose_of_use(request.purpose.clone())
        .object(object)
        .authorization(authorization)
        .break_glass(break_glass);
        if let Some(r) = &request.responsible_user {
            builder = builder.responsible_user(r.clone());
        }
        if let Some(ap) = &request.access_point {
            builder = builder.access_point(ap.clone());
        }
        Ok(builder.build()?)
    }

    async fn seal_reason(
        &self,
        request: &AccessRequest,
        reason: &str,
    ) -> Result<SealedDetail, GuardedReadError> {
        let mut ctx = Context::new();
        for name in ["tenant", "subject"] {
            if let Some(v) = request.context.get(name) {
                ctx = ctx.with(name, v).map_err(|_| GuardedReadError::Denied {
                    reason: "invalid-context".into(),
                })?;
            }
        }
        let ctx = ctx
            .with("table", "audit")
            .and_then(|c| c.with("column", "break_glass_reason"))
            .map_err(|_| GuardedReadError::Denied {
                reason: "invalid-context".into(),
            })?;
        let sealed = self
            .encryptor
            .encrypt(reason.as_bytes(), &ctx)
            .await
            .map_err(|_| GuardedReadError::Denied {
                reason: "reason-not-sealed".into(),
            })?;
        SealedDetail::parse(&crate::envelope::to_text(&sealed)).map_err(|_| {
            GuardedReadError::Denied {
                reason: "reason-not-sealed".into(),
            }
        })
    }

    async fn alert(&self, request: &AccessRequest) {
        let alert = Alert::new("BivBreakGlassAccess", Severity::Critical, self.clock.now())
            .and_then(|a| a.with_label("source", request.source_system.clone()))
            .map(|a| {
                a.with_annotation("summary", "emergency access to special personal data")
                    .with_annotation("user", request.user.id.clone())
                    .with_annotation("subject", request.subject.to_string())
            });
        if let Ok(alert) = alert {
            // Delivery is best effort here: the access is already recorded and flagged in the
            // audit log, which the daily review reads.
            let _ = self.notifier.notify(&alert).await;
        }
    }
}

/// `table.column` from the context (not personal data), for the involved object's id.
fn field_name(request: &AccessRequest) -> String {
    let get = |name| {
        request
            .context
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    match (get("table"), get("column")) {
        (Some(t), Some(c)) => format!("{t}.{c}"),
        (Some(t), None) => t,
        _ => "field".to_owned(),
    }
}
