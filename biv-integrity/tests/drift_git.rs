//! Configuration drift against real git repositories made with the `git` binary.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use biv_core::{Actor, EventId, Monitor, Outcome, SourceSystem, Status, Timestamp};
use biv_integrity::drift::{
    CheckError, CheckOptions, DriftMonitor, DriftRecord, GitManifestError, Manifest, ManifestError,
    ManifestOptions, PathPatterns, SecretKey, check_dir, drift_alert, manifest_from_git,
    record_drift,
};

const KEY: [u8; 32] = [0x42; 32];

// The known-answer vector of docs/formats/drift-manifest.md.
const APP_SHA: &str = "37107a4e5ea873399e16cc41781ede69752273d4232675d990fda44a0603dfa2";
const RUN_SHA: &str = "b4d644d4279594903f1a9911956432d9473041f2984fc6014c14d7402c7d126c";
const LINK_SHA: &str = "dc7d823d08c8b3a712d2f7513c5369063572e1c93e8fba7c8c5c433f865b8149";
const SECRET_PLAIN_SHA: &str = "46a9d5bde718bf366178313019f04a753bad00685d38e3ec81c8628f35dfcb1b";
const SECRET_HMAC: &str = "e13b6fee6bcd629f71e52f070e288400059b850fd96c55af8b27825dcaae38b4";

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-drift-{name}-{}", std::process::id()));
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
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", home)
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes the vector's tree into `dir`.
fn write_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("secrets")).expect("mkdir");
    std::fs::write(dir.join("app.toml"), b"port = 8080\n").expect("write");
    std::fs::write(dir.join("run.sh"), b"#!/bin/sh\necho ok\n").expect("write");
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    symlink("app.toml", dir.join("current")).expect("symlink");
    std::fs::write(dir.join("secrets/db.key"), b"hunter2\n").expect("write");
}

/// A repository with the vector's tree committed; returns (repo, home).
fn repo(name: &str) -> (PathBuf, PathBuf) {
    let base = fresh(name);
    let home = base.join("home");
    let repo = base.join("repo");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&repo).expect("repo");
    git(&repo, &home, &["init", "-q"]);
    write_tree(&repo);
    git(&repo, &home, &["add", "-A"]);
    git(&repo, &home, &["commit", "-q", "-m", "config"]);
    (repo, base)
}

fn opts() -> ManifestOptions {
    ManifestOptions::new()
        .with_secrets(PathPatterns::new(["*.key", "secrets/"]))
        .with_key(SecretKey::new(KEY.to_vec()).expect("key"))
}

fn check_opts() -> CheckOptions {
    CheckOptions::new().with_key(SecretKey::new(KEY.to_vec()).expect("key"))
}

fn live(base: &Path) -> PathBuf {
    let dir = base.join("live");
    std::fs::create_dir_all(&dir).expect("live");
    write_tree(&dir);
    dir
}

#[test]
fn manifest_of_a_commit_matches_the_vector() {
    let (repo, _base) = repo("vector");
    let m = manifest_from_git(&repo, "HEAD", &opts()).expect("manifest");
    assert_eq!(m.version, 1);
    assert_eq!(m.source.rev.len(), 40);
    let rows: Vec<(&str, &str, Option<&str>, Option<&str>)> = m
        .entries
        .iter()
        .map(|e| {
            (
                e.path.as_str(),
                e.mode.as_str(),
                e.sha256.as_deref(),
                e.hmac_sha256.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("app.toml", "100644", Some(APP_SHA), None),
            ("current", "120000", Some(LINK_SHA), None),
            ("run.sh", "100755", Some(RUN_SHA), None),
            ("secrets/db.key", "100644", None, Some(SECRET_HMAC)),
        ]
    );
    let json = m.to_json();
    assert!(
        !json.contains(SECRET_PLAIN_SHA),
        "plain hash of a secret leaked"
    );
    assert_eq!(Manifest::from_json(json.as_bytes()).expect("round trip"), m);
}

#[test]
fn secret_without_key_is_refused() {
    let (repo, _base) = repo("nokey");
    let opts = ManifestOptions::new().with_secrets(PathPatterns::new(["*.key"]));
    assert!(matches!(
        manifest_from_git(&repo, "HEAD", &opts),
        Err(GitManifestError::SecretWithoutKey(p)) if p == "secrets/db.key"
    ));
}

#[test]
fn bad_repository_and_revision() {
    let base = fresh("notrepo");
    let out = manifest_from_git(&base.join("missing"), "HEAD", &opts());
    assert!(
        matches!(out, Err(GitManifestError::NotARepository { .. })),
        "{out:?}"
    );
    let (repo, _b) = repo("badrev");
    for rev in [
        "no-such-branch",
        "-n",
        "0000000000000000000000000000000000000000",
    ] {
        let out = manifest_from_git(&repo, rev, &opts());
        assert!(
            matches!(out, Err(GitManifestError::UnknownRevision { .. })),
            "{rev}: {out:?}"
        );
    }
}

#[test]
fn submodule_is_refused() {
    let (repo, base) = repo("submodule");
    let home = base.join("home");
    // A gitlink entry without a checkout.
    git(
        &repo,
        &home,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            "160000,0123456789abcdef0123456789abcdef01234567,vendor/sub",
        ],
    );
    git(&repo, &home, &["commit", "-q", "-m", "sub"]);
    assert!(matches!(
        manifest_from_git(&repo, "HEAD", &opts()),
        Err(GitManifestError::Submodule(p)) if p == "vendor/sub"
    ));
}

#[test]
fn clean_and_drifted_directories() {
    let (repo, base) = repo("check");
    let m = manifest_from_git(&repo, "HEAD", &opts()).expect("manifest");
    let dir = live(&base);
    let report = check_dir(&m, &dir, &check_opts()).expect("check");
    assert!(report.clean, "{report:?}");

    std::fs::write(dir.join("extra.toml"), b"x").expect("write");
    std::fs::remove_file(dir.join("app.toml")).expect("rm");
    std::fs::write(dir.join("secrets/db.key"), b"hunter3\n").expect("write");
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    std::fs::remove_file(dir.join("current")).expect("rm link");
    symlink("other.toml", dir.join("current")).expect("symlink");
    std::fs::create_dir_all(dir.join("cache")).expect("mkdir");
    std::fs::write(dir.join("cache/tmp"), b"x").expect("write");

    let opts = check_opts().with_ignore(PathPatterns::new(["cache/"]));
    let report = check_dir(&m, &dir, &opts).expect("check");
    assert!(!report.clean);
    assert_eq!(report.added, vec!["extra.toml"]);
    assert_eq!(report.removed, vec!["app.toml"]);
    assert_eq!(report.changed, vec!["current", "secrets/db.key"]);
    assert_eq!(report.mode_changed.len(), 1);
    assert_eq!(report.mode_changed[0].path, "run.sh");
    assert_eq!(report.mode_changed[0].expected, "100755");
    assert_eq!(report.mode_changed[0].actual, "100644");
    assert!(report.not_regular.is_empty());

    // A symlink replaced by a regular file: mode and content change.
    std::fs::remove_file(dir.join("current")).expect("rm link");
    std::fs::write(dir.join("current"), b"app.toml").expect("write");
    let report = check_dir(&m, &dir, &opts).expect("check");
    assert!(
        report
            .mode_changed
            .iter()
            .any(|c| c.path == "current" && c.expected == "120000" && c.actual == "100644")
    );

    // The same report twice: deterministic.
    assert_eq!(report, check_dir(&m, &dir, &opts).expect("check"));

    // Secret entries need the key.
    assert!(matches!(
        check_dir(&m, &dir, &CheckOptions::new()),
        Err(CheckError::NoSecretKey(_))
    ));
}

#[test]
fn malformed_manifests_are_typed_errors() {
    assert!(matches!(
        Manifest::from_json(b"not json"),
        Err(ManifestError::Json(_))
    ));
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let v2 = format!(r#"{{"version":2,"source":{{"repo":"r","rev":"{rev}"}},"entries":[]}}"#);
    assert!(matches!(
        Manifest::from_json(v2.as_bytes()),
        Err(ManifestError::UnsupportedVersion(2))
    ));
    let entry = |path: &str| format!(r#"{{"path":"{path}","mode":"100644","sha256":"{APP_SHA}"}}"#);
    let with = |entries: String| {
        format!(r#"{{"version":1,"source":{{"repo":"r","rev":"{rev}"}},"entries":[{entries}]}}"#)
    };
    assert!(matches!(
        Manifest::from_json(with(entry("../etc/passwd")).as_bytes()),
        Err(ManifestError::BadPath(_))
    ));
    assert!(matches!(
        Manifest::from_json(with(entry("/etc/passwd")).as_bytes()),
        Err(ManifestError::BadPath(_))
    ));
    assert!(matches!(
        Manifest::from_json(with(format!("{},{}", entry("b"), entry("a"))).as_bytes()),
        Err(ManifestError::Unsorted(_))
    ));
    let both =
        format!(r#"{{"path":"a","mode":"100644","sha256":"{APP_SHA}","hmac_sha256":"{APP_SHA}"}}"#);
    assert!(matches!(
        Manifest::from_json(with(both).as_bytes()),
        Err(ManifestError::BadHash(_))
    ));
    let mode = format!(r#"{{"path":"a","mode":"040000","sha256":"{APP_SHA}"}}"#);
    assert!(matches!(
        Manifest::from_json(with(mode).as_bytes()),
        Err(ManifestError::BadMode { .. })
    ));
}

#[test]
fn secret_key_is_redacted_and_checked() {
    let key = SecretKey::new(KEY.to_vec()).expect("key");
    assert!(!format!("{key:?}").contains("66"));
    assert!(SecretKey::new(vec![1; 8]).is_err());
}

#[tokio::test]
async fn audit_event_alert_and_monitor() {
    let (repo, base) = repo("record");
    let m = manifest_from_git(&repo, "HEAD", &opts()).expect("manifest");
    let dir = live(&base);

    let monitor = DriftMonitor::new(m.clone(), &dir, check_opts());
    assert_eq!(monitor.name(), "config:drift");
    assert_eq!(monitor.check().await.status, Status::Pass);
    let clean = check_dir(&m, &dir, &check_opts()).expect("check");
    let now = Timestamp::from_unix_seconds(1_790_000_000, 0).expect("time");
    assert!(drift_alert(&clean, now).expect("alert").is_none());

    std::fs::write(dir.join("extra.toml"), b"x").expect("write");
    let result = monitor.check().await;
    assert_eq!(result.status, Status::Fail);
    assert!(result.output.as_deref().unwrap_or("").contains("1 added"));
    let warn = DriftMonitor::new(m.clone(), &dir, check_opts()).warn_only();
    assert_eq!(warn.check().await.status, Status::Warn);

    let report = check_dir(&m, &dir, &check_opts()).expect("check");
    let alert = drift_alert(&report, now)
        .expect("alert")
        .expect("drift alerts");
    assert_eq!(alert.name(), "BivConfigDrift");
    assert_eq!(alert.labels()["dir"], report.dir);
    assert_eq!(alert.annotations()["rev"], report.source.rev);
    let resolved = biv_integrity::drift::drift_resolved(&report, now).expect("resolution");
    assert_eq!(
        resolved.labels(),
        alert.labels(),
        "the resolution matches the alert"
    );
    assert!(resolved.is_resolved_at(now));

    let sink = biv_testkit::InMemoryAuditSink::new();
    let record = DriftRecord::new(
        EventId::from_bytes([7; 16]),
        now,
        Actor::new("ops"),
        SourceSystem::new("biv-drift"),
    );
    record_drift(&sink, &record, &report)
        .await
        .expect("recorded");
    let events = sink.events();
    assert_eq!(events.len(), 1);
    let json = serde_json::to_string(&events[0]).expect("json");
    assert_eq!(events[0].action_name.as_str(), "config.drift");
    assert!(json.contains("extra.toml"), "{json}");
    assert!(json.contains(&m.source.rev), "{json}");
    assert_eq!(events[0].outcome, Outcome::SeriousFailure);

    // A missing directory: the monitor fails instead of passing.
    let gone = DriftMonitor::new(m, base.join("nowhere"), check_opts());
    assert_eq!(gone.check().await.status, Status::Fail);
}
