//! The reference deployment's disk watch: a disk that fills within the horizon raises
//! `BivDataDiskFilling`; a steady disk raises nothing.

use std::sync::Arc;

use biv_availability::metrics::{Format, Registry};
use biv_core::Timestamp;
use biv_reference::watch::{
    CONSECUTIVE, WARM_UP, WATCH_INTERVAL, disk_exhaustion_monitor, score_gauge,
};
use biv_testkit::{InMemoryNotifier, ManualClock};

/// Feeds `samples` one [`WATCH_INTERVAL`] apart; returns the notifier and the metrics text.
async fn watch(samples: impl Iterator<Item = f64>) -> (Arc<InMemoryNotifier>, String) {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-26T09:00:00Z").expect("a valid time"),
    ));
    let notifier = Arc::new(InMemoryNotifier::new());
    let registry = Registry::new();
    let mut monitor = disk_exhaustion_monitor(
        notifier.clone(),
        clock.clone(),
        score_gauge(&registry).expect("a fresh registry"),
    )
    .expect("the constants are valid");
    for value in samples {
        monitor
            .observe(value)
            .await
            .expect("the in-memory notifier accepts");
        clock.advance(WATCH_INTERVAL);
    }
    (notifier, registry.encode(Format::Prometheus))
}

/// The number of samples after which the gate fires: the first reading needs two samples, then
/// the warm-up, then the readings in a row.
fn samples_to_fire() -> u32 {
    1 + u32::try_from(WARM_UP).expect("small") + CONSECUTIVE
}

/// 100 GB free, losing 10 MB/s: empty in under 3 hours, inside the 4 hour horizon.
fn falling(n: u32) -> impl Iterator<Item = f64> {
    (0..n).map(|i| 100e9 - f64::from(i) * 10e6 * WATCH_INTERVAL.as_secs_f64())
}

#[tokio::test]
async fn a_disk_that_fills_within_hours_raises_the_alert_after_the_gate() {
    let falling = falling(samples_to_fire());
    let (notifier, metrics) = watch(falling).await;
    let alerts = notifier.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert.name(), "BivDataDiskFilling");
    assert_eq!(alert.labels()["signal"], "disk_available_bytes");
    assert_eq!(alert.labels()["service"], "biv-reference");
    assert_eq!(alert.labels()["detector"], "linear_exhaustion");
    assert!(alert.annotations()["description"].contains("limit reached in"));
    let score: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("biv_anomaly_score{signal=\"disk_available_bytes\"} "))
        .expect("the score is exported")
        .parse()
        .expect("a number");
    assert!(score >= 0.0, "{score}");
}

#[tokio::test]
async fn the_gate_needs_its_warm_up_and_readings_in_a_row() {
    // One sample short of the gate: nothing yet.
    let (notifier, _) = watch(falling(samples_to_fire() - 1)).await;
    assert!(notifier.alerts().is_empty());
}

#[tokio::test]
async fn a_steady_or_slowly_filling_disk_raises_nothing() {
    let n = samples_to_fire() + 60;
    let steady = (0..n).map(|i| 50e9 + if i % 2 == 0 { 1e6 } else { -1e6 });
    let (notifier, _) = watch(steady).await;
    assert!(notifier.alerts().is_empty());
    // 100 GB losing 1 MB/s lasts more than a day: outside the 4 hour horizon.
    let slow = (0..n).map(|i| 100e9 - f64::from(i) * 1e6 * WATCH_INTERVAL.as_secs_f64());
    let (notifier, _) = watch(slow).await;
    assert!(notifier.alerts().is_empty());
}
