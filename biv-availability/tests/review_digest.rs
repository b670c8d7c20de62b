//! The daily log review digest: every section from realistic input (ECS lines written by the
//! real `EcsLayer`, audit events, a metrics scrape), safe HTML and Markdown, byte-identical
//! output, and the reviewer's sign-off recorded as an audit event.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use biv_availability::logging::{DropCounters, EcsLayer, Heartbeat, ServiceInfo};
use biv_availability::metrics::{Format, Registry, encode};
use biv_availability::review::{
    AccessKind, CounterSnapshot, Digest, DigestBuilder, DigestConfig, DigestError, DigestInput,
    GapKind, LocalTime, ReviewWindow, SIGN_OFF_ACTION, SignOff, SignOffError, SignOffRecorder,
    WindowError, WorkingHours, error_fingerprint,
};
use biv_core::{
    Actor, AuditEvent, AuthorizationContext, EventAction, EventId, Finding, ObjectType, Outcome,
    PiiKind, Redactor, SourceSystem, SubjectRef, Timestamp,
};
use biv_testkit::{InMemoryAuditSink, InMemoryLogSink, ManualClock};
use tracing_subscriber::prelude::*;

const WINDOW_END: &str = "2026-11-26T06:00:00Z";

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("test setup")
}

fn window() -> ReviewWindow {
    ReviewWindow::ending_at(at(WINDOW_END)).expect("test setup")
}

/// Masks every run of nine digits (a stand-in for biv-confidentiality's redactor).
#[derive(Debug)]
struct NineDigits;

impl Redactor for NineDigits {
    fn scan(&self, text: &str) -> Vec<Finding> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i + 9 <= b.len() {
            if b[i..i + 9].iter().all(u8::is_ascii_digit) {
                out.push(Finding::new(PiiKind::Bsn, i, i + 9, 0.9));
                i += 9;
            } else {
                i += 1;
            }
        }
        out
    }
}

/// Runs `f` under the real ECS layer for `service` (on `node`) and returns the lines it wrote.
/// `f` sets the clock before each event.
fn ecs_lines(service: &str, node: &str, f: impl FnOnce(&ManualClock)) -> Vec<String> {
    let sink = Arc::new(InMemoryLogSink::new());
    let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
    let mut info = ServiceInfo::new(service).with_version("4.2.1");
    info.node = Some(node.to_owned());
    let layer = EcsLayer::new(info, Arc::new(NineDigits), sink.clone(), clock.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || f(&clock));
    sink.lines()
}

#[derive(Debug)]
struct TestError(&'static str);
impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for TestError {}

/// The ehr-api's log: a known error (in the baseline and twice in the window, with other
/// numbers), a new hostile error, access and application records, and heartbeats every minute
/// with beats 10 to 13 of the window lost, stopping at 05:00.
fn ehr_api_log() -> String {
    let lines = ecs_lines("ehr-api", "pod-a", |clock| {
        clock.set(at("2026-11-20T10:00:00Z"));
        tracing::error!(error.type = "db::Timeout", error = &TestError("timeout after 120 ms") as &dyn std::error::Error, "lookup of record mr-111 failed");
        for (t, record, ms) in [
            ("2026-11-25T09:00:00.250Z", "mr-20431", "5000"),
            ("2026-11-25T11:30:00Z", "mr-977", "250"),
        ] {
            clock.set(at(t));
            let e = format!("timeout after {ms} ms");
            tracing::error!(error.type = "db::Timeout", error.message = e.as_str(), "lookup of record {record} failed");
        }
        clock.set(at("2026-11-25T14:00:00Z"));
        tracing::error!(
            error.type = "tls::Expired",
            "certificate <script>alert(\"x\")</script> & 'quotes' | *bold* for host 7 expired"
        );
        clock.set(at("2026-11-25T15:00:00Z"));
        tracing::warn!("slow query took 1200 ms");
        tracing::info!(
            event.dataset = "access",
            http.request.method = "GET",
            "GET /patients 200"
        );
        tracing::info!(event.dataset = "access", "GET /patients/123456782 200");
        // Outside window and baseline.
        clock.set(at("2026-11-27T00:00:00Z"));
        tracing::info!("tomorrow");
        // Heartbeats: the last baseline beat 30 s before the window, then every minute.
        let heartbeat = Heartbeat::new();
        let mut t = at("2026-11-25T05:59:30Z");
        while t < at("2026-11-26T05:00:00Z") {
            clock.set(t);
            heartbeat.tick();
            t = t.checked_add(Duration::from_secs(60)).expect("test setup");
        }
    });
    // Lose four beats (sequences 10 to 13).
    lines
        .into_iter()
        .filter(|l| !(10..=13).any(|n| l.contains(&format!("\"labels\":{{\"sequence\":{n}}}"))))
        .map(|l| l + "\n")
        .collect()
}

/// A second service, written by another ECS logger (nested keys), with junk lines.
fn billing_log() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(br#"{"@timestamp":"2026-11-25T08:00:00.000Z","log":{"level":"INFO"},"message":"invoice run","service":{"name":"billing"},"event":{"dataset":"application"}}"#);
    out.push(b'\n');
    out.extend_from_slice(br#"{"@timestamp":"2026-11-25T08:01:00.000Z","log":{"level":"error"},"message":"invoice 42 rejected","service":{"name":"billing"}}"#);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b"not json at all\n");
    out.extend_from_slice(b"{\"message\":\"no timestamp\"}\n");
    out.extend_from_slice(b"\xff\xfe\x00\x01 binary\n");
    out.extend_from_slice(b"\n   \n");
    out.extend_from_slice(&vec![b'x'; 10_000]);
    out.push(b'\n');
    out
}

fn subject(n: u32) -> SubjectRef {
    SubjectRef::parse(&format!(
        "hmac-sha256:zn-2026:{:064x}",
        0xabc0_0000_u64 + u64::from(n)
    ))
    .expect("test setup")
}

fn event_id(n: u32) -> EventId {
    let mut bytes = [0x11u8; 16];
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    EventId::from_bytes(bytes)
}

fn read(n: u32, time: &str, user: &str, subject_no: u32) -> AuditEvent {
    AuditEvent::builder(
        event_id(n),
        at(time),
        EventAction::Read,
        "record.read",
        Actor::new(user)
            .with_role("physician")
            .with_name("Dr. A. de Vries"),
        SourceSystem::new("ehr-api"),
    )
    .subject(subject(subject_no))
    .purpose_of_use("treatment")
    .build()
    .expect("test setup")
}

/// Audit events: a break-glass read, a denied read, an export, a night read, u-1042 reading 12
/// patients (2 a day in the baseline), u-2077 reading 12 (10 a day in the baseline).
fn audit_events() -> Vec<AuditEvent> {
    let mut events = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for day in 18..25 {
        for s in 0..2 {
            events.push(read(
                next(),
                &format!("2026-11-{day}T10:00:00Z"),
                "u-1042",
                100 + s,
            ));
        }
        for s in 0..10 {
            events.push(read(
                next(),
                &format!("2026-11-{day}T11:00:00Z"),
                "u-2077",
                200 + s,
            ));
        }
    }
    for s in 0..12 {
        events.push(read(
            next(),
            &format!("2026-11-25T09:{:02}:00Z", s),
            "u-1042",
            300 + s,
        ));
        events.push(read(
            next(),
            &format!("2026-11-25T10:{:02}:00Z", s),
            "u-2077",
            400 + s,
        ));
    }
    let mut glass = read(1000, "2026-11-25T13:15:00Z", "u-4410", 500);
    glass.break_glass = true;
    glass.authorization = Some(AuthorizationContext::new().with_protocol("spoedprocedure-v2"));
    glass.purpose_of_use = Some("emergency-treatment".to_owned());
    events.push(glass);
    let mut denied = read(1001, "2026-11-25T13:20:00Z", "u-6001", 501);
    denied.outcome = Outcome::SeriousFailure;
    events.push(denied);
    let mut export = read(1002, "2026-11-25T13:30:00Z", "u-3001", 502);
    export.action = EventAction::Execute;
    export.action_name = biv_core::ActionName::new("record.export").expect("test setup");
    events.push(export);
    // 23:30 local (UTC+1) on Wednesday.
    events.push(read(1003, "2026-11-25T22:30:00Z", "u-2077", 503));
    // Outside the window and the baseline: ignored.
    events.push(read(1004, "2026-11-26T07:00:00Z", "u-6001", 504));
    events
}

fn counters_before() -> CounterSnapshot {
    // The real exposition of the ECS layer's drop counters (all zero).
    let registry = Registry::new();
    registry.register_collector(Arc::new(DropCounters::default()));
    let mut text = encode(&registry.gather(), Format::Prometheus);
    text.push_str("biv_syslog_records_dropped_total{reason=\"lost\"} 9\n");
    text.push_str("biv_log_records_lost_total 0\n");
    CounterSnapshot::parse_prometheus(&text)
}

fn counters_after() -> CounterSnapshot {
    CounterSnapshot::parse_prometheus(
        "# HELP biv_log_records_dropped_total Log records the ECS layer could not hand to its sink, by reason.\n\
         # TYPE biv_log_records_dropped_total counter\n\
         biv_log_records_dropped_total{reason=\"full\"} 5\n\
         biv_log_records_dropped_total{reason=\"closed\"} 0\n\
         biv_log_records_dropped_total{reason=\"backend\"} 0\n\
         biv_log_records_dropped_total{reason=\"encoding\"} 0\n\
         biv_syslog_records_dropped_total{reason=\"lost\"} 7\n\
         biv_log_records_lost_total 0\n\
         biv_syslog_connections_total 3\n\
         garbage line\n",
    )
}

fn config() -> DigestConfig {
    let mut config = DigestConfig::default();
    config.max_line_bytes = 4096;
    config
}

fn build(config: &DigestConfig, reverse: bool) -> Digest {
    let mut builder = DigestBuilder::new(window(), config.clone());
    let ehr = ehr_api_log();
    let billing = billing_log();
    let mut events = audit_events();
    if reverse {
        events.reverse();
        builder
            .read_log("billing.log", &billing[..])
            .expect("test setup");
        builder.add_audit_events(&events);
        builder
            .read_log("ehr-api.log", ehr.as_bytes())
            .expect("test setup");
    } else {
        builder
            .read_log("ehr-api.log", ehr.as_bytes())
            .expect("test setup");
        builder
            .read_log("billing.log", &billing[..])
            .expect("test setup");
        builder.add_audit_events(&events);
    }
    builder.set_counters(Some(counters_before()), counters_after());
    builder.finish()
}

fn count(list: &[biv_availability::review::KeyCount], key: &str) -> Option<u64> {
    list.iter().find(|c| c.key == key).map(|c| c.count)
}

#[test]
fn counts_records_by_level_service_and_dataset() {
    let d = build(&config(), false);
    let ehr = d
        .logs
        .files
        .iter()
        .find(|f| f.path == "ehr-api.log")
        .expect("test setup");
    // 3 errors, 1 warn, 2 access lines, and the beats from 06:00:30 to 04:59:30 minus 4 lost.
    let beats = 1380 - 4;
    assert_eq!(ehr.in_window, 6 + beats);
    assert_eq!((ehr.in_baseline, ehr.outside), (2, 1));
    assert_eq!(d.logs.records, 6 + beats + 2);
    assert_eq!(count(&d.logs.by_level, "error"), Some(4));
    assert_eq!(count(&d.logs.by_level, "warn"), Some(1));
    assert_eq!(count(&d.logs.by_level, "info"), Some(beats + 3));
    assert_eq!(d.logs.by_level[0].key, "error", "most severe first");
    assert_eq!(count(&d.logs.by_service, "ehr-api"), Some(6 + beats));
    assert_eq!(count(&d.logs.by_service, "billing"), Some(2));
    assert_eq!(count(&d.logs.by_dataset, "access"), Some(2));
    assert_eq!(count(&d.logs.by_dataset, "system"), Some(beats));
    assert_eq!(count(&d.logs.by_dataset, "(none)"), Some(1));
    assert_eq!(d.logs.by_service[0].key, "ehr-api", "most first");
}

#[test]
fn junk_and_over_long_lines_are_counted_not_fatal() {
    let d = build(&config(), false);
    let billing = d
        .logs
        .files
        .iter()
        .find(|f| f.path == "billing.log")
        .expect("test setup");
    assert_eq!(billing.in_window, 2);
    assert_eq!(billing.unparseable, 3, "not JSON, no timestamp, binary");
    assert_eq!(billing.over_long, 1);
    assert_eq!(billing.lines, 6, "blank lines are not counted");
    assert_eq!((d.logs.unparseable, d.logs.over_long), (3, 1));
}

#[test]
fn error_fingerprints_group_variants_and_flag_new_ones() {
    let d = build(&config(), false);
    let fps = &d.errors.fingerprints;
    assert_eq!(d.errors.records, 4);
    assert_eq!(fps.len(), 3, "{fps:#?}");
    let timeout = fps
        .iter()
        .find(|f| f.error_type.as_deref() == Some("db::Timeout"))
        .expect("test setup");
    assert!(!timeout.new, "seen in the baseline");
    assert_eq!((timeout.count, timeout.baseline_count), (2, 1));
    assert_eq!(timeout.first_seen, at("2026-11-25T09:00:00.250Z"));
    assert_eq!(timeout.last_seen, at("2026-11-25T11:30:00Z"));
    assert_eq!(timeout.example, "lookup of record mr-20431 failed");
    assert_eq!(
        timeout.message_pattern.as_deref(),
        Some("lookup of record mr-<n> failed")
    );
    assert_eq!(
        timeout.error_message_pattern.as_deref(),
        Some("timeout after <n> ms")
    );
    assert_eq!(timeout.services, ["ehr-api"]);
    assert_eq!(
        timeout.fingerprint,
        error_fingerprint(
            Some("db::Timeout"),
            Some("lookup of record mr-5 failed"),
            Some("timeout after 1 ms")
        )
    );
    let new: Vec<_> = fps.iter().filter(|f| f.new).collect();
    assert_eq!(new.len(), 2);
    assert!(fps[0].new && fps[1].new && !fps[2].new, "new ones first");
    let tls = new
        .iter()
        .find(|f| f.error_type.as_deref() == Some("tls::Expired"))
        .expect("test setup");
    assert!(tls.example.contains("<script>"), "kept as logged");
    assert_eq!(
        tls.message_pattern.as_deref(),
        Some("certificate <script>alert(<str>)</script> & <str> | *bold* for host <n> expired")
    );
    assert!(new.iter().any(|f| f.services == ["billing"]));
}

#[test]
fn heartbeat_gaps_show_lost_beats_and_the_stop() {
    let d = build(&config(), false);
    let h = &d.heartbeats;
    assert_eq!(h.interval_seconds, 60);
    assert_eq!(h.sources.len(), 1);
    assert_eq!(
        (h.sources[0].service.as_str(), h.sources[0].node.as_str()),
        ("ehr-api", "pod-a")
    );
    assert_eq!(h.sources[0].beats, 1376);
    assert_eq!(h.gaps.len(), 2, "{:#?}", h.gaps);
    let missing = &h.gaps[0];
    assert_eq!(missing.kind, GapKind::Missing);
    assert_eq!(missing.missing_beats, 4);
    // Beat 1 was at 05:59:30 (baseline), beat 9 at 06:07:30, beat 14 at 06:12:30.
    assert_eq!(
        (missing.from, missing.to),
        (at("2026-11-25T06:07:30Z"), at("2026-11-25T06:12:30Z"))
    );
    let trailing = &h.gaps[1];
    assert_eq!(trailing.kind, GapKind::Trailing);
    assert_eq!(
        (trailing.from, trailing.to),
        (at("2026-11-26T04:59:30Z"), at(WINDOW_END))
    );
}

#[test]
fn heartbeats_missing_at_the_start_or_altogether_are_shown() {
    let lines = ecs_lines("ehr-api", "pod-b", |clock| {
        let heartbeat = Heartbeat::new();
        // Baseline beats that stop a day before the window: the process went silent.
        clock.set(at("2026-11-24T06:00:00Z"));
        heartbeat.tick();
    });
    let late_start = ecs_lines("ehr-api", "pod-c", |clock| {
        let heartbeat = Heartbeat::new();
        let mut t = at("2026-11-25T12:00:00Z");
        while t < at("2026-11-26T06:00:00Z") {
            clock.set(t);
            heartbeat.tick();
            t = t.checked_add(Duration::from_secs(60)).expect("test setup");
        }
    });
    let mut builder = DigestBuilder::new(window(), config());
    builder
        .read_log("b.log", lines.join("\n").as_bytes())
        .expect("test setup");
    builder
        .read_log("c.log", late_start.join("\n").as_bytes())
        .expect("test setup");
    let d = builder.finish();
    let kinds: Vec<(&str, GapKind)> = d
        .heartbeats
        .gaps
        .iter()
        .map(|g| (g.node.as_str(), g.kind))
        .collect();
    assert_eq!(
        kinds,
        [("pod-b", GapKind::Trailing), ("pod-c", GapKind::Leading)]
    );
    assert_eq!(d.heartbeats.gaps[1].to, at("2026-11-25T12:00:00Z"));
    assert_eq!(
        d.heartbeats.sources.len(),
        1,
        "pod-b did not beat in the window"
    );

    let empty = DigestBuilder::new(window(), config()).finish();
    assert!(empty.heartbeats.sources.is_empty());
    assert!(
        empty
            .to_markdown()
            .expect("test setup")
            .contains("No heartbeat records in the window")
    );
}

#[test]
fn audit_findings_list_break_glass_denied_exports_and_night_access() {
    let d = build(&config(), false);
    let a = &d.access;
    assert_eq!(a.events, 24 + 4);
    assert_eq!(a.baseline_events, 7 * 12);
    let of = |kind| {
        a.findings
            .iter()
            .filter(move |f| f.kind == kind)
            .collect::<Vec<_>>()
    };
    let glass = of(AccessKind::BreakGlass);
    assert_eq!(glass.len(), 1);
    assert_eq!(glass[0].event_id, event_id(1000));
    assert_eq!(glass[0].user, "u-4410");
    assert_eq!(glass[0].time, at("2026-11-25T13:15:00Z"));
    assert_eq!(glass[0].subject.as_deref(), Some(subject(500).as_str()));
    assert!(
        glass[0].reason.contains("spoedprocedure-v2"),
        "{}",
        glass[0].reason
    );
    assert!(glass[0].reason.contains("emergency-treatment"));
    let denied = of(AccessKind::Denied);
    assert_eq!(
        denied.iter().map(|f| f.event_id).collect::<Vec<_>>(),
        [event_id(1001)]
    );
    assert_eq!(denied[0].outcome, Outcome::SeriousFailure);
    let export = of(AccessKind::Export);
    assert_eq!(
        export.iter().map(|f| f.event_id).collect::<Vec<_>>(),
        [event_id(1002)]
    );
    assert_eq!(export[0].action_name, "record.export");
    let night = of(AccessKind::OutsideWorkingHours);
    assert_eq!(
        night.iter().map(|f| f.event_id).collect::<Vec<_>>(),
        [event_id(1003)]
    );
    assert!(night[0].reason.contains("Wed 23:30"), "{}", night[0].reason);
    // Findings are sorted by kind.
    let kinds: Vec<AccessKind> = a.findings.iter().map(|f| f.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(kinds, sorted);
}

#[test]
fn many_subjects_is_judged_against_the_users_own_baseline() {
    let d = build(&config(), false);
    let many: Vec<_> = d
        .access
        .findings
        .iter()
        .filter(|f| f.kind == AccessKind::ManySubjects)
        .collect();
    // u-1042: 12 subjects against an average of 2 (limit max(10, 3×14/7+1) = 10): listed at
    // the 10th. u-2077: 13 against 10 a day: not listed.
    assert_eq!(many.len(), 1, "{many:#?}");
    assert_eq!(many[0].user, "u-1042");
    assert_eq!(many[0].time, at("2026-11-25T09:09:00Z"));
    assert_eq!(many[0].subject.as_deref(), Some(subject(309).as_str()));
    assert!(
        many[0].reason.starts_with("12 distinct subjects"),
        "{}",
        many[0].reason
    );
    assert!(many[0].reason.contains("average 2.0"), "{}", many[0].reason);

    let mut strict = config();
    strict.many_subjects_absolute = 11;
    let d = build(&strict, false);
    let users: Vec<&str> = d
        .access
        .findings
        .iter()
        .filter(|f| f.kind == AccessKind::ManySubjects)
        .map(|f| f.user.as_str())
        .collect();
    assert_eq!(users, ["u-1042", "u-2077"]);
    let u2077 = d
        .access
        .findings
        .iter()
        .find(|f| f.user == "u-2077" && f.kind == AccessKind::ManySubjects)
        .expect("test setup");
    assert!(
        u2077.reason.contains("more than the limit of 11"),
        "{}",
        u2077.reason
    );
    assert_eq!(u2077.time, at("2026-11-25T10:11:00Z"), "the 12th subject");
}

#[test]
fn working_hours_are_configurable() {
    let mut c = config();
    c.working_hours = None;
    let d = build(&c, false);
    assert!(
        !d.access
            .findings
            .iter()
            .any(|f| f.kind == AccessKind::OutsideWorkingHours)
    );
    // Every day, 00:00–10:00 UTC: the window's 10:xx and 13:xx reads are now outside.
    c.working_hours =
        Some(WorkingHours::new([true; 7], 0, 600, LocalTime::Utc).expect("test setup"));
    let d = build(&c, false);
    let night = d
        .access
        .findings
        .iter()
        .filter(|f| f.kind == AccessKind::OutsideWorkingHours)
        .count();
    assert_eq!(
        night,
        12 + 4,
        "u-2077's 12 reads at 10:xx and the four later events"
    );
}

#[test]
fn the_example_audit_log_yields_its_break_glass_denials_and_exports() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/audit-events.jsonl");
    let text = std::fs::read_to_string(&path).expect("test setup");
    let mut builder = DigestBuilder::new(
        ReviewWindow::ending_at(at("2026-11-24T00:00:00Z")).expect("test setup"),
        config(),
    );
    builder.read_audit_path(&path).expect("test setup");
    builder
        .read_audit_jsonl("junk", &b"{\"id\":1}\nnot json\n\n"[..])
        .expect("test setup");
    let d = builder.finish();
    assert_eq!(d.access.events, text.lines().count() as u64);
    assert_eq!(d.access.unparseable, 2);
    let of = |kind| {
        d.access
            .findings
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.action_name.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(AccessKind::BreakGlass), ["record.read"]);
    assert_eq!(
        of(AccessKind::Denied),
        ["record.read", "record.read", "record.export"]
    );
    assert_eq!(
        of(AccessKind::Export),
        [
            "record.export",
            "record.print",
            "record.transfer",
            "record.export",
            "record.copy"
        ]
    );
    // Every example event is on Monday morning between 08:58 and 10:48 local time.
    assert!(of(AccessKind::OutsideWorkingHours).is_empty());
    let json = d.to_json().expect("test setup");
    for name in ["Dr. A. de Vries", "M. Jansen", "10.20.4.17", "mr-20431"] {
        assert!(!json.contains(name), "{name} leaked into the digest");
    }
    // The break-glass subject is shown, as its pseudonym.
    let glass = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("test setup"))
        .find(|e| e["break_glass"] == true)
        .expect("test setup");
    let pseudonym = glass["subject"].as_str().expect("test setup");
    assert!(pseudonym.starts_with("hmac-sha256:"));
    let finding = d
        .access
        .findings
        .iter()
        .find(|f| f.kind == AccessKind::BreakGlass)
        .expect("test setup");
    assert_eq!(finding.subject.as_deref(), Some(pseudonym));
    assert_eq!(
        finding.event_id.to_string(),
        glass["id"].as_str().expect("test setup")
    );
    assert!(json.contains(pseudonym));
}

#[test]
fn drop_counters_that_rose_are_listed() {
    let d = build(&config(), false);
    let drops = &d.drops;
    assert!(drops.checked && drops.has_before);
    assert_eq!(drops.skipped_lines, 1);
    assert_eq!(drops.series.len(), 6, "connections are not a drop counter");
    let rose: Vec<(String, u64)> = drops
        .rose()
        .map(|s| {
            (
                format!("{}{:?}", s.name, s.labels.values().collect::<Vec<_>>()),
                s.increase,
            )
        })
        .collect();
    assert_eq!(
        rose,
        [
            ("biv_log_records_dropped_total[\"full\"]".to_owned(), 5),
            ("biv_syslog_records_dropped_total[\"lost\"]".to_owned(), 7),
        ],
        "the syslog counter went from 9 to 7: a reset, so all 7 are new"
    );
    let without_before = {
        let mut b = DigestBuilder::new(window(), config());
        b.set_counters(None, counters_after());
        b.finish()
    };
    assert!(!without_before.drops.has_before);
    assert_eq!(without_before.drops.rose().count(), 2);
    assert!(
        !DigestBuilder::new(window(), config())
            .finish()
            .drops
            .checked
    );
}

#[test]
fn html_and_markdown_escape_hostile_messages() {
    let d = build(&config(), false);
    let html = d.to_html().expect("test setup");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no script element may survive");
    assert!(html.contains(
        "certificate &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39; | *bold* for host 7 expired"
    ));
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "self-contained"
    );
    assert!(html.contains("default-src 'none'"));
    assert!(html.contains(&d.sha256_hex().expect("test setup")));
    let md = d.to_markdown().expect("test setup");
    // Outside code spans, every `<`, `>` and `&` is backslash-escaped: no HTML can start.
    for line in md.lines() {
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 1 {
                continue; // inside a code span: literal text
            }
            let bytes = part.as_bytes();
            for (k, b) in bytes.iter().enumerate() {
                if matches!(b, b'<' | b'>' | b'&') {
                    assert!(k > 0 && bytes[k - 1] == b'\\', "unescaped in: {line}");
                }
            }
        }
    }
    assert!(md.contains(
        "certificate \\<script\\>alert(\"x\")\\</script\\> \\& 'quotes' \\| \\*bold\\* for host 7 expired"
    ));
    // Every table row has as many cells as its header.
    let mut columns = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let cells = line.replace("\\|", "").matches('|').count();
            if line.starts_with("|---") || columns.is_none() {
                columns = Some(cells);
            }
            assert_eq!(Some(cells), columns, "{line}");
        } else {
            columns = None;
        }
    }
    assert!(md.contains("`biv_log_records_dropped_total{reason=\"full\"}`"));
    for section in [
        "## Summary",
        "## Errors",
        "### Break-glass access",
        "## Drop counters",
        "## Heartbeats",
        "**NEW**",
        "**ROSE**",
    ] {
        assert!(md.contains(section), "{section}");
    }
}

#[test]
fn output_is_byte_identical_whatever_the_input_order() {
    let a = build(&config(), false);
    let b = build(&config(), true);
    // The files are listed by path either way.
    assert_eq!(a, b);
    assert_eq!(
        a.to_json().expect("test setup"),
        b.to_json().expect("test setup")
    );
    assert_eq!(
        a.to_markdown().expect("test setup"),
        b.to_markdown().expect("test setup")
    );
    assert_eq!(
        a.to_html().expect("test setup"),
        b.to_html().expect("test setup")
    );
    assert_eq!(
        a.sha256_hex().expect("test setup"),
        b.sha256_hex().expect("test setup")
    );
}

#[test]
fn json_round_trips_and_the_hash_covers_every_field() {
    let d = build(&config(), false);
    let json = d.to_json().expect("test setup");
    let back = Digest::from_json(&json).expect("test setup");
    assert_eq!(back, d);
    assert_eq!(
        Digest::from_json(&d.canonical_json().expect("test setup")).expect("test setup"),
        d
    );
    let hash = d.sha256_hex().expect("test setup");
    assert_eq!(hash.len(), 64);
    let mut changed = d.clone();
    changed.errors.fingerprints[0].count += 1;
    assert_ne!(changed.sha256_hex().expect("test setup"), hash);
    let canonical = d.canonical_json().expect("test setup");
    assert!(canonical.starts_with("{\"access\":{"), "members sorted");
    assert!(!canonical.contains('\n'));
    let other = json.replace("biv-log-review-digest/1", "biv-log-review-digest/9");
    assert!(Digest::from_json(&other).is_err());
}

#[test]
fn errors_name_the_path_and_the_window() {
    let missing = PathBuf::from("/nonexistent/biv-review/app.log");
    let err = Digest::build(&DigestInput::from_paths([&missing]), window(), &config()).unwrap_err();
    match &err {
        DigestError::Unreadable { path, .. } => assert_eq!(path, &missing),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("/nonexistent/biv-review/app.log"));
    let end = at(WINDOW_END);
    assert!(matches!(
        ReviewWindow::new(end, end),
        Err(WindowError::Reversed { .. })
    ));
    assert!(matches!(
        ReviewWindow::new(end, window().start()),
        Err(WindowError::Reversed { .. })
    ));
    assert!(matches!(
        ReviewWindow::ending_at(at("0001-01-03T00:00:00Z")),
        Err(WindowError::OutOfRange)
    ));
}

#[test]
fn build_reads_directories_and_files_from_paths() {
    let dir = std::env::temp_dir().join(format!("biv-review-digest-{}", std::process::id()));
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("test setup");
    std::fs::write(logs.join("ehr-api.log"), ehr_api_log()).expect("test setup");
    std::fs::write(logs.join("billing.log"), billing_log()).expect("test setup");
    std::fs::write(logs.join(".hidden"), "ignored\n").expect("test setup");
    let audit: String = audit_events()
        .iter()
        .map(|e| serde_json::to_string(e).expect("test setup") + "\n")
        .collect();
    std::fs::write(dir.join("audit.jsonl"), audit).expect("test setup");
    std::fs::write(dir.join("after.prom"), "biv_log_records_lost_total 2\n").expect("test setup");
    let input = DigestInput::from_paths([&logs])
        .with_audit_path(dir.join("audit.jsonl"))
        .with_counter_paths(None::<PathBuf>, dir.join("after.prom"));
    let d = Digest::build(&input, window(), &config()).expect("test setup");
    let _ = std::fs::remove_dir_all(&dir);
    let files: Vec<&str> = d
        .logs
        .files
        .iter()
        .map(|f| f.path.rsplit('/').next().expect("test setup"))
        .collect();
    assert_eq!(files, ["billing.log", "ehr-api.log"]);
    let expected = build(&config(), false);
    assert_eq!(d.logs.records, expected.logs.records);
    assert_eq!(d.errors, expected.errors);
    assert_eq!(d.access, expected.access);
    assert_eq!(d.heartbeats, expected.heartbeats);
    assert_eq!(d.drops.rose().map(|s| s.increase).collect::<Vec<_>>(), [2]);
}

fn recorder(sink: &Arc<InMemoryAuditSink>) -> SignOffRecorder {
    SignOffRecorder::new(
        sink.clone(),
        SourceSystem::new("biv-cli").with_version("0.1.0"),
    )
    .with_redactor(Arc::new(NineDigits))
}

#[tokio::test]
async fn sign_off_is_recorded_as_an_audit_event_without_the_remarks_in_clear() {
    let d = build(&config(), false);
    let hash = d.sha256_hex().expect("test setup");
    let sink = Arc::new(InMemoryAuditSink::new());
    let signed_at = at("2026-11-26T08:15:00Z");
    let sign_off = SignOff::new("u-9001", signed_at, hash.to_uppercase())
        .with_role("security-officer")
        .with_remarks("Break-glass for patient 123456782 confirmed with the ward.");
    let record = d
        .sign_off(&sign_off, &recorder(&sink))
        .await
        .expect("test setup");
    let events = sink.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event, &record.event);
    assert_eq!(event.action_name.as_str(), SIGN_OFF_ACTION);
    assert_eq!(event.action, EventAction::Execute);
    assert_eq!(event.outcome, Outcome::Success);
    assert_eq!(event.time, signed_at);
    assert_eq!(event.user.id, "u-9001");
    assert_eq!(event.user.role.as_deref(), Some("security-officer"));
    assert_eq!(event.purpose_of_use.as_deref(), Some("log-review"));
    assert!(event.subject.is_none());
    assert_eq!(event.source.system, "biv-cli");
    assert_eq!(event.id.to_string().as_bytes()[14], b'8', "UUIDv8");
    let ids: Vec<(ObjectType, Option<&str>, &str)> = event
        .objects
        .iter()
        .map(|o| (o.object_type, o.id_type.as_deref(), o.id.as_str()))
        .collect();
    assert_eq!(
        ids[0],
        (
            ObjectType::SystemObject,
            Some("log-review-digest"),
            format!("sha256:{hash}").as_str()
        )
    );
    assert_eq!(
        ids[1],
        (
            ObjectType::Other,
            Some("review-window"),
            "2026-11-25T06:00:00Z/2026-11-26T06:00:00Z"
        )
    );
    assert_eq!(
        record.remarks,
        "Break-glass for patient [BSN] confirmed with the ward."
    );
    use sha2::Digest as _;
    let remarks_hash: String = sha2::Sha256::digest(record.remarks.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        ids[2],
        (
            ObjectType::Other,
            Some("sha256"),
            format!("sha256:{remarks_hash}").as_str()
        )
    );
    let json = serde_json::to_string(event).expect("test setup");
    assert!(
        !json.contains("ward") && !json.contains("123456782"),
        "{json}"
    );
    // The same sign-off again is a duplicate, refused by the sink.
    assert!(matches!(
        d.sign_off(&sign_off, &recorder(&sink)).await,
        Err(SignOffError::Append(biv_core::AuditAppendError::Duplicate))
    ));
}

#[tokio::test]
async fn sign_off_is_refused_for_another_digest_and_nothing_is_recorded() {
    let d = build(&config(), false);
    let hash = d.sha256_hex().expect("test setup");
    let sink = Arc::new(InMemoryAuditSink::new());
    let r = recorder(&sink);
    let signed_at = at("2026-11-26T08:15:00Z");
    let mut other = d.clone();
    other.logs.records += 1;
    let err = other
        .sign_off(&SignOff::new("u-9001", signed_at, hash.clone()), &r)
        .await
        .unwrap_err();
    match err {
        SignOffError::DigestMismatch { expected, actual } => {
            assert_eq!(expected, hash);
            assert_eq!(actual, other.sha256_hex().expect("test setup"));
        }
        e => panic!("{e:?}"),
    }
    let not_hex = "g".repeat(64);
    for bad in ["", "abc", not_hex.as_str()] {
        assert!(matches!(
            d.sign_off(&SignOff::new("u-9001", signed_at, bad), &r)
                .await,
            Err(SignOffError::MalformedHash)
        ));
    }
    assert!(matches!(
        d.sign_off(&SignOff::new("  ", signed_at, hash.clone()), &r)
            .await,
        Err(SignOffError::EmptyReviewer)
    ));
    assert!(matches!(
        d.sign_off(
            &SignOff::new("u-9001", at("2026-11-26T05:59:00Z"), hash.clone()),
            &r
        )
        .await,
        Err(SignOffError::BeforeWindowEnd { .. })
    ));
    sink.set_unavailable(true);
    assert!(matches!(
        d.sign_off(&SignOff::new("u-9001", signed_at, hash.clone()), &r)
            .await,
        Err(SignOffError::Append(_))
    ));
    assert!(sink.events().is_empty());
    // A digest read back from its JSON signs off with the same hash.
    sink.set_unavailable(false);
    let back = Digest::from_json(&d.to_json().expect("test setup")).expect("test setup");
    assert!(
        back.sign_off(&SignOff::new("u-9001", signed_at, hash), &r)
            .await
            .is_ok()
    );
    assert_eq!(sink.events().len(), 1);
}

/// Endless-looking binary input: `len` bytes, with a newline every `line` bytes.
struct Binary {
    left: usize,
    line: usize,
    pos: usize,
}

impl std::io::Read for Binary {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left);
        for b in &mut buf[..n] {
            self.pos += 1;
            *b = if self.pos.is_multiple_of(self.line) {
                b'\n'
            } else {
                0xab
            };
        }
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn a_huge_binary_stream_is_skipped_line_by_line() {
    // 12 MiB in four 3 MiB lines, against the default 1 MiB cap; then a short binary line.
    let mut builder = DigestBuilder::new(window(), DigestConfig::default());
    let three_mib = 3 << 20;
    builder
        .read_log(
            "core.bin",
            Binary {
                left: 4 * three_mib + 100,
                line: three_mib,
                pos: 0,
            },
        )
        .expect("test setup");
    let d = builder.finish();
    let file = &d.logs.files[0];
    assert_eq!((file.lines, file.over_long, file.unparseable), (5, 4, 1));
    assert_eq!(d.logs.records, 0);
}

#[test]
fn errors_are_send_sync_and_static() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<DigestError>();
    assert_error::<WindowError>();
    assert_error::<SignOffError>();
    assert_error::<biv_availability::review::EncodeError>();
    assert_error::<biv_availability::review::DecodeError>();
    assert_error::<biv_availability::review::WorkingHoursError>();
}

#[test]
fn limits_bound_what_a_hostile_log_can_add() {
    let mut c = config();
    c.max_fingerprints = 1;
    c.max_keys = 1;
    c.max_example_chars = 10;
    let d = build(&c, false);
    // ehr-api.log is read first: its first error in the window (the known timeout) is kept.
    assert_eq!(d.errors.fingerprints.len(), 1);
    assert_eq!(d.errors.fingerprints[0].count, 2);
    assert_eq!(d.errors.fingerprints[0].example, "lookup of …");
    assert_eq!(d.errors.ungrouped, 2);
    assert_eq!(d.errors.records, 4);
    let services: Vec<(&str, u64)> = d
        .logs
        .by_service
        .iter()
        .map(|c| (c.key.as_str(), c.count))
        .collect();
    assert_eq!(services, [("ehr-api", 1382), ("(other)", 2)]);
    assert_eq!(d.heartbeats.untracked, 0);

    // One heartbeat source only: the second process's beats are counted as untracked.
    let mut one = config();
    one.max_heartbeat_sources = 1;
    let other = ecs_lines("ehr-api", "pod-z", |clock| {
        let heartbeat = Heartbeat::new();
        for minute in 0..3 {
            clock.set(at(&format!("2026-11-25T12:0{minute}:00Z")));
            heartbeat.tick();
        }
    });
    let mut b = DigestBuilder::new(window(), one);
    b.read_log("ehr-api.log", ehr_api_log().as_bytes())
        .expect("test setup");
    b.read_log("pod-z.log", other.join("\n").as_bytes())
        .expect("test setup");
    let d = b.finish();
    assert_eq!(d.heartbeats.sources.len(), 1);
    assert_eq!(d.heartbeats.untracked, 3);
    assert!(
        d.to_markdown()
            .expect("test setup")
            .contains("**3 heartbeats were not tracked")
    );
}
