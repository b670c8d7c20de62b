//! The file store: the AuditSink contract, persistence, recovery and tamper detection.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use biv_core::{AuditAppendError, AuditEvent, AuditReceipt, AuditSink};
use biv_integrity::audit::decode_entry;
use biv_integrity::store::{
    CheckpointKey, FileLog, FileLogOptions, OpenError, ProveError, ReadError,
};
use biv_integrity::tlog::{Ed25519Signer, Hash, verify_consistency, verify_inclusion};
use biv_testkit::{audit_sink_conformance, sample_event};
use sha2::{Digest, Sha256};

fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "biv-filelog-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A file log in a temporary directory that is removed when the log is dropped.
#[derive(Debug)]
struct TempLog {
    log: Option<FileLog>,
    dir: PathBuf,
}

impl TempLog {
    fn new() -> TempLog {
        let dir = fresh_dir("conformance");
        TempLog {
            log: Some(
                FileLog::create(&dir, test_key(), FileLogOptions::default()).expect("create"),
            ),
            dir,
        }
    }
}

impl Drop for TempLog {
    fn drop(&mut self) {
        self.log.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[async_trait]
impl AuditSink for TempLog {
    async fn append(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        self.log.as_ref().expect("open").append(event).await
    }
}

audit_sink_conformance!(TempLog::new());

fn leaf(entry: &[u8]) -> [u8; 32] {
    Sha256::digest([&[0u8][..], entry].concat()).into()
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    Sha256::digest([&[1u8][..], l, r].concat()).into()
}

/// The RFC 6962 root, computed the naive recursive way.
fn naive_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            node(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

fn small_segments() -> FileLogOptions {
    FileLogOptions::default().with_segment_bytes(4096)
}

fn fill(log: &FileLog, range: std::ops::Range<u64>) -> Vec<AuditEvent> {
    range
        .map(|n| {
            let e = sample_event(n);
            log.append_blocking(&e).expect("append");
            e
        })
        .collect()
}

#[test]
fn roots_match_a_naive_tree_at_every_size() {
    let dir = fresh_dir("roots");
    let log = FileLog::create(&dir, test_key(), small_segments()).unwrap();
    assert_eq!(log.root(), naive_root(&[]));
    let mut leaves = Vec::new();
    for n in 0..40 {
        let r = log.append_blocking(&sample_event(n)).unwrap();
        let entry = log.entry(n).unwrap();
        assert_eq!(r.entry_digest(), &leaf(&entry));
        leaves.push(leaf(&entry));
        assert_eq!(log.root(), naive_root(&leaves), "size {}", n + 1);
        let size = n + 1;
        let root = Hash::from_bytes(log.root());
        for old in 1..=size {
            assert_eq!(
                log.root_at(old).unwrap().to_bytes(),
                naive_root(&leaves[..old as usize]),
                "root at {old}"
            );
            let proof = log.consistency_proof(old, size).unwrap();
            verify_consistency(old, size, &proof, &log.root_at(old).unwrap(), &root)
                .unwrap_or_else(|e| panic!("consistency {old} -> {size}: {e}"));
        }
        for index in 0..size {
            let proof = log.inclusion_proof(index, size).unwrap();
            verify_inclusion(
                index,
                size,
                &Hash::from_bytes(leaves[index as usize]),
                &proof,
                &root,
            )
            .unwrap_or_else(|e| panic!("inclusion {index} in {size}: {e}"));
        }
    }
    assert!(matches!(
        log.inclusion_proof(0, 41),
        Err(ProveError::BeyondCommitted {
            size: 41,
            committed: 40
        })
    ));
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reopening_gives_back_every_entry_across_segments() {
    let dir = fresh_dir("reopen");
    let log = FileLog::create(&dir, test_key(), small_segments()).unwrap();
    let events = fill(&log, 0..60);
    let root = log.root();
    drop(log);
    let segments = std::fs::read_dir(dir.join("segments")).unwrap().count();
    assert!(segments > 3, "small segments roll: {segments}");
    let log = FileLog::open(&dir, test_key(), small_segments()).unwrap();
    assert_eq!((log.size(), log.root()), (60, root));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(&decode_entry(&log.entry(i as u64).unwrap()).unwrap(), e);
    }
    assert!(matches!(
        log.entry(60),
        Err(ReadError::OutOfRange {
            index: 60,
            size: 60
        })
    ));
    // Appending continues where it stopped, and duplicates are still recognised.
    assert_eq!(log.append_blocking(&sample_event(60)).unwrap().index(), 60);
    assert!(matches!(
        log.append_blocking(&events[3]),
        Err(AuditAppendError::Duplicate)
    ));
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn active_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .expect("segments dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    segs.sort();
    segs.pop().expect("a segment")
}

#[test]
fn a_torn_tail_is_cut_off_and_nothing_else() {
    let dir = fresh_dir("torn");
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    fill(&log, 0..10);
    let root = log.root();
    drop(log);
    let seg = active_segment(&dir);
    let committed = std::fs::metadata(&seg).unwrap().len();
    // Half a frame: a header announcing 500 bytes and only some of them.
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &[0, 0, 1, 244, 1, 2, 3, 4, b'{', b'"']).unwrap();
    drop(f);
    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    assert_eq!((log.size(), log.root()), (10, root));
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), committed);
    assert_eq!(log.append_blocking(&sample_event(10)).unwrap().index(), 10);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_byte_in_committed_data_refuses_to_open() {
    let dir = fresh_dir("flip");
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    fill(&log, 0..10);
    drop(log);
    let seg = active_segment(&dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();
    match FileLog::open(&dir, test_key(), FileLogOptions::default()) {
        Err(OpenError::CorruptFrame {
            first: 0,
            index,
            offset,
            ..
        }) => {
            assert!(
                index < 10 && offset < middle as u64,
                "index {index} offset {offset}"
            );
        }
        other => panic!("expected CorruptFrame, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deleted_and_replaced_segments_are_detected() {
    let dir = fresh_dir("segs");
    let log = FileLog::create(&dir, test_key(), small_segments()).unwrap();
    fill(&log, 0..30);
    drop(log);
    let mut segs: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    // Replace the first segment by an identical copy: same bytes, another file.
    let copy = dir.join("copy");
    std::fs::copy(&segs[0], &copy).unwrap();
    std::fs::rename(&copy, &segs[0]).unwrap();
    assert!(matches!(
        FileLog::open(&dir, test_key(), small_segments()),
        Err(OpenError::SegmentReplaced { first: 0 })
    ));
    std::fs::remove_file(&segs[1]).unwrap();
    match FileLog::open(&dir, test_key(), small_segments()) {
        Err(OpenError::SegmentReplaced { first: 0 } | OpenError::SegmentMissing { .. }) => {}
        other => panic!("expected a segment error, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_segment_deleted_while_running_fails_closed() {
    let dir = fresh_dir("running");
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    fill(&log, 0..3);
    std::fs::remove_file(active_segment(&dir)).unwrap();
    assert!(matches!(
        log.append_blocking(&sample_event(3)),
        Err(AuditAppendError::Backend(_))
    ));
    // Poisoned: later appends fail too, and nothing more is acknowledged.
    assert!(matches!(
        log.append_blocking(&sample_event(4)),
        Err(AuditAppendError::Backend(_))
    ));
    assert_eq!(log.size(), 3);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_changed_root_in_the_state_refuses_to_open() {
    let dir = fresh_dir("root");
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    fill(&log, 0..5);
    drop(log);
    let state = std::fs::read_to_string(dir.join("state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    let root = v["root"].as_str().unwrap();
    let forged = state.replace(root, &"0".repeat(64));
    std::fs::write(dir.join("state.json"), forged).unwrap();
    assert!(matches!(
        FileLog::open(&dir, test_key(), FileLogOptions::default()),
        Err(OpenError::RootMismatch { size: 5, .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn derived_files_are_rebuilt_and_a_second_writer_is_locked_out() {
    let dir = fresh_dir("rebuild");
    let log = FileLog::create(&dir, test_key(), small_segments()).unwrap();
    fill(&log, 0..25);
    let root = log.root();
    assert!(matches!(
        FileLog::open(&dir, test_key(), small_segments()),
        Err(OpenError::Locked(_))
    ));
    drop(log);
    std::fs::remove_dir_all(dir.join("tree")).unwrap();
    std::fs::create_dir(dir.join("tree")).unwrap();
    std::fs::remove_file(dir.join("index")).unwrap();
    let log = FileLog::open(&dir, test_key(), small_segments()).unwrap();
    assert_eq!((log.size(), log.root()), (25, root));
    assert!(decode_entry(&log.entry(24).unwrap()).is_ok());
    drop(log);
    assert!(matches!(
        FileLog::create(&dir, test_key(), small_segments()),
        Err(OpenError::AlreadyExists(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_and_oversized_events_are_refused_before_writing() {
    let dir = fresh_dir("invalid");
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    let mut huge = sample_event(1);
    huge.purpose_of_use = Some("x".repeat(70_000));
    assert!(matches!(
        log.append_blocking(&huge),
        Err(AuditAppendError::TooLarge { limit: 65_535, .. })
    ));
    let mut bad = sample_event(2);
    bad.user.id = String::new();
    assert!(matches!(
        log.append_blocking(&bad),
        Err(AuditAppendError::Invalid(_))
    ));
    assert_eq!(log.size(), 0);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rewrites entry `index`'s bytes in place with a valid checksum, as an insider with file access
/// could. Returns the forged entry.
fn forge_entry(dir: &Path, log: &FileLog, index: u64) -> Vec<u8> {
    let original = log.entry(index).expect("entry");
    let forged: Vec<u8> = original
        .iter()
        .map(|&b| if b == b'u' { b'U' } else { b })
        .collect();
    assert_ne!(forged, original);
    let seg = active_segment(dir);
    let mut bytes = std::fs::read(&seg).expect("segment");
    let at = bytes
        .windows(original.len())
        .position(|w| w == original.as_slice())
        .expect("entry in segment");
    bytes[at..at + forged.len()].copy_from_slice(&forged);
    bytes[at - 4..at].copy_from_slice(&crc32c::crc32c(&forged).to_be_bytes());
    std::fs::write(&seg, &bytes).expect("write segment");
    forged
}

#[test]
fn full_verification_finds_a_forged_entry_with_a_valid_checksum() {
    let dir = fresh_dir("forge");
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    fill(&log, 0..12);
    assert_eq!(log.verify_full().unwrap(), 12);
    forge_entry(&dir, &log, 7);
    drop(log);
    // The frames are intact and the derived files untouched, so the log opens ...
    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    // ... but reading or verifying the entry exposes the forgery, naming it.
    assert!(matches!(log.entry(7), Err(ReadError::Corrupt { index: 7 })));
    match log.verify_full() {
        Err(biv_integrity::store::VerifyError::Leaf { index: 7 }) => {}
        other => panic!("expected a leaf mismatch at 7, got {other:?}"),
    }
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn full_verification_finds_a_forged_leaf_hash_through_the_root() {
    let dir = fresh_dir("forge-leaf");
    let log = FileLog::create(&dir, test_key(), FileLogOptions::default()).unwrap();
    fill(&log, 0..12);
    let forged = forge_entry(&dir, &log, 2);
    drop(log);
    // The insider also rewrites the stored leaf hash; the upper tree levels still hold the truth.
    let level0 = dir.join("tree").join("level-00");
    let mut leaves = std::fs::read(&level0).unwrap();
    leaves[64..96].copy_from_slice(&leaf(&forged));
    std::fs::write(&level0, &leaves).unwrap();
    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    match log.verify_full() {
        Err(biv_integrity::store::VerifyError::Root { size: 12, .. }) => {}
        other => panic!("expected a root mismatch, got {other:?}"),
    }
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn test_key() -> CheckpointKey {
    CheckpointKey::ed25519(
        Ed25519Signer::from_seed("biv.test/audit", &[7; 32]).expect("valid key name"),
    )
}
