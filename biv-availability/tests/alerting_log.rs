//! `LogNotifier`: an alert becomes one ECS log line with its level, name, labels and state.

use std::sync::Arc;
use std::time::Duration;

use biv_availability::alerting::LogNotifier;
use biv_availability::logging::{EcsLayer, ServiceInfo};
use biv_core::{Alert, Clock, Finding, Notifier, Redactor, Severity, Timestamp};
use biv_testkit::{InMemoryLogSink, ManualClock};
use tracing_subscriber::prelude::*;

/// Finds nothing: these alerts carry no personal data.
#[derive(Debug)]
struct Nothing;

impl Redactor for Nothing {
    fn scan(&self, _text: &str) -> Vec<Finding> {
        Vec::new()
    }
}

#[test]
fn alerts_are_logged_with_level_name_labels_and_state() {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-26T09:30:00Z").expect("test setup"),
    ));
    let sink = Arc::new(InMemoryLogSink::with_capacity(16));
    let layer = EcsLayer::new(
        ServiceInfo::new("ehr-api"),
        Arc::new(Nothing),
        sink.clone(),
        clock.clone(),
    );
    let notifier = LogNotifier::new(clock.clone());
    let firing = Alert::new("BivDiskFilling", Severity::Critical, clock.now())
        .expect("test setup")
        .with_label("signal", "disk_available_bytes")
        .expect("test setup")
        .with_annotation("summary", "the data disk is full within 4 hours");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("test setup");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        runtime.block_on(async {
            notifier.notify(&firing).await.expect("test setup");
            clock.advance(Duration::from_secs(60));
            let resolved = firing.clone().resolved_at(clock.now()).expect("test setup");
            notifier.notify(&resolved).await.expect("test setup");
            notifier
                .notify(&Alert::new("BivNote", Severity::Warning, clock.now()).expect("test setup"))
                .await
                .expect("test setup");
        });
    });
    let lines: Vec<serde_json::Value> = sink
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("test setup"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["log.level"], "error");
    assert_eq!(lines[0]["message"], "the data disk is full within 4 hours");
    assert_eq!(lines[0]["event.kind"], "alert");
    assert_eq!(lines[0]["event.action"], "firing");
    assert_eq!(lines[0]["rule.name"], "BivDiskFilling");
    assert_eq!(
        lines[0]["alert.labels"],
        "alertname=BivDiskFilling,severity=critical,signal=disk_available_bytes"
    );
    assert_eq!(lines[1]["log.level"], "info");
    assert_eq!(lines[1]["event.action"], "resolved");
    assert_eq!(lines[2]["log.level"], "warn");
    assert_eq!(lines[2]["message"], "BivNote");
}
