//! The PostgreSQL store anchored to a c2sp.org/tlog-witness witness (biv-testkit's stand-in),
//! against a real PostgreSQL 15 (started by `cargo xtask test`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use biv_core::{AuditSink, EventId};
use biv_integrity::store::{CheckpointKey, PgLog, PgLogError, PgLogOptions, WitnessAnchor};
use biv_integrity::tlog::{CosignatureVerifier, Ed25519Signer, verify_cosignatures};
use biv_testkit::witness::TlogWitness;
use biv_testkit::{sample_event, servers};

const ORIGIN: &str = "biv.test/pg-witnessed";

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[31; 32]).expect("log key")
}

fn unique(tag: &str) -> (String, u64) {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = N.fetch_add(1, Ordering::Relaxed);
    (format!("test/{tag}/{nanos}/{n}"), (nanos as u64) ^ n)
}

fn event(n: u64, salt: u64) -> biv_core::AuditEvent {
    let mut e = sample_event(n);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&salt.to_be_bytes());
    id[8..].copy_from_slice(&n.to_be_bytes());
    e.id = EventId::from_bytes(id);
    e
}

async fn wait_witness_size(anchor: &WitnessAnchor, size: u64) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while anchor.witness_size() != Some(size) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anchor.witness_size()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn a_pg_log_publishes_with_proofs_and_a_fork_is_refused() {
    let w = TlogWitness::start("witness.test/pg", &[32; 32]).expect("witness");
    w.add_log(ORIGIN, &signer().verifier().to_vkey()).unwrap();
    let wkey = CosignatureVerifier::from_vkey(&w.vkey()).unwrap();
    let a = Arc::new(
        WitnessAnchor::new(&w.url(), vec![wkey.clone()])
            .unwrap()
            .with_timeout(Duration::from_secs(2)),
    );
    let options = || {
        PgLogOptions::default()
            .with_checkpoints(Duration::from_secs(3600), 5)
            .with_anchor(a.clone())
    };
    let (log_id, salt) = unique("witness");
    let log = PgLog::connect(
        &servers::postgres_url(),
        &log_id,
        CheckpointKey::ed25519(signer()),
        options(),
    )
    .await
    .unwrap();
    for n in 0..5 {
        log.append(&event(n, salt)).await.unwrap();
    }
    assert_eq!(wait_witness_size(&a, 5).await, Some(5));
    for n in 5..10 {
        log.append(&event(n, salt)).await.unwrap();
    }
    assert_eq!(wait_witness_size(&a, 10).await, Some(10));
    // The second checkpoint went out with the proof from the witness's 5 entries.
    assert_eq!(w.stats().old_sizes.last(), Some(&5));
    let (size, root) = log.size_and_root().await.unwrap();
    assert_eq!(w.checkpoint(ORIGIN), Some((size, root)));
    let cosigned = a.latest_cosigned().unwrap();
    assert_eq!(
        verify_cosignatures(cosigned.note(), &[&wkey])
            .unwrap()
            .len(),
        1
    );
    log.close().await;

    // Another log with the same key and other entries: the witness refuses its checkpoints,
    // and it does not connect against the witness's newest checkpoint.
    let (fork_id, fork_salt) = unique("witness-fork");
    let b = Arc::new(WitnessAnchor::new(&w.url(), vec![wkey]).unwrap());
    let fork = PgLog::connect(
        &servers::postgres_url(),
        &fork_id,
        CheckpointKey::ed25519(signer()),
        PgLogOptions::default()
            .with_checkpoints(Duration::from_secs(3600), 10)
            .with_anchor(b.clone()),
    )
    .await
    .unwrap();
    for n in 100..110 {
        fork.append(&event(n, fork_salt)).await.unwrap();
    }
    // The refusals are visible on the log (publication runs on its own thread: wait for it).
    let deadline = Instant::now() + Duration::from_secs(30);
    while fork.anchor_failures() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        fork.anchor_failures() > 0,
        "the witness's refusal is counted"
    );
    fork.close().await;
    assert!(b.latest_cosigned().is_none(), "the fork was never cosigned");
    assert_eq!(w.checkpoint(ORIGIN), Some((size, root)));
    match PgLog::connect(
        &servers::postgres_url(),
        &fork_id,
        CheckpointKey::ed25519(signer()),
        PgLogOptions::default().with_anchor(a),
    )
    .await
    {
        Err(PgLogError::Checkpoint(why)) => assert!(why.contains("anchor"), "{why}"),
        other => panic!("expected the fork to be refused, got {other:?}"),
    }
}
