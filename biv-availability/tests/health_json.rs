//! The health+json format: the draft's own example parses, and the example in
//! docs/formats/health-json.md is exactly what biv produces.

use std::sync::Arc;

use biv_availability::health::{CheckOptions, FnMonitor, Group, HealthRegistry, HealthReport};
use biv_core::{CheckResult, Status, Timestamp};
use biv_testkit::ManualClock;

#[test]
fn the_draft_06_example_parses() {
    let text = include_str!("data/health-draft06-example.json");
    let report = HealthReport::from_json(text).unwrap();
    assert_eq!(report.status, Status::Pass);
    let keys: Vec<&str> = report.checks.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "cassandra:connections",
            "cassandra:responseTime",
            "cpu:utilization",
            "memory:utilization",
            "uptime"
        ]
    );
    let cassandra = &report.checks["cassandra:responseTime"][0];
    assert_eq!(cassandra.name, "cassandra:responseTime");
    assert_eq!(cassandra.component_type.as_deref(), Some("datastore"));
    assert_eq!(cassandra.observed_value, Some(250.0));
    assert_eq!(cassandra.observed_unit.as_deref(), Some("ms"));
    assert_eq!(cassandra.time.as_deref(), Some("2018-01-17T03:36:48Z"));
    assert_eq!(report.checks["cpu:utilization"].len(), 2);
    assert_eq!(report.checks["memory:utilization"][1].status, Status::Pass);
    assert_eq!(
        report.checks["uptime"][0].observed_value,
        Some(1_209_600.245)
    );
}

/// The first ```json block after `marker` in the format document.
fn json_block_after(doc: &str, marker: &str) -> String {
    let start = doc.find(marker).expect("the marker is in the document");
    let rest = &doc[start..];
    let open = rest.find("```json\n").expect("a json block follows") + "```json\n".len();
    let close = rest[open..].find("```").expect("the block ends");
    rest[open..open + close].to_owned()
}

#[tokio::test]
async fn the_documented_example_is_what_biv_produces() {
    let doc = include_str!("../../docs/formats/health-json.md");
    let expected = json_block_after(doc, "<!-- example: ready -->");
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").unwrap(),
    ));
    let registry = HealthRegistry::builder(clock)
        .check(
            FnMonitor::new("postgres:responseTime", || async {
                CheckResult::pass().with_observed(3.5, "ms")
            })
            .with_component_type("datastore"),
            CheckOptions::new([Group::Ready]),
        )
        .check(
            FnMonitor::new("disk:free", || async {
                CheckResult::warn("/var/lib/app: 8.2% free, below the warning threshold of 10%")
                    .with_observed(8.2, "percent")
            })
            .with_component_type("system"),
            CheckOptions::new([Group::Ready]),
        )
        .check(
            FnMonitor::new("cache:responseTime", || async {
                CheckResult::fail("cannot connect to 10.0.0.7:6379: connection refused")
            }),
            CheckOptions::new([Group::Ready]).non_critical(),
        )
        .build();
    registry.refresh_now().await;
    let produced: serde_json::Value =
        serde_json::from_str(&registry.report(&Group::Ready).to_json()).unwrap();
    let documented: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(produced, documented);
}

#[test]
fn output_is_omitted_for_pass_and_non_finite_values_are_dropped() {
    let entry = biv_availability::health::CheckEntry::new(
        "x:y",
        "component",
        CheckResult::pass().with_observed(f64::NAN, "ms"),
        Timestamp::UNIX_EPOCH,
    );
    let mut report = HealthReport::new();
    report.push(entry);
    assert_eq!(
        report.to_json(),
        r#"{"status":"pass","checks":{"x:y":[{"componentType":"component","observedUnit":"ms","status":"pass","time":"1970-01-01T00:00:00Z"}]}}"#
    );
}
