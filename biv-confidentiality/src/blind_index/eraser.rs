//! The shred hook: the host deletes a data subject's stored blind-index values.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use biv_core::BackendError;

/// Deletes every blind-index value the host stores for one data subject, when the subject is
/// crypto-shredded ([`Shredder`](crate::keys::Shredder)).
///
/// Blind-index values are keyed HMACs under tenant-wide keys: whoever holds the index key and a
/// candidate BSN can still link them to the subject after its data keys are gone, so they are
/// personal data and must go too. biv does not know where the host keeps them (index columns,
/// a lookup table), hence this hook.
///
/// ```
/// use biv_confidentiality::blind_index::BlindIndexEraser;
/// use biv_core::BackendError;
///
/// #[derive(Debug)]
/// struct PatientIndexes;
///
/// #[async_trait::async_trait]
/// impl BlindIndexEraser for PatientIndexes {
///     async fn erase_subject(&self, tenant: &[u8], subject: &[u8]) -> Result<u64, BackendError> {
///         // e.g. UPDATE patients SET bsn_bidx = NULL WHERE tenant = $1 AND subject_ref = $2
///         let _ = (tenant, subject);
///         Ok(2)
///     }
/// }
/// ```
#[async_trait]
pub trait BlindIndexEraser: Send + Sync + Debug {
    /// Deletes (or nulls) every blind-index value of `subject` in `tenant`; returns how many
    /// values were deleted. Must be idempotent: a shred may be retried.
    ///
    /// # Errors
    /// A [`BackendError`] when the values could not be deleted; the shred reports it.
    async fn erase_subject(&self, tenant: &[u8], subject: &[u8]) -> Result<u64, BackendError>;
}

#[async_trait]
impl<T: BlindIndexEraser + ?Sized> BlindIndexEraser for Arc<T> {
    async fn erase_subject(&self, tenant: &[u8], subject: &[u8]) -> Result<u64, BackendError> {
        (**self).erase_subject(tenant, subject).await
    }
}
