//! Injected write, sync, truncate, create and rename failures (see `atomic::faults`): for every
//! operation of a short scenario, fail that one (a transient error) or that one and every later
//! one (a full disk, a dead device), then check what the store promises:
//!
//! - the append whose commit failed gets an error and no receipt, and every later append fails
//!   too (the writer is poisoned) and never reaches the log;
//! - nothing hangs: every append is answered;
//! - reopening the directory without faults recovers a log that holds every receipted entry with
//!   its receipted leaf hash, passes full verification, and takes new appends.
//!
//! The same sweep then runs over a recovery: a log left with an uncommitted tail, an uncommitted
//! segment and stale derived files is reopened with each recovery operation failing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use biv_core::{AuditAppendError, AuditReceipt};

use super::super::atomic::Op;
use super::super::atomic::faults::{self, Plan};
use crate::audit::decode_entry;
use crate::store::{CheckpointKey, FileLog, FileLogOptions, verify_dir};
use crate::tlog::Ed25519Signer;

const ORIGIN: &str = "biv.test/faults";

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[9; 32]).expect("valid key name")
}

fn key() -> CheckpointKey {
    CheckpointKey::ed25519(signer())
}

/// Small segments (a roll every few entries) and a checkpoint every three entries; the wait is
/// long because nothing here should ever time out (a timeout would fail the test).
fn options() -> FileLogOptions {
    FileLogOptions::default()
        .with_segment_bytes(2_000)
        .with_checkpoints(Duration::from_secs(3_600), 3)
        .with_append_timeout(Duration::from_secs(60))
}

fn fresh(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-faults-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn event(n: u64) -> biv_core::AuditEvent {
    biv_testkit::sample_event(n)
}

/// A receipt the store handed out: it must survive.
#[derive(Debug, Clone)]
struct Receipted {
    index: u64,
    leaf: [u8; 32],
}

impl From<AuditReceipt> for Receipted {
    fn from(r: AuditReceipt) -> Self {
        Receipted {
            index: r.index(),
            leaf: *r.entry_digest(),
        }
    }
}

/// What a faulty run did.
#[derive(Debug, Default)]
struct Run {
    receipts: Vec<Receipted>,
    /// Events appended after the first failure: each must have failed and must never be in
    /// the log.
    after_failure: Vec<[u8; 16]>,
    failed: bool,
    /// Faults fired before the log was closed (closing ignores its own failures).
    fired_before_close: usize,
}

impl Run {
    fn record(&mut self, n: u64, result: Result<AuditReceipt, AuditAppendError>) {
        match result {
            Ok(receipt) => {
                assert!(
                    !self.failed,
                    "event {n} was acknowledged after an earlier append failed: the writer must be poisoned"
                );
                self.receipts.push(receipt.into());
            }
            Err(AuditAppendError::Backend(_)) => {
                if self.failed {
                    self.after_failure.push(*event(n).id.as_bytes());
                }
                self.failed = true;
            }
            Err(other) => panic!("event {n}: unexpected error {other:?}"),
        }
    }
}

/// A clean log with two entries.
fn base(dir: &Path) -> Vec<Receipted> {
    let log = FileLog::create(dir, key(), options()).expect("create");
    let receipts = (0..2)
        .map(|n| log.append_blocking(&event(n)).expect("clean append").into())
        .collect();
    drop(log);
    receipts
}

/// Opens the log, appends one by one, then from three threads at once (group commits, segment
/// rolls inside a batch), asks for a checkpoint, and closes it.
fn scenario(dir: &Path, guard: &faults::Guard) -> Run {
    let mut run = Run::default();
    let log = match FileLog::open(dir, key(), options()) {
        Ok(log) => log,
        Err(_) => {
            run.failed = true;
            run.fired_before_close = guard.fired().len();
            return run;
        }
    };
    for n in 100..104 {
        let result = log.append_blocking(&event(n));
        run.record(n, result);
    }
    let mut results: Vec<(u64, Result<AuditReceipt, AuditAppendError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (104..107)
            .map(|n| {
                let log = &log;
                s.spawn(move || (n, log.append_blocking(&event(n))))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("appender thread"))
            .collect()
    });
    // Acknowledged ones first (in commit order), then the failed ones. Concurrent appends
    // that failed may have shared the failing batch, so they are not "after" a failure unless
    // an earlier sequential append had failed already.
    results.sort_by_key(|(_, r)| r.as_ref().map_or(u64::MAX, AuditReceipt::index));
    let failed_before = run.failed;
    for (n, result) in results {
        if failed_before || result.is_ok() {
            run.record(n, result);
        } else {
            run.failed = true;
        }
    }
    // Signing records the state and the checkpoint: a fault may hit there first, and that
    // failure is counted (once: it poisons the writer).
    if !run.failed && log.checkpoint_now().is_err() {
        run.failed = true;
        assert_eq!(log.checkpoint_failures(), 1, "a failed signing is counted");
    }
    if run.failed {
        let failures = log.checkpoint_failures();
        assert!(
            log.checkpoint_now().is_err(),
            "a poisoned writer must not sign checkpoints"
        );
        assert_eq!(
            log.checkpoint_failures(),
            failures,
            "a poisoned writer's refusals are not signing failures"
        );
        let result = log.append_blocking(&event(107));
        run.record(107, result);
    }
    run.fired_before_close = guard.fired().len();
    drop(log);
    run
}

/// Reopens without faults and checks everything the store promised.
fn check_recovered(dir: &Path, receipts: &[Receipted], after_failure: &[[u8; 16]], what: &str) {
    let log = FileLog::open(dir, key(), options())
        .unwrap_or_else(|e| panic!("{what}: the log does not reopen: {e}"));
    for r in receipts {
        let entry = log
            .entry(r.index)
            .unwrap_or_else(|e| panic!("{what}: receipted entry {} lost: {e}", r.index));
        assert_eq!(
            crate::tlog::leaf_hash(&entry).to_bytes(),
            r.leaf,
            "{what}: entry {} differs from its receipt",
            r.index
        );
    }
    log.verify_full()
        .unwrap_or_else(|e| panic!("{what}: full verification fails: {e}"));
    let forbidden: HashSet<[u8; 16]> = after_failure.iter().copied().collect();
    let mut ids = HashSet::new();
    FileLog::read_entries(dir, |index, bytes| {
        let id = *decode_entry(bytes)
            .unwrap_or_else(|e| panic!("{what}: entry {index} does not decode: {e}"))
            .id
            .as_bytes();
        assert!(
            !forbidden.contains(&id),
            "{what}: entry {index} was appended after a failure, to a poisoned writer"
        );
        assert!(ids.insert(id), "{what}: entry {index} is a duplicate");
    })
    .unwrap_or_else(|e| panic!("{what}: reading entries: {e}"));
    let size = log.size();
    let receipt = log
        .append_blocking(&event(10_000 + size))
        .unwrap_or_else(|e| panic!("{what}: appending after recovery fails: {e}"));
    assert_eq!(receipt.index(), size, "{what}");
    drop(log);
    verify_dir(dir, ORIGIN, &signer().verifier(), true, None)
        .unwrap_or_else(|e| panic!("{what}: verify_dir --full fails: {e}"));
}

/// Counts the operations of the faulty part of the scenario.
fn count_ops(tag: &str) -> u64 {
    let dir = fresh(tag);
    base(&dir);
    let guard = faults::arm(&dir, Plan::count_only());
    let run = scenario(&dir, &guard);
    let seen = guard.seen();
    drop(guard);
    assert!(!run.failed && run.receipts.len() == 7, "{run:?}");
    std::fs::remove_dir_all(&dir).expect("clean up");
    seen
}

fn sweep(tag: &str, plan: impl Fn(u64) -> Plan) {
    let total = count_ops(&format!("{tag}-count"));
    assert!(
        total > 50,
        "the scenario should do real work: {total} operations"
    );
    eprintln!("{tag}: sweeping {total} operations");
    let dir = fresh(tag);
    let mut kinds_failed = HashSet::new();
    // A little past the counted total: group commits vary the count from run to run.
    for at in 0..total + 10 {
        let _ = std::fs::remove_dir_all(&dir);
        let mut receipts = base(&dir);
        let guard = faults::arm(&dir, plan(at));
        let run = scenario(&dir, &guard);
        let fired = guard.fired();
        drop(guard);
        if let Some((op, path)) = fired.first() {
            kinds_failed.insert(format!("{op:?} {}", file_kind(&dir, path)));
        }
        // Only closing may ignore a failure (its final sync and state are an optimisation).
        assert!(
            run.failed || run.fired_before_close == 0,
            "{tag} op {at}: {fired:?} failed but every append was acknowledged"
        );
        receipts.extend(run.receipts);
        check_recovered(
            &dir,
            &receipts,
            &run.after_failure,
            &format!("{tag} op {at} ({fired:?})"),
        );
    }
    for kind in [
        "Create segment",
        "Sync segment",
        "Write segment",
        "Sync segments/",
        "Write index",
        "Sync index",
        "Write tree",
        "Sync tree",
        "Create state.json.tmp",
        "Write state.json.tmp",
        "Sync state.json.tmp",
        "Rename state.json",
        "Sync log directory",
    ] {
        assert!(
            kinds_failed.contains(kind),
            "{tag}: no {kind} was ever failed: {kinds_failed:?}"
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Which file of the log `path` is, for the coverage check.
fn file_kind(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let name = rel.to_string_lossy();
    if name.is_empty() {
        "log directory".into()
    } else if name.ends_with(".seg") {
        "segment".into()
    } else if name.starts_with("tree/") {
        "tree".into()
    } else if name == "segments" {
        "segments/".into()
    } else {
        name.into_owned()
    }
}

#[test]
fn every_single_failure_fails_closed_and_recovers() {
    sweep("once", Plan::once);
}

#[test]
fn a_disk_that_stays_full_fails_closed_and_recovers() {
    sweep("persistent", Plan::from_on);
}

/// Leaves a log whose last commit failed at its `state.json` rename after rolling to a new
/// segment: an uncommitted tail, an uncommitted segment file and derived files past `derived`.
/// Returns the receipts and how many renames succeeded before the failing one.
fn dirty(dir: &Path, renames: Option<u64>) -> (Vec<Receipted>, u64) {
    for ok_renames in renames.map_or(2..12, |r| r..r + 1) {
        let _ = std::fs::remove_dir_all(dir);
        let mut receipts = base(dir);
        let log = FileLog::open(dir, key(), options()).expect("open");
        let guard = faults::arm(
            dir,
            Plan {
                kinds: vec![Op::Rename],
                ..Plan::from_on(ok_renames)
            },
        );
        let mut n = 200;
        while let Ok(r) = log.append_blocking(&event(n)) {
            receipts.push(r.into());
            n += 1;
        }
        drop(log);
        drop(guard);
        let state = super::super::state::TreeState::load(dir)
            .expect("state.json")
            .expect("a log");
        let files = super::super::segments::list(dir).expect("list segments");
        if files.len() > state.segments.len() && state.derived < state.size {
            return (receipts, ok_renames);
        }
    }
    panic!("no failing commit rolled to a new segment");
}

#[test]
fn a_failing_recovery_changes_nothing_a_later_one_needs() {
    let dir = fresh("recovery");
    let (_, renames) = dirty(&dir, None);
    let segments = super::super::segments::list(&dir).expect("list");
    let guard = faults::arm(&dir, Plan::count_only());
    let log = FileLog::open(&dir, key(), options()).expect("recovers");
    let total = guard.seen();
    drop(guard);
    drop(log);
    assert!(
        segments.len() > super::super::segments::list(&dir).expect("list").len(),
        "recovery should have removed the uncommitted segment: {segments:?}"
    );
    assert!(
        total > 5,
        "recovery should do real work: {total} operations"
    );
    eprintln!("recovery: sweeping {total} operations");
    let mut kinds_failed = HashSet::new();
    for persistent in [false, true] {
        for at in 0..total + 2 {
            let (mut receipts, _) = dirty(&dir, Some(renames));
            let guard = faults::arm(
                &dir,
                Plan {
                    persistent,
                    ..Plan::once(at)
                },
            );
            let opened = FileLog::open(&dir, key(), options());
            let fired = guard.fired();
            if let Some((op, _)) = fired.first() {
                kinds_failed.insert(*op);
            }
            // A recovery that failed must say so; one that succeeded is used while faulty.
            let mut after = Vec::new();
            if let Ok(log) = opened {
                match log.append_blocking(&event(300)) {
                    Ok(r) => receipts.push(r.into()),
                    Err(AuditAppendError::Backend(_)) => {
                        after.push(*event(301).id.as_bytes());
                        assert!(log.append_blocking(&event(301)).is_err());
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
                drop(log);
            } else {
                assert!(!fired.is_empty(), "recovery failed without a fault");
            }
            drop(guard);
            check_recovered(
                &dir,
                &receipts,
                &after,
                &format!("recovery op {at} persistent {persistent} ({fired:?})"),
            );
        }
    }
    for kind in [Op::Create, Op::Write, Op::Sync, Op::Truncate] {
        assert!(
            kinds_failed.contains(&kind),
            "no {kind:?} failed during recovery"
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// A creation that failed (before or after its `state.json`) leaves a directory where the
/// log can be created again, or opened.
#[test]
fn a_failed_creation_leaves_a_directory_that_works() {
    let dir = fresh("create");
    let guard = faults::arm(&dir, Plan::count_only());
    drop(FileLog::create(&dir, key(), options()).expect("create"));
    let total = guard.seen();
    drop(guard);
    assert!(
        total > 5,
        "creation should do real work: {total} operations"
    );
    eprintln!("creation: sweeping {total} operations");
    for persistent in [false, true] {
        for at in 0..total {
            let _ = std::fs::remove_dir_all(&dir);
            let guard = faults::arm(
                &dir,
                Plan {
                    persistent,
                    ..Plan::once(at)
                },
            );
            let created = FileLog::create(&dir, key(), options());
            let fired = guard.fired();
            drop(guard);
            let what = format!("create op {at} persistent {persistent} ({fired:?})");
            match created {
                Ok(log) => drop(log),
                Err(_) => match FileLog::create(&dir, key(), options()) {
                    Ok(log) => drop(log),
                    // The state was written: the log exists and opens (checked below).
                    Err(crate::store::OpenError::AlreadyExists(_)) => {}
                    Err(e) => panic!("{what}: creating again fails: {e}"),
                },
            }
            check_recovered(&dir, &[], &[], &what);
        }
    }
    // A log that lost its state.json is not mistaken for a failed creation.
    std::fs::remove_file(dir.join("state.json")).expect("remove state.json");
    assert!(matches!(
        FileLog::create(&dir, key(), options()),
        Err(crate::store::OpenError::AlreadyExists(_))
    ));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_async_append_fails_closed_too() {
    let dir = fresh("async");
    let mut receipts = base(&dir);
    let log = FileLog::open(&dir, key(), options()).expect("open");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    receipts.push(
        runtime
            .block_on(biv_core::AuditSink::append(&log, &event(500)))
            .expect("append")
            .into(),
    );
    let guard = faults::arm(
        &dir,
        Plan {
            kinds: vec![Op::Sync],
            ..Plan::from_on(0)
        },
    );
    for n in [501, 502] {
        match runtime.block_on(biv_core::AuditSink::append(&log, &event(n))) {
            Err(AuditAppendError::Backend(e)) => {
                assert!(e.to_string().contains("segment"), "{e}");
            }
            other => panic!("event {n}: a failed fsync must fail the append, got {other:?}"),
        }
    }
    drop(log);
    drop(guard);
    check_recovered(&dir, &receipts, &[*event(502).id.as_bytes()], "async");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_stalled_sync_times_out_instead_of_hanging() {
    let dir = fresh("stall");
    let mut receipts = base(&dir);
    let options = options().with_append_timeout(Duration::from_millis(200));
    let log = FileLog::open(&dir, key(), options.clone()).expect("open");
    let guard = faults::arm(
        &dir,
        Plan {
            kinds: vec![Op::Sync],
            stall: Some(Duration::from_secs(2)),
            ..Plan::once(0)
        },
    );
    match log.append_blocking(&event(400)) {
        Err(AuditAppendError::Timeout { waited }) => {
            assert_eq!(waited, Duration::from_millis(200));
        }
        other => panic!("a stalled fsync must fail the append with a timeout, got {other:?}"),
    }
    assert_eq!(guard.fired().len(), 1);
    drop(guard);
    // The stall ends; the writer was slow, not broken, and takes appends again.
    let mut later = None;
    for n in 401..501 {
        match log.append_blocking(&event(n)) {
            Ok(r) => {
                later = Some(r);
                break;
            }
            Err(AuditAppendError::Timeout { .. }) => {}
            Err(other) => panic!("after the stall: {other:?}"),
        }
    }
    receipts.push(
        later
            .expect("the writer answers again after the stall")
            .into(),
    );
    drop(log);
    check_recovered(&dir, &receipts, &[], "after a stall");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn checkpoint_now_never_blocks_on_a_full_queue() {
    let dir = fresh("checkpoint-full");
    let receipts = base(&dir);
    let options = options()
        .with_append_timeout(Duration::from_millis(200))
        .with_queue_capacity(1);
    let log = FileLog::open(&dir, key(), options).expect("open");
    let guard = faults::arm(
        &dir,
        Plan {
            kinds: vec![Op::Sync],
            stall: Some(Duration::from_secs(2)),
            ..Plan::once(0)
        },
    );
    // The writer is stuck in a sync with the first append; the second fills the queue.
    for n in [410, 411] {
        assert!(matches!(
            log.append_blocking(&event(n)),
            Err(AuditAppendError::Timeout { .. })
        ));
    }
    // A blocking send would wait out the stall and then time out waiting for the answer
    // (`waited` = the append timeout); refusing the full queue says `waited` = 0.
    match log.checkpoint_now() {
        Err(AuditAppendError::Timeout { waited }) => assert_eq!(waited, Duration::ZERO),
        other => panic!("a full queue must fail the checkpoint at once, got {other:?}"),
    }
    drop(guard);
    drop(log);
    check_recovered(&dir, &receipts, &[], "after a full queue");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Recovery writes the adopted frames again and syncs them before `state.json` records them:
/// frames a killed writer left in the page cache, or that a failed sync left clean there but
/// not on the disk, would otherwise be recorded without being durable.
#[test]
fn adopted_frames_are_written_and_synced_before_they_are_recorded() {
    let dir = fresh("adopt-order");
    let quiet = FileLogOptions::default().with_checkpoints(Duration::from_secs(3_600), 1_000_000);
    let log = FileLog::create(&dir, key(), quiet.clone()).expect("create");
    log.append_blocking(&event(0)).expect("append");
    log.checkpoint_now().expect("checkpoint"); // records the state at 1
    let recorded = std::fs::read(dir.join("state.json")).expect("state.json");
    for n in 1..4 {
        log.append_blocking(&event(n)).expect("append");
    }
    drop(log);
    std::fs::write(dir.join("state.json"), recorded).expect("restore state.json");

    // Stall every operation for no time: each one is listed, in order, and none fails.
    let guard = faults::arm(
        &dir,
        Plan {
            persistent: true,
            stall: Some(Duration::ZERO),
            ..Plan::once(0)
        },
    );
    let log = FileLog::open(&dir, key(), quiet).expect("open");
    let ops = guard.fired();
    drop(guard);
    assert_eq!((log.size(), log.recovery().adopted_entries), (4, 3));
    let is_segment = |p: &Path| p.extension().is_some_and(|e| e == "seg");
    let position = |want: Op, what: &dyn Fn(&Path) -> bool| {
        ops.iter()
            .position(|(op, p)| *op == want && what(p))
            .unwrap_or_else(|| panic!("no {want:?} in {ops:?}"))
    };
    let write = position(Op::Write, &is_segment);
    let sync = position(Op::Sync, &is_segment);
    let record = position(Op::Rename, &|p: &Path| p.ends_with("state.json"));
    assert!(write < sync && sync < record, "{ops:?}");
    drop(log);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// A drop does not hang on a writer stuck on a hung disk; the stuck writer keeps the lock, so
/// the log cannot be opened twice, and finishes its close once the disk answers.
#[test]
fn a_drop_gives_up_waiting_for_a_stuck_writer_which_keeps_the_lock() {
    let dir = fresh("stuck-close");
    let options = options().with_close_timeout(Duration::from_millis(200));
    let log = FileLog::create(&dir, key(), options.clone()).expect("create");
    log.append_blocking(&event(0)).expect("append");
    // From now on every sync takes 3 s: closing (checkpoint, state record) is slow.
    let guard = faults::arm(
        &dir,
        Plan {
            persistent: true,
            kinds: vec![Op::Sync],
            stall: Some(Duration::from_secs(3)),
            ..Plan::once(0)
        },
    );
    let started = std::time::Instant::now();
    drop(log);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the drop waited {:?}",
        started.elapsed()
    );
    assert!(matches!(
        FileLog::open(&dir, key(), options.clone()),
        Err(crate::store::OpenError::Locked(_))
    ));
    drop(guard); // the disk answers again
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let log = loop {
        match FileLog::open(&dir, key(), options.clone()) {
            Ok(log) => break log,
            Err(crate::store::OpenError::Locked(_)) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the stuck writer never ended"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("reopening: {e}"),
        }
    };
    assert_eq!(log.size(), 1);
    drop(log);
    std::fs::remove_dir_all(&dir).expect("clean up");
}
