//! The release gate's PostgreSQL state store against a real PostgreSQL (started by
//! `cargo xtask test`). Every test works on its own gate id, so tests share the tables safely.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use biv_core::Timestamp;
use biv_integrity::release::{
    Artifact, GateCheck, GatePolicy, GateState, PgGateStateError, PgGateStateStore,
    PromotionRequest, decide, load_state, save_state,
};
use biv_testkit::servers;
use tokio_postgres::NoTls;

fn unique_gate_id(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "test/{tag}/{}/{nanos}/{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&servers::postgres_url(), NoTls)
        .await
        .expect("connect as admin");
    tokio::spawn(conn);
    client
}

async fn store(gate_id: &str) -> PgGateStateStore {
    PgGateStateStore::connect(&servers::postgres_url(), gate_id)
        .await
        .expect("connect the gate state store")
}

fn artifact(n: u8) -> Artifact {
    Artifact::new(
        format!("sha256:{}", format!("{n:02x}").repeat(32)),
        format!("{:02x}", n.wrapping_add(1)).repeat(20),
    )
    .expect("artifact")
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_790_000_000 + seconds, 0).expect("timestamp")
}

async fn history_rows(gate_id: &str) -> i64 {
    admin()
        .await
        .query_one(
            "SELECT count(*) FROM biv_gate_history WHERE gate_id = $1",
            &[&gate_id],
        )
        .await
        .expect("count history")
        .get(0)
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn round_trip_matches_the_file_store() {
    let gate_id = unique_gate_id("round-trip");
    let pg = store(&gate_id).await;
    assert_eq!(pg.load().await.expect("load"), None);

    let dir = std::env::temp_dir().join(format!("biv-pg-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{}.json", gate_id.replace('/', "_")));
    let policy = GatePolicy::dtap();

    let requests = [
        (PromotionRequest::new(artifact(1), "development", "dave"), 0),
        (
            PromotionRequest::new(artifact(2), "development", "dave"),
            10,
        ),
        // Refused: no evidence for test.
        (PromotionRequest::new(artifact(1), "test", "dave"), 20),
        // A rollback of development to artifact 1.
        (
            PromotionRequest::new(artifact(1), "development", "erik"),
            30,
        ),
        // Refused: already current.
        (
            PromotionRequest::new(artifact(1), "development", "erik"),
            40,
        ),
    ];
    for (request, t) in &requests {
        // The file store, as `biv release promote` drives it.
        let mut file_state = load_state(&path)
            .expect("load file")
            .unwrap_or_else(|| GateState::new(policy.clone()));
        let file_decision = decide(&file_state, request, at(*t));
        if file_state.apply(&file_decision, at(*t)) {
            save_state(&path, &file_state).expect("save file");
        }
        // The PostgreSQL store.
        let done = pg.promote(&policy, request, at(*t)).await.expect("promote");
        assert_eq!(done.decision, file_decision);
        assert_eq!(done.recorded, file_decision.allowed);
        let stored = pg.load().await.expect("load");
        assert_eq!(
            stored.as_ref().map(|s| &s.state),
            load_state(&path).expect("load file").as_ref()
        );
        assert_eq!(done.revision, stored.map_or(0, |s| s.revision));
    }
    let stored = pg.load().await.expect("load").expect("a row");
    assert_eq!(stored.revision, 3);
    assert_eq!(stored.state.history.len(), 3);
    assert!(stored.state.history[2].rollback);
    assert_eq!(history_rows(&gate_id).await, 3);

    // A second connection reads the same state.
    let other = store(&gate_id).await;
    assert_eq!(other.load().await.expect("load"), Some(stored));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn save_is_optimistic_on_the_revision() {
    let gate_id = unique_gate_id("optimistic");
    let pg = store(&gate_id).await;
    let state = GateState::new(GatePolicy::otap());
    assert_eq!(pg.save(&state, None).await.expect("first save"), 1);
    match pg.save(&state, None).await {
        Err(PgGateStateError::Conflict {
            expected: None,
            found: Some(1),
            ..
        }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut changed = state.clone();
    changed.policy.max_skipped_percent = 3;
    assert_eq!(pg.save(&changed, Some(1)).await.expect("save at 1"), 2);
    match pg.save(&state, Some(1)).await {
        Err(PgGateStateError::Conflict {
            expected: Some(1),
            found: Some(2),
            ..
        }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut invalid = changed.clone();
    invalid.policy.stages.truncate(1);
    assert!(matches!(
        pg.save(&invalid, Some(2)).await,
        Err(PgGateStateError::Invalid { .. })
    ));
    let stored = pg.load().await.expect("load").expect("row");
    assert_eq!((stored.revision, stored.state), (2, changed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn concurrent_promotions_queue_on_the_row_lock() {
    let gate_id = unique_gate_id("race");
    let policy = GatePolicy::dtap();
    let first = Arc::new(store(&gate_id).await);
    let second = Arc::new(store(&gate_id).await);
    // Create the row, so the race is on the row lock.
    first
        .promote(
            &policy,
            &PromotionRequest::new(artifact(9), "development", "dave"),
            at(0),
        )
        .await
        .expect("seed");

    // The first deployer holds the row lock (inside its transaction) while the second asks.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let first = Arc::clone(&first);
        let policy = policy.clone();
        tokio::spawn(async move {
            first
                .update(&GateState::new(policy), move |state| {
                    let request = PromotionRequest::new(artifact(1), "development", "alice");
                    let decision = decide(state, &request, at(10));
                    let _ = locked_tx.send(());
                    std::thread::sleep(Duration::from_millis(500));
                    state.apply(&decision, at(10))
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || locked_rx.recv())
        .await
        .expect("join")
        .expect("the holder locked the row");
    let challenger = {
        let second = Arc::clone(&second);
        let policy = policy.clone();
        tokio::spawn(async move {
            second
                .promote(
                    &policy,
                    &PromotionRequest::new(artifact(2), "development", "bob"),
                    at(11),
                )
                .await
        })
    };
    let held = holder.await.expect("join").expect("update");
    let challenged = challenger.await.expect("join").expect("promote");
    assert!(held.value && held.changed);
    assert!(challenged.recorded);
    assert_eq!((held.revision, challenged.revision), (2, 3));

    let stored = first.load().await.expect("load").expect("row");
    let arrivals: Vec<&str> = stored
        .state
        .history
        .iter()
        .map(|e| e.deployer.as_str())
        .collect();
    // Exactly one arrived first, and neither arrival was lost.
    assert_eq!(arrivals, ["dave", "alice", "bob"]);
    assert_eq!(
        stored.state.current("development").map(|e| &e.artifact),
        Some(&artifact(2))
    );
    assert_eq!(stored.revision, 3);
    assert_eq!(history_rows(&gate_id).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn many_concurrent_deployers_lose_no_update() {
    let gate_id = unique_gate_id("many");
    let policy = GatePolicy::dtap();
    let mut stores = Vec::new();
    for _ in 0..8 {
        stores.push(store(&gate_id).await);
    }
    // Eight different artifacts to one stage from eight connections; the gate has no row yet,
    // so they also race on its creation. Then each asks for a refused promotion.
    let mut tasks = Vec::new();
    for (i, s) in stores.into_iter().enumerate() {
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            let n = u8::try_from(i).expect("small");
            let own = s
                .promote(
                    &policy,
                    &PromotionRequest::new(artifact(n), "development", format!("d{i}")),
                    at(i64::from(n)),
                )
                .await
                .expect("promote own");
            let same = s
                .promote(
                    &policy,
                    &PromotionRequest::new(artifact(100), "test", format!("d{i}")),
                    at(100),
                )
                .await
                .expect("promote shared");
            (own, same)
        }));
    }
    let mut recorded_shared = 0;
    for t in tasks {
        let (own, same) = t.await.expect("join");
        assert!(own.recorded, "{:?}", own.decision.unmet());
        // Artifact 100 never reached development: refused for everyone, nothing written.
        assert!(!same.recorded);
        assert!(same.decision.unmet().contains(&GateCheck::PreviousStage));
        recorded_shared += usize::from(same.recorded);
    }
    assert_eq!(recorded_shared, 0);
    let stored = store(&gate_id)
        .await
        .load()
        .await
        .expect("load")
        .expect("row");
    assert_eq!(stored.revision, 8);
    assert_eq!(stored.state.history.len(), 8);
    let mut deployers: Vec<&str> = stored
        .state
        .history
        .iter()
        .map(|e| e.deployer.as_str())
        .collect();
    deployers.sort_unstable();
    assert_eq!(deployers, ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"]);
    assert_eq!(history_rows(&gate_id).await, 8);

    // Now the same artifact to the same stage from eight connections at once: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let gate_id = gate_id.clone();
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            store(&gate_id)
                .await
                .promote(
                    &policy,
                    &PromotionRequest::new(artifact(50), "development", format!("again{i}")),
                    at(200),
                )
                .await
                .expect("promote")
        }));
    }
    let mut winners = 0;
    for t in tasks {
        let done = t.await.expect("join");
        if done.recorded {
            winners += 1;
        } else {
            assert_eq!(done.decision.unmet(), [GateCheck::NotAlreadyCurrent]);
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(history_rows(&gate_id).await, 9);
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn a_refused_decision_leaves_the_state_untouched() {
    let gate_id = unique_gate_id("refused");
    let pg = store(&gate_id).await;
    let policy = GatePolicy::dtap();
    // Refused on a gate without a row: no row is created (as no state file is).
    let refused = pg
        .promote(
            &policy,
            &PromotionRequest::new(artifact(1), "production", "dave"),
            at(0),
        )
        .await
        .expect("promote");
    assert!(!refused.recorded && !refused.decision.allowed);
    assert_eq!(refused.revision, 0);
    assert_eq!(pg.load().await.expect("load"), None);

    pg.promote(
        &policy,
        &PromotionRequest::new(artifact(1), "development", "dave"),
        at(1),
    )
    .await
    .expect("promote");
    let before = pg.load().await.expect("load").expect("row");
    let refused = pg
        .promote(
            &policy,
            &PromotionRequest::new(artifact(1), "acceptance", "dave"),
            at(2),
        )
        .await
        .expect("promote");
    assert!(!refused.recorded);
    assert_eq!(refused.revision, before.revision);
    assert_eq!(pg.load().await.expect("load"), Some(before));
    assert_eq!(history_rows(&gate_id).await, 1);

    // An update that changes nothing writes nothing either.
    let unchanged = pg
        .update(&GateState::new(policy), |state| state.history.len())
        .await
        .expect("update");
    assert_eq!(
        (unchanged.value, unchanged.changed, unchanged.revision),
        (1, false, 1)
    );
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn a_corrupted_row_is_a_typed_error() {
    let gate_id = unique_gate_id("corrupt");
    let pg = store(&gate_id).await;
    let policy = GatePolicy::dtap();
    pg.promote(
        &policy,
        &PromotionRequest::new(artifact(1), "development", "dave"),
        at(0),
    )
    .await
    .expect("promote");
    let admin = admin().await;
    for (bad, revision) in [
        (r#"{"version": 1, "bogus": true}"#, 2i64),
        (r#"[1, 2, 3]"#, 3),
        (
            r#"{"version": 2, "policy": {"stages": [{"name": "a"}, {"name": "b"}]}, "history": []}"#,
            4,
        ),
    ] {
        admin
            .execute(
                "UPDATE biv_gate_state SET state = $2::text::jsonb, revision = revision + 1 WHERE gate_id = $1",
                &[&gate_id, &bad],
            )
            .await
            .expect("corrupt the row");
        match pg.load().await {
            Err(PgGateStateError::Format {
                gate_id: g,
                revision: r,
                ..
            }) => assert_eq!((g.as_str(), r), (gate_id.as_str(), revision)),
            other => panic!("expected a format error for {bad}, got {other:?}"),
        }
        let err = pg
            .promote(
                &policy,
                &PromotionRequest::new(artifact(2), "development", "dave"),
                at(1),
            )
            .await
            .expect_err("promote on a corrupt row");
        assert!(matches!(err, PgGateStateError::Format { .. }), "{err}");
    }
    // Nothing was written by the failed promotions.
    assert_eq!(history_rows(&gate_id).await, 1);
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn history_and_state_rows_are_protected() {
    let gate_id = unique_gate_id("protected");
    let pg = store(&gate_id).await;
    pg.promote(
        &GatePolicy::dtap(),
        &PromotionRequest::new(artifact(1), "development", "dave"),
        at(0),
    )
    .await
    .expect("promote");
    let admin = admin().await;
    for sql in [
        "UPDATE biv_gate_history SET decision = NULL WHERE gate_id = $1",
        "DELETE FROM biv_gate_history WHERE gate_id = $1",
        "DELETE FROM biv_gate_state WHERE gate_id = $1",
        "UPDATE biv_gate_state SET revision = revision WHERE gate_id = $1",
        "UPDATE biv_gate_state SET revision = revision - 1 WHERE gate_id = $1",
    ] {
        let err = admin.execute(sql, &[&gate_id]).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
    for sql in [
        "TRUNCATE biv_gate_history",
        "TRUNCATE biv_gate_state CASCADE",
    ] {
        // Inside a rolled-back transaction, in case a trigger were missing.
        let err = admin
            .batch_execute(&format!("BEGIN; {sql}; ROLLBACK"))
            .await
            .expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
        admin.batch_execute("ROLLBACK").await.expect("rollback");
    }
    let decision: Option<String> = admin
        .query_one(
            "SELECT decision::text FROM biv_gate_history WHERE gate_id = $1 AND revision = 1",
            &[&gate_id],
        )
        .await
        .expect("history row")
        .get(0);
    assert!(decision.is_some_and(|d| d.contains("\"allowed\": true")));
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn a_decision_that_is_not_recorded_changes_nothing() {
    let gate_id = unique_gate_id("recorded");
    let store = store(&gate_id).await;
    let request = PromotionRequest::new(artifact(7), "development", "dave");

    let err = store
        .promote_recorded(&GatePolicy::dtap(), &request, at(0), |_| async {
            Err("the audit log is full")
        })
        .await
        .expect_err("the recorder failed");
    match err {
        PgGateStateError::NotRecorded {
            gate_id: g,
            message,
        } => {
            assert_eq!(g, gate_id);
            assert_eq!(message, "the audit log is full");
        }
        other => panic!("expected NotRecorded, got {other:?}"),
    }
    assert!(
        store.load().await.expect("load").is_none(),
        "no row was created"
    );
    assert_eq!(history_rows(&gate_id).await, 0);

    // The recorder sees exactly the decision that is applied.
    let seen = std::sync::Mutex::new(None);
    let done = store
        .promote_recorded(&GatePolicy::dtap(), &request, at(1), |decision| async {
            *seen.lock().expect("not poisoned") = Some(decision);
            Ok::<(), String>(())
        })
        .await
        .expect("recorded and applied");
    assert!(done.recorded);
    assert_eq!(
        seen.into_inner().expect("not poisoned"),
        Some(done.decision)
    );
    assert_eq!(history_rows(&gate_id).await, 1);
}
