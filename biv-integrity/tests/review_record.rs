//! Recording a six-eyes verdict through an `AuditSink`.

use biv_core::{
    Actor, AuditEvent, EventAction, EventId, InputDigest, Outcome, ReviewState, Reviewer,
    SourceSystem, Timestamp,
};
use biv_integrity::review::{
    RecordVerdictError, SixEyes, VerdictRecord, record_verdict, verdict_digest, verdict_event,
};
use biv_testkit::{InMemoryAuditSink, sample_change};

fn record(n: u8) -> VerdictRecord {
    VerdictRecord::new(
        EventId::from_bytes([n; 16]),
        Timestamp::from_unix_seconds(1_790_000_000, 0).expect("time"),
        Actor::new("ci:github-actions").with_role("ci"),
        SourceSystem::new("biv-review"),
    )
}

fn objects(event: &AuditEvent) -> Vec<(String, String)> {
    event
        .objects
        .iter()
        .map(|o| (o.role.clone().unwrap_or_default(), o.id.clone()))
        .collect()
}

#[tokio::test]
async fn an_approval_and_a_rejection_are_recorded() {
    let sink = InMemoryAuditSink::new();
    let mut approved = sample_change(&[
        ("bob", ReviewState::Approved),
        ("carol", ReviewState::Approved),
    ]);
    approved.inputs = vec![InputDigest::new("repos/acme/ehr/pulls/42", "ab".repeat(32))];
    let rejected = sample_change(&[("alice", ReviewState::Approved)]);
    let reviewer = SixEyes::default();
    for (i, change) in [&approved, &rejected].into_iter().enumerate() {
        let verdict = reviewer.review(change).unwrap();
        let receipt = record_verdict(
            &sink,
            &record(u8::try_from(i).unwrap() + 1),
            change,
            &verdict,
        )
        .await
        .unwrap();
        assert_eq!(receipt.index(), u64::try_from(i).unwrap());
    }
    let events = sink.events();
    assert_eq!(events.len(), 2);
    let first = &events[0];
    assert_eq!(first.action, EventAction::Execute);
    assert_eq!(first.action_name.as_str(), "change.review");
    assert_eq!(first.outcome, Outcome::Success);
    let verdict = reviewer.review(&approved).unwrap();
    assert_eq!(
        objects(first),
        [
            ("change".to_owned(), "acme/ehr#42".to_owned()),
            ("head-commit".to_owned(), "c1".to_owned()),
            (
                "verdict".to_owned(),
                format!("sha256:{}", verdict_digest(&verdict).unwrap())
            ),
            (
                "input".to_owned(),
                format!("repos/acme/ehr/pulls/42@sha256:{}", "ab".repeat(32))
            ),
        ]
    );
    let auth = first.authorization.as_ref().unwrap();
    assert_eq!(auth.protocol.as_deref(), Some("biv-six-eyes-v1"));
    assert_eq!(auth.checks, ["satisfied"]);
    let second = &events[1];
    assert_eq!(second.outcome, Outcome::SeriousFailure);
    assert!(
        second
            .authorization
            .as_ref()
            .unwrap()
            .checks
            .contains(&"insufficient_approvals".to_owned())
    );
}

#[tokio::test]
async fn an_unavailable_log_fails_closed() {
    let sink = InMemoryAuditSink::new();
    sink.set_unavailable(true);
    let change = sample_change(&[]);
    let verdict = SixEyes::default().review(&change).unwrap();
    let err = record_verdict(&sink, &record(1), &change, &verdict)
        .await
        .unwrap_err();
    assert!(matches!(err, RecordVerdictError::Append(_)), "{err}");
    assert!(sink.events().is_empty());
}

#[test]
fn a_verdict_of_another_change_is_refused() {
    let change = sample_change(&[]);
    let verdict = SixEyes::default().review(&change).unwrap();
    let mut other = change.clone();
    other.inputs = vec![InputDigest::new("pulls/43", "cd".repeat(32))];
    assert!(matches!(
        verdict_event(&record(1), &other, &verdict),
        Err(RecordVerdictError::InputsDiffer)
    ));
}

#[test]
fn the_verdict_digest_is_stable_and_binds_the_content() {
    let change = sample_change(&[("bob", ReviewState::Approved)]);
    let verdict = SixEyes::default().review(&change).unwrap();
    let digest = verdict_digest(&verdict).unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(verdict_digest(&verdict.clone()).unwrap(), digest);
    let mut changed = verdict.clone();
    changed.approvers.push("mallory".to_owned());
    assert_ne!(verdict_digest(&changed).unwrap(), digest);
}
