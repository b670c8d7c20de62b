//! `biv audit append --witness URL --witness-key VKEY` with the real binary against
//! biv-testkit's stand-in c2sp.org/tlog-witness witness.

mod common;

use common::{run_with_stdin, text};
use std::path::PathBuf;
use std::process::{Command, Output};

use biv_integrity::tlog::{CosignatureVerifier, SignedCheckpoint, verify_cosignatures};
use biv_testkit::witness::TlogWitness;

const ORIGIN: &str = "biv.test/cli/witnessed";

fn biv(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_biv"));
    command.args(args);
    run_with_stdin(command, stdin.unwrap_or_default())
}

fn fresh(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("biv-cli-witness-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn examples() -> &'static str {
    include_str!("../../examples/audit-events.jsonl")
}

/// `biv audit init`; returns the log's verifier key.
fn init(dir: &str) -> String {
    let out = biv(&["audit", "init", "--dir", dir, "--origin", ORIGIN], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("verifier key: "))
        .expect("init prints the verifier key")
        .to_owned()
}

#[test]
fn append_ends_with_a_checkpoint_the_witness_cosigned() {
    let dir = fresh("ok");
    let d = dir.to_str().unwrap();
    let log_vkey = init(d);
    let w = TlogWitness::start("witness.test/cli", &[41; 32]).unwrap();
    w.add_log(ORIGIN, &log_vkey).unwrap();
    let url = w.url();
    let wkey = w.vkey();
    let args = [
        "audit",
        "append",
        "--dir",
        d,
        "--witness",
        &url,
        "--witness-key",
        &wkey,
    ];
    let events: Vec<&str> = examples().lines().collect();
    let half = events.len() / 2;
    let first = format!("{}\n", events[..half].join("\n"));
    let out = biv(&args, Some(first.as_bytes()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(w.size(ORIGIN), Some(half as u64));
    // The cosigned checkpoint is kept in the log directory (the default state file).
    let state = std::fs::read(dir.join("witness.checkpoint")).unwrap();
    let cp = SignedCheckpoint::parse(&state).unwrap();
    assert_eq!(cp.checkpoint().size(), half as u64);
    let witness_key = CosignatureVerifier::from_vkey(&wkey).unwrap();
    assert_eq!(
        verify_cosignatures(cp.note(), &[&witness_key])
            .unwrap()
            .len(),
        1
    );
    // A second run continues from there, with a consistency proof.
    let rest = format!("{}\n", events[half..].join("\n"));
    let before = w.stats().old_sizes.len();
    let out = biv(&args, Some(rest.as_bytes()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(w.size(ORIGIN), Some(events.len() as u64));
    assert_eq!(w.stats().old_sizes.get(before), Some(&(half as u64)));
    // The log still verifies.
    let out = biv(&["audit", "verify", "--dir", d, "--full"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_witness_that_does_not_cosign_fails_the_command_after_the_appends() {
    let dir = fresh("refused");
    let d = dir.to_str().unwrap();
    init(d);
    // The witness does not know this log: 404, so nothing is cosigned.
    let w = TlogWitness::start("witness.test/cli", &[42; 32]).unwrap();
    let (url, wkey) = (w.url(), w.vkey());
    let events = format!("{}\n", examples().lines().next().unwrap());
    let out = biv(
        &[
            "audit",
            "append",
            "--dir",
            d,
            "--witness",
            &url,
            "--witness-key",
            &wkey,
        ],
        Some(events.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("did not cosign"), "{stderr}");
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "the event was appended"
    );
    assert!(!dir.join("witness.checkpoint").exists());
    // Without its key, or with a directory anchor too, the command line is refused.
    let out = biv(
        &["audit", "append", "--dir", d, "--witness", &url],
        Some(b""),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = biv(
        &[
            "audit",
            "append",
            "--dir",
            d,
            "--witness",
            &url,
            "--witness-key",
            &wkey,
            "--anchor",
            d,
        ],
        Some(b""),
    );
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
