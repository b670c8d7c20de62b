//! An insider with write access to the log directory, and the recovery and verification paths
//! that must not let them through (or destroy evidence while refusing them).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use biv_integrity::store::{
    CheckpointKey, DirVerifyError, FileLog, FileLogOptions, OpenError, verify_dir,
};
use biv_integrity::tlog::{CompactRange, Ed25519Signer, leaf_hash};
use biv_testkit::sample_event;

const ORIGIN: &str = "biv.test/tamper";

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[11; 32]).expect("key")
}

fn key() -> CheckpointKey {
    CheckpointKey::ed25519(signer())
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("biv-tamper-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn quiet() -> FileLogOptions {
    FileLogOptions::default().with_checkpoints(Duration::from_secs(3600), 1_000_000)
}

fn fill(log: &FileLog, from: u64, to: u64) {
    for n in from..to {
        log.append_blocking(&sample_event(n)).expect("append");
    }
}

fn segment(d: &Path) -> PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(d.join("segments"))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .collect();
    segs.sort();
    segs.remove(0)
}

fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Rewrites one entry everywhere an unsigned file records it: the segment (with a valid CRC),
/// the stored leaf hash, and state.json's root. Only the signed checkpoints still tell.
fn rewrite_entry_consistently(d: &Path, index: u64, entries: &[Vec<u8>]) {
    let original = &entries[index as usize];
    let forged: Vec<u8> = original
        .iter()
        .map(|&b| if b == b'u' { b'x' } else { b })
        .collect();
    let seg = segment(d);
    let mut bytes = std::fs::read(&seg).expect("segment");
    let at = bytes
        .windows(original.len())
        .position(|w| w == original.as_slice())
        .expect("entry in segment");
    bytes[at..at + forged.len()].copy_from_slice(&forged);
    bytes[at - 4..at].copy_from_slice(&crc32c(&forged).to_be_bytes());
    std::fs::write(&seg, &bytes).expect("write segment");
    let level0 = d.join("tree").join("level-00");
    let mut leaves = std::fs::read(&level0).expect("level-00");
    let i = index as usize * 32;
    leaves[i..i + 32].copy_from_slice(leaf_hash(&forged).as_bytes());
    std::fs::write(&level0, &leaves).expect("write level-00");
    let mut range = CompactRange::new();
    for (n, e) in entries.iter().enumerate() {
        range
            .push(leaf_hash(if n as u64 == index { &forged } else { e }))
            .expect("push");
    }
    let state = std::fs::read_to_string(d.join("state.json")).expect("state");
    let v: serde_json::Value = serde_json::from_str(&state).expect("json");
    let forged_state = state.replace(v["root"].as_str().expect("root"), &range.root().to_hex());
    std::fs::write(d.join("state.json"), forged_state).expect("write state");
}

#[test]
fn full_verification_checks_signed_roots_against_the_re_hashed_entries() {
    let d = dir("rewrite");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    fill(&log, 0, 32);
    let entries: Vec<Vec<u8>> = (0..32).map(|i| log.entry(i).unwrap()).collect();
    drop(log); // signs a checkpoint at 32
    rewrite_entry_consistently(&d, 5, &entries);
    let verifier = signer().verifier();
    match verify_dir(&d, ORIGIN, &verifier, true, None) {
        Err(DirVerifyError::Checkpoint { size: 32, what, .. }) => {
            assert!(what.contains("rewritten"), "{what}")
        }
        other => panic!("the rewrite must fail against the signed checkpoint, got {other:?}"),
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_damaged_checkpoint_in_the_middle_of_the_history_is_refused_not_cut() {
    let d = dir("history");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    fill(&log, 0, 8);
    log.checkpoint_now().unwrap();
    fill(&log, 8, 16);
    drop(log);
    let path = d.join("checkpoints");
    let mut bytes = std::fs::read(&path).unwrap();
    let len_before = bytes.len();
    // Flip a byte inside the second checkpoint (the first is the empty tree's, ~170 bytes).
    bytes[len_before / 2] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let verifier = signer().verifier();
    assert!(matches!(
        verify_dir(&d, ORIGIN, &verifier, true, None),
        Err(DirVerifyError::Checkpoint { .. })
    ));
    match FileLog::open(&d, key(), quiet()) {
        Err(OpenError::CheckpointInvalid(why)) => assert!(why.contains("damaged"), "{why}"),
        other => panic!("expected the damaged history to be refused, got {other:?}"),
    }
    assert_eq!(
        std::fs::metadata(&path).unwrap().len() as usize,
        len_before,
        "nothing may be cut"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_refused_open_destroys_nothing() {
    let d = dir("refuse");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    fill(&log, 0, 8);
    drop(log);
    let old_state = std::fs::read(d.join("state.json")).unwrap();
    let log = FileLog::open(&d, key(), quiet()).unwrap();
    fill(&log, 8, 20);
    drop(log); // signs a checkpoint at 20
    // A stale state.json comes back (an operator's mistake, or an insider's), and a byte of entry
    // 12 is changed: entries 8 to 11 after the stale state are adopted, and from entry 12 on the
    // segment could be the torn tail of an unfinished commit — but whole frames follow, and a
    // signed checkpoint covers all 20 entries, so nothing may be cut.
    std::fs::write(d.join("state.json"), &old_state).unwrap();
    let seg = segment(&d);
    let mut bytes = std::fs::read(&seg).unwrap();
    let mut pos = 0;
    for _ in 0..12 {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    bytes[pos + 8 + 20] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    match FileLog::open(&d, key(), quiet()) {
        Err(OpenError::DamagedTail {
            index: 12,
            whole_frames: 7,
            ..
        }) => {}
        other => panic!("expected the damaged tail to be refused, got {other:?}"),
    }
    // Even an operator's permission to cut a damaged tail does not cut signed entries.
    match FileLog::open(&d, key(), quiet().with_damaged_tail_cut(true)) {
        Err(OpenError::CheckpointAhead {
            checkpoint_size: 20,
            size: 12,
            anchored: false,
        }) => {}
        other => panic!("expected the damaged log to be refused, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        bytes,
        "the receipted entries must survive the refusal"
    );
    assert_eq!(std::fs::read(d.join("state.json")).unwrap(), old_state);
    assert!(!d.join("quarantine").exists(), "nothing was cut");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_durable_mark_of_the_derived_files_advances_while_running() {
    let d = dir("derived");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    fill(&log, 0, 10);
    std::thread::sleep(Duration::from_millis(1100));
    fill(&log, 10, 12); // this commit syncs the derived files and records the mark
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("state.json")).unwrap()).unwrap();
    assert!(state["derived"].as_u64().unwrap() >= 10, "{state}");
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn verification_beside_a_running_writer_never_reports_a_false_rollback() {
    let d = dir("live");
    let log = Arc::new(
        FileLog::create(
            &d,
            key(),
            FileLogOptions::default().with_checkpoints(Duration::from_millis(5), 3),
        )
        .unwrap(),
    );
    let writer = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || fill(&log, 0, 400))
    };
    let verifier = signer().verifier();
    let mut runs = 0;
    while !writer.is_finished() {
        if let Err(e) = verify_dir(&d, ORIGIN, &verifier, runs % 2 == 0, None) {
            panic!("verification of a healthy live log failed: {e}");
        }
        runs += 1;
    }
    writer.join().unwrap();
    assert!(runs > 0);
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_failed_relocation_records_nothing() {
    let d = dir("relocate");
    let log = FileLog::create(&d, key(), quiet().with_segment_bytes(4096)).unwrap();
    fill(&log, 0, 30);
    drop(log);
    // A sealed segment replaced by a forged file of the same length.
    let seg = segment(&d);
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x01;
    let tmp = d.join("forged");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, &seg).unwrap();
    assert!(matches!(
        FileLog::open(&d, key(), quiet()),
        Err(OpenError::SegmentReplaced { first: 0 })
    ));
    assert!(FileLog::open_relocated(&d, key(), quiet()).is_err());
    assert!(
        matches!(
            FileLog::open(&d, key(), quiet()),
            Err(OpenError::SegmentReplaced { first: 0 })
        ),
        "a failed relocation must leave the replaced segment refused"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
