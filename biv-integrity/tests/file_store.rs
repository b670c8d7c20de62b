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

/// Half a frame at the end of `seg`: a header announcing 500 bytes and only some of them.
fn append_torn_frame(seg: &Path) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(seg)
        .expect("segment");
    std::io::Write::write_all(&mut f, &[0, 0, 1, 244, 1, 2, 3, 4, b'{', b'"']).expect("write");
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
    append_torn_frame(&seg);
    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    assert_eq!((log.size(), log.root()), (10, root));
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), committed);
    assert_eq!(log.append_blocking(&sample_event(10)).unwrap().index(), 10);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A log whose `state.json` was recorded after entry 4 while the segment holds 10 committed
/// entries: what a crash between two records of the state leaves (the writer acknowledges a
/// commit once its frames are synced, and records the state only now and then).
fn log_with_unrecorded_commits(tag: &str) -> (PathBuf, [u8; 32]) {
    let dir = fresh_dir(tag);
    let options =
        FileLogOptions::default().with_checkpoints(std::time::Duration::from_secs(3600), 1_000_000);
    let log = FileLog::create(&dir, test_key(), options.clone()).expect("create");
    fill(&log, 0..4);
    log.checkpoint_now().expect("checkpoint"); // records the state at 4
    let recorded = std::fs::read(dir.join("state.json")).expect("state.json");
    let signed = std::fs::read(dir.join("checkpoints")).expect("checkpoints");
    fill(&log, 4..10);
    let root = log.root();
    // Closing records the state at 10 and signs a checkpoint over it; the crash did neither.
    drop(log);
    std::fs::write(dir.join("state.json"), recorded).expect("write state.json");
    std::fs::write(dir.join("checkpoints"), signed).expect("write checkpoints");
    (dir, root)
}

fn recorded_size(dir: &Path) -> u64 {
    let bytes = std::fs::read(dir.join("state.json")).expect("state.json");
    let state: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    state["size"].as_u64().expect("a size")
}

#[test]
fn commits_after_the_recorded_state_are_adopted_and_a_torn_frame_after_them_cut() {
    let (dir, root) = log_with_unrecorded_commits("adopt");
    assert_eq!(recorded_size(&dir), 4);
    let seg = active_segment(&dir);
    let committed = std::fs::metadata(&seg).unwrap().len();
    append_torn_frame(&seg);

    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    assert_eq!((log.size(), log.root()), (10, root));
    for i in 0..10 {
        let event = decode_entry(&log.entry(i).unwrap()).unwrap();
        assert_eq!(event, sample_event(i), "entry {i}");
    }
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        committed,
        "only the torn frame is cut"
    );
    assert_eq!(
        recorded_size(&dir),
        10,
        "the adopted entries are recorded at once"
    );
    let quarantined: Vec<_> = std::fs::read_dir(dir.join("quarantine")).unwrap().collect();
    assert_eq!(
        quarantined.len(),
        1,
        "the torn frame is kept for inspection"
    );
    assert_eq!(log.append_blocking(&sample_event(10)).unwrap().index(), 10);
    log.verify_full().unwrap();
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_whole_frame_after_the_recorded_state_that_is_no_entry_refuses_to_open() {
    let (dir, _) = log_with_unrecorded_commits("adopt-forged");
    let seg = active_segment(&dir);
    // A frame with a valid checksum whose bytes are not an audit entry: not a torn write.
    let forged = b"not an audit entry";
    let mut frame = (forged.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&crc32c::crc32c(forged).to_be_bytes());
    frame.extend_from_slice(forged);
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &frame).unwrap();
    drop(f);
    let before = std::fs::read(&seg).unwrap();
    match FileLog::open(&dir, test_key(), FileLogOptions::default()) {
        Err(OpenError::CorruptFrame { index: 10, .. }) => {}
        other => panic!("expected CorruptFrame at entry 10, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        before,
        "a refused open cuts nothing"
    );
    assert_eq!(recorded_size(&dir), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Byte ranges of the frames of a segment.
fn frames(segment: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 8 <= segment.len() {
        let len = u32::from_be_bytes(segment[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        out.push(pos..pos + 8 + len);
        pos += 8 + len;
    }
    out
}

#[test]
fn damage_after_the_recorded_state_is_refused_until_an_operator_cuts_it() {
    let (dir, _) = log_with_unrecorded_commits("adopt-damaged");
    let seg = active_segment(&dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    let sixth = frames(&bytes)[6].clone();
    bytes[sixth.start + 20] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    // The segment had been rolled after entry 9: an empty next one, not yet listed.
    let next = dir.join("segments").join(format!("{:020}.seg", 10));
    std::fs::write(&next, b"").unwrap();
    // Entries 4 and 5 would be adopted; from entry 6 on it could be an unfinished commit, but
    // whole frames follow (entries 7, 8 and 9), so it may as well be damage to committed
    // entries, which no checkpoint covers yet (checkpoints follow the recorded state). The
    // open is refused and nothing changes…
    match FileLog::open(&dir, test_key(), FileLogOptions::default()) {
        Err(OpenError::DamagedTail {
            first: 0,
            offset,
            index: 6,
            whole_frames: 3,
        }) => assert_eq!(offset, sixth.start as u64),
        other => panic!("expected DamagedTail, got {other:?}"),
    }
    assert_eq!(std::fs::read(&seg).unwrap(), bytes);
    assert_eq!(recorded_size(&dir), 4);
    // … until an operator lets the open cut the tail into quarantine/.
    let cut = FileLogOptions::default().with_damaged_tail_cut(true);
    let log = FileLog::open(&dir, test_key(), cut).unwrap();
    assert_eq!(log.size(), 6);
    assert!(
        !next.exists(),
        "the empty segment after the cut entries is removed too"
    );
    let found = log.recovery();
    assert_eq!(found.adopted_entries, 2);
    assert_eq!(found.cut_bytes, (bytes.len() - sixth.start) as u64);
    assert_eq!(found.whole_frames_cut, 3);
    drop(log);
    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    assert_eq!(
        log.recovery().whole_frames_cut,
        0,
        "reported once, by the open that cut"
    );
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritten_page_of_an_unfinished_commit_is_cut_without_asking() {
    let (dir, _) = log_with_unrecorded_commits("adopt-unwritten-page");
    let seg = active_segment(&dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    let all = frames(&bytes);
    // The page holding the start of entry 6 never reached the disk (zeros up to its end);
    // later pages of the same commit did.
    let start = all[6].start;
    let page_end = (start / 4096 + 1) * 4096;
    let after: Vec<_> = all.iter().filter(|f| f.start >= page_end).collect();
    assert!(start < page_end && !after.is_empty(), "test setup: {all:?}");
    bytes[start..page_end].fill(0);
    std::fs::write(&seg, &bytes).unwrap();
    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    assert_eq!(log.size(), 6);
    assert_eq!(log.recovery().whole_frames_cut, after.len() as u64);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_repeated_event_after_the_recorded_state_refuses_to_open() {
    let (dir, _) = log_with_unrecorded_commits("adopt-duplicate");
    let seg = active_segment(&dir);
    let bytes = std::fs::read(&seg).unwrap();
    let last = frames(&bytes)[9].clone();
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &bytes[last]).unwrap();
    drop(f);
    match FileLog::open(&dir, test_key(), FileLogOptions::default()) {
        Err(OpenError::DuplicateEvent { index: 10 }) => {}
        other => panic!("expected DuplicateEvent at 10, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unlisted_segment_is_only_accepted_empty_after_the_last_entry() {
    let (dir, root) = log_with_unrecorded_commits("adopt-unlisted");
    let at = |first: u64| dir.join("segments").join(format!("{first:020}.seg"));
    // Not empty: the writer lists a segment before it writes to it.
    std::fs::write(at(10), b"x").unwrap();
    assert!(matches!(
        FileLog::open(&dir, test_key(), FileLogOptions::default()),
        Err(OpenError::UnexpectedSegment { first: 10 })
    ));
    std::fs::remove_file(at(10)).unwrap();
    // Empty, but not right after the last (adopted) entry.
    std::fs::write(at(7), b"").unwrap();
    assert!(matches!(
        FileLog::open(&dir, test_key(), FileLogOptions::default()),
        Err(OpenError::UnexpectedSegment { first: 7 })
    ));
    std::fs::remove_file(at(7)).unwrap();
    // The empty file of a roll cut short: removed (kept in quarantine/).
    std::fs::write(at(10), b"").unwrap();
    let log = FileLog::open(&dir, test_key(), FileLogOptions::default()).unwrap();
    assert_eq!((log.size(), log.root()), (10, root));
    assert!(!at(10).exists());
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
