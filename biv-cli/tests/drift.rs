//! `biv drift`: the real binary on a git repository made with the `git` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn biv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biv"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the biv binary runs")
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-cli-drift-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn git(dir: &Path, home: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", home)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("secrets")).expect("mkdir");
    std::fs::write(dir.join("app.toml"), b"port = 8080\n").expect("write");
    std::fs::write(dir.join("secrets/db.key"), b"hunter2\n").expect("write");
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn manifest_then_check_clean_then_drift_recorded() {
    let base = fresh("walk");
    let (home, repo, live) = (base.join("home"), base.join("repo"), base.join("live"));
    for d in [&home, &repo, &live] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    git(&repo, &home, &["init", "-q"]);
    write_tree(&repo);
    git(&repo, &home, &["add", "-A"]);
    git(&repo, &home, &["commit", "-q", "-m", "config"]);
    write_tree(&live);
    let key = base.join("drift.key");
    std::fs::write(&key, [0x42u8; 32]).expect("key");

    // Without a key the secret is refused.
    let out = biv(&["drift", "manifest", "--repo", s(&repo), "--rev", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));

    let out = biv(&[
        "drift",
        "manifest",
        "--repo",
        s(&repo),
        "--rev",
        "HEAD",
        "--secret-key-file",
        s(&key),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = json(&out);
    assert_eq!(m["version"], 1);
    assert_eq!(m["entries"][1]["path"], "secrets/db.key");
    assert!(m["entries"][1]["hmac_sha256"].is_string());
    let manifest = base.join("manifest.json");
    std::fs::write(&manifest, &out.stdout).expect("write manifest");

    let check = |extra: &[&str]| {
        let mut args = vec![
            "drift",
            "check",
            "--manifest",
            s(&manifest),
            "--dir",
            s(&live),
            "--secret-key-file",
            s(&key),
        ];
        args.extend_from_slice(extra);
        biv(&args)
    };
    let out = check(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["clean"], true);

    // The repository's own checkout is clean too: its `.git/` is never drift.
    let out = biv(&[
        "drift",
        "check",
        "--manifest",
        s(&manifest),
        "--dir",
        s(&repo),
        "--secret-key-file",
        s(&key),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let audit = base.join("audit");
    let out = biv(&[
        "audit",
        "init",
        "--dir",
        s(&audit),
        "--origin",
        "biv.test/drift",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(live.join("app.toml"), b"port = 9090\n").expect("write");
    std::fs::write(live.join("new.toml"), b"x").expect("write");
    let out = check(&["--audit-dir", s(&audit)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert_eq!(r["changed"][0], "app.toml");
    assert_eq!(r["added"][0], "new.toml");

    let out = biv(&["audit", "entry", "--dir", s(&audit), "--index", "0"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("config.drift"), "{text}");
    assert!(text.contains("new.toml"), "{text}");

    // Ignored paths are not drift.
    let out = check(&["--ignore", "new.toml"]);
    assert_eq!(json(&out)["added"].as_array().map(Vec::len), Some(0));
    std::fs::remove_dir_all(&base).expect("cleanup");
}

#[test]
fn bad_input_exits_2() {
    let base = fresh("bad");
    let bad = base.join("bad.json");
    std::fs::write(&bad, b"{\"version\":9}").expect("write");
    let out = biv(&["drift", "check", "--manifest", s(&bad), "--dir", s(&base)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version"));
    let out = biv(&[
        "drift",
        "manifest",
        "--repo",
        s(&base.join("none")),
        "--rev",
        "HEAD",
    ]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&base).expect("cleanup");
}

/// A repository with one commit, its manifest, and a live copy; returns (base, manifest, live, rev).
fn committed_config(name: &str) -> (PathBuf, PathBuf, PathBuf, String) {
    let base = fresh(name);
    let (home, repo, live) = (base.join("home"), base.join("repo"), base.join("live"));
    for d in [&home, &repo, &live] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    git(&repo, &home, &["init", "-q"]);
    std::fs::write(repo.join("app.toml"), format!("port = 8080\n# {name}\n")).expect("write");
    git(&repo, &home, &["add", "-A"]);
    git(&repo, &home, &["commit", "-q", "-m", "config"]);
    std::fs::copy(repo.join("app.toml"), live.join("app.toml")).expect("copy");
    let out = biv(&["drift", "manifest", "--repo", s(&repo), "--rev", "HEAD"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rev = json(&out)["source"]["rev"]
        .as_str()
        .expect("a rev")
        .to_owned();
    let manifest = base.join("manifest.json");
    std::fs::write(&manifest, &out.stdout).expect("write manifest");
    (base, manifest, live, rev)
}

#[test]
fn an_undeliverable_drift_alert_fails_the_check() {
    let (base, manifest, live, _) = committed_config("undeliverable");
    let closed_port = biv_testkit::net::ClosedPort::new().expect("a closed port");
    let closed = closed_port.http_url();
    let out = biv(&[
        "drift",
        "check",
        "--manifest",
        s(&manifest),
        "--dir",
        s(&live),
        "--alertmanager",
        &closed,
    ]);
    // Clean, but nobody heard that the drift alert resolved: not a silent success.
    assert_eq!(json(&out)["clean"], true);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the drift alert was not delivered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(base);
}

/// Whether Alertmanager has notified `status` for the drift alert of the directory `dir`.
fn drift_notified(am: &biv_testkit::servers::Alertmanager, dir: &str, status: &str) -> bool {
    am.notifications()
        .iter()
        .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
        .any(|a| a["labels"]["dir"] == dir && a["status"] == status)
}

#[test]
#[ignore = "server: alertmanager; run by cargo xtask test"]
fn drift_fires_the_alert_and_a_clean_check_resolves_it() {
    let am = biv_testkit::servers::alertmanager();
    let (base, manifest, live, _) = committed_config("alerting");
    let dir = s(&live).to_owned();
    std::fs::write(live.join("app.toml"), b"port = 9090\n").expect("drift");
    let out = biv(&[
        "drift",
        "check",
        "--manifest",
        s(&manifest),
        "--dir",
        s(&live),
        "--alertmanager",
        &am.url,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["clean"], false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !drift_notified(&am, &dir, "firing") {
        assert!(
            std::time::Instant::now() < deadline,
            "no firing drift alert for {dir}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    std::fs::copy(base.join("repo/app.toml"), live.join("app.toml")).expect("undo the drift");
    let out = biv(&[
        "drift",
        "check",
        "--manifest",
        s(&manifest),
        "--dir",
        s(&live),
        "--alertmanager",
        &am.url,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    while !drift_notified(&am, &dir, "resolved") {
        assert!(
            std::time::Instant::now() < deadline,
            "no resolved drift alert for {dir}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = std::fs::remove_dir_all(base);
}
