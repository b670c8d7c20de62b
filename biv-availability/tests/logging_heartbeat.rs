//! The heartbeat is an ECS record of the system dataset with a growing sequence, beats on its
//! own until its handle is dropped, and a receiver finds the gaps in what it saw.

use std::sync::Arc;
use std::time::Duration;

use biv_availability::logging::{
    EcsLayer, Heartbeat, HeartbeatSeen, HeartbeatSpawnError, ServiceInfo, heartbeat_gaps,
};
use biv_core::{Finding, Redactor, Timestamp};
use biv_testkit::{InMemoryLogSink, ManualClock};
use tracing_subscriber::prelude::*;

#[derive(Debug)]
struct NoPii;

impl Redactor for NoPii {
    fn scan(&self, _: &str) -> Vec<Finding> {
        Vec::new()
    }
}

fn capture(f: impl FnOnce()) -> Vec<serde_json::Value> {
    let sink = Arc::new(InMemoryLogSink::new());
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-26T09:30:00Z").expect("test helper"),
    ));
    let layer = EcsLayer::new(
        ServiceInfo::new("ehr-api"),
        Arc::new(NoPii),
        sink.clone(),
        clock,
    );
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    sink.lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("test helper"))
        .collect()
}

fn sequences(lines: &[serde_json::Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|v| v["labels"]["sequence"].as_u64().expect("test helper"))
        .collect()
}

#[test]
fn each_tick_is_a_system_heartbeat_record_with_the_next_sequence() {
    let heartbeat = Heartbeat::new();
    let lines = capture(|| {
        assert_eq!(heartbeat.tick(), 1);
        assert_eq!(heartbeat.tick(), 2);
        assert_eq!(heartbeat.tick(), 3);
    });
    assert_eq!(lines.len(), 3);
    for v in &lines {
        assert_eq!(v["event.dataset"], "system", "{v}");
        assert_eq!(v["event.action"], "heartbeat", "{v}");
        assert_eq!(v["log.level"], "info", "{v}");
        assert_eq!(v["message"], "heartbeat", "{v}");
    }
    assert_eq!(sequences(&lines), [1, 2, 3]);
    assert_eq!(heartbeat.last_sequence(), 3);
}

#[test]
fn spawned_heartbeat_beats_until_its_handle_is_dropped() {
    let heartbeat = Arc::new(Heartbeat::new());
    let lines = capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let handle = Arc::clone(&heartbeat)
                .spawn(Duration::from_millis(10))
                .unwrap();
            while heartbeat.last_sequence() < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            drop(handle);
            let stopped_at = heartbeat.last_sequence();
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(heartbeat.last_sequence(), stopped_at);
        });
    });
    let seq = sequences(&lines);
    assert!(seq.len() >= 3);
    assert_eq!(seq, (1..=seq.len() as u64).collect::<Vec<_>>());
}

#[test]
fn spawn_refuses_a_zero_interval_and_a_missing_runtime() {
    let heartbeat = Arc::new(Heartbeat::new());
    assert_eq!(
        Arc::clone(&heartbeat).spawn(Duration::from_secs(60)).err(),
        Some(HeartbeatSpawnError::NoRuntime)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    assert_eq!(
        heartbeat.spawn(Duration::ZERO).err(),
        Some(HeartbeatSpawnError::ZeroInterval)
    );
}

fn at(minute: i64, extra_secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_795_680_000 + 60 * minute + extra_secs, 0).expect("test helper")
}

#[test]
fn regular_beats_have_no_gaps_in_any_order_and_with_duplicates() {
    let mut seen: Vec<HeartbeatSeen> = (1..=10)
        .map(|n| HeartbeatSeen::new(n, at(n as i64, (n % 3) as i64)))
        .collect();
    seen.reverse();
    seen.push(seen[4]);
    assert!(heartbeat_gaps(&seen, Duration::from_secs(60)).is_empty());
    assert!(heartbeat_gaps(&[], Duration::from_secs(60)).is_empty());
    assert!(heartbeat_gaps(&seen[..1], Duration::from_secs(60)).is_empty());
}

#[test]
fn a_missing_sequence_is_a_gap() {
    let seen = [1, 2, 5, 6].map(|n| HeartbeatSeen::new(n, at(n as i64, 0)));
    let gaps = heartbeat_gaps(&seen, Duration::from_secs(60));
    assert_eq!(gaps.len(), 1);
    assert_eq!((gaps[0].after.sequence, gaps[0].before.sequence), (2, 5));
    assert_eq!((gaps[0].missing, gaps[0].restarted), (2, false));
}

#[test]
fn a_late_beat_is_a_gap_even_with_consecutive_sequences() {
    let seen = [
        HeartbeatSeen::new(1, at(0, 0)),
        HeartbeatSeen::new(2, at(1, 0)),
        HeartbeatSeen::new(3, at(4, 0)), // stalled for three minutes
    ];
    let gaps = heartbeat_gaps(&seen, Duration::from_secs(60));
    assert_eq!(gaps.len(), 1);
    assert_eq!((gaps[0].after.sequence, gaps[0].missing), (2, 0));
}

#[test]
fn a_restart_is_a_gap_only_when_beats_are_missing_in_time() {
    let quick = [
        HeartbeatSeen::new(7, at(0, 0)),
        HeartbeatSeen::new(8, at(1, 0)),
        HeartbeatSeen::new(1, at(1, 30)), // restarted within the interval
        HeartbeatSeen::new(2, at(2, 30)),
    ];
    assert!(heartbeat_gaps(&quick, Duration::from_secs(60)).is_empty());
    let slow = [
        HeartbeatSeen::new(8, at(1, 0)),
        HeartbeatSeen::new(1, at(5, 0)),
    ];
    let gaps = heartbeat_gaps(&slow, Duration::from_secs(60));
    assert_eq!(gaps.len(), 1);
    assert!(gaps[0].restarted);
}
