//! Runs the real `biv` binary: `biv crypt encrypt`, `decrypt` and `inspect`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn biv(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_biv"));
    cmd.args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("BIV_ENV")
        .env_remove("BIV_ALLOW_LOCAL_KEYRING_IN_PRODUCTION")
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
    String::from_utf8_lossy(bytes).into_owned()
}

fn key_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-crypt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

const CTX: &str = "tenant=zorg-noord,table=patients,column=bsn,subject=p-7f3a";

#[test]
fn encrypt_decrypt_inspect_round_trip() {
    let dir = key_dir("round");
    let keys = dir.to_str().expect("UTF-8 path");
    let out = biv(
        &["crypt", "encrypt", "--keys", keys, "--context", CTX],
        b"123456782",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ct = text(&out.stdout);
    assert!(ct.starts_with("bv1:") && ct.ends_with('\n'), "{ct}");
    assert!(!ct.contains("123456782"));
    assert!(dir.join("root.json").exists() && dir.join("data-keys").is_dir());

    let out = biv(
        &["crypt", "decrypt", "--keys", keys, "--context", CTX],
        ct.as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"123456782");

    let out = biv(&["crypt", "inspect"], ct.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let info: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(info["version"], 1);
    assert_eq!(info["suite"], "AES-256-GCM");
    assert_eq!(info["plaintext_len"], 9);
    assert_eq!(info["key_id"].as_str().map(str::len), Some(16));

    // The binary form decrypts too.
    let out = biv(
        &[
            "crypt",
            "encrypt",
            "--binary",
            "--keys",
            keys,
            "--context",
            CTX,
        ],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), 39);
    let out = biv(
        &["crypt", "decrypt", "--keys", keys, "--context", CTX],
        &out.stdout,
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_wrong_context_or_damaged_ciphertext_exits_1_without_output() {
    let dir = key_dir("wrong");
    let keys = dir.to_str().expect("UTF-8 path");
    let out = biv(
        &["crypt", "encrypt", "--keys", keys, "--context", CTX],
        b"123456782",
        &[],
    );
    let ct = text(&out.stdout);
    let other = "tenant=zorg-noord,table=patients,column=name,subject=p-7f3a";
    let out = biv(
        &["crypt", "decrypt", "--keys", keys, "--context", other],
        ct.as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(text(&out.stderr), "biv crypt decrypt: decryption failed\n");
    let mut damaged = ct.trim().to_owned();
    damaged.pop();
    let out = biv(
        &["crypt", "decrypt", "--keys", keys, "--context", CTX],
        damaged.as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = biv(&["crypt", "inspect"], b"bv1:AAAA", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_arguments_and_production_exit_2() {
    let dir = key_dir("args");
    let keys = dir.to_str().expect("UTF-8 path");
    for ctx in ["tenant", "Tenant=x,subject=y", "tenant=a,tenant=b"] {
        let out = biv(
            &["crypt", "encrypt", "--keys", keys, "--context", ctx],
            b"x",
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{ctx}");
        assert!(
            text(&out.stderr).contains("--context"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = biv(
        &["crypt", "encrypt", "--keys", keys, "--context", "tenant=t1"],
        b"x",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("subject"),
        "{}",
        text(&out.stderr)
    );
    // Decrypt never creates keys.
    let empty = key_dir("nokeys");
    let out = biv(
        &[
            "crypt",
            "decrypt",
            "--keys",
            empty.to_str().expect("UTF-8"),
            "--context",
            CTX,
        ],
        b"bv1:AQ",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!empty.join("root.json").exists());
    // Production refuses the local keyring and says why.
    let prod = key_dir("prod");
    let out = biv(
        &[
            "crypt",
            "encrypt",
            "--keys",
            prod.to_str().expect("UTF-8"),
            "--context",
            CTX,
        ],
        b"x",
        &[("BIV_ENV", "production")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("HSM"), "{}", text(&out.stderr));
    assert!(!prod.join("root.json").exists());
}

#[test]
fn index_prints_the_blind_index_value_of_the_known_answer_vector() {
    // Vector 1 of docs/formats/blind-index-vectors.json.
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../../docs/formats/blind-index-vectors.json"))
            .expect("vectors");
    let v = &vectors[0];
    let dir = std::env::temp_dir().join(format!("biv-cli-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key_file = dir.join("index.key");
    std::fs::write(&key_file, v["root_key_hex"].as_str().expect("hex")).expect("key file");
    let context = format!(
        "tenant={},table={},column={}",
        v["tenant"].as_str().unwrap(),
        v["table"].as_str().unwrap(),
        v["column"].as_str().unwrap()
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_biv"))
        .args([
            "crypt",
            "index",
            "--root-key-file",
            key_file.to_str().unwrap(),
            "--version",
            "1",
            "--context",
            &context,
        ])
        .args([
            "--name",
            v["name"].as_str().unwrap(),
            "--normalizer",
            "bsn",
            "--bits",
            "32",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("biv runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{}\n", v["values"][0].as_str().unwrap()).as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("biv finishes");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        v["expected"].as_str().unwrap()
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
