//! The [`AuditSink`] trait: where audit events become durable.

use std::fmt::{self, Debug};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::event::{AuditEvent, AuditEventError};
use crate::BackendError;

/// Proof that an event was recorded durably: its position in the log and the digest of the
/// stored entry.
///
/// ```
/// use biv_core::AuditReceipt;
/// let r = AuditReceipt::new(41, [0xab; 32]);
/// assert_eq!(r.index(), 41);
/// assert!(r.to_string().starts_with("41:abab"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuditReceipt {
    index: u64,
    entry_digest: [u8; 32],
}

impl AuditReceipt {
    /// A receipt for the entry at `index` whose stored bytes hash to `entry_digest`.
    ///
    /// For biv's Merkle log the digest is the RFC 6962 leaf hash; other sinks use SHA-256 of
    /// what they stored, or another 32-byte digest they document.
    pub const fn new(index: u64, entry_digest: [u8; 32]) -> Self {
        AuditReceipt {
            index,
            entry_digest,
        }
    }

    /// The entry's zero-based position in the log.
    pub const fn index(&self) -> u64 {
        self.index
    }

    /// The digest of the stored entry.
    pub const fn entry_digest(&self) -> &[u8; 32] {
        &self.entry_digest
    }
}

impl fmt::Display for AuditReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.index)?;
        self.entry_digest
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Debug for AuditReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditReceipt({self})")
    }
}

/// Why an event was not recorded. The host must treat every variant as "not recorded" and, for
/// access to patient data, refuse the action (fail closed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditAppendError {
    /// The event breaks a rule of [`AuditEvent::validate`].
    #[error("audit event rejected: {0}")]
    Invalid(#[from] AuditEventError),
    /// The encoded entry is larger than the sink accepts.
    #[error("audit entry of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
        /// The sink's limit in bytes.
        limit: usize,
    },
    /// The event id was recorded before (replay).
    #[error("audit event id was already recorded")]
    Duplicate,
    /// The entry could not be made durable within the sink's bounded wait.
    #[error("audit append not durable after {waited:?}; the action must be refused")]
    Timeout {
        /// How long the sink waited.
        waited: Duration,
    },
    /// The sink was shut down.
    #[error("audit sink is closed")]
    Closed,
    /// The storage behind the sink failed.
    #[error("audit storage failed: {0}")]
    Backend(#[source] BackendError),
}

/// Records audit events durably. Implemented by biv-integrity's Merkle log (file and PostgreSQL
/// stores), by `biv_testkit::InMemoryAuditSink`, and by hosts with stores of their own.
///
/// # Contract
/// - `append` returns a receipt **only after** the entry is durable (fsynced or committed).
/// - It fails closed: when durability cannot be reached within a bounded wait it returns
///   [`AuditAppendError::Timeout`]; it never hangs and never acknowledges early.
/// - It calls [`AuditEvent::validate`] and rejects invalid events with
///   [`AuditAppendError::Invalid`], and rejects an event id it has already recorded with
///   [`AuditAppendError::Duplicate`].
/// - Receipts carry strictly increasing, gap-free indices in append order, starting at the
///   log's current size.
///
/// `biv_testkit::audit_sink_conformance!` checks these rules against any implementation.
///
/// # Example
/// ```
/// use biv_core::{AuditEvent, AuditSink, AuditAppendError};
///
/// async fn read_record(audit: &dyn AuditSink, event: AuditEvent) -> Result<&'static str, AuditAppendError> {
///     // Record first; only a durable record allows the read (NEN 7513, fail closed).
///     let _receipt = audit.append(&event).await?;
///     Ok("the record")
/// }
/// ```
#[async_trait]
pub trait AuditSink: Send + Sync + Debug {
    /// Records one event durably and returns its receipt.
    ///
    /// # Errors
    /// See [`AuditAppendError`]. After an error the host treats the action as not recorded.
    /// Only after [`AuditAppendError::Timeout`] or [`AuditAppendError::Backend`] may the entry
    /// still turn up in the log later (recorded but never acknowledged): the log errs towards
    /// recording too much, never too little.
    async fn append(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError>;
}

#[async_trait]
impl<T: AuditSink + ?Sized> AuditSink for Arc<T> {
    async fn append(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        (**self).append(event).await
    }
}

#[async_trait]
impl<T: AuditSink + ?Sized> AuditSink for Box<T> {
    async fn append(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        (**self).append(event).await
    }
}
