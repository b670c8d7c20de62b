//! `RotatingFile` under `WriterSink`: rotation by size and by UTC day (injected clock), retention,
//! whole lines in every file under concurrent emitters, file modes, and a read-only directory
//! (rotation fails, nothing accepted is lost, the failure is counted and reported).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use biv_availability::logging::{
    EcsLayer, ROTATION_RETRY, RotatingFile, RotatingFileConfig, RotatingFileError, RotationStats,
    ServiceInfo, WriterSink,
};
use biv_core::{Dataset, Finding, Level, LogRecord, LogSink, RecordId, Redactor, Timestamp};
use biv_testkit::ManualClock;
use tracing_subscriber::prelude::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-rotating-file-{name}-{}", std::process::id()));
    if dir.exists() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        std::fs::remove_dir_all(&dir).expect("remove old test dir");
    }
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

fn clock_at(text: &str) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339(text).expect("timestamp"),
    ))
}

/// A record whose line (with its `\n`) is exactly 100 bytes: `{"n":"000042","pad":"xx…"}`.
fn record(n: u64) -> LogRecord {
    record_of_len(n, 100)
}

fn record_of_len(n: u64, with_newline: usize) -> LogRecord {
    let pad = "x".repeat(with_newline - 24);
    let line = format!(r#"{{"n":"{n:06}","pad":"{pad}"}}"#);
    assert_eq!(line.len() + 1, with_newline);
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    LogRecord::new(
        RecordId::from_bytes(id),
        Timestamp::UNIX_EPOCH,
        Level::Info,
        Dataset::Application,
        line,
    )
    .expect("valid record")
}

/// The numbers of the records in `path`, in order; every line must be a whole record.
fn numbers(path: &Path) -> Vec<u64> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends mid-line",
        path.display()
    );
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("torn line in {}: {e}: {l:?}", path.display()));
            v["n"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .expect("field n")
        })
        .collect()
}

fn sink(config: RotatingFileConfig, clock: Arc<ManualClock>) -> (WriterSink, Arc<RotationStats>) {
    let file = RotatingFile::open(config, clock).expect("open log file");
    let stats = file.stats();
    (WriterSink::new(file, 4096).expect("writer thread"), stats)
}

fn submit_all(sink: &WriterSink, range: std::ops::Range<u64>) {
    for n in range {
        sink.submit(record(n)).expect("accepted");
    }
    sink.flush(Duration::from_secs(10)).expect("written");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn size_rotation_keeps_files_under_the_limit_and_lines_whole() {
    let dir = temp_dir("size");
    let active = dir.join("app.ndjson");
    let config = RotatingFileConfig::new(&active)
        .with_max_bytes(Some(1000))
        .with_daily(false)
        .with_keep(10);
    let (sink, stats) = sink(config.clone(), clock_at("2026-11-26T10:00:00Z"));
    submit_all(&sink, 0..35);
    assert_eq!(stats.rotations(), 3);
    assert_eq!(
        numbers(&config.rotated_path(3)),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&config.rotated_path(2)),
        (10..20).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&config.rotated_path(1)),
        (20..30).collect::<Vec<_>>()
    );
    assert_eq!(numbers(&active), (30..35).collect::<Vec<_>>());
    assert!(!config.rotated_path(4).exists());
    for k in 1..=3 {
        let len = std::fs::metadata(config.rotated_path(k))
            .expect("file")
            .len();
        assert_eq!(len, 1000, "file .{k} is filled to the limit, not past it");
    }
    assert_eq!((sink.lost_records(), stats.failures()), (0, 0));
    for path in [active.clone(), config.rotated_path(1)] {
        assert_eq!(mode(&path), 0o640, "{}", path.display());
    }
    drop(sink);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
    let dir = temp_dir("oversize");
    let active = dir.join("app.ndjson");
    let config = RotatingFileConfig::new(&active)
        .with_max_bytes(Some(1000))
        .with_daily(false)
        .with_keep(5);
    let (sink, stats) = sink(config.clone(), clock_at("2026-11-26T10:00:00Z"));
    submit_all(&sink, 0..3);
    sink.submit(record_of_len(3, 2500)).unwrap();
    sink.submit(record(4)).unwrap();
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(numbers(&config.rotated_path(2)), vec![0, 1, 2]);
    assert_eq!(numbers(&config.rotated_path(1)), vec![3]);
    assert_eq!(
        std::fs::metadata(config.rotated_path(1)).unwrap().len(),
        2500
    );
    assert_eq!(numbers(&active), vec![4]);
    assert_eq!(stats.rotations(), 2);
    drop(sink);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_line_written_in_pieces_stays_in_one_file() {
    let dir = temp_dir("pieces");
    let active = dir.join("app.ndjson");
    let config = RotatingFileConfig::new(&active)
        .with_max_bytes(Some(250))
        .with_daily(false)
        .with_keep(3);
    let mut file = RotatingFile::open(config.clone(), clock_at("2026-11-26T10:00:00Z")).unwrap();
    let line = |n: u64| format!("{}\n", record(n).line());
    file.write_all(line(0).as_bytes()).unwrap();
    file.write_all(line(1).as_bytes()).unwrap();
    // The third line arrives in pieces: the first fits, so it starts in this file, and the
    // rest follows it there although it takes the file past the limit.
    let third = line(2);
    file.write_all(&third.as_bytes()[..30]).unwrap();
    file.write_all(&third.as_bytes()[30..]).unwrap();
    // Three lines in one write, of which two fit a fresh file: the write is split at the line
    // boundary and the third goes to the next file.
    file.write_all(format!("{}{}{}", line(3), line(4), line(5)).as_bytes())
        .unwrap();
    drop(file);
    assert_eq!(numbers(&config.rotated_path(2)), vec![0, 1, 2]);
    assert_eq!(
        std::fs::metadata(config.rotated_path(2)).unwrap().len(),
        300
    );
    assert_eq!(numbers(&config.rotated_path(1)), vec![3, 4]);
    assert_eq!(numbers(&active), vec![5]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn daily_rotation_follows_the_injected_clock() {
    let dir = temp_dir("daily");
    let active = dir.join("app.ndjson");
    let config = RotatingFileConfig::new(&active)
        .with_max_bytes(None)
        .with_daily(true)
        .with_keep(7);
    let clock = clock_at("2026-11-26T23:59:58Z");
    let (sink, stats) = sink(config.clone(), clock.clone());
    submit_all(&sink, 0..3);
    clock.advance(Duration::from_secs(1)); // 23:59:59, same UTC day
    submit_all(&sink, 3..5);
    assert_eq!(stats.rotations(), 0);
    clock.advance(Duration::from_secs(1)); // 2026-11-27T00:00:00Z
    submit_all(&sink, 5..7);
    clock.advance(Duration::from_secs(23 * 3600)); // 23:00 the same day
    submit_all(&sink, 7..8);
    assert_eq!(stats.rotations(), 1);
    clock.advance(Duration::from_secs(3 * 86_400)); // days without logs: one rotation
    submit_all(&sink, 8..9);
    assert_eq!(stats.rotations(), 2);
    assert_eq!(numbers(&config.rotated_path(2)), vec![0, 1, 2, 3, 4]);
    assert_eq!(numbers(&config.rotated_path(1)), vec![5, 6, 7]);
    assert_eq!(numbers(&active), vec![8]);
    drop(sink);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retention_keeps_the_newest_files_and_deletes_the_oldest() {
    let dir = temp_dir("retention");
    let active = dir.join("app.ndjson");
    let config = RotatingFileConfig::new(&active)
        .with_max_bytes(Some(200))
        .with_daily(false)
        .with_keep(3);
    // Left behind by an earlier run with a larger `keep`: beyond the limit, deleted too.
    std::fs::write(config.rotated_path(4), "old\n").unwrap();
    std::fs::write(config.rotated_path(5), "older\n").unwrap();
    let (sink, stats) = sink(config.clone(), clock_at("2026-11-26T10:00:00Z"));
    submit_all(&sink, 0..18); // two lines a file: 8 rotations
    assert_eq!(stats.rotations(), 8);
    assert_eq!(numbers(&active), vec![16, 17]);
    assert_eq!(numbers(&config.rotated_path(1)), vec![14, 15]);
    assert_eq!(numbers(&config.rotated_path(2)), vec![12, 13]);
    assert_eq!(numbers(&config.rotated_path(3)), vec![10, 11]);
    for k in 4..=6 {
        assert!(!config.rotated_path(k).exists(), ".{k} deleted");
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["app.ndjson", "app.ndjson.1", "app.ndjson.2", "app.ndjson.3"]
    );
    drop(sink);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[derive(Debug)]
struct NoPii;

impl Redactor for NoPii {
    fn scan(&self, _text: &str) -> Vec<Finding> {
        Vec::new()
    }
}

#[test]
fn concurrent_emitters_never_tear_a_line_across_files() {
    let dir = temp_dir("concurrent");
    let active = dir.join("app.ndjson");
    let max = 16 * 1024;
    let config = RotatingFileConfig::new(&active)
        .with_max_bytes(Some(max))
        .with_daily(false)
        .with_keep(500);
    let file = RotatingFile::open(config.clone(), clock_at("2026-11-26T10:00:00Z")).unwrap();
    let stats = file.stats();
    let sink = Arc::new(WriterSink::new(file, 100_000).unwrap());
    let layer = EcsLayer::new(
        ServiceInfo::new("ehr-api"),
        Arc::new(NoPii),
        sink.clone(),
        clock_at("2026-11-26T10:00:00Z"),
    );
    let drops = layer.drops();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let (threads, per_thread) = (4u64, 600u64);
    std::thread::scope(|s| {
        for t in 0..threads {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..per_thread {
                        tracing::info!(
                            thread = t,
                            seq = i,
                            request.id = "r-7",
                            "emitter {t} event {i}"
                        );
                    }
                });
            });
        }
    });
    sink.flush(Duration::from_secs(30)).unwrap();
    assert_eq!((drops.total(), sink.lost_records()), (0, 0));
    assert!(stats.rotations() >= 10, "rotations: {}", stats.rotations());
    let mut seen = std::collections::BTreeSet::new();
    let mut files = vec![active.clone()];
    files.extend((1..=stats.rotations() as usize).map(|k| config.rotated_path(k)));
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.ends_with('\n'), "{} ends mid-line", path.display());
        assert!(
            text.len() as u64 <= max,
            "{} is {} bytes",
            path.display(),
            text.len()
        );
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("torn line in {}: {e}: {line:?}", path.display()));
            let key = (
                v["labels"]["thread"].as_u64().unwrap(),
                v["labels"]["seq"].as_u64().unwrap(),
            );
            assert!(seen.insert(key), "{key:?} written twice");
        }
    }
    assert_eq!(
        seen.len() as u64,
        threads * per_thread,
        "every event in exactly one file"
    );
    drop(dispatch);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reopening_continues_the_file_and_ends_a_torn_last_line() {
    let dir = temp_dir("reopen");
    let active = dir.join("app.ndjson");
    std::fs::write(&active, format!("{}\n{{\"n\":\"0000", record(0).line())).unwrap();
    std::fs::set_permissions(&active, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Written "earlier the same day" as the injected clock: the file's modification day decides
    // whether reopening rotates it, so it must not be the real date the test runs on.
    std::fs::File::options()
        .write(true)
        .open(&active)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_683_600))
        .unwrap();
    let config = RotatingFileConfig::new(&active).with_max_bytes(None);
    let (sink, _) = sink(config, clock_at("2026-11-26T10:00:00Z"));
    submit_all(&sink, 1..2);
    drop(sink);
    let text = std::fs::read_to_string(&active).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[1], r#"{"n":"0000"#,
        "the torn line is ended, not continued"
    );
    assert_eq!(lines[2], record(1).line());
    assert_eq!(
        mode(&active),
        0o640,
        "the configured mode is applied to an existing file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_configurations_are_refused() {
    let dir = temp_dir("config");
    let clock = clock_at("2026-11-26T10:00:00Z");
    for config in [
        RotatingFileConfig::new(dir.join("a.ndjson")).with_keep(0),
        RotatingFileConfig::new(dir.join("a.ndjson")).with_max_bytes(Some(0)),
        RotatingFileConfig::new("/"),
    ] {
        assert!(
            matches!(
                RotatingFile::open(config.clone(), clock.clone()),
                Err(RotatingFileError::Config(_))
            ),
            "{config:?}"
        );
    }
    assert!(!dir.join("a.ndjson").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `f` on a thread that cannot bypass file permissions: as root (tests often run as
/// root in containers) the thread gives up its user and group for `nobody` (65534), and the
/// directory is handed to that user first; otherwise the thread is unprivileged already.
fn as_unprivileged(dir: &Path, f: impl FnOnce() + Send) {
    let nobody = 65_534;
    let privileged = std::os::unix::fs::chown(dir, Some(nobody), Some(nobody)).is_ok();
    std::thread::scope(|s| {
        s.spawn(move || {
            if privileged {
                use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
                let (gid, uid) = (
                    rustix::fs::Gid::from_raw(nobody),
                    rustix::fs::Uid::from_raw(nobody),
                );
                set_thread_groups(&[gid]).expect("drop supplementary groups");
                set_thread_res_gid(gid, gid, gid).expect("drop group");
                set_thread_res_uid(uid, uid, uid).expect("drop user");
            }
            f();
        })
        .join()
        .expect("unprivileged part passed");
    });
}

#[test]
fn a_read_only_directory_keeps_lines_in_the_current_file_and_reports_it() {
    let dir = temp_dir("read-only");
    let active = dir.join("app.ndjson");
    let config = RotatingFileConfig::new(&active)
        .with_max_bytes(Some(1000))
        .with_daily(false)
        .with_keep(3);
    let clock = clock_at("2026-11-26T10:00:00Z");
    as_unprivileged(&dir, || {
        let set_mode = |mode| {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                .expect("chmod the test directory")
        };
        let (sink, stats) = sink(config.clone(), clock.clone());
        submit_all(&sink, 0..10); // exactly full
        set_mode(0o555);
        // The next line needs a rotation, which cannot rename or create: the lines go on
        // into the current file. Nothing accepted is lost; the failure is counted and kept.
        submit_all(&sink, 10..15);
        assert_eq!((stats.rotations(), stats.failures()), (0, 1));
        let why = stats.last_error().expect("the failure is reported");
        assert!(why.contains("app.ndjson"), "{why}");
        assert_eq!(sink.lost_records(), 0);
        // No new attempt before the retry time…
        clock.advance(ROTATION_RETRY - Duration::from_secs(1));
        submit_all(&sink, 15..16);
        assert_eq!(stats.failures(), 1);
        // …then one, which fails again while the directory is read-only.
        clock.advance(Duration::from_secs(1));
        submit_all(&sink, 16..17);
        assert_eq!(stats.failures(), 2);
        assert_eq!(numbers(&active), (0..17).collect::<Vec<_>>());
        // Writable again: the next attempt rotates, and the next file obeys the limit again.
        set_mode(0o755);
        clock.advance(ROTATION_RETRY);
        submit_all(&sink, 17..30);
        assert_eq!(
            stats.rotations(),
            2,
            "the over-full file, then the next full one"
        );
        assert!(stats.last_error().is_none());
        assert_eq!(
            numbers(&config.rotated_path(2)),
            (0..17).collect::<Vec<_>>()
        );
        assert_eq!(
            numbers(&config.rotated_path(1)),
            (17..27).collect::<Vec<_>>()
        );
        assert_eq!(numbers(&active), (27..30).collect::<Vec<_>>());
        assert_eq!(sink.lost_records(), 0);
        drop(sink);

        // Opening a log file in a read-only directory is refused at once: the host learns it
        // before it logs anything, so nothing is accepted that could be lost.
        set_mode(0o555);
        let err = RotatingFile::open(
            RotatingFileConfig::new(dir.join("other.ndjson")),
            clock.clone(),
        )
        .expect_err("read-only directory");
        match err {
            RotatingFileError::Open { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied)
            }
            other => panic!("{other:?}"),
        }
        set_mode(0o755);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
