//! The NEN 7513 patient access report from the example events, through a real file log.

use biv_core::{AuditEvent, Timestamp};
use biv_integrity::audit::decode_entry;
use biv_integrity::report::PatientReport;
use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions};
use biv_integrity::tlog::Ed25519Signer;

fn example_events() -> Vec<AuditEvent> {
    include_str!("../../examples/audit-events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("example event"))
        .collect()
}

#[test]
fn report_lists_one_patients_accesses_in_order_from_verified_entries() {
    let dir = std::env::temp_dir().join(format!("biv-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    // Append in reverse to show the report sorts by time, not by log position.
    for e in example_events().iter().rev() {
        log.append_blocking(e).unwrap();
    }
    let verified: Vec<(u64, AuditEvent)> = (0..log.size())
        .map(|i| (i, decode_entry(&log.entry(i).unwrap()).unwrap()))
        .collect();
    let break_glass = verified
        .iter()
        .find(|(_, e)| e.break_glass)
        .unwrap()
        .1
        .clone();
    let patient = break_glass.subject.clone().unwrap();
    let expected = verified
        .iter()
        .filter(|(_, e)| e.subject.as_ref() == Some(&patient))
        .count();
    assert!(expected >= 3, "the example patient has several accesses");

    let report = PatientReport::build(
        &patient,
        None,
        None,
        verified.clone(),
        log.size(),
        log.root(),
    )
    .unwrap();
    assert_eq!(report.rows.len(), expected);
    assert!(
        report.rows.windows(2).all(|w| w[0].time <= w[1].time),
        "chronological"
    );
    let row = report.rows.iter().find(|r| r.break_glass).unwrap();
    assert_eq!(row.time, break_glass.time);
    assert_eq!(
        row.authorisation_protocol.as_deref(),
        Some("spoedtoegang-v1")
    );
    assert!(
        report
            .rows
            .iter()
            .all(|r| verified[r.log_index as usize].1.subject.as_ref() == Some(&patient))
    );

    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), expected);
    let html = report.to_html();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("class=\"noodtoegang\""));
    assert!(html.contains(patient.as_str()));
    assert_eq!(html.matches("<tr class=\"noodtoegang\">").count(), 1);

    // A period that ends before the break-glass access leaves it out.
    let before = Timestamp::from_unix_seconds(break_glass.time.unix_seconds() - 1, 0).unwrap();
    let early = PatientReport::build(
        &patient,
        None,
        Some(before),
        verified.clone(),
        log.size(),
        log.root(),
    )
    .unwrap();
    assert!(
        early
            .rows
            .iter()
            .all(|r| !r.break_glass && r.time <= before)
    );
    assert!(
        PatientReport::build(
            &patient,
            Some(break_glass.time),
            Some(before),
            verified,
            0,
            [0; 32]
        )
        .is_err()
    );
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn test_key() -> CheckpointKey {
    CheckpointKey::ed25519(
        Ed25519Signer::from_seed("biv.test/audit", &[7; 32]).expect("valid key name"),
    )
}
