//! Realistic sample values for tests: audit events, log records, alerts, changes.

use biv_core::{
    AccessPoint, AccessPointKind, Actor, Alert, AuditEvent, AuthorizationContext, Change,
    ChangeKind, Commit, Dataset, EventAction, EventId, Identity, InvolvedObject, Level, LogRecord,
    ObjectType, Outcome, RecordId, Review, ReviewState, Severity, SourceSystem, SubjectRef,
    Timestamp,
};

fn id_bytes(n: u64, tag: u8) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = tag;
    b[8..].copy_from_slice(&n.to_be_bytes());
    b
}

fn time(n: u64) -> Timestamp {
    // 2026-11-26T08:00:00Z plus n seconds.
    let secs = 1_795_680_000_i64.saturating_add(i64::try_from(n).unwrap_or(i64::MAX / 2));
    Timestamp::from_unix_seconds(secs, 0).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The `n`-th of an endless series of distinct, valid audit events, cycling through reads,
/// updates, searches, exports, a break-glass read and a denied access.
///
/// ```
/// let a = biv_testkit::sample_event(1);
/// let b = biv_testkit::sample_event(2);
/// assert_ne!(a.id, b.id);
/// assert!(a.validate().is_ok());
/// ```
pub fn sample_event(n: u64) -> AuditEvent {
    let users = ["u-1042", "u-2077", "u-3001"];
    let user_index = usize::try_from(n % 3).unwrap_or(0);
    let user = Actor::new(users[user_index]).with_role(["physician", "nurse", "admin"][user_index]);
    let subject = SubjectRef::new(
        "hmac-sha256",
        "t1-2026",
        &format!("{:032x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15),
    )
    .ok();
    let kind = n % 6;
    let (action, name) = match kind {
        1 => (EventAction::Update, "record.update"),
        2 => (EventAction::Execute, "record.search"),
        3 => (EventAction::Execute, "record.export"),
        _ => (EventAction::Read, "record.read"),
    };
    let mut b = AuditEvent::builder(
        EventId::from_bytes(id_bytes(n, 0xa0)),
        time(n),
        action,
        name,
        user,
        SourceSystem::new("ehr-api").with_version("1.4.2"),
    )
    .access_point(AccessPoint::new(
        AccessPointKind::IpAddress,
        format!("10.20.0.{}", n % 250 + 1),
    ))
    .object(InvolvedObject::new(ObjectType::SystemObject, format!("rec-{n}")).with_role("report"))
    .purpose_of_use("treatment");
    if let Some(s) = subject {
        b = b.subject(s);
    }
    if kind == 4 {
        b = b.break_glass(true).authorization(
            AuthorizationContext::new()
                .with_protocol("spoedtoegang-v1")
                .with_check("reason-recorded"),
        );
    }
    if kind == 5 {
        b = b.outcome(Outcome::SeriousFailure);
    }
    b.build()
        .unwrap_or_else(|e| panic!("sample event {n} is invalid: {e}"))
}

/// The `n`-th of a series of distinct ECS log records.
///
/// ```
/// let r = biv_testkit::sample_log_record(7);
/// assert!(r.line().contains("\"message\""));
/// ```
pub fn sample_log_record(n: u64) -> LogRecord {
    let t = time(n);
    let line = format!(
        r#"{{"@timestamp":"{}","log.level":"info","message":"request {n} served","ecs.version":"8.11.0","event.dataset":"application"}}"#,
        t.to_rfc3339_millis()
    );
    LogRecord::new(
        RecordId::from_bytes(id_bytes(n, 0xb0)),
        t,
        Level::Info,
        Dataset::Application,
        line,
    )
    .unwrap_or_else(|e| panic!("sample log record {n} is invalid: {e}"))
}

/// A firing alert named `name` with a `service` label.
///
/// ```
/// let a = biv_testkit::sample_alert("BivTest");
/// assert_eq!(a.name(), "BivTest");
/// ```
pub fn sample_alert(name: &str) -> Alert {
    Alert::new(name, Severity::Warning, time(0))
        .and_then(|a| a.with_label("service", "ehr-api"))
        .map(|a| a.with_annotation("summary", "sample alert from biv-testkit"))
        .unwrap_or_else(|e| panic!("sample alert {name:?} is invalid: {e}"))
}

/// A pull request by `alice` with one commit and the given reviews on its head commit `c1`.
///
/// ```
/// use biv_core::ReviewState;
/// let c = biv_testkit::sample_change(&[("bob", ReviewState::Approved)]);
/// assert_eq!(c.reviews.len(), 1);
/// ```
pub fn sample_change(reviews: &[(&str, ReviewState)]) -> Change {
    let alice = Identity::login("alice").with_email("alice@example.org");
    let mut c = Change::new("acme/ehr#42", ChangeKind::Code, "c1", alice.clone())
        .with_commit(Commit::new("c1", alice));
    for (login, state) in reviews {
        c = c.with_review(Review::new(Identity::login(*login), *state, "c1"));
    }
    c
}
