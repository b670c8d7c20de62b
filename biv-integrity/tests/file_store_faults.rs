//! Write failures from the kernel: the crash-test child (four threads appending until an append
//! fails) runs under a file-size limit (`prlimit --fsize=N`, SIGXFSZ ignored, so writes past N
//! fail with EFBIG). With 16 KiB segments a limit below 16 KiB tears a frame in the first
//! segment; a larger one fails the index, which grows 32 bytes per entry, while segments keep
//! rolling. Each limit runs twice (the second time the disk is still full, and recovery runs
//! under the limit), then the log is reopened without it. It must open, hold every entry whose
//! receipt the child printed with the receipted leaf hash, verify in full, and take appends.
//!
//! The in-crate unit tests (`store::file::writer::fault_tests`) inject the failures the kernel
//! does not give on demand: EIO on fsync, failed renames and directory syncs, stalls.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions, OpenError, verify_dir};
use biv_integrity::tlog::{Ed25519Signer, leaf_hash};

const ORIGIN: &str = "biv.test/audit";

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[7; 32]).expect("valid key name")
}

/// The child's key and segment size.
fn open(dir: &Path) -> FileLog {
    FileLog::open(
        dir,
        CheckpointKey::ed25519(signer()),
        FileLogOptions::default().with_segment_bytes(16 * 1024),
    )
    .unwrap_or_else(|e| panic!("the log does not open after the write failures: {e}"))
}

fn run_limited(child: &Path, dir: &Path, limit: u64, seed: u64) -> Output {
    Command::new("sh")
        .arg("-c")
        // An ignored signal stays ignored across exec.
        .arg(r#"trap "" XFSZ; exec prlimit --fsize="$0" "$@""#)
        .arg(limit.to_string())
        .arg(child)
        .arg(dir)
        .arg(seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run the child")
}

/// Adds the child's receipt lines (`<index> <leaf hash hex>`) to `receipts`.
fn collect(out: &Output, receipts: &mut BTreeMap<u64, String>) {
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // The child exits from one thread while another may be printing: whole lines only.
        if let Some((index, hash)) = line.split_once(' ')
            && hash.len() == 64
            && let Ok(index) = index.parse::<u64>()
        {
            assert!(
                receipts
                    .insert(index, hash.to_owned())
                    .is_none_or(|old| old == hash),
                "index {index} receipted twice with different hashes"
            );
        }
    }
}

#[test]
fn appends_under_a_file_size_limit_fail_closed_and_lose_no_receipted_entry() {
    let prlimit = Command::new("prlimit").arg("--version").output();
    assert!(
        prlimit.is_ok_and(|o| o.status.success()),
        "this test needs prlimit (util-linux)"
    );
    let child = biv_testkit::files::example_binary("crash_child");
    let dir = std::env::temp_dir().join(format!("biv-efbig-{}", std::process::id()));
    let mut seed = 0;
    for limit in [
        1_000, 2_345, 5_555, 9_999, 15_000, 16_383, 17_000, 24_680, 33_333,
    ] {
        let _ = std::fs::remove_dir_all(&dir);
        let mut receipts = BTreeMap::new();
        for attempt in 0..2 {
            seed += 1;
            let out = run_limited(&child, &dir, limit, seed);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "limit {limit} run {attempt}: the child must stop with an error, not crash or hang: {err}"
            );
            assert!(
                err.contains("File too large"),
                "limit {limit} run {attempt}: {err}"
            );
            if attempt == 0 {
                assert!(err.starts_with("append failed: "), "limit {limit}: {err}");
            }
            collect(&out, &mut receipts);
        }
        // Under the smallest limits the first group commit (up to four entries, one per
        // thread) may already not fit, so nothing is receipted; from 5,555 bytes on it always
        // fits.
        assert!(
            limit < 5_555 || !receipts.is_empty(),
            "limit {limit}: the child should have appended something"
        );
        let log = open(&dir);
        let size = log.size();
        for (&index, hash) in &receipts {
            assert!(
                index < size,
                "limit {limit}: receipted entry {index} lost (size {size})"
            );
            let entry = log
                .entry(index)
                .unwrap_or_else(|e| panic!("limit {limit}: entry {index}: {e}"));
            let hex: String = leaf_hash(&entry)
                .to_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                &hex, hash,
                "limit {limit}: entry {index} differs from its receipt"
            );
        }
        log.verify_full()
            .unwrap_or_else(|e| panic!("limit {limit}: full verification fails: {e}"));
        let receipt = log
            .append_blocking(&biv_testkit::sample_event(1_000_000 + limit))
            .unwrap_or_else(|e| panic!("limit {limit}: no append after the limit is lifted: {e}"));
        assert_eq!(receipt.index(), size);
        drop(log);
        verify_dir(&dir, ORIGIN, &signer().verifier(), true, None)
            .unwrap_or_else(|e| panic!("limit {limit}: verify_dir --full fails: {e}"));
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// A sealed segment changed in place (same file, same size) is refused on open: recovery checks
/// each sealed segment's last frame against the index and the stored leaf hash.
#[test]
fn a_sealed_segment_rewritten_at_its_end_is_refused_on_open() {
    let dir = std::env::temp_dir().join(format!("biv-sealed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = FileLog::create(
        &dir,
        CheckpointKey::ed25519(signer()),
        FileLogOptions::default().with_segment_bytes(16 * 1024),
    )
    .unwrap();
    for n in 0..60 {
        log.append_blocking(&biv_testkit::sample_event(n)).unwrap();
    }
    drop(log);
    let first = dir.join("segments").join(format!("{:020}.seg", 0));
    let original = std::fs::read(&first).unwrap();
    let segments = std::fs::read_dir(dir.join("segments")).unwrap().count();
    assert!(segments > 1, "the first segment should be sealed");
    let reopen = || {
        FileLog::open(
            &dir,
            CheckpointKey::ed25519(signer()),
            FileLogOptions::default(),
        )
    };
    // A byte of the last entry flipped: the frame's checksum breaks.
    let mut damaged = original.clone();
    let at = damaged.len() - 2;
    damaged[at] ^= 0x01;
    std::fs::write(&first, &damaged).unwrap();
    match reopen() {
        Err(OpenError::SegmentContent { first: 0, what, .. }) => {
            assert!(what.contains("checksum"), "{what}")
        }
        other => panic!("a damaged sealed segment must be refused, got {other:?}"),
    }
    // The same change with a fresh checksum: the frame is whole, the entry is not the one
    // committed.
    let mut pos = 0;
    let mut last = 0;
    while pos < damaged.len() {
        last = pos;
        let len = u32::from_be_bytes(damaged[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    let crc = crc32c::crc32c(&damaged[last + 8..]);
    damaged[last + 4..last + 8].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&first, &damaged).unwrap();
    match reopen() {
        Err(OpenError::SegmentContent { first: 0, what, .. }) => {
            assert!(what.contains("leaf hash"), "{what}")
        }
        other => panic!("a rewritten sealed segment must be refused, got {other:?}"),
    }
    std::fs::write(&first, &original).unwrap();
    let log = open(&dir);
    assert_eq!(log.size(), 60);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}
