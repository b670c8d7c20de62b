//! Conformance checks for [`Notifier`] implementations.

use std::sync::Arc;

use biv_core::{Notifier, Timestamp};

use crate::samples::sample_alert;

/// A firing alert and then its resolution are both accepted.
pub async fn accepts_firing_then_resolved(notifier: Arc<dyn Notifier>) {
    let firing = sample_alert("BivConformanceFiring");
    if let Err(e) = notifier.notify(&firing).await {
        panic!("a firing alert was refused: {e}");
    }
    let end = firing
        .starts_at()
        .checked_add(std::time::Duration::from_secs(60))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let resolved = match firing.resolved_at(end) {
        Ok(r) => r,
        Err(e) => panic!("cannot build the resolved alert: {e}"),
    };
    if let Err(e) = notifier.notify(&resolved).await {
        panic!("a resolved alert was refused: {e}");
    }
}

/// Eight alerts sent concurrently are all accepted.
pub async fn concurrent_notifications_are_accepted(notifier: Arc<dyn Notifier>) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let notifier = Arc::clone(&notifier);
        tasks.spawn(async move {
            notifier
                .notify(&sample_alert(&format!("BivConformance{i}")))
                .await
                .err()
                .map(|e| e.to_string())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(None) => {}
            Ok(Some(e)) => panic!("a concurrent alert was refused: {e}"),
            Err(e) => panic!("a notifying task failed: {e}"),
        }
    }
}
