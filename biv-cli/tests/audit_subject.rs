//! `biv audit subject-ref` and `biv audit patient-report --subject-key`: a patient's references
//! under two subject-key versions, and one report that finds the events recorded under both —
//! with the identifier only ever on stdin.

mod common;

use common::{run_with_stdin, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OLD_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const NEW_KEY: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";
/// HMAC-SHA256(OLD_KEY, "111222333"), computed independently with
/// `printf %s 111222333 | openssl dgst -sha256 -mac HMAC -macopt hexkey:<OLD_KEY>`.
const OLD_REF_VALUE: &str = "4999759a57556ce0e533e2fcbc8ef1c744fa520ffe795db89ed649cac0a0441e";
const BSN: &str = "111222333";

fn biv(args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_biv"));
    command.args(args);
    run_with_stdin(command, stdin)
}

fn fresh(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("biv-cli-subject-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn key_files(dir: &Path) -> (String, String) {
    let old = dir.join("old.hex");
    let new = dir.join("new.hex");
    std::fs::write(&old, format!("{OLD_KEY}\n")).expect("write key");
    std::fs::write(&new, NEW_KEY).expect("write key");
    (
        format!("zn-2025={}", old.display()),
        format!("zn-2026={}", new.display()),
    )
}

/// One of the example events, with its id and subject replaced.
fn event(n: usize, id: &str, subject: &str) -> String {
    let line = include_str!("../../examples/audit-events.jsonl")
        .lines()
        .nth(n)
        .expect("enough examples");
    let mut v: serde_json::Value = serde_json::from_str(line).expect("example is JSON");
    v["id"] = id.into();
    v["subject"] = subject.into();
    format!("{v}\n")
}

#[test]
fn subject_refs_are_the_documented_hmac_and_bad_input_prints_nothing() {
    let dir = fresh("ref");
    let (old, new) = key_files(&dir);

    let out = biv(
        &["audit", "subject-ref", "--subject-key", &old],
        format!("{BSN}\n1112.22.333\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected = format!("hmac-sha256:zn-2025:{OLD_REF_VALUE}");
    assert_eq!(text(&out.stdout), format!("{expected}\n{expected}\n"));

    // Every version, newest first, tab-separated.
    let out = biv(
        &[
            "audit",
            "subject-ref",
            "--subject-key",
            &new,
            "--subject-key",
            &old,
            "--all-versions",
        ],
        BSN.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let parts: Vec<&str> = line.trim_end().split('\t').collect();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].starts_with("hmac-sha256:zn-2026:"));
    assert_eq!(parts[1], expected);

    // A bad BSN on line 2: exit 2, nothing printed (not even line 1), the BSN not echoed.
    let out = biv(
        &["audit", "subject-ref", "--subject-key", &old],
        b"111222333\n123456789\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("123456789"));

    // Bad keys and options.
    let short = dir.join("short.hex");
    std::fs::write(&short, "0011").unwrap();
    for args in [
        vec!["--subject-key", "nofile"],
        vec!["--subject-key", OLD_KEY],
        vec!["--subject-key", "k=/nonexistent/key.hex"],
        vec!["--subject-key", &format!("k={}", short.display())],
        vec!["--subject-key", &old, "--normalizer", "soundex"],
        vec!["--subject-key", &old, "--subject-key", &old],
    ] {
        let mut full = vec!["audit", "subject-ref"];
        full.extend(args.iter().copied());
        let out = biv(&full, BSN.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!text(&out.stderr).contains(OLD_KEY), "{args:?}");
    }
    // No identifier at all.
    let out = biv(&["audit", "subject-ref", "--subject-key", &old], b"\n");
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_patient_report_finds_events_from_before_and_after_a_key_rotation() {
    let dir = fresh("report");
    let (old, new) = key_files(&dir);
    let log = dir.join("log");
    let d = log.to_str().unwrap();
    let out = biv(
        &["audit", "init", "--dir", d, "--origin", "biv.test/subject"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let refs = biv(
        &[
            "audit",
            "subject-ref",
            "--subject-key",
            &new,
            "--subject-key",
            &old,
            "--all-versions",
        ],
        BSN.as_bytes(),
    );
    let refs = text(&refs.stdout);
    let refs: Vec<&str> = refs.trim_end().split('\t').collect();
    let (ref_new, ref_old) = (refs[0], refs[1]);
    let other =
        "hmac-sha256:zn-2026:00000000000000000000000000000000000000000000000000000000000000aa";
    let events = [
        event(0, "0b5a1c4e-1111-4c8b-91b2-509c050b38fd", ref_old),
        event(1, "0b5a1c4e-2222-4c8b-91b2-509c050b38fd", other),
        event(2, "0b5a1c4e-3333-4c8b-91b2-509c050b38fd", ref_new),
    ]
    .concat();
    let out = biv(&["audit", "append", "--dir", d], events.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 3);

    let rows = |out: &Output| -> Vec<u64> {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["log_index"].as_u64().unwrap())
            .collect()
    };

    // By identifier and every key version: both of the patient's events, not the other one.
    let out = biv(
        &[
            "audit",
            "patient-report",
            "--dir",
            d,
            "--subject-key",
            &new,
            "--subject-key",
            &old,
        ],
        format!("{BSN}\n").as_bytes(),
    );
    let mut found = rows(&out);
    found.sort_unstable();
    assert_eq!(found, vec![0, 2]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["subjects"], serde_json::json!([ref_new, ref_old]));
    assert!(!text(&out.stdout).contains(BSN));

    // With the current key only, the event from before the rotation is not found.
    let out = biv(
        &["audit", "patient-report", "--dir", d, "--subject-key", &new],
        BSN.as_bytes(),
    );
    assert_eq!(rows(&out), vec![2]);

    // The references themselves, repeated.
    let out = biv(
        &[
            "audit",
            "patient-report",
            "--dir",
            d,
            "--subject",
            ref_old,
            "--subject",
            ref_new,
            "--html",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = text(&out.stdout);
    assert!(html.contains(ref_old) && html.contains(ref_new));

    // Mistakes: neither option, both, a bad BSN, a bad reference — exit 2, no report.
    for (args, stdin) in [
        (vec![], ""),
        (vec!["--subject", ref_new, "--subject-key", &new], BSN),
        (vec!["--subject-key", &new], "123456789"),
        (vec!["--subject-key", &new], ""),
        (vec!["--subject", "111222333"], ""),
        (vec!["--subject", BSN, "--subject-key", &new], ""),
    ] {
        let mut full = vec!["audit", "patient-report", "--dir", d];
        full.extend(args.iter().copied());
        let out = biv(&full, stdin.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!text(&out.stderr).contains("123456789"), "{args:?}");
        assert!(!text(&out.stderr).contains(BSN), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
