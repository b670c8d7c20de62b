//! Runs the real `biv` binary: `biv keys init`, `rotate`, `rewrap`, `shred` and `status`,
//! together with `biv crypt` on the same key directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn biv(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_biv"));
    cmd.args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("BIV_ENV")
        .env_remove("BIV_ALLOW_LOCAL_KEYRING_IN_PRODUCTION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a `biv keys` command that must succeed and returns its JSON.
fn keys_ok(args: &[&str]) -> Value {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    let out = biv(&all, b"");
    assert_eq!(
        out.status.code(),
        Some(0),
        "biv {}: {}",
        all.join(" "),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn key_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-keys-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

const CTX: &str = "tenant=zorg-noord,table=patients,column=diagnosis,subject=p-7f3a";
const SUBJECT: &str = "tenant=zorg-noord,subject=p-7f3a";

fn encrypt(keys: &str, plaintext: &[u8]) -> String {
    let out = biv(
        &["crypt", "encrypt", "--keys", keys, "--context", CTX],
        plaintext,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

fn decrypt(keys: &str, ct: &str) -> Output {
    biv(
        &["crypt", "decrypt", "--keys", keys, "--context", CTX],
        ct.as_bytes(),
    )
}

#[test]
fn init_rotate_rewrap_status_keep_data_readable() {
    let dir = key_dir("cycle");
    let keys = dir.to_str().expect("UTF-8 path");
    let init = keys_ok(&["init", "--keys", keys]);
    assert_eq!(init["kek_id"], "local:biv-cli");
    assert_eq!(init["version"], 1);
    // init never overwrites a root key.
    let again = biv(&["keys", "init", "--keys", keys], b"");
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists"));

    let ct = encrypt(keys, b"E11.9");
    let status = keys_ok(&["status", "--keys", keys]);
    assert_eq!(status["data_keys"]["active"], 1);
    assert_eq!(status["by_kek"][0]["version"], 1);

    let rotated = keys_ok(&["rotate", "--keys", keys]);
    assert_eq!(
        (
            rotated["version"].as_u64(),
            rotated["previous_version"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let rewrap = keys_ok(&["rewrap", "--keys", keys, "--retire-unused"]);
    assert_eq!(rewrap["rewrapped"], 1);
    assert_eq!(rewrap["retired_versions"], serde_json::json!([1]));
    let status = keys_ok(&["status", "--keys", keys]);
    assert_eq!(status["kek_versions"], serde_json::json!([2]));
    assert_eq!(status["by_kek"][0]["version"], 2);

    // The old ciphertext still decrypts with version 1 gone: only the wrapping moved.
    let out = decrypt(keys, &ct);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"E11.9");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn subject_rotation_then_shred() {
    let dir = key_dir("subject");
    let keys = dir.to_str().expect("UTF-8 path");
    keys_ok(&["init", "--keys", keys]);
    let v1 = encrypt(keys, b"first");
    let r = keys_ok(&["rotate", "--keys", keys, "--context", SUBJECT]);
    assert_eq!(
        (r["previous_version"].as_u64(), r["version"].as_u64()),
        (Some(1), Some(2))
    );
    let v2 = encrypt(keys, b"second");
    let inspect = |ct: &str| -> Value {
        let out = biv(&["crypt", "inspect"], ct.as_bytes());
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    assert_eq!(inspect(&v2)["key_id"], r["key_id"]);
    assert_eq!(inspect(&v1)["key_id"], r["previous_key_id"]);
    let s = keys_ok(&["status", "--keys", keys, "--context", SUBJECT]);
    assert_eq!(s["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(s["shredded"], false);
    assert_eq!(decrypt(keys, &v1).stdout, b"first");

    let shred = keys_ok(&["shred", "--keys", keys, "--context", SUBJECT]);
    assert_eq!(shred["destroyed_key_ids"].as_array().map(Vec::len), Some(2));
    for ct in [&v1, &v2] {
        let out = decrypt(keys, ct);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("destroyed"),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    let s = keys_ok(&["status", "--keys", keys, "--context", SUBJECT]);
    assert_eq!(s["shredded"], true);
    // A shredded subject cannot be rotated: status 1.
    let out = biv(
        &["keys", "rotate", "--keys", keys, "--context", SUBJECT],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = key_dir("bad");
    let keys = dir.to_str().expect("UTF-8 path");
    // No key directory yet.
    let out = biv(&["keys", "status", "--keys", keys], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("biv keys init"),
        "{}",
        text(&out.stderr)
    );
    keys_ok(&["init", "--keys", keys]);
    for args in [
        &["keys", "shred", "--keys", keys][..],
        &["keys", "shred", "--keys", keys, "--context", "tenant=t1"][..],
        &["keys", "rotate", "--keys", keys, "--context", "nonsense"][..],
        &["keys", "frobnicate"][..],
    ] {
        let out = biv(args, b"");
        assert_eq!(out.status.code(), Some(2), "biv {}", args.join(" "));
        assert!(out.stdout.is_empty());
    }
    // Rotating a subject without a key is refused too.
    let out = biv(
        &["keys", "rotate", "--keys", keys, "--context", SUBJECT],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no data key"),
        "{}",
        text(&out.stderr)
    );
    // A local keyring is refused in production.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_biv"));
    let out = cmd
        .args(["keys", "status", "--keys", keys])
        .env("BIV_ENV", "production")
        .env_remove("BIV_ALLOW_LOCAL_KEYRING_IN_PRODUCTION")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("production"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_names_every_subcommand() {
    let out = biv(&["keys", "--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for sub in ["init", "rotate", "rewrap", "shred", "status"] {
        assert!(help.contains(sub), "{help}");
    }
    assert!(help.contains("Exit status"));
}
