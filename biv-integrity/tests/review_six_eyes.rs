//! The six-eyes reviewer: conformance, every rule on hand-written changes, the GitHub fixture
//! scenarios of issue 6, and order independence.

use biv_core::{
    Change, ChangeKind, CheckConclusion, CheckRun, Commit, Decision, Identity, InputDigest,
    ReasonCode, Review, ReviewError, ReviewState, Reviewer, Timestamp, Verdict,
};
use biv_integrity::review::github::GithubPayloads;
use biv_integrity::review::{CodeOwnerRule, SixEyes, SixEyesPolicy};
use proptest::prelude::*;

biv_testkit::reviewer_conformance!(biv_integrity::review::SixEyes::default());

mod with_a_policy {
    use biv_integrity::review::{CodeOwnerRule, SixEyes, SixEyesPolicy};

    fn strict() -> SixEyes {
        SixEyes::new(
            SixEyesPolicy::default()
                .with_required_approvals(3)
                .with_required_check("phpunit")
                .with_code_owner_rule(
                    CodeOwnerRule::new("config/", ["ops-lead"]).expect("valid rule"),
                ),
        )
        .expect("valid policy")
    }

    biv_testkit::reviewer_conformance!(strict());
}

use ReasonCode::{
    BotApproval, ChangesRequested, CodeOwnerApprovalMissing, ContributorApproval, Dismissed,
    InsufficientApprovals, NotAVerdict, RequiredCheckFailed, RequiredCheckMissing,
    ReviewerNotAllowed, StaleApproval, Superseded,
};
use ReviewState::{Approved, ChangesRequested as Changes, Commented, Dismissed as Gone, Pending};

const HEAD: &str = "h2";
const OLD: &str = "h1";

fn at(minute: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_790_000_000 + minute * 60, 0).expect("valid time")
}

/// Alice's change with two commits (h1, then h2 = head); Dave co-authored h1.
fn base() -> Change {
    let alice = Identity::login("alice").with_email("alice@acme.example");
    Change::new("acme/ehr#42", ChangeKind::Code, HEAD, alice.clone())
        .with_commit(
            Commit::new(OLD, alice.clone()).with_co_author(Identity::email("dave@acme.example")),
        )
        .with_commit(Commit::new(HEAD, alice))
}

fn review(who: &str, state: ReviewState, commit: &str, minute: i64) -> Review {
    Review::new(Identity::login(who), state, commit).at(at(minute))
}

fn codes(v: &Verdict) -> Vec<ReasonCode> {
    v.reasons
        .iter()
        .map(|r| r.code)
        .filter(|c| *c != ReasonCode::Satisfied)
        .collect()
}

fn whys(v: &Verdict) -> Vec<(String, ReasonCode)> {
    v.ignored
        .iter()
        .map(|i| (i.reviewer.clone(), i.why))
        .collect()
}

struct Case {
    name: &'static str,
    policy: SixEyesPolicy,
    change: Change,
    decision: Decision,
    unmet: Vec<ReasonCode>,
    approvers: Vec<&'static str>,
    ignored: Vec<(&'static str, ReasonCode)>,
}

fn case(name: &'static str, change: Change) -> Case {
    Case {
        name,
        policy: SixEyesPolicy::default(),
        change,
        decision: Decision::Approved,
        unmet: vec![],
        approvers: vec!["bob", "carol"],
        ignored: vec![],
    }
}

impl Case {
    fn rejected(mut self, unmet: Vec<ReasonCode>) -> Self {
        self.decision = Decision::Rejected;
        self.unmet = unmet;
        self
    }
    fn approvers(mut self, approvers: Vec<&'static str>) -> Self {
        self.approvers = approvers;
        self
    }
    fn ignored(mut self, ignored: Vec<(&'static str, ReasonCode)>) -> Self {
        self.ignored = ignored;
        self
    }
    fn policy(mut self, policy: SixEyesPolicy) -> Self {
        self.policy = policy;
        self
    }
}

fn two_approvals() -> Change {
    base()
        .with_review(review("bob", Approved, HEAD, 10))
        .with_review(review("carol", Approved, HEAD, 11))
}

fn cases() -> Vec<Case> {
    let checks = || {
        SixEyesPolicy::default()
            .with_required_check("phpunit")
            .with_required_check("jest")
    };
    let owners = || {
        SixEyesPolicy::default()
            .with_code_owner_rule(
                CodeOwnerRule::new("config/", ["carol", "ops-lead"]).expect("rule"),
            )
            .with_code_owner_rule(CodeOwnerRule::new("*.sql", ["dba"]).expect("rule"))
    };
    let with_paths = |paths: &[&str]| {
        let mut c = two_approvals();
        c.changed_paths = paths.iter().map(|p| (*p).to_owned()).collect();
        c
    };
    vec![
        case("two eligible approvals on the head", two_approvals()),
        case("no reviews", base())
            .rejected(vec![InsufficientApprovals])
            .approvers(vec![]),
        case(
            "one approval",
            base().with_review(review("bob", Approved, HEAD, 10)),
        )
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["bob"]),
        case(
            "the author approves",
            two_approvals().with_review(review("alice", Approved, HEAD, 12)),
        )
        .ignored(vec![("alice", ContributorApproval)]),
        case(
            "the author is one of two",
            base()
                .with_review(review("bob", Approved, HEAD, 1))
                .with_review(review("Alice", Approved, HEAD, 2)),
        )
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["bob"])
        .ignored(vec![("Alice", ContributorApproval)]),
        case("a co-author approves (matched by e-mail)", {
            let mut c = base().with_review(review("bob", Approved, HEAD, 1));
            c.reviews.push(
                Review::new(
                    Identity::login("dave").with_email("DAVE@acme.example"),
                    Approved,
                    HEAD,
                )
                .at(at(2)),
            );
            c
        })
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["bob"])
        .ignored(vec![("dave", ContributorApproval)]),
        case("a committer approves", {
            let mut c = two_approvals().with_review(review("erin", Approved, HEAD, 12));
            c.commits[1] =
                Commit::new(HEAD, Identity::login("alice")).with_committer(Identity::login("erin"));
            c
        })
        .ignored(vec![("erin", ContributorApproval)]),
        case(
            "a pusher approves",
            base()
                .with_pusher(Identity::login("carol"))
                .with_review(review("bob", Approved, HEAD, 1))
                .with_review(review("carol", Approved, HEAD, 2)),
        )
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["bob"])
        .ignored(vec![("carol", ContributorApproval)]),
        case("a bot approves", {
            let mut c = base().with_review(review("bob", Approved, HEAD, 1));
            c.reviews
                .push(Review::new(Identity::login("ci-helper").bot(), Approved, HEAD).at(at(2)));
            c.reviews.push(review("renovate[bot]", Approved, HEAD, 3));
            c
        })
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["bob"])
        .ignored(vec![
            ("ci-helper", BotApproval),
            ("renovate[bot]", BotApproval),
        ]),
        case(
            "an approval of an older commit is stale",
            base()
                .with_review(review("bob", Approved, OLD, 1))
                .with_review(review("carol", Approved, HEAD, 2)),
        )
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["carol"])
        .ignored(vec![("bob", StaleApproval)]),
        case(
            "re-approval after a push counts",
            base()
                .with_review(review("bob", Approved, OLD, 1))
                .with_review(review("bob", Approved, HEAD, 5))
                .with_review(review("carol", Approved, HEAD, 6)),
        )
        .ignored(vec![("bob", Superseded)]),
        case(
            "changes requested after an approval",
            two_approvals().with_review(review("bob", Changes, HEAD, 20)),
        )
        .rejected(vec![InsufficientApprovals, ChangesRequested])
        .approvers(vec!["carol"])
        .ignored(vec![("bob", Superseded)]),
        case(
            "changes requested by a third reviewer block",
            two_approvals().with_review(review("frank", Changes, OLD, 20)),
        )
        .rejected(vec![ChangesRequested]),
        case(
            "a change request by a contributor does not block",
            two_approvals().with_review(review("alice", Changes, HEAD, 20)),
        )
        .ignored(vec![("alice", ContributorApproval)]),
        case(
            "approval after changes requested clears them",
            base()
                .with_review(review("bob", Changes, OLD, 1))
                .with_review(review("bob", Approved, HEAD, 5))
                .with_review(review("carol", Approved, HEAD, 6)),
        )
        .ignored(vec![("bob", Superseded)]),
        case(
            "a comment after an approval keeps it",
            two_approvals()
                .with_review(review("bob", Commented, HEAD, 30))
                .with_review(review("carol", Pending, HEAD, 31)),
        )
        .ignored(vec![("bob", NotAVerdict), ("carol", NotAVerdict)]),
        case(
            "a dismissed review counts for nothing",
            base()
                .with_review(review("bob", Approved, HEAD, 1))
                .with_review(review("bob", Gone, HEAD, 2))
                .with_review(review("carol", Approved, HEAD, 3)),
        )
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["carol"])
        .ignored(vec![("bob", Superseded), ("bob", Dismissed)]),
        case(
            "a review on no commit (null commit_id) is stale",
            base()
                .with_review(review("bob", Approved, "", 1))
                .with_review(review("carol", Approved, HEAD, 2)),
        )
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["carol"])
        .ignored(vec![("bob", StaleApproval)]),
        case(
            "one person with two reviews counts once",
            base()
                .with_review(review("bob", Approved, HEAD, 1))
                .with_review(review("BOB", Approved, HEAD, 2)),
        )
        .rejected(vec![InsufficientApprovals])
        .approvers(vec!["BOB"])
        .ignored(vec![("bob", Superseded)]),
        case("three approvals required", two_approvals())
            .policy(SixEyesPolicy::default().with_required_approvals(3))
            .rejected(vec![InsufficientApprovals]),
        case(
            "one approval required (four eyes)",
            base().with_review(review("bob", Approved, HEAD, 1)),
        )
        .policy(SixEyesPolicy::default().with_required_approvals(1))
        .approvers(vec!["bob"]),
        case(
            "allow-list",
            two_approvals().with_review(review("frank", Approved, HEAD, 12)),
        )
        .policy(SixEyesPolicy::default().with_allowed_reviewers(["Bob", "frank"]))
        .approvers(vec!["bob", "frank"])
        .ignored(vec![("carol", ReviewerNotAllowed)]),
        case("allow-list leaves too few", two_approvals())
            .policy(SixEyesPolicy::default().with_allowed_reviewers(["bob"]))
            .rejected(vec![InsufficientApprovals])
            .approvers(vec!["bob"])
            .ignored(vec![("carol", ReviewerNotAllowed)]),
        case(
            "required checks succeeded on the head",
            two_approvals()
                .with_check(CheckRun::new("phpunit", HEAD, CheckConclusion::Success))
                .with_check(CheckRun::new("jest", HEAD, CheckConclusion::Success)),
        )
        .policy(checks()),
        case(
            "a required check is missing",
            two_approvals().with_check(CheckRun::new("phpunit", HEAD, CheckConclusion::Success)),
        )
        .policy(checks())
        .rejected(vec![RequiredCheckMissing]),
        case(
            "a required check ran only on an older commit",
            two_approvals()
                .with_check(CheckRun::new("phpunit", HEAD, CheckConclusion::Success))
                .with_check(CheckRun::new("jest", OLD, CheckConclusion::Success)),
        )
        .policy(checks())
        .rejected(vec![RequiredCheckMissing]),
        case(
            "a required check failed",
            two_approvals()
                .with_check(CheckRun::new("phpunit", HEAD, CheckConclusion::Failure))
                .with_check(CheckRun::new("jest", HEAD, CheckConclusion::Success)),
        )
        .policy(checks())
        .rejected(vec![RequiredCheckFailed]),
        case(
            "a required check is still running",
            two_approvals()
                .with_check(CheckRun::new("phpunit", HEAD, CheckConclusion::Pending))
                .with_check(CheckRun::new("jest", HEAD, CheckConclusion::Success)),
        )
        .policy(checks())
        .rejected(vec![RequiredCheckFailed]),
        case(
            "a check that is not required does not matter",
            two_approvals().with_check(CheckRun::new("lint", HEAD, CheckConclusion::Failure)),
        ),
        case(
            "a code owner approved",
            with_paths(&["config/app.php", "src/a.php"]),
        )
        .policy(owners()),
        case("a code owner did not approve", with_paths(&["db/001.sql"]))
            .policy(owners())
            .rejected(vec![CodeOwnerApprovalMissing]),
        case("no path matches a rule", with_paths(&["src/a.php"])).policy(owners()),
        case("code-owner rules but no changed paths", two_approvals())
            .policy(owners())
            .rejected(vec![CodeOwnerApprovalMissing]),
        case("a code owner who contributed cannot approve", {
            let mut c = with_paths(&["config/app.php"]);
            c.pushers.push(Identity::login("carol"));
            c.reviews.push(review("frank", Approved, HEAD, 12));
            c
        })
        .policy(owners())
        .rejected(vec![CodeOwnerApprovalMissing])
        .approvers(vec!["bob", "frank"])
        .ignored(vec![("carol", ContributorApproval)]),
    ]
}

#[test]
fn every_rule_gives_the_expected_decision_and_reasons() {
    let all = cases();
    assert!(all.len() >= 30);
    for c in all {
        let reviewer = SixEyes::new(c.policy).unwrap();
        let v = reviewer.review(&c.change).unwrap();
        assert_eq!(v.decision, c.decision, "{}: {v:#?}", c.name);
        assert_eq!(codes(&v), c.unmet, "{}: {v:#?}", c.name);
        assert_eq!(v.approvers, c.approvers, "{}", c.name);
        let expected: Vec<(String, ReasonCode)> = c
            .ignored
            .iter()
            .map(|(w, r)| ((*w).to_owned(), *r))
            .collect();
        assert_eq!(whys(&v), expected, "{}", c.name);
        // Every verdict records the approval and change-request rules, met or not.
        assert!(v.reasons.len() >= 2, "{}", c.name);
        assert_eq!(
            v.decision == Decision::Approved,
            v.reasons.iter().all(|r| r.code == ReasonCode::Satisfied),
            "{}",
            c.name
        );
    }
}

#[test]
fn the_verdict_explains_itself() {
    let change = base()
        .with_review(review("bob", Approved, OLD, 1))
        .with_review(review("alice", Approved, HEAD, 2))
        .with_review(review("carol", Approved, HEAD, 3));
    let v = SixEyes::default().review(&change).unwrap();
    assert_eq!(
        v.reasons[0].detail,
        "1 of 2 required approvals on head h2 (carol); approvals not counted: 1 contributor_approval, 1 stale_approval"
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["decision"], "rejected");
    assert_eq!(json["reasons"][0]["code"], "insufficient_approvals");
    assert_eq!(json["ignored"][0]["why"], "contributor_approval");
    assert_eq!(json["ignored"][0]["state"], "APPROVED");
}

#[test]
fn misconfigured_policies_and_evidence_are_errors() {
    assert!(matches!(
        SixEyes::new(SixEyesPolicy::default().with_required_approvals(0)),
        Err(ReviewError::InvalidPolicy(_))
    ));
    assert!(matches!(
        SixEyes::new(SixEyesPolicy::default().with_required_check(" ")),
        Err(ReviewError::InvalidPolicy(_))
    ));
    assert!(matches!(
        SixEyes::new(SixEyesPolicy::default().with_allowed_reviewers([""])),
        Err(ReviewError::InvalidPolicy(_))
    ));
    assert!(matches!(
        CodeOwnerRule::new("", ["x"]),
        Err(ReviewError::InvalidPolicy(_))
    ));
    assert!(matches!(
        CodeOwnerRule::new("config/", Vec::<String>::new()),
        Err(ReviewError::InvalidPolicy(_))
    ));
    let mut headless = two_approvals();
    headless.head_sha = String::new();
    assert!(matches!(
        SixEyes::default().review(&headless),
        Err(ReviewError::InvalidInput(_))
    ));
    let mut anonymous = two_approvals();
    anonymous.reviews.push(Review::new(
        Identity::login("x").with_email(""),
        Approved,
        HEAD,
    ));
    anonymous.reviews[2].reviewer.login = None;
    assert!(matches!(
        SixEyes::default().review(&anonymous),
        Err(ReviewError::InvalidInput(_))
    ));
}

// ---- The scenarios of issue 6, on GitHub payloads --------------------------------------------

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/github/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).expect("fixture exists")
}

fn judge_payloads(reviews: &str, commits: &str, policy: SixEyesPolicy) -> Verdict {
    let (pr, reviews, commits) = (data("pull.json"), data(reviews), data(commits));
    let (timeline, checks, files) = (
        data("timeline.json"),
        data("check-runs.json"),
        data("files.json"),
    );
    let change = GithubPayloads::new(&pr, &reviews, &commits)
        .with_timeline(&timeline)
        .with_check_runs(&checks)
        .with_files(&files)
        .parse(ChangeKind::Code)
        .expect("fixtures parse");
    let v = SixEyes::new(policy)
        .expect("policy")
        .review(&change)
        .expect("judged");
    assert_eq!(v.inputs, change.inputs);
    assert_eq!(v.inputs.len(), 6);
    v
}

/// reviews fixture, commits fixture, decision, unmet reasons, approvers, ignored reviews.
type Scenario = (
    &'static str,
    &'static str,
    Decision,
    Vec<ReasonCode>,
    Vec<&'static str>,
    Vec<(&'static str, ReasonCode)>,
);

#[test]
fn github_scenarios() {
    let table: Vec<Scenario> = vec![
        (
            "reviews-approved.json",
            "commits.json",
            Decision::Approved,
            vec![],
            vec!["bob", "carol"],
            vec![("bob", NotAVerdict)],
        ),
        (
            "reviews-self-approval.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["bob"],
            vec![("alice", ContributorApproval)],
        ),
        (
            "reviews-co-author.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["bob"],
            vec![("dave", ContributorApproval)],
        ),
        (
            "reviews-stale.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["carol"],
            vec![("bob", StaleApproval)],
        ),
        (
            "reviews-changes-requested.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals, ChangesRequested],
            vec!["carol"],
            vec![("bob", Superseded)],
        ),
        (
            "reviews-dismissed.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["carol"],
            vec![("bob", Dismissed)],
        ),
        (
            "reviews-bot.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["carol"],
            vec![("renovate[bot]", BotApproval)],
        ),
        (
            "reviews-lowercase.json",
            "commits.json",
            Decision::Approved,
            vec![],
            vec!["bob", "carol"],
            vec![("frank", NotAVerdict), ("frank", NotAVerdict)],
        ),
        (
            "reviews-update-branch.json",
            "commits-update-branch.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["bob"],
            vec![("frank", ContributorApproval)],
        ),
        (
            "reviews-missing-commit.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["carol"],
            vec![("bob", StaleApproval)],
        ),
        (
            "reviews-force-pusher.json",
            "commits.json",
            Decision::Rejected,
            vec![InsufficientApprovals],
            vec!["bob"],
            vec![("erin", ContributorApproval)],
        ),
    ];
    for (reviews, commits, decision, unmet, approvers, ignored) in table {
        let v = judge_payloads(reviews, commits, SixEyesPolicy::default());
        assert_eq!(v.decision, decision, "{reviews}: {v:#?}");
        assert_eq!(codes(&v), unmet, "{reviews}");
        assert_eq!(v.approvers, approvers, "{reviews}");
        let expected: Vec<(String, ReasonCode)> =
            ignored.iter().map(|(w, r)| ((*w).to_owned(), *r)).collect();
        assert_eq!(whys(&v), expected, "{reviews}");
    }
}

#[test]
fn github_checks_and_code_owners() {
    let policy = SixEyesPolicy::default()
        .with_required_check("phpunit")
        .with_required_check("jest")
        .with_code_owner_rule(CodeOwnerRule::new("config/", ["carol"]).unwrap());
    let v = judge_payloads("reviews-approved.json", "commits.json", policy.clone());
    assert_eq!(v.decision, Decision::Approved, "{v:#?}");
    let v = judge_payloads(
        "reviews-approved.json",
        "commits.json",
        policy.with_required_check("dusk"),
    );
    assert_eq!(
        codes(&v),
        [RequiredCheckFailed],
        "dusk is still in progress"
    );
    let owners = SixEyesPolicy::default()
        .with_code_owner_rule(CodeOwnerRule::new("app/Medication/**", ["pharmacist"]).unwrap());
    let v = judge_payloads("reviews-approved.json", "commits.json", owners);
    assert_eq!(codes(&v), [CodeOwnerApprovalMissing]);
}

// ---- Order independence -----------------------------------------------------------------------

const PEOPLE: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "frank"];

fn arb_review() -> impl Strategy<Value = (usize, u8, bool)> {
    (0..PEOPLE.len(), 0..5u8, any::<bool>())
}

fn state(n: u8) -> ReviewState {
    [Approved, Changes, Commented, Gone, Pending][usize::from(n % 5)]
}

proptest! {
    /// Shuffling reviews (each with its own time), commits, checks and pushers, and the paths,
    /// never changes the verdict.
    #[test]
    fn the_verdict_does_not_depend_on_input_order(
        raw in proptest::collection::vec(arb_review(), 0..12),
        seed in any::<u64>(),
        pusher in 0..PEOPLE.len(),
    ) {
        let mut change = base()
            .with_pusher(Identity::login(PEOPLE[pusher]))
            .with_pusher(Identity::email("x@acme.example"))
            .with_check(CheckRun::new("phpunit", HEAD, CheckConclusion::Success))
            .with_check(CheckRun::new("jest", OLD, CheckConclusion::Failure));
        change.changed_paths = vec!["config/a.php".into(), "src/b.php".into(), "db/c.sql".into()];
        change.inputs = vec![InputDigest::new("pulls/42", "ab".repeat(32))];
        for (i, (who, s, on_head)) in raw.iter().enumerate() {
            let commit = if *on_head { HEAD } else { OLD };
            change.reviews.push(review(PEOPLE[*who], state(*s), commit, i64::try_from(i).unwrap()));
        }
        let policy = SixEyesPolicy::default()
            .with_required_check("phpunit")
            .with_code_owner_rule(CodeOwnerRule::new("config/", ["carol", "erin"]).unwrap());
        let reviewer = SixEyes::new(policy).unwrap();
        let expected = reviewer.review(&change).unwrap();

        let mut shuffled = change.clone();
        let mut rng = seed;
        let mut next = move |n: usize| {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(rng >> 33).unwrap() % n.max(1)
        };
        for i in (1..shuffled.reviews.len()).rev() {
            let j = next(i + 1);
            shuffled.reviews.swap(i, j);
        }
        shuffled.commits.reverse();
        shuffled.checks.reverse();
        shuffled.pushers.reverse();
        shuffled.changed_paths.rotate_left(next(3));
        prop_assert_eq!(reviewer.review(&shuffled).unwrap(), expected);
    }

    /// Without timestamps the given order decides who said what last, but reviews by different
    /// people may still be interleaved in any way.
    #[test]
    fn interleaving_different_reviewers_does_not_matter(
        bob in proptest::collection::vec(0..5u8, 0..5),
        carol in proptest::collection::vec(0..5u8, 0..5),
        picks in proptest::collection::vec(any::<bool>(), 0..10),
    ) {
        let untimed = |who: &str, s: &u8| Review::new(Identity::login(who), state(*s), HEAD);
        let sequential: Vec<Review> = bob.iter().map(|s| untimed("bob", s))
            .chain(carol.iter().map(|s| untimed("carol", s))).collect();
        let (mut b, mut c) = (bob.iter().peekable(), carol.iter().peekable());
        let mut mixed = Vec::new();
        let mut picks = picks.into_iter();
        while b.peek().is_some() || c.peek().is_some() {
            let take_bob = c.peek().is_none() || (b.peek().is_some() && picks.next().unwrap_or(true));
            if take_bob {
                mixed.push(untimed("bob", b.next().unwrap()));
            } else {
                mixed.push(untimed("carol", c.next().unwrap()));
            }
        }
        let mut one = base();
        one.reviews = sequential;
        let mut two = base();
        two.reviews = mixed;
        let reviewer = SixEyes::default();
        prop_assert_eq!(reviewer.review(&one).unwrap(), reviewer.review(&two).unwrap());
    }
}

#[test]
fn ignored_reviews_keep_time_order_per_reviewer() {
    let change = base()
        .with_review(review("bob", Commented, HEAD, 1))
        .with_review(review("bob", Approved, OLD, 2))
        .with_review(review("bob", Commented, HEAD, 3));
    let v = SixEyes::default().review(&change).unwrap();
    let states: Vec<(ReviewState, ReasonCode)> =
        v.ignored.iter().map(|i| (i.state, i.why)).collect();
    assert_eq!(
        states,
        [
            (Commented, NotAVerdict),
            (Approved, StaleApproval),
            (Commented, NotAVerdict)
        ]
    );
}

#[test]
fn known_emails_make_a_reviewer_a_contributor() {
    // Bob committed with an e-mail GitHub did not link to his account, then approved.
    let mut change = two_approvals();
    change.commits[1] = Commit::new(HEAD, Identity::login("alice"))
        .with_committer(Identity::email("B.Bakker@old-laptop.example"));
    let v = SixEyes::default().review(&change).unwrap();
    assert_eq!(
        v.decision,
        Decision::Approved,
        "without the mapping bob looks independent"
    );
    let policy = SixEyesPolicy::default().with_identity("Bob", ["b.bakker@old-laptop.example"]);
    let v = SixEyes::new(policy).unwrap().review(&change).unwrap();
    assert_eq!(v.decision, Decision::Rejected);
    assert_eq!(whys(&v), [("bob".to_owned(), ContributorApproval)]);
}

#[test]
fn a_policy_reads_from_json() {
    let json = br#"{
        "required_approvals": 3,
        "allowed_reviewers": ["bob", "carol", "frank"],
        "required_checks": ["phpunit", "jest"],
        "code_owners": [{"pattern": "config/", "owners": ["ops-lead"]}],
        "identities": {"bob": ["b.bakker@old-laptop.example"]}
    }"#;
    let policy = SixEyesPolicy::from_json(json).unwrap();
    let built = SixEyesPolicy::default()
        .with_required_approvals(3)
        .with_allowed_reviewers(["bob", "carol", "frank"])
        .with_required_check("phpunit")
        .with_required_check("jest")
        .with_code_owner_rule(CodeOwnerRule::new("config/", ["ops-lead"]).unwrap())
        .with_identity("bob", ["b.bakker@old-laptop.example"]);
    assert_eq!(policy, built);
    assert_eq!(
        SixEyesPolicy::from_json(b"{}").unwrap(),
        SixEyesPolicy::default()
    );
    for bad in [
        &b"{\"required_approvals\": 0}"[..],
        b"{\"required_approvals\": -1}",
        b"{\"colour\": \"blue\"}",
        b"{\"code_owners\": [{\"pattern\": \"\", \"owners\": [\"x\"]}]}",
        b"{\"code_owners\": [{\"pattern\": \"a/\", \"owners\": []}]}",
        b"{\"required_checks\": [\"\"]}",
        b"[",
    ] {
        assert!(
            matches!(
                SixEyesPolicy::from_json(bad),
                Err(ReviewError::InvalidPolicy(_))
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}
