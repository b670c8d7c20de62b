//! Audit entries match the known-answer vectors in docs/formats, and the example events in
//! examples/audit-events.jsonl are valid, distinct and cover what NEN 7513 asks to log.

use biv_core::{AuditEvent, EventAction, Outcome};
use biv_integrity::audit::{decode_entry, encode_entry};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn entry_vectors() {
    let text = include_str!("../../docs/formats/audit-entry-vectors.json");
    let vectors: Vec<serde_json::Value> = serde_json::from_str(text).expect("vectors are JSON");
    assert!(vectors.len() >= 4);
    for v in &vectors {
        let event: AuditEvent = serde_json::from_value(v["event"].clone()).expect("event parses");
        let entry = encode_entry(&event).expect("event encodes");
        assert_eq!(
            hex(&entry),
            v["entry_hex"].as_str().unwrap(),
            "{}",
            v["description"]
        );
        let leaf = Sha256::digest([&[0u8][..], &entry].concat());
        assert_eq!(
            hex(&leaf),
            v["leaf_hash_hex"].as_str().unwrap(),
            "{}",
            v["description"]
        );
        assert_eq!(decode_entry(&entry).expect("entry decodes"), event);
    }
}

#[test]
fn example_events_are_valid_distinct_and_complete() {
    let text = include_str!("../../examples/audit-events.jsonl");
    let events: Vec<AuditEvent> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
        })
        .collect();
    assert!(events.len() >= 30, "at least 30 example events");
    let mut ids: Vec<_> = events.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "event ids are distinct");
    for e in &events {
        e.validate().unwrap_or_else(|err| panic!("{}: {err}", e.id));
        encode_entry(e).unwrap_or_else(|err| panic!("{}: {err}", e.id));
    }
    let has = |f: &dyn Fn(&AuditEvent) -> bool| events.iter().any(f);
    assert!(
        has(&|e| e.action == EventAction::Read && e.outcome == Outcome::Success),
        "a read"
    );
    assert!(has(&|e| e.action == EventAction::Update), "an update");
    assert!(
        has(&|e| e.action_name.as_str() == "record.search"),
        "a search"
    );
    assert!(
        has(&|e| e.action_name.as_str() == "record.export"),
        "an export"
    );
    assert!(has(&|e| e.break_glass), "a break-glass access");
    assert!(
        has(&|e| e.outcome == Outcome::SeriousFailure),
        "a denied access"
    );
    assert!(
        has(&|e| e.action_name.as_str() == "key.shred"),
        "a key shredding"
    );
    assert!(
        has(&|e| e.responsible_user.is_some()),
        "an action on someone's behalf"
    );
}
