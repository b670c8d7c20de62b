//! Audit events modelled on NEN 7513, and the [`AuditSink`] that records them.

mod event;
mod ids;
mod sink;

pub use event::{
    AccessPoint, AccessPointKind, Actor, AuditEvent, AuditEventBuilder, AuditEventError,
    AuthorizationContext, EventAction, InvolvedObject, ObjectType, Outcome, SourceSystem,
};
pub use ids::{ActionName, EventId, SealedDetail, SubjectRef};
pub use sink::{AuditAppendError, AuditReceipt, AuditSink};
