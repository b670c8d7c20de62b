//! Runs the real `biv` binary: `biv pii scan` and `biv pii redact`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn biv(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_biv"));
    cmd.args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("BIV_PII_KEY")
        .env_remove("BIV_PII_KEY_FILE")
        .env_remove("BIV_PII_KEY_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the biv binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().expect("biv finishes");
    writer.join().expect("the stdin writer finishes");
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-pii-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("a temp file");
    path
}

const SAMPLE: &str =
    "Patiënt (BSN 111222333) belde; mail jan.jansen@example.nl, IBAN NL91ABNA0417164300.\n";

#[test]
fn scan_prints_json_lines_with_byte_offsets_and_no_personal_data() {
    let out = biv(&["pii", "scan"], SAMPLE.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains("111222333") && !stdout.contains("jan.jansen"),
        "{stdout}"
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["bsn", "email", "iban"]);
    for v in &lines {
        let obj = v.as_object().unwrap();
        assert_eq!(
            obj.keys().collect::<Vec<_>>(),
            ["confidence", "end", "start", "type"]
        );
        let (s, e) = (
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        );
        let found = &SAMPLE.as_bytes()[s..e];
        match v["type"].as_str().unwrap() {
            "bsn" => assert_eq!(found, b"111222333"),
            "email" => assert_eq!(found, b"jan.jansen@example.nl"),
            _ => assert_eq!(found, b"NL91ABNA0417164300"),
        }
        assert!((0.0..=1.0).contains(&v["confidence"].as_f64().unwrap()));
    }
    // The exact line format.
    assert!(
        stdout.starts_with(r#"{"type":"bsn","start":14,"end":23,"confidence":0.95}"#),
        "{stdout}"
    );
}

#[test]
fn scan_reads_a_file_and_large_streamed_input() {
    let mut big = Vec::new();
    for i in 0..40_000 {
        big.extend_from_slice(format!("{i:06} bsn=111222333 ok\n").as_bytes());
    }
    let out = biv(&["pii", "scan"], &big, &[]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 40_000);
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let start = last["start"].as_u64().unwrap() as usize;
    assert_eq!(&big[start..start + 9], b"111222333");

    let path = temp_file("scan-input.txt", SAMPLE.as_bytes());
    let out = biv(&["pii", "scan", path.to_str().unwrap()], b"", &[]);
    assert_eq!(text(&out.stdout).lines().count(), 3);
}

#[test]
fn redact_masks_by_default_and_keeps_everything_else() {
    let out = biv(&["pii", "redact"], SAMPLE.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Patiënt (BSN [BSN]) belde; mail [EMAIL], IBAN [IBAN].\n"
    );
    let binary = b"\xff\x00 bsn 111222333 \x80";
    let out = biv(&["pii", "redact"], binary, &[]);
    assert_eq!(out.stdout, b"\xff\x00 bsn [BSN] \x80");
}

#[test]
fn redact_pseudonymises_with_a_key_from_a_file_or_the_environment() {
    let key_hex = "0f".repeat(32);
    let key_file = temp_file("pseudonym.key", format!("{key_hex}\n").as_bytes());
    let args = [
        "pii",
        "redact",
        "--operator",
        "bsn=pseudonym",
        "--operator",
        "email=drop",
    ];
    let with_file = [
        &args[..],
        &["--key-file", key_file.to_str().unwrap(), "--key-id", "t1"],
    ]
    .concat();
    let a = biv(&with_file, SAMPLE.as_bytes(), &[]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let a = text(&a.stdout);
    assert!(a.starts_with("Patiënt (BSN bsn_t1_"), "{a}");
    assert!(a.contains("mail , IBAN [IBAN]"), "{a}");
    assert!(!a.contains("111222333"));
    // Same key and id through the environment: same pseudonym.
    let b = biv(
        &args,
        SAMPLE.as_bytes(),
        &[("BIV_PII_KEY", &key_hex), ("BIV_PII_KEY_ID", "t1")],
    );
    assert_eq!(text(&b.stdout), a);
    // Another key: another pseudonym. No id: one derived from the key.
    let c = biv(
        &args,
        SAMPLE.as_bytes(),
        &[("BIV_PII_KEY", &"ab".repeat(32))],
    );
    let c = text(&c.stdout);
    assert_ne!(c, a);
    assert!(c.starts_with("Patiënt (BSN bsn_k"), "{c}");
}

#[test]
fn configuration_file_applies() {
    let config = temp_file(
        "pii.json",
        br#"{"kinds": {"email": {"enabled": false}, "iban": {"operator": "drop"}},
             "record_patterns": [{"pattern": "ZP-#{7}"}]}"#,
    );
    let input = b"ZP-1234567 jan@example.nl NL91ABNA0417164300 bsn 111222333";
    let out = biv(
        &["pii", "redact", "--config", config.to_str().unwrap()],
        input,
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[RECORD_NUMBER] jan@example.nl  bsn [BSN]"
    );
    let out = biv(
        &[
            "pii",
            "scan",
            "--config",
            config.to_str().unwrap(),
            "--min-confidence",
            "0.96",
        ],
        input,
        &[],
    );
    assert_eq!(
        text(&out.stdout),
        "",
        "nothing is that sure except with context"
    );
}

#[test]
fn mistakes_exit_2_with_a_message_and_no_output() {
    let bad_config = temp_file("bad.json", br#"{"kinds": {"bsn": {"operator": "hash"}}}"#);
    let no_key = ["pii", "redact", "--operator", "bsn=pseudonym"];
    let short_key_file = temp_file("short.key", b"abcd");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (no_key.to_vec(), "no key was given"),
        (
            vec!["pii", "redact", "--config", bad_config.to_str().unwrap()],
            "bad.json",
        ),
        (vec!["pii", "redact", "--operator", "bsn"], "KIND=OPERATOR"),
        (vec!["pii", "scan", "--min-confidence", "2"], "outside"),
        (vec!["pii", "scan", "/nonexistent/input.txt"], "cannot open"),
        (
            [
                &no_key[..],
                &["--key-file", short_key_file.to_str().unwrap()],
            ]
            .concat(),
            "16 to 64",
        ),
    ];
    for (args, message) in cases {
        let out = biv(&args, SAMPLE.as_bytes(), &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("111222333"), "{args:?}: {stderr}");
    }
    let out = biv(
        &["pii", "redact"],
        SAMPLE.as_bytes(),
        &[("BIV_PII_KEY", "zz")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a key that is not needed is not read"
    );
}

#[test]
fn help_describes_both_subcommands() {
    let out = biv(&["pii", "--help"], b"", &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("scan") && help.contains("redact"), "{help}");
    let out = biv(&["pii", "redact", "--help"], b"", &[]);
    let help = text(&out.stdout);
    assert!(
        help.contains("--key-file") && help.contains("BIV_PII_KEY"),
        "{help}"
    );
}
