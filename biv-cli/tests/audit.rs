//! `biv audit` end to end with the real binary: init, append the example events, checkpoint,
//! prove, verify, tamper, report.

mod common;

use common::{run_with_stdin, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use biv_integrity::tlog::{
    Ed25519Verifier, Hash, ProofBundle, SignedCheckpoint, verify_consistency,
};

const ORIGIN: &str = "biv.test/cli/audit";

fn biv(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_biv"));
    command.args(args);
    run_with_stdin(command, stdin.unwrap_or_default())
}

fn fresh(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("biv-cli-audit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn examples() -> &'static str {
    include_str!("../../examples/audit-events.jsonl")
}

fn init_and_fill(dir: &Path) -> Vec<String> {
    let d = dir.to_str().expect("utf-8 path");
    let out = biv(&["audit", "init", "--dir", d, "--origin", ORIGIN], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("verifier key: biv.test/cli/audit+"));
    let out = biv(
        &["audit", "append", "--dir", d],
        Some(examples().as_bytes()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn the_auditors_tools_work_end_to_end() {
    let dir = fresh("e2e");
    let d = dir.to_str().unwrap();
    let receipts = init_and_fill(&dir);
    let count = examples().lines().count();
    assert_eq!(receipts.len(), count);
    for (i, line) in receipts.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["index"], i as u64);
        assert_eq!(
            Hash::from_base64(v["leaf_hash"].as_str().unwrap())
                .unwrap()
                .to_bytes()
                .len(),
            32
        );
    }
    let key_mode = std::fs::metadata(dir.join("log.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777,
        0o600
    );

    let vkey = text(&biv(&["audit", "vkey", "--dir", d], None).stdout)
        .trim()
        .to_owned();
    let verifier = Ed25519Verifier::from_vkey(&vkey).unwrap();
    let cp_bytes = biv(&["audit", "checkpoint", "--dir", d], None).stdout;
    let cp = SignedCheckpoint::open(&cp_bytes, ORIGIN, &[&verifier]).unwrap();
    assert_eq!(cp.checkpoint().size(), count as u64);

    // An inclusion proof for entry 7 verifies offline against the raw entry bytes.
    let entry = biv(&["audit", "entry", "--dir", d, "--index", "7"], None).stdout;
    let leaf = biv_integrity::tlog::leaf_hash(&entry);
    assert_eq!(
        leaf.to_base64(),
        serde_json::from_str::<serde_json::Value>(&receipts[7]).unwrap()["leaf_hash"]
    );
    let bundle = biv(&["audit", "prove", "--dir", d, "--index", "7"], None);
    assert_eq!(bundle.status.code(), Some(0), "{}", text(&bundle.stderr));
    ProofBundle::parse(&bundle.stdout)
        .unwrap()
        .verify_entry(ORIGIN, &[&verifier], &entry)
        .unwrap();

    // A consistency proof from an early size to the checkpoint.
    let out = biv(&["audit", "consistency", "--dir", d, "--old", "10"], None);
    let proof: Vec<Hash> = text(&out.stdout)
        .lines()
        .map(|l| Hash::from_base64(l).unwrap())
        .collect();
    let root10 = {
        let leaves: Vec<Hash> = (0..10)
            .map(|i| {
                biv_integrity::tlog::leaf_hash(
                    &biv(
                        &["audit", "entry", "--dir", d, "--index", &i.to_string()],
                        None,
                    )
                    .stdout,
                )
            })
            .collect();
        let mut tree = biv_integrity::tlog::MemoryTree::new();
        for l in leaves {
            tree.push(l).unwrap();
        }
        tree.root()
    };
    verify_consistency(10, count as u64, &proof, &root10, cp.checkpoint().root()).unwrap();

    for full in [false, true] {
        let mut args = vec!["audit", "verify", "--dir", d, "--vkey", &vkey];
        if full {
            args.push("--full");
        }
        let out = biv(&args, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).starts_with(&format!("ok: {count} entries")));
    }

    // The patient with the break-glass access gets a report with it.
    let event: serde_json::Value = examples()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["break_glass"] == true)
        .unwrap();
    let subject = event["subject"].as_str().unwrap();
    let report = biv(
        &["audit", "patient-report", "--dir", d, "--subject", subject],
        None,
    );
    assert_eq!(report.status.code(), Some(0), "{}", text(&report.stderr));
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert!(
        json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["break_glass"] == true)
    );
    let html = biv(
        &[
            "audit",
            "patient-report",
            "--dir",
            d,
            "--subject",
            subject,
            "--html",
        ],
        None,
    );
    assert!(text(&html.stdout).contains("<html lang=\"nl\">"));

    // An insider edits one entry and fixes its frame checksum: the full check names the entry.
    let seg = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes
        .windows(entry.len())
        .position(|w| w == entry.as_slice())
        .unwrap();
    let pos = at + entry.iter().position(|&b| b == b'u').unwrap();
    bytes[pos] = b'U';
    let crc = crc32c(&bytes[at..at + entry.len()]);
    bytes[at - 4..at].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let out = biv(
        &["audit", "verify", "--dir", d, "--full", "--vkey", &vkey],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("entry 7"),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_malformed_line_is_refused_and_nothing_of_it_is_appended() {
    let dir = fresh("bad");
    let d = dir.to_str().unwrap();
    init_and_fill(&dir);
    let first = examples()
        .lines()
        .next()
        .unwrap()
        .replace("\"action\":\"R\"", "\"action\":\"X\"");
    let out = biv(&["audit", "append", "--dir", d], Some(first.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 1"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    // Valid JSON that breaks an event rule: break-glass without an authorisation protocol.
    let mut rule_breaker: serde_json::Value =
        serde_json::from_str(examples().lines().next().unwrap()).unwrap();
    rule_breaker["id"] = "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b".into();
    rule_breaker["break_glass"] = true.into();
    rule_breaker
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    let out = biv(
        &["audit", "append", "--dir", d],
        Some(rule_breaker.to_string().as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("break-glass"),
        "{}",
        text(&out.stderr)
    );
    // A replayed event is refused as a duplicate.
    let again = examples().lines().next().unwrap();
    let out = biv(&["audit", "append", "--dir", d], Some(again.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already recorded"),
        "{}",
        text(&out.stderr)
    );
    let out = biv(&["audit", "verify", "--dir", d], None);
    assert!(text(&out.stdout).starts_with(&format!("ok: {} entries", examples().lines().count())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_tail_is_refused_until_the_operator_cuts_it() {
    let dir = fresh("damaged-tail");
    let d = dir.to_str().unwrap();
    let out = biv(&["audit", "init", "--dir", d, "--origin", ORIGIN], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<&str> = examples().lines().collect();
    let append = |from: usize, to: usize| {
        let input = lines[from..to].join("\n");
        let out = biv(&["audit", "append", "--dir", d], Some(input.as_bytes()));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    };
    append(0, 4);
    // What a crash after the next run's commits, before it recorded its state or signed over
    // them, leaves: the state and the checkpoints of the first run, the frames of both.
    let state = std::fs::read(dir.join("state.json")).unwrap();
    let signed = std::fs::read(dir.join("checkpoints")).unwrap();
    append(4, 10);
    std::fs::write(dir.join("state.json"), &state).unwrap();
    std::fs::write(dir.join("checkpoints"), &signed).unwrap();
    let seg = dir.join("segments").join(format!("{:020}.seg", 0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let mut pos = 0;
    for _ in 0..6 {
        pos += 8 + u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
    }
    bytes[pos + 30] ^= 0x04; // entry 6 no longer matches its checksum; 7, 8 and 9 follow whole
    std::fs::write(&seg, &bytes).unwrap();

    let out = biv(&["audit", "append", "--dir", d], Some(b""));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("damaged") && err.contains("entry 6") && err.contains("--cut-damaged-tail"),
        "{err}"
    );
    assert_eq!(std::fs::read(&seg).unwrap(), bytes, "nothing is cut");

    let out = biv(
        &["audit", "append", "--dir", d, "--cut-damaged-tail"],
        Some(b""),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("holding 3 whole frames into"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&seg).unwrap().len(), pos, "cut at the damage");
    let out = biv(&["audit", "verify", "--dir", d, "--full"], None);
    assert!(
        text(&out.stdout).starts_with("ok: 6 entries"),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// CRC32C (Castagnoli), bit by bit: the frame checksum an insider would recompute.
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
