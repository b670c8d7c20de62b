//! Conformance checks for [`AuditSink`] implementations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use biv_core::{AuditAppendError, AuditEvent, AuditReceipt, AuditSink, EventId};

use crate::samples::sample_event;

/// A sample event with an id no other call in this process (or an earlier run) has used.
fn fresh_event(n: u64) -> AuditEvent {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&nanos.to_be_bytes());
    id[8..].copy_from_slice(&count.to_be_bytes());
    let mut event = sample_event(n);
    event.id = EventId::from_bytes(id);
    event
}

async fn append_ok(sink: &dyn AuditSink, event: &AuditEvent, rule: &str) -> AuditReceipt {
    match sink.append(event).await {
        Ok(r) => r,
        Err(e) => panic!("{rule}: a valid event was refused: {e}"),
    }
}

/// Sixteen appends get consecutive indices and distinct entry digests.
pub async fn receipts_are_dense_and_increasing(sink: Arc<dyn AuditSink>) {
    let mut receipts = Vec::new();
    for n in 0..16 {
        receipts
            .push(append_ok(&*sink, &fresh_event(n), "receipts_are_dense_and_increasing").await);
    }
    for pair in receipts.windows(2) {
        assert_eq!(
            pair[1].index(),
            pair[0].index() + 1,
            "indices must be consecutive: {pair:?}"
        );
    }
    let mut digests: Vec<_> = receipts.iter().map(|r| *r.entry_digest()).collect();
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(
        digests.len(),
        receipts.len(),
        "different events must have different entry digests"
    );
}

/// An event that breaks [`AuditEvent::validate`] is refused with `Invalid` and takes no index.
pub async fn invalid_events_are_rejected_and_not_recorded(sink: Arc<dyn AuditSink>) {
    let before = append_ok(&*sink, &fresh_event(1), "invalid_events_are_rejected").await;
    let mut bad = fresh_event(2);
    bad.break_glass = true;
    bad.authorization = None;
    match sink.append(&bad).await {
        Err(AuditAppendError::Invalid(_)) => {}
        other => panic!("a break-glass event without a protocol must be Invalid, got {other:?}"),
    }
    let mut blank_user = fresh_event(3);
    blank_user.user.id = " ".into();
    match sink.append(&blank_user).await {
        Err(AuditAppendError::Invalid(_)) => {}
        other => panic!("an event with a blank user id must be Invalid, got {other:?}"),
    }
    let after = append_ok(&*sink, &fresh_event(4), "invalid_events_are_rejected").await;
    assert_eq!(
        after.index(),
        before.index() + 1,
        "a refused event must not take an index"
    );
}

/// Appending the same event id twice is refused with `Duplicate` and takes no index.
pub async fn duplicate_event_ids_are_rejected(sink: Arc<dyn AuditSink>) {
    let event = fresh_event(5);
    let first = append_ok(&*sink, &event, "duplicate_event_ids_are_rejected").await;
    match sink.append(&event).await {
        Err(AuditAppendError::Duplicate) => {}
        other => panic!("a replayed event id must be Duplicate, got {other:?}"),
    }
    let next = append_ok(&*sink, &fresh_event(6), "duplicate_event_ids_are_rejected").await;
    assert_eq!(
        next.index(),
        first.index() + 1,
        "a refused duplicate must not take an index"
    );
}

/// 64 appends from 8 concurrent tasks all succeed with 64 distinct indices forming one range.
pub async fn concurrent_appends_get_distinct_dense_indices(sink: Arc<dyn AuditSink>) {
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8u64 {
        let sink = Arc::clone(&sink);
        tasks.spawn(async move {
            let mut indices = Vec::new();
            for i in 0..8u64 {
                let r = append_ok(&*sink, &fresh_event(t * 8 + i), "concurrent_appends").await;
                indices.push(r.index());
            }
            indices
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(indices) => all.extend(indices),
            Err(e) => panic!("concurrent_appends: a task failed: {e}"),
        }
    }
    all.sort_unstable();
    assert_eq!(all.len(), 64);
    for pair in all.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "concurrent appends must get distinct, gap-free indices"
        );
    }
}
