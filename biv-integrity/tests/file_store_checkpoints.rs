//! Signed checkpoints of the file store: when they are signed, how recovery and the anchor use
//! them against truncation, rollback and forks, and offline proofs an auditor can check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use biv_integrity::store::{CheckpointKey, DirectoryAnchor, FileLog, FileLogOptions, OpenError};
use biv_integrity::tlog::{Ed25519Signer, Ed25519Verifier, ProofBundle, SignedCheckpoint};
use biv_testkit::sample_event;

const ORIGIN: &str = "biv.test/checkpoints";

fn key() -> CheckpointKey {
    CheckpointKey::ed25519(Ed25519Signer::from_seed(ORIGIN, &[9; 32]).expect("key"))
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("biv-cp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Checkpoints only on request or at close: a long interval and a large count.
fn quiet() -> FileLogOptions {
    FileLogOptions::default().with_checkpoints(Duration::from_secs(3600), 1_000_000)
}

fn fill(log: &FileLog, from: u64, to: u64) {
    for n in from..to {
        log.append_blocking(&sample_event(n)).expect("append");
    }
}

#[test]
fn checkpoints_are_signed_per_batch_or_interval_never_per_event() {
    let d = dir("policy");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    assert_eq!(
        log.latest_checkpoint().unwrap().checkpoint().size(),
        0,
        "a new log starts with a signed empty tree"
    );
    fill(&log, 0, 50);
    assert_eq!(
        log.checkpoint_history().unwrap().len(),
        1,
        "50 appends, no checkpoint yet"
    );
    let cp = log.checkpoint_now().unwrap();
    assert_eq!(cp.checkpoint().size(), 50);
    assert_eq!(cp.checkpoint().root().to_bytes(), log.root());
    assert_eq!(
        log.checkpoint_now().unwrap(),
        cp,
        "nothing new: the same checkpoint"
    );
    drop(log);

    // With a count of 10, one checkpoint per 10 entries at most, and the history stays ordered.
    let log = FileLog::open(
        &d,
        key(),
        FileLogOptions::default().with_checkpoints(Duration::from_secs(3600), 10),
    )
    .unwrap();
    fill(&log, 50, 100);
    let history = log.checkpoint_history().unwrap();
    let sizes: Vec<u64> = history
        .iter()
        .map(|b| SignedCheckpoint::parse(b).unwrap().checkpoint().size())
        .collect();
    assert!(sizes.len() >= 3 && sizes.len() <= 8, "{sizes:?}");
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    for bytes in &history {
        let cp = SignedCheckpoint::parse(bytes).unwrap();
        cp.verify(ORIGIN, &[key().verifier()]).unwrap();
        assert_eq!(
            log.root_at(cp.checkpoint().size()).unwrap(),
            *cp.checkpoint().root()
        );
    }
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_truncated_log_refuses_to_open_against_its_own_checkpoint() {
    let d = dir("truncate");
    let early = dir("truncate-copy");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    fill(&log, 0, 5);
    log.checkpoint_now().unwrap();
    drop(log);
    biv_testkit::files::copy_dir(&d, &early);
    let log = FileLog::open(&d, key(), quiet()).unwrap();
    fill(&log, 5, 12);
    drop(log); // signs a checkpoint at 12
    // An insider puts back the older segments and state but cannot unsign the history.
    std::fs::remove_dir_all(d.join("segments")).unwrap();
    biv_testkit::files::copy_dir(&early.join("segments"), &d.join("segments"));
    std::fs::copy(early.join("state.json"), d.join("state.json")).unwrap();
    std::fs::remove_dir_all(d.join("tree")).unwrap();
    std::fs::create_dir(d.join("tree")).unwrap();
    std::fs::remove_file(d.join("index")).unwrap();
    // The copied segment is usually another file (refused as replaced) — unless the file system
    // reused the freed inode, and then the log's own signed checkpoint refuses it. Rebinding the
    // files as a relocated log does not get past the checkpoint either.
    match FileLog::open(&d, key(), quiet()) {
        Err(OpenError::SegmentReplaced { first: 0 })
        | Err(OpenError::CheckpointAhead {
            checkpoint_size: 12,
            size: 5,
            anchored: false,
        }) => {}
        other => panic!("expected the truncation to be refused, got {other:?}"),
    }
    match FileLog::open_relocated(&d, key(), quiet()) {
        Err(OpenError::CheckpointAhead {
            checkpoint_size: 12,
            size: 5,
            anchored: false,
        }) => {}
        other => panic!("expected the truncation to be refused, got {other:?}"),
    }
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&early).unwrap();
}

#[test]
fn the_anchor_exposes_a_rollback_of_the_whole_directory() {
    let d = dir("rollback");
    let backup = dir("rollback-backup");
    let anchor_dir = dir("rollback-anchor");
    let options = || quiet().with_anchor(Arc::new(DirectoryAnchor::new(&anchor_dir)));
    let log = FileLog::create(&d, key(), options()).unwrap();
    fill(&log, 0, 8);
    drop(log);
    biv_testkit::files::copy_dir(&d, &backup); // a consistent copy at 8 entries, history included
    let log = FileLog::open(&d, key(), options()).unwrap();
    fill(&log, 8, 20);
    drop(log);
    let anchored =
        SignedCheckpoint::parse(&std::fs::read(anchor_dir.join("checkpoint")).unwrap()).unwrap();
    assert_eq!(anchored.checkpoint().size(), 20);
    // The operator restores the backup: consistent with itself (it opens as a relocated log
    // and verifies in full), so only the anchor can tell.
    assert!(matches!(
        FileLog::open(&backup, key(), quiet()),
        Err(OpenError::SegmentReplaced { first: 0 })
    ));
    let restored = FileLog::open_relocated(&backup, key(), quiet()).unwrap();
    assert_eq!(restored.size(), 8);
    drop(restored);
    match FileLog::open(&backup, key(), options()) {
        Err(OpenError::CheckpointAhead {
            checkpoint_size: 20,
            size: 8,
            anchored: true,
        }) => {}
        other => panic!("expected the rollback to be refused, got {other:?}"),
    }
    for p in [&d, &backup, &anchor_dir] {
        std::fs::remove_dir_all(p).unwrap();
    }
}

#[test]
fn a_relocated_log_takes_appends() {
    let d = dir("relocate");
    let moved = dir("relocate-moved");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    fill(&log, 0, 5);
    drop(log);
    biv_testkit::files::copy_dir(&d, &moved); // other storage: every file has another identity
    let log = FileLog::open_relocated(&moved, key(), quiet()).unwrap();
    // The writer works on the new files (it used to keep the old identity of the active
    // segment, and took its own segment for a replaced one).
    assert_eq!(log.append_blocking(&sample_event(5)).unwrap().index(), 5);
    drop(log);
    let log = FileLog::open(&moved, key(), quiet()).unwrap();
    assert_eq!(log.size(), 6);
    assert_eq!(log.append_blocking(&sample_event(6)).unwrap().index(), 6);
    drop(log);
    for p in [&d, &moved] {
        std::fs::remove_dir_all(p).unwrap();
    }
}

#[test]
fn the_anchor_exposes_a_fork_and_a_foreign_key_is_refused() {
    let a = dir("fork-a");
    let b = dir("fork-b");
    let anchor_dir = dir("fork-anchor");
    let log = FileLog::create(
        &a,
        key(),
        quiet().with_anchor(Arc::new(DirectoryAnchor::new(&anchor_dir))),
    )
    .unwrap();
    fill(&log, 0, 6);
    drop(log);
    // A second log with the same key and origin but other entries: a fork of history.
    let log = FileLog::create(&b, key(), quiet()).unwrap();
    fill(&log, 100, 110);
    drop(log);
    match FileLog::open(
        &b,
        key(),
        quiet().with_anchor(Arc::new(DirectoryAnchor::new(&anchor_dir))),
    ) {
        Err(OpenError::CheckpointMismatch {
            checkpoint_size: 6,
            anchored: true,
        }) => {}
        other => panic!("expected the fork to be refused, got {other:?}"),
    }
    let other = CheckpointKey::ed25519(Ed25519Signer::from_seed(ORIGIN, &[10; 32]).unwrap());
    assert!(matches!(
        FileLog::open(&a, other, quiet()),
        Err(OpenError::CheckpointInvalid(_))
    ));
    for p in [&a, &b, &anchor_dir] {
        std::fs::remove_dir_all(p).unwrap();
    }
}

#[test]
fn an_auditor_checks_an_offline_proof_with_only_the_verifier_key() {
    let d = dir("proof");
    let signer = Ed25519Signer::from_seed(ORIGIN, &[9; 32]).unwrap();
    let vkey = signer.verifier().to_vkey();
    let log = FileLog::create(&d, CheckpointKey::ed25519(signer), quiet()).unwrap();
    fill(&log, 0, 37);
    let cp = log.checkpoint_now().unwrap();
    let index = 23;
    let bundle = ProofBundle::new(
        index,
        log.inclusion_proof(index, cp.checkpoint().size()).unwrap(),
        cp,
    );
    let entry = log.entry(index).unwrap();
    drop(log);
    let auditor = Ed25519Verifier::from_vkey(&vkey).unwrap();
    let parsed = ProofBundle::parse(&bundle.to_bytes()).unwrap();
    parsed.verify_entry(ORIGIN, &[&auditor], &entry).unwrap();
    let mut forged = entry.clone();
    forged[20] ^= 1;
    assert!(parsed.verify_entry(ORIGIN, &[&auditor], &forged).is_err());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_directory_anchor_refuses_a_second_root_for_a_size_it_holds() {
    use biv_integrity::store::CheckpointAnchor;
    use biv_integrity::tlog::{Checkpoint, Hash};
    let anchor_dir = dir("anchor-fork");
    let anchor = DirectoryAnchor::new(&anchor_dir);
    let signer = Ed25519Signer::from_seed(ORIGIN, &[9; 32]).unwrap();
    let a = Checkpoint::new(ORIGIN, 6, Hash::from_bytes([1; 32]))
        .unwrap()
        .sign(&[&signer])
        .unwrap();
    let b = Checkpoint::new(ORIGIN, 6, Hash::from_bytes([2; 32]))
        .unwrap()
        .sign(&[&signer])
        .unwrap();
    let later = Checkpoint::new(ORIGIN, 9, Hash::from_bytes([3; 32]))
        .unwrap()
        .sign(&[&signer])
        .unwrap();
    anchor.publish(&a).unwrap();
    assert!(
        anchor.publish(&b).is_err(),
        "a second root for size 6 is a fork"
    );
    assert_eq!(
        anchor.latest().unwrap().unwrap(),
        a.to_bytes(),
        "the evidence stays"
    );
    anchor.publish(&later).unwrap();
    anchor.publish(&a).unwrap(); // an older one never replaces a newer one
    assert_eq!(anchor.latest().unwrap().unwrap(), later.to_bytes());
    std::fs::remove_dir_all(&anchor_dir).unwrap();
}

/// An anchor that never answers in time (a stuck network mount).
#[derive(Debug)]
struct HungAnchor;

impl biv_integrity::store::CheckpointAnchor for HungAnchor {
    fn publish(&self, _checkpoint: &SignedCheckpoint) -> Result<(), biv_core::BackendError> {
        std::thread::sleep(Duration::from_secs(5));
        Ok(())
    }
    fn latest(&self) -> Result<Option<Vec<u8>>, biv_core::BackendError> {
        Ok(None)
    }
}

#[test]
fn a_hung_anchor_does_not_stall_appends() {
    let d = dir("hung-anchor");
    let options = FileLogOptions::default()
        .with_checkpoints(Duration::from_secs(3600), 1)
        .with_anchor(Arc::new(HungAnchor))
        .with_append_timeout(Duration::from_secs(2));
    let log = FileLog::create(&d, key(), options).unwrap();
    for n in 0..20 {
        // Each append triggers a checkpoint; publishing it hangs on its own thread.
        log.append_blocking(&sample_event(n))
            .expect("appends go on while the anchor hangs");
    }
    assert_eq!(log.checkpoint_now().unwrap().checkpoint().size(), 20);
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}
