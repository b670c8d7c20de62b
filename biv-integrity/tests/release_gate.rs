//! The promotion gate: a table of scenarios, each asserting the decision and its unmet rules,
//! and the audit events of decisions.

use std::time::Duration;

use biv_core::{
    Actor, Clock, Decision, EventId, InputDigest, Outcome, Reason, ReasonCode, SourceSystem,
    Timestamp, Verdict,
};
use biv_integrity::release::{
    Artifact, DecisionRecord, GateCheck, GatePolicy, GateState, PromotionKind, PromotionRequest,
    StageEntry, TestEvidence, VerdictEvidence, decide, record_decision,
};
use biv_testkit::{InMemoryAuditSink, ManualClock};

const PASS: &[u8] = include_bytes!("data/junit/phpunit-pass.xml");
const JEST_PASS: &[u8] = include_bytes!("data/junit/jest-pass.xml");
const FAIL: &[u8] = include_bytes!("data/junit/phpunit-failure.xml");
const SUITE_FAILED: &[u8] = include_bytes!("data/junit/jest-suite-failed.xml");
/// Names commit 6dcb09b5b57875f334f61aebed695e2e4193db5e in its infrastructure.
const OTR_PASS: &[u8] = include_bytes!("data/junit/phpunit-otr-pass.xml");
const OTR_COMMIT: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

const C1: &str = "1111111111111111111111111111111111111111";
const C2: &str = "2222222222222222222222222222222222222222";

fn art(byte: &str, commit: &str) -> Artifact {
    Artifact::new(format!("sha256:{}", byte.repeat(64)), commit).expect("valid artifact")
}

fn a() -> Artifact {
    art("a", C1)
}

fn b() -> Artifact {
    art("b", C2)
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_790_000_000 + secs, 0).expect("valid time")
}

fn entry(artifact: &Artifact, stage: &str, at: i64) -> StageEntry {
    StageEntry {
        artifact: artifact.clone(),
        stage: stage.to_owned(),
        at: t(at),
        deployer: "dave".to_owned(),
        rollback: false,
    }
}

/// `artifact` went through the first `n` stages of the policy, one hour apart.
fn through(mut state: GateState, artifact: &Artifact, n: usize) -> GateState {
    let names: Vec<String> = state.policy.stages.iter().map(|s| s.name.clone()).collect();
    let start = i64::try_from(state.history.len()).expect("small") * 10_000;
    for (i, name) in names.iter().take(n).enumerate() {
        let at = start + i64::try_from(i).expect("small") * 3600;
        state.history.push(entry(artifact, name, at));
    }
    state
}

fn evidence(artifact: &Artifact, xml: &[u8]) -> TestEvidence {
    TestEvidence::from_junit(artifact.clone(), xml).expect("fixture parses")
}

fn verdict_for(commit: &str, approved: bool) -> VerdictEvidence {
    let reasons = vec![Reason::new(ReasonCode::Satisfied, "two approvals")];
    let verdict = if approved {
        Verdict::approved(reasons)
    } else {
        Verdict::rejected(reasons)
    }
    .with_inputs(vec![
        InputDigest::new("repos/acme/ehr/pulls/42", "00".repeat(32)),
        InputDigest::new(
            format!("repos/acme/ehr/commits/{commit}/check-runs"),
            "11".repeat(32),
        ),
    ]);
    VerdictEvidence::from_verdict(&verdict).expect("canonical")
}

/// A complete request for `to`: passing PHPUnit and Jest reports, an approved verdict, and
/// the product owner `petra`, who neither contributed nor deploys.
fn full(artifact: &Artifact, to: &str) -> PromotionRequest {
    PromotionRequest::new(artifact.clone(), to, "dave")
        .with_evidence(evidence(artifact, PASS))
        .with_evidence(evidence(artifact, JEST_PASS))
        .with_verdict(verdict_for(artifact.commit(), true))
        .with_contributors(["alice", "bob"])
        .approved_by("petra")
}

struct Case {
    name: &'static str,
    state: GateState,
    request: PromotionRequest,
    now: Timestamp,
    allowed: bool,
    kind: PromotionKind,
    unmet: &'static [GateCheck],
}

fn dtap() -> GateState {
    GateState::new(GatePolicy::dtap())
}

#[expect(clippy::too_many_lines, reason = "one table of scenarios")]
fn cases() -> Vec<Case> {
    let now = t(100_000);
    let promotion = PromotionKind::Promotion;
    vec![
        Case {
            name: "enter development: nothing required",
            state: dtap(),
            request: PromotionRequest::new(a(), "development", "dave"),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "development to test",
            state: through(dtap(), &a(), 1),
            request: full(&a(), "test"),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "acceptance to production with everything",
            state: through(dtap(), &a(), 3),
            request: full(&a(), "production"),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "skipping a stage: development straight to acceptance",
            state: through(dtap(), &a(), 1),
            request: full(&a(), "acceptance"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::PreviousStage],
        },
        Case {
            name: "an unknown stage",
            state: through(dtap(), &a(), 1),
            request: full(&a(), "staging"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::StageKnown],
        },
        Case {
            name: "a different artifact digest than the one tested",
            state: through(dtap(), &a(), 3),
            request: PromotionRequest::new(a(), "production", "dave")
                .with_evidence(evidence(&art("f", C1), PASS))
                .with_verdict(verdict_for(C1, true))
                .approved_by("petra"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::TestEvidenceArtifact],
        },
        Case {
            name: "evidence for another commit",
            state: through(dtap(), &a(), 3),
            request: PromotionRequest::new(a(), "production", "dave")
                .with_evidence(evidence(&art("a", C2), PASS))
                .with_verdict(verdict_for(C1, true))
                .approved_by("petra"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::TestEvidenceArtifact],
        },
        Case {
            name: "an Open Test Reporting report naming the artifact's commit",
            state: through(dtap(), &art("e", OTR_COMMIT), 1),
            request: PromotionRequest::new(art("e", OTR_COMMIT), "test", "dave")
                .with_evidence(
                    TestEvidence::from_otr(art("e", OTR_COMMIT), OTR_PASS).expect("parses"),
                )
                .with_verdict(verdict_for(OTR_COMMIT, true)),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "an Open Test Reporting report naming another commit",
            state: through(dtap(), &a(), 1),
            request: full(&a(), "test")
                .with_evidence(TestEvidence::from_otr(a(), OTR_PASS).expect("parses")),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::TestEvidenceArtifact],
        },
        Case {
            name: "the digest was built from another commit before",
            state: through(dtap(), &art("a", C2), 3),
            request: full(&a(), "development"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::ArtifactIdentity],
        },
        Case {
            name: "failing evidence",
            state: through(dtap(), &a(), 2),
            request: full(&a(), "acceptance").with_evidence(evidence(&a(), FAIL)),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::TestEvidencePassing],
        },
        Case {
            name: "a jest suite that failed to run",
            state: through(dtap(), &a(), 2),
            request: full(&a(), "acceptance").with_evidence(evidence(&a(), SUITE_FAILED)),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::TestEvidencePassing],
        },
        Case {
            name: "no evidence at all",
            state: through(dtap(), &a(), 2),
            request: PromotionRequest::new(a(), "acceptance", "dave")
                .with_verdict(verdict_for(C1, true)),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[
                GateCheck::TestEvidencePresent,
                GateCheck::TestEvidenceArtifact,
                GateCheck::TestEvidencePassing,
            ],
        },
        Case {
            name: "missing verdict",
            state: through(dtap(), &a(), 2),
            request: PromotionRequest::new(a(), "acceptance", "dave")
                .with_evidence(evidence(&a(), PASS)),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::SixEyesVerdict],
        },
        Case {
            name: "a verdict for another commit",
            state: through(dtap(), &a(), 2),
            request: PromotionRequest::new(a(), "acceptance", "dave")
                .with_evidence(evidence(&a(), PASS))
                .with_verdict(verdict_for(C2, true)),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::SixEyesVerdict],
        },
        Case {
            name: "a rejecting verdict among the approving",
            state: through(dtap(), &a(), 2),
            request: full(&a(), "acceptance").with_verdict(verdict_for(C1, false)),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::SixEyesVerdict],
        },
        Case {
            name: "production without a product owner",
            state: through(dtap(), &a(), 3),
            request: PromotionRequest::new(a(), "production", "dave")
                .with_evidence(evidence(&a(), PASS))
                .with_verdict(verdict_for(C1, true)),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[
                GateCheck::ProductOwnerApproval,
                GateCheck::ProductOwnerNotContributor,
                GateCheck::ProductOwnerNotDeployer,
            ],
        },
        Case {
            name: "the product owner is a contributor",
            state: through(dtap(), &a(), 3),
            request: full(&a(), "production").with_contributors(["Petra"]),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::ProductOwnerNotContributor],
        },
        Case {
            name: "the product owner is the deployer",
            state: through(dtap(), &a(), 3),
            request: PromotionRequest::new(a(), "production", "petra")
                .with_evidence(evidence(&a(), PASS))
                .with_verdict(verdict_for(C1, true))
                .approved_by("petra"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::ProductOwnerNotDeployer],
        },
        Case {
            name: "soak time not elapsed",
            state: through(
                GateState::new(GatePolicy::dtap().with_soak("production", 86_400)),
                &a(),
                3,
            ),
            request: full(&a(), "production"),
            now: t(7200 + 3600),
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::SoakTime],
        },
        Case {
            name: "soak time elapsed",
            state: through(
                GateState::new(GatePolicy::dtap().with_soak("production", 86_400)),
                &a(),
                3,
            ),
            request: full(&a(), "production"),
            now: t(7200 + 86_400),
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "OAP chain: ontwikkeling to acceptatie without test",
            state: through(GateState::new(GatePolicy::oap()), &a(), 1),
            request: full(&a(), "acceptatie"),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "OAP chain knows no test stage",
            state: through(GateState::new(GatePolicy::oap()), &a(), 1),
            request: full(&a(), "test"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::StageKnown],
        },
        Case {
            name: "rollback to an artifact that was in production before",
            state: through(through(dtap(), &a(), 4), &b(), 4),
            request: PromotionRequest::new(a(), "production", "dave"),
            now,
            allowed: true,
            kind: PromotionKind::Rollback,
            unmet: &[],
        },
        Case {
            name: "promoting what already runs there",
            state: through(dtap(), &a(), 4),
            request: full(&a(), "production"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::NotAlreadyCurrent],
        },
        Case {
            name: "customer onboarding in acceptance needs the product owner",
            state: through(dtap(), &a(), 2),
            request: PromotionRequest::new(a(), "acceptance", "dave")
                .with_evidence(evidence(&a(), PASS))
                .with_verdict(verdict_for(C1, true))
                .onboarding("Zorggroep Noord"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[
                GateCheck::ProductOwnerApproval,
                GateCheck::ProductOwnerNotContributor,
                GateCheck::ProductOwnerNotDeployer,
            ],
        },
        Case {
            name: "customer onboarding with the product owner",
            state: through(dtap(), &a(), 2),
            request: full(&a(), "acceptance").onboarding("Zorggroep Noord"),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "an approver who is not on the product-owner list",
            state: through(
                GateState::new(GatePolicy::dtap().with_product_owners(["olga"], 1)),
                &a(),
                3,
            ),
            request: full(&a(), "production"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[
                GateCheck::ProductOwnerApproval,
                GateCheck::ProductOwnerNotContributor,
                GateCheck::ProductOwnerNotDeployer,
            ],
        },
        Case {
            name: "two of three product owners required, one approved",
            state: through(
                GateState::new(
                    GatePolicy::dtap().with_product_owners(["petra", "olga", "Piet"], 2),
                ),
                &a(),
                3,
            ),
            request: full(&a(), "production").approved_by("PETRA"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::ProductOwnerApproval],
        },
        Case {
            name: "two of three product owners required, two approved",
            state: through(
                GateState::new(
                    GatePolicy::dtap().with_product_owners(["petra", "olga", "Piet"], 2),
                ),
                &a(),
                3,
            ),
            request: full(&a(), "production").approved_by("piet"),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "an expected suite is missing from the reports",
            state: through(
                GateState::new(
                    GatePolicy::dtap()
                        .with_expected_suite("Tests\\Unit\\BsnValidatorTest")
                        .with_expected_suite("prescription form"),
                ),
                &a(),
                2,
            ),
            request: full(&a(), "acceptance"),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::TestEvidenceSuites],
        },
        Case {
            name: "every expected suite is reported",
            state: through(
                GateState::new(
                    GatePolicy::dtap()
                        .with_expected_suite("Tests\\Unit\\BsnValidatorTest")
                        .with_expected_suite("patient banner"),
                ),
                &a(),
                2,
            ),
            request: full(&a(), "acceptance"),
            now,
            allowed: true,
            kind: promotion,
            unmet: &[],
        },
        Case {
            name: "no deployer",
            state: dtap(),
            request: PromotionRequest::new(a(), "development", " "),
            now,
            allowed: false,
            kind: promotion,
            unmet: &[GateCheck::DeployerNamed],
        },
    ]
}

#[test]
fn every_scenario_gives_its_decision_and_reasons() {
    for case in cases() {
        let d = decide(&case.state, &case.request, case.now);
        // Allowed stays allowed, reasons stay reasons: a bug in one fails loudly with the name.
        assert_eq!(d.allowed, case.allowed, "{}: {:#?}", case.name, d.reasons);
        assert_eq!(d.kind, case.kind, "{}", case.name);
        assert_eq!(d.unmet(), case.unmet, "{}: {:#?}", case.name, d.reasons);
        assert_eq!(d.stage, case.request.to, "{}", case.name);
        // Deterministic.
        assert_eq!(
            d,
            decide(&case.state, &case.request, case.now),
            "{}",
            case.name
        );
    }
}

#[test]
fn reasons_list_what_was_met_too() {
    let d = decide(
        &through(dtap(), &a(), 3),
        &full(&a(), "production"),
        t(100_000),
    );
    let checks: Vec<GateCheck> = d.reasons.iter().map(|r| r.check).collect();
    assert_eq!(
        checks,
        [
            GateCheck::StageKnown,
            GateCheck::DeployerNamed,
            GateCheck::ArtifactIdentity,
            GateCheck::NotAlreadyCurrent,
            GateCheck::PreviousStage,
            GateCheck::TestEvidencePresent,
            GateCheck::TestEvidenceArtifact,
            GateCheck::TestEvidencePassing,
            GateCheck::SixEyesVerdict,
            GateCheck::ProductOwnerApproval,
            GateCheck::ProductOwnerNotContributor,
            GateCheck::ProductOwnerNotDeployer,
        ]
    );
    assert_eq!(d.evidence.len(), 2);
    assert!(
        d.evidence
            .iter()
            .all(|e| e.starts_with("sha256:") && e.len() == 71)
    );
    let json = serde_json::to_value(&d).expect("serializes");
    assert_eq!(json["reasons"][0]["check"], "stage_known");
    assert_eq!(json["kind"], "promotion");
    assert_eq!(json["artifact"]["digest"], a().digest());
}

#[test]
fn verdict_evidence_takes_the_commit_from_the_inputs() {
    let v = verdict_for(C1, true);
    assert!(v.approved);
    assert_eq!(v.commits, [C1]);
    assert!(v.digest.starts_with("sha256:"));
    let plain = Verdict::approved(vec![]);
    assert!(plain.decision == Decision::Approved);
    assert!(
        VerdictEvidence::from_verdict(&plain)
            .expect("canonical")
            .commits
            .is_empty()
    );
}

#[test]
fn a_walk_through_the_chain_with_a_manual_clock_and_apply() {
    let clock = ManualClock::new(t(0));
    let mut state = GateState::new(GatePolicy::dtap().with_soak("production", 3600));
    for stage in ["development", "test", "acceptance"] {
        let d = decide(&state, &full(&a(), stage), clock.now());
        assert!(d.allowed, "{stage}: {:#?}", d.reasons);
        assert!(state.apply(&d, clock.now()));
        clock.advance(Duration::from_secs(60));
    }
    let early = decide(&state, &full(&a(), "production"), clock.now());
    assert_eq!(early.unmet(), [GateCheck::SoakTime]);
    assert!(!state.apply(&early, clock.now()));
    clock.advance(Duration::from_secs(3600));
    let late = decide(&state, &full(&a(), "production"), clock.now());
    assert!(late.allowed);
    assert!(state.apply(&late, clock.now()));
    assert_eq!(state.current("production").map(|e| &e.artifact), Some(&a()));
    assert_eq!(state.history.len(), 4);
}

#[tokio::test]
async fn every_decision_is_recorded_allowed_or_refused() {
    let sink = InMemoryAuditSink::new();
    let state = through(through(dtap(), &a(), 4), &b(), 3);
    let decisions = [
        decide(&state, &full(&b(), "production"), t(100_000)),
        decide(&state, &full(&a(), "acceptance"), t(100_000)),
        decide(
            &state,
            &PromotionRequest::new(b(), "production", "petra").approved_by("petra"),
            t(100_000),
        ),
    ];
    for (i, d) in decisions.iter().enumerate() {
        let record = DecisionRecord::new(
            EventId::from_bytes([u8::try_from(i).expect("small"); 16]),
            t(100_000),
            Actor::new(d.deployer.clone()),
            SourceSystem::new("biv-release"),
        );
        record_decision(&sink, &record, d).await.expect("recorded");
    }
    let events = sink.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].action_name.as_str(), "release.promote");
    assert_eq!(events[0].outcome, Outcome::Success);
    assert_eq!(events[1].action_name.as_str(), "release.rollback");
    assert_eq!(events[1].outcome, Outcome::Success);
    assert_eq!(events[2].action_name.as_str(), "release.promote");
    assert_eq!(events[2].outcome, Outcome::SeriousFailure);
    let json = serde_json::to_value(&events[0]).expect("serializes");
    let text = json.to_string();
    for needle in [
        b().digest(),
        C2,
        "production",
        "\"evidence\"",
        "\"verdict\"",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let refused = serde_json::to_value(&events[2])
        .expect("serializes")
        .to_string();
    assert!(refused.contains("!product_owner_not_deployer"), "{refused}");
}

#[tokio::test]
async fn an_unavailable_log_is_an_error() {
    let sink = InMemoryAuditSink::new();
    sink.set_unavailable(true);
    let d = decide(
        &dtap(),
        &PromotionRequest::new(a(), "development", "dave"),
        t(0),
    );
    let record = DecisionRecord::new(
        EventId::from_bytes([1; 16]),
        t(0),
        Actor::new("dave"),
        SourceSystem::new("biv-release"),
    );
    assert!(record_decision(&sink, &record, &d).await.is_err());
}

#[test]
fn policy_json_is_validated() {
    let p = GatePolicy::from_json(
        br#"{"stages":[{"name":"o","requires_tests":false},{"name":"p","requires_product_owner":true}],
            "product_owners":["petra","olga"],"required_product_owners":2,
            "expected_suites":["patient banner"],"max_skipped_percent":0}"#,
    )
    .expect("valid");
    assert_eq!(p.required_product_owners, 2);
    assert!(
        p.stage("o")
            .is_some_and(|s| !s.requires_tests && s.requires_verdicts)
    );
    assert_eq!(GatePolicy::from_json(br#"{"stages":[{"name":"development","requires_tests":false,"requires_verdicts":false},{"name":"test"},{"name":"acceptance"},{"name":"production","requires_product_owner":true}]}"#).expect("valid"), GatePolicy::dtap());
    for bad in [
        &br#"{"stages":[{"name":"o"}]}"#[..],
        br#"{"stages":[{"name":"o"},{"name":"o"}]}"#,
        br#"{"stages":[{"name":"o"},{"name":" "}]}"#,
        br#"{"stages":[{"name":"o"},{"name":"p"}],"required_product_owners":0}"#,
        br#"{"stages":[{"name":"o"},{"name":"p"}],"max_skipped_percent":101}"#,
        br#"{"stages":[{"name":"o"},{"name":"p"}],"product_owners":[""]}"#,
        br#"{"stages":[{"name":"o"},{"name":"p","soak":1}]}"#,
        br#"{"stages":[{"name":"o"},{"name":"p"}],"extra":1}"#,
        b"[]",
    ] {
        assert!(
            GatePolicy::from_json(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}
