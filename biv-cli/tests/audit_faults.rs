//! `biv audit append` when the kernel refuses writes: the real binary runs under a file-size
//! limit (`prlimit --fsize=N`, with SIGXFSZ ignored so a write past the limit fails with EFBIG
//! instead of killing the process). Sweeping N over a fresh log puts the failure in a segment
//! (a torn frame at every offset), in `state.json`'s temporary file, and in the checkpoint
//! history signed on close. After every run:
//!
//! - a failed append exits 1 with a message naming the file, never a panic or a hang;
//! - every receipt printed is in the log with its leaf hash, and nothing else is (no entry
//!   without a receipt, so nothing torn or half-committed survives);
//! - `biv audit verify --full` passes before and after recovery;
//! - a second run under the same limit (the disk is still full) keeps all of that;
//! - without the limit, appending works again and the log verifies.

mod common;

use common::{run_with_stdin, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use biv_integrity::store::FileLogReader;
use biv_integrity::tlog::{Hash, leaf_hash};

const ORIGIN: &str = "biv.test/cli/faults";

fn run(limit: Option<u64>, args: &[&str], stdin: &[u8]) -> Output {
    let biv = env!("CARGO_BIN_EXE_biv");
    let mut command = match limit {
        // An ignored signal stays ignored across exec, so the limit makes write(2) fail with
        // EFBIG rather than kill biv with SIGXFSZ.
        Some(bytes) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(r#"trap "" XFSZ; exec prlimit --fsize="$0" "$@""#)
                .arg(bytes.to_string())
                .arg(biv);
            c
        }
        None => Command::new(biv),
    };
    command.args(args);
    run_with_stdin(command, stdin)
}

fn fresh(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("biv-cli-faults-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `count` events numbered from `from`, each with its own id: alternately a minimal event (a
/// 209-byte frame, smaller than `state.json`) and a full example event, minimal first.
fn events(from: u64, count: u64) -> String {
    let examples: Vec<&str> = include_str!("../../examples/audit-events.jsonl")
        .lines()
        .collect();
    let mut out = String::new();
    for n in from..from + count {
        let id = format!("00000000-0000-4000-8000-{n:012x}");
        let line = if (n - from).is_multiple_of(2) {
            format!(
                r#"{{"id":"{id}","action":"R","action_name":"a","time":"2026-11-23T07:58:12.000Z","outcome":"success","user":{{"id":"u"}},"source":{{"system":"s"}}}}"#
            )
        } else {
            let example = examples[usize::try_from(n).expect("small") % examples.len()];
            let (head, rest) = example.split_once(r#""id":""#).expect("example has an id");
            let (_, tail) = rest.split_once('"').expect("id is quoted");
            format!(r#"{head}"id":"{id}"{tail}"#)
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `(index, leaf hash)` of every receipt line.
fn receipts(out: &Output) -> Vec<(u64, [u8; 32])> {
    text(&out.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a receipt line");
            let index = v["index"].as_u64().expect("index");
            let leaf = Hash::from_base64(v["leaf_hash"].as_str().expect("leaf_hash"))
                .expect("base64 hash")
                .to_bytes();
            (index, leaf)
        })
        .collect()
}

/// Checks one limited run: a clean success, or a failure that says what failed.
fn check_status(out: &Output, sent: usize, got: usize, what: &str) -> Option<String> {
    let err = text(&out.stderr);
    match out.status.code() {
        Some(0) => {
            assert_eq!(got, sent, "{what}: exit 0 but {got} of {sent} receipts");
            None
        }
        Some(1) => {
            // Every receipt and then a failure: only the checkpoint over them, which the
            // command signs before it reports success, failed.
            assert!(
                got < sent || err.contains("no checkpoint could be signed"),
                "{what}: exit 1 after every receipt: {err}"
            );
            assert!(
                err.starts_with("biv audit: ") && err.contains("File too large"),
                "{what}: unclear failure message: {err}"
            );
            Some(err)
        }
        other => panic!("{what}: exit {other:?} (a panic or a signal): {err}"),
    }
}

fn verify_full(d: &str, what: &str) {
    let out = run(None, &["audit", "verify", "--dir", d, "--full"], b"");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: verify --full fails: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// What the read-only view of the log may show.
#[derive(Clone, Copy)]
enum Recorded {
    All,
    Prefix,
}

/// The log holds the receipted entries, each with its receipted leaf hash. `recorded` is when
/// the last run's writer may have stopped without recording its state (it failed): the
/// read-only view then shows the recorded state, a prefix of the receipts, and the next open
/// adopts the rest; otherwise it holds exactly the receipted entries.
fn check_log(dir: &Path, all: &[(u64, [u8; 32])], recorded: Recorded, what: &str) {
    let reader = FileLogReader::open(dir).unwrap_or_else(|e| panic!("{what}: {e}"));
    match recorded {
        Recorded::All => assert_eq!(
            reader.size(),
            all.len() as u64,
            "{what}: the log holds another number of entries than were receipted"
        ),
        Recorded::Prefix => assert!(
            reader.size() <= all.len() as u64,
            "{what}: the log holds {} entries, more than the {} receipted",
            reader.size(),
            all.len()
        ),
    }
    for (i, (index, leaf)) in all.iter().take(reader.size() as usize).enumerate() {
        assert_eq!(*index, i as u64, "{what}: receipts out of order");
        let entry = reader
            .entry(*index)
            .unwrap_or_else(|e| panic!("{what}: receipted entry {index}: {e}"));
        assert_eq!(
            &leaf_hash(&entry).to_bytes(),
            leaf,
            "{what}: entry {index} differs from its receipt"
        );
    }
}

#[test]
fn append_under_a_file_size_limit_fails_closed_and_recovers() {
    let prlimit = Command::new("prlimit").arg("--version").output();
    assert!(
        prlimit.is_ok_and(|o| o.status.success()),
        "this test needs prlimit (util-linux)"
    );
    let dir = fresh("sweep");
    let d = dir.to_str().expect("utf-8 path");
    let mut failed_in = Vec::new();
    let mut next_event = 0;
    // Frames of 209 and ~650 bytes, state.json ~270 bytes, two checkpoints ~370 bytes: every
    // window is a few dozen bytes wide or more. One to three events per run: a run that
    // appends one small event and succeeds fails only in the checkpoint signed on close.
    for (i, limit) in (1..1_700).step_by(23).enumerate() {
        let what = format!("limit {limit}");
        let _ = std::fs::remove_dir_all(&dir);
        let out = run(
            None,
            &["audit", "init", "--dir", d, "--origin", ORIGIN],
            b"",
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let mut all = Vec::new();
        // The first run hits the limit; the second finds the disk still full (and recovers
        // under it first).
        for attempt in 0..2 {
            let what = format!("{what} run {attempt}");
            let sent = 1 + (i + attempt) as u64 % 3;
            let input = events(next_event, sent);
            next_event += sent;
            let out = run(
                Some(limit),
                &["audit", "append", "--dir", d],
                input.as_bytes(),
            );
            let got = receipts(&out);
            if let Some(err) = check_status(&out, sent as usize, got.len(), &what) {
                failed_in.push(err);
            }
            all.extend(got);
            verify_full(d, &what);
            check_log(&dir, &all, Recorded::Prefix, &what);
        }
        let input = events(next_event, 1);
        next_event += 1;
        let out = run(None, &["audit", "append", "--dir", d], input.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: no append after the limit is lifted: {}",
            text(&out.stderr)
        );
        let got = receipts(&out);
        assert_eq!(got.len(), 1, "{what}");
        all.extend(got);
        verify_full(d, &what);
        // This run opened the log (adopting what the failed runs committed) and closed it.
        check_log(&dir, &all, Recorded::All, &what);
        if dir.join("quarantine").exists() {
            for entry in std::fs::read_dir(dir.join("quarantine")).expect("quarantine/") {
                let name = entry.expect("entry").file_name();
                failed_in.push(format!("quarantined {}", name.to_string_lossy()));
            }
        }
    }
    let seen = |needle: &str| failed_in.iter().any(|m| m.contains(needle));
    assert!(seen("writing segment"), "no segment write failed");
    assert!(seen("state.json: File too large"), "no state.json failed");
    assert!(seen(".tail"), "no torn segment tail was cut on recovery");
    assert!(
        seen("checkpoints.tail"),
        "no checkpoint write failed on close"
    );
    assert!(
        seen("no checkpoint could be signed"),
        "no run failed only in the checkpoint over its appends"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn an_init_that_failed_under_a_file_size_limit_can_be_run_again() {
    let dir = fresh("init");
    let d = dir.to_str().expect("utf-8 path");
    let mut failed = 0;
    // The key (~100 bytes), the verifier key, the first segment, the tree, state.json and the
    // first checkpoint: every limit below lands in one of them.
    for limit in (1..700).step_by(29) {
        let _ = std::fs::remove_dir_all(&dir);
        let out = run(
            Some(limit),
            &["audit", "init", "--dir", d, "--origin", ORIGIN],
            b"",
        );
        if out.status.code() == Some(0) {
            continue;
        }
        failed += 1;
        assert_eq!(
            out.status.code(),
            Some(1),
            "limit {limit}: {}",
            text(&out.stderr)
        );
        let again = run(
            None,
            &["audit", "init", "--dir", d, "--origin", ORIGIN],
            b"",
        );
        if dir.join("state.json").exists() && again.status.code() != Some(0) {
            // The first init got as far as the log's state: the log exists and keeps its key.
            assert!(
                text(&again.stderr).contains("already holds an audit log"),
                "limit {limit}: {}",
                text(&again.stderr)
            );
        } else {
            assert_eq!(
                again.status.code(),
                Some(0),
                "limit {limit}: init again after a failed one: {}",
                text(&again.stderr)
            );
        }
        let input = events(9_000 + limit, 1);
        let out = run(None, &["audit", "append", "--dir", d], input.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(0),
            "limit {limit}: {}",
            text(&out.stderr)
        );
        verify_full(d, &format!("limit {limit}"));
    }
    assert!(failed >= 5, "the limits made init fail ({failed} times)");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
