//! [`InMemoryAuditSink`]: an [`AuditSink`] that keeps events in memory.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{AuditAppendError, AuditEvent, AuditReceipt, AuditSink, EventId};
use sha2::{Digest, Sha256};

#[derive(Debug, Default)]
struct State {
    entries: Vec<(AuditEvent, AuditReceipt)>,
    ids: HashSet<EventId>,
    unavailable: bool,
}

/// An [`AuditSink`] for tests: it keeps every event in memory and follows the trait's whole
/// contract (validation, duplicate ids, dense indices), so code under test sees the same
/// behaviour as with the real log. The receipt digest is SHA-256 of the event's JSON.
///
/// [`InMemoryAuditSink::set_unavailable`] makes appends fail with
/// [`AuditAppendError::Timeout`], to test that a host fails closed.
///
/// ```
/// use biv_core::AuditSink;
/// use biv_testkit::{InMemoryAuditSink, sample_event};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sink = InMemoryAuditSink::new();
/// let receipt = sink.append(&sample_event(1)).await?;
/// assert_eq!(receipt.index(), 0);
/// sink.set_unavailable(true);
/// assert!(sink.append(&sample_event(2)).await.is_err());
/// assert_eq!(sink.events().len(), 1);
/// # Ok::<(), biv_core::AuditAppendError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct InMemoryAuditSink {
    state: Mutex<State>,
}

impl InMemoryAuditSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// When `true`, every append fails with [`AuditAppendError::Timeout`] and records nothing.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// The recorded events, in order.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.lock().entries.iter().map(|(e, _)| e.clone()).collect()
    }

    /// The receipts handed out, in order.
    pub fn receipts(&self) -> Vec<AuditReceipt> {
        self.lock().entries.iter().map(|(_, r)| *r).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every mutation below completes before the guard drops, so a poisoned lock still
        // holds consistent state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl AuditSink for InMemoryAuditSink {
    async fn append(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        event.validate()?;
        let json = serde_json::to_vec(event)
            .map_err(|e| AuditAppendError::Backend(biv_core::BackendError::new(e)))?;
        let digest: [u8; 32] = Sha256::digest(&json).into();
        let mut state = self.lock();
        if state.unavailable {
            return Err(AuditAppendError::Timeout {
                waited: Duration::ZERO,
            });
        }
        if !state.ids.insert(event.id) {
            return Err(AuditAppendError::Duplicate);
        }
        let index = u64::try_from(state.entries.len()).unwrap_or(u64::MAX);
        let receipt = AuditReceipt::new(index, digest);
        state.entries.push((event.clone(), receipt));
        Ok(receipt)
    }
}
