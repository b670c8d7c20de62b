//! Crash safety: a child process appends from four threads and is killed with SIGKILL at random
//! moments, twenty times. After every kill the log opens (recovering), verifies its root, and
//! holds every entry whose receipt the child printed, with the receipted leaf hash.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions};
use biv_integrity::tlog::Ed25519Signer;
use sha2::{Digest, Sha256};

/// A small deterministic generator for the kill delays (no dependency needed).
fn next_delay(state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    Duration::from_millis(20 + *state % 180)
}

#[test]
fn sigkill_at_random_moments_loses_no_receipted_entry() {
    let child = biv_testkit::files::example_binary("crash_child");
    let dir = std::env::temp_dir().join(format!("biv-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut receipts: BTreeMap<u64, String> = BTreeMap::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..20u64 {
        let mut proc = Command::new(&child)
            .arg(&dir)
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the child");
        std::thread::sleep(next_delay(&mut rng));
        proc.kill().expect("SIGKILL the child");
        let mut out = String::new();
        proc.stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read receipts");
        let mut err = String::new();
        proc.stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read stderr");
        proc.wait().expect("reap the child");
        assert!(
            !err.contains("append failed") && !err.contains("cannot create"),
            "round {round}: child failed: {err}"
        );
        for line in out.lines() {
            // A line cut by the kill is incomplete; only whole lines are receipts.
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
        let log = FileLog::open(
            &dir,
            test_key(),
            FileLogOptions::default().with_segment_bytes(16 * 1024),
        )
        .unwrap_or_else(|e| panic!("round {round}: the log does not open after SIGKILL: {e}"));
        let size = log.size();
        for (&index, hash) in &receipts {
            assert!(
                index < size,
                "round {round}: receipted entry {index} lost (size {size})"
            );
            let entry = log
                .entry(index)
                .unwrap_or_else(|e| panic!("round {round}: entry {index}: {e}"));
            let leaf: [u8; 32] = Sha256::digest([&[0u8][..], &entry].concat()).into();
            let hex: String = leaf.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                &hex, hash,
                "round {round}: entry {index} differs from its receipt"
            );
        }
    }
    assert!(
        receipts.len() > 20,
        "the child should have appended something: {}",
        receipts.len()
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

fn test_key() -> CheckpointKey {
    CheckpointKey::ed25519(
        Ed25519Signer::from_seed("biv.test/audit", &[7; 32]).expect("valid key name"),
    )
}
