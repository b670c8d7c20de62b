//! The file store anchored to a c2sp.org/tlog-witness witness (biv-testkit's stand-in): every
//! checkpoint cosigned and checked, rollbacks and forks refused by the witness and on open, an
//! unreachable or hung witness never stalls appends, 409 handling, and bad answers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use biv_integrity::store::{
    CheckpointAnchor, CheckpointKey, FileLog, FileLogOptions, OpenError, WitnessAnchor,
    WitnessError,
};
use biv_integrity::tlog::{
    Checkpoint, CosignatureSigner, CosignatureVerifier, Ed25519Signer, Hash, SignedCheckpoint,
    verify_cosignatures,
};
use biv_testkit::sample_event;
use biv_testkit::witness::{Availability, Scripted, TlogWitness};

const ORIGIN: &str = "biv.test/witnessed";
const WITNESS: &str = "witness.test/auditor";
const WITNESS_SEED: [u8; 32] = [21; 32];
const LOG_SEED: [u8; 32] = [11; 32];

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &LOG_SEED).expect("log key")
}

fn key() -> CheckpointKey {
    CheckpointKey::ed25519(signer())
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("biv-wit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Checkpoints only on request or at close.
fn quiet() -> FileLogOptions {
    FileLogOptions::default().with_checkpoints(Duration::from_secs(3600), 1_000_000)
}

fn fill(log: &FileLog, from: u64, to: u64) {
    for n in from..to {
        log.append_blocking(&sample_event(n)).expect("append");
    }
}

/// A witness that trusts the log's key.
fn witness() -> TlogWitness {
    let w = TlogWitness::start(WITNESS, &WITNESS_SEED).expect("start the witness");
    w.add_log(ORIGIN, &signer().verifier().to_vkey())
        .expect("trust the log key");
    w
}

fn witness_key(w: &TlogWitness) -> CosignatureVerifier {
    CosignatureVerifier::from_vkey(&w.vkey()).expect("witness vkey")
}

fn anchor(w: &TlogWitness) -> WitnessAnchor {
    WitnessAnchor::new(&w.url(), vec![witness_key(w)])
        .expect("anchor")
        .with_timeout(Duration::from_secs(2))
}

/// Waits (bounded) until the anchor has a cosigned checkpoint of `size`.
fn wait_cosigned(anchor: &WitnessAnchor, size: u64) -> Option<SignedCheckpoint> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let newest = anchor.latest_cosigned();
        if newest.as_ref().map(|c| c.checkpoint().size()) == Some(size) || Instant::now() > deadline
        {
            return newest;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_checkpoint_is_cosigned_and_the_cosignature_checked() {
    let w = witness();
    let wkey = witness_key(&w);
    let a = Arc::new(anchor(&w));
    let d = dir("publish");
    let log = FileLog::create(&d, key(), quiet().with_anchor(a.clone())).unwrap();
    // The new log's empty tree was submitted at once, with `old 0`.
    assert_eq!(w.size(ORIGIN), Some(0));
    assert_eq!(a.witness_size(), Some(0));
    fill(&log, 0, 5);
    log.checkpoint_now().unwrap();
    let cosigned = wait_cosigned(&a, 5).expect("cosigned at 5");
    assert_eq!(cosigned.checkpoint().size(), 5);
    assert_eq!(cosigned.checkpoint().root().to_bytes(), log.root());
    // The kept checkpoint carries the log's signature and one valid cosignature of the witness.
    let bytes = a.latest().unwrap().unwrap();
    let opened = SignedCheckpoint::open(&bytes, ORIGIN, &[&signer().verifier()]).unwrap();
    let cosigs = verify_cosignatures(opened.note(), &[&wkey]).unwrap();
    assert_eq!(cosigs.len(), 1);
    assert_eq!(cosigs[0].name(), WITNESS);
    assert!(cosigs[0].timestamp() > 1_700_000_000, "a real time");

    fill(&log, 5, 12);
    log.checkpoint_now().unwrap();
    assert_eq!(
        wait_cosigned(&a, 12).map(|c| c.checkpoint().size()),
        Some(12)
    );
    // The second submission carried the consistency proof from the size the witness held.
    let stats = w.stats();
    assert_eq!(stats.old_sizes, vec![0, 0, 5]);
    assert_eq!(stats.responses.get(&200), Some(&3));
    assert_eq!(w.checkpoint(ORIGIN), Some((12, log.root())));
    drop(log);
    // Reopening checks the log against the witness's newest checkpoint, and it matches.
    let log = FileLog::open(&d, key(), quiet().with_anchor(a.clone())).unwrap();
    assert_eq!(log.size(), 12);
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn proofs_between_many_sizes_are_accepted_by_the_witness() {
    // Growth steps of 1, 2, 3, …: sizes across powers of two, each submitted with the proof
    // from the previous one; the stand-in checks each proof with its own RFC 9162 code.
    let w = witness();
    let d = dir("sizes");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    let a = anchor(&w);
    let mut size = 0;
    for step in 1..=16 {
        fill(&log, size, size + step);
        size += step;
        let cp = log.checkpoint_now().unwrap();
        let cosigned = a.add_checkpoint(&cp, Some(&log)).unwrap();
        assert_eq!(cosigned.checkpoint().size(), size);
    }
    assert_eq!(w.checkpoint(ORIGIN), Some((136, log.root())));
    assert_eq!(w.stats().responses.get(&200), Some(&16));
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_rolled_back_log_is_refused_by_the_witness_and_on_open() {
    let w = witness();
    let d = dir("rollback");
    let backup = dir("rollback-backup");
    let state = dir("rollback-state");
    std::fs::create_dir_all(&state).unwrap();
    let state_file = state.join("witness-checkpoint");
    let a = Arc::new(anchor(&w).with_state_file(&state_file).unwrap());
    let log = FileLog::create(&d, key(), quiet().with_anchor(a.clone())).unwrap();
    fill(&log, 0, 8);
    log.checkpoint_now().unwrap();
    wait_cosigned(&a, 8).expect("cosigned at 8");
    drop(log);
    biv_testkit::files::copy_dir(&d, &backup); // a consistent copy at 8 entries
    let log = FileLog::open(&d, key(), quiet().with_anchor(a.clone())).unwrap();
    fill(&log, 8, 20);
    log.checkpoint_now().unwrap();
    wait_cosigned(&a, 20).expect("cosigned at 20");
    drop(log);

    // The operator restores the backup; it is consistent with itself.
    let restored = FileLog::open_relocated(&backup, key(), quiet()).unwrap();
    assert_eq!(restored.size(), 8);
    // The witness refuses its checkpoint: it cosigned 20 entries (409 naming 20).
    let fresh = anchor(&w); // an anchor that remembers nothing
    let cp8 = restored.latest_checkpoint().unwrap();
    match fresh.add_checkpoint(&cp8, Some(&restored)) {
        Err(WitnessError::Behind {
            witness_size: 20,
            size: 8,
        }) => {}
        other => panic!("expected the rollback to be refused, got {other:?}"),
    }
    assert_eq!(w.size(ORIGIN), Some(20), "the witness did not roll back");
    drop(restored);
    // The log refuses to open against the witness's newest checkpoint, also with an anchor
    // that starts from the state file (a restarted process).
    let restarted = Arc::new(anchor(&w).with_state_file(&state_file).unwrap());
    for anchor in [a, restarted] {
        match FileLog::open(&backup, key(), quiet().with_anchor(anchor)) {
            Err(OpenError::CheckpointAhead {
                checkpoint_size: 20,
                size: 8,
                anchored: true,
            }) => {}
            other => panic!("expected the rollback to be refused, got {other:?}"),
        }
    }
    for p in [&d, &backup, &state] {
        std::fs::remove_dir_all(p).unwrap();
    }
}

#[test]
fn a_forked_log_is_refused_by_the_witness_and_on_open() {
    let w = witness();
    let (da, db) = (dir("fork-a"), dir("fork-b"));
    let a = Arc::new(anchor(&w));
    let log_a = FileLog::create(&da, key(), quiet().with_anchor(a.clone())).unwrap();
    fill(&log_a, 0, 6);
    log_a.checkpoint_now().unwrap();
    wait_cosigned(&a, 6).expect("cosigned at 6");
    let root_a = log_a.root();
    drop(log_a);

    // A second log with the same key but other entries: another history.
    let log_b = FileLog::create(&db, key(), quiet()).unwrap();
    fill(&log_b, 100, 106);
    let b = anchor(&w);
    let cp6 = log_b.checkpoint_now().unwrap();
    // Same size, another root: 409 at the size it sent.
    match b.add_checkpoint(&cp6, Some(&log_b)) {
        Err(WitnessError::Fork { size: 6 }) => {}
        other => panic!("expected a fork, got {other:?}"),
    }
    // Larger: the consistency proof from the witness's 6 entries does not verify (422).
    fill(&log_b, 106, 10 + 100);
    let cp10 = log_b.checkpoint_now().unwrap();
    match b.add_checkpoint(&cp10, Some(&log_b)) {
        Err(WitnessError::Inconsistent { old: 6, size: 10 }) => {}
        other => panic!("expected an inconsistent proof, got {other:?}"),
    }
    assert!(b.latest_cosigned().is_none(), "nothing was cosigned");
    assert_eq!(w.checkpoint(ORIGIN), Some((6, root_a)));
    assert_eq!(w.stats().responses.get(&422), Some(&1));
    drop(log_b);
    match FileLog::open(&db, key(), quiet().with_anchor(a)) {
        Err(OpenError::CheckpointMismatch {
            checkpoint_size: 6,
            anchored: true,
        }) => {}
        other => panic!("expected the fork to be refused, got {other:?}"),
    }
    for p in [&da, &db] {
        std::fs::remove_dir_all(p).unwrap();
    }
}

#[test]
fn a_down_or_hung_witness_never_stalls_appends_and_publication_catches_up() {
    let w = witness();
    let d = dir("down");
    let a = Arc::new(anchor(&w));
    let log = FileLog::create(&d, key(), quiet().with_anchor(a.clone())).unwrap();
    // Down: connections are closed at once.
    w.set_availability(Availability::Refusing);
    fill(&log, 0, 20);
    log.checkpoint_now().unwrap();
    fill(&log, 20, 40);
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.stats().dropped_connections < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(w.stats().dropped_connections >= 1);
    // Hung: connections are accepted and never answered; the anchor's timeout ends each try.
    w.set_availability(Availability::Hanging);
    let before = w.stats().dropped_connections;
    log.checkpoint_now().unwrap();
    fill(&log, 40, 300);
    while w.stats().dropped_connections <= before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(w.stats().dropped_connections > before);
    fill(&log, 300, 320); // appends go on while the witness hangs
    log.checkpoint_now().unwrap();
    assert_eq!(w.size(ORIGIN), Some(0), "nothing reached the witness");
    assert_eq!(a.witness_size(), Some(0));

    // Back up: the publisher's retry delivers the newest checkpoint without further appends.
    w.set_availability(Availability::Up);
    assert_eq!(
        w.wait_for_size(ORIGIN, 320, Duration::from_secs(30)),
        Some(320)
    );
    assert_eq!(
        wait_cosigned(&a, 320).map(|c| c.checkpoint().size()),
        Some(320)
    );
    // The failures were counted.
    fill(&log, 320, 321);
    log.checkpoint_now().unwrap();
    assert!(log.anchor_failures() >= 2, "{}", log.anchor_failures());
    assert_eq!(
        w.wait_for_size(ORIGIN, 321, Duration::from_secs(30)),
        Some(321)
    );
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_409_is_answered_by_adopting_the_witness_size_and_retrying_once() {
    let w = witness();
    let d = dir("conflict");
    let log = FileLog::create(&d, key(), quiet()).unwrap();
    fill(&log, 0, 4);
    let cp4 = log.checkpoint_now().unwrap();
    anchor(&w).add_checkpoint(&cp4, Some(&log)).unwrap();
    fill(&log, 4, 9);
    let cp9 = log.checkpoint_now().unwrap();
    // An anchor that never heard from the witness sends `old 0`, gets 409 "4", and retries
    // with the proof from 4.
    let a = anchor(&w);
    let cosigned = a.add_checkpoint(&cp9, Some(&log)).unwrap();
    assert_eq!(cosigned.checkpoint().size(), 9);
    let stats = w.stats();
    assert_eq!(stats.old_sizes, vec![0, 0, 4]);
    assert_eq!(stats.responses.get(&409), Some(&1));
    assert_eq!(a.witness_size(), Some(9));

    fill(&log, 9, 12);
    let cp12 = log.checkpoint_now().unwrap();
    // Retried once only: a second 409 is an error.
    for _ in 0..2 {
        w.respond_next(Scripted::new(409, Some("text/x.tlog.size"), "3\n"));
    }
    match a.add_checkpoint(&cp12, Some(&log)) {
        Err(WitnessError::Conflict { witness_size: 3 }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A 409 that does not say the size as the spec prescribes is a bad answer.
    w.respond_next(Scripted::new(409, Some("text/plain"), "3\n"));
    assert!(matches!(
        a.add_checkpoint(&cp12, Some(&log)),
        Err(WitnessError::BadAnswer(_))
    ));
    // Without a proof source, only a proof-less submission can be made.
    let b = anchor(&w);
    assert!(matches!(
        b.add_checkpoint(&cp12, None),
        Err(WitnessError::Proof {
            old: 9,
            size: 12,
            ..
        })
    ));
    // The real witness state was never touched by the scripted answers, and a size named in a
    // 409 is not remembered (the answer is not signed): the next submission goes out from the
    // size the witness last cosigned, 9, and succeeds.
    let cosigned = a.add_checkpoint(&cp12, Some(&log)).unwrap();
    assert_eq!(cosigned.checkpoint().size(), 12);
    assert_eq!(w.size(ORIGIN), Some(12));
    assert_eq!(w.stats().old_sizes.last(), Some(&9));

    // A forged (or mistaken) 409 naming a size beyond the log fails that submission as a
    // rollback, but does not block the next one.
    fill(&log, 12, 14);
    let cp14 = log.checkpoint_now().unwrap();
    w.respond_next(Scripted::new(
        409,
        Some("text/x.tlog.size"),
        "18446744073709551615\n",
    ));
    assert!(matches!(
        a.add_checkpoint(&cp14, Some(&log)),
        Err(WitnessError::Behind { .. })
    ));
    let cosigned = a.add_checkpoint(&cp14, Some(&log)).unwrap();
    assert_eq!(cosigned.checkpoint().size(), 14);
    drop(log);
    std::fs::remove_dir_all(&d).unwrap();
}

fn scripted_200(body: &str) -> Scripted {
    Scripted::new(200, Some("text/plain; charset=utf-8"), body)
}

#[test]
fn bad_answers_are_errors_not_acceptances() {
    let w = witness();
    let cp = Checkpoint::new(ORIGIN, 0, biv_integrity::tlog::empty_root())
        .unwrap()
        .sign(&[&signer()])
        .unwrap();
    let a = anchor(&w);
    w.respond_next(scripted_200("hello\n"));
    assert!(matches!(
        a.add_checkpoint(&cp, None),
        Err(WitnessError::BadAnswer(_))
    ));
    w.respond_next(scripted_200(""));
    assert!(matches!(
        a.add_checkpoint(&cp, None),
        Err(WitnessError::BadAnswer(_))
    ));
    // A cosignature by the witness's key over another checkpoint does not verify.
    let other = Checkpoint::new(ORIGIN, 1, Hash::from_bytes([1; 32]))
        .unwrap()
        .sign(&[&signer()])
        .unwrap();
    let witness_signer = CosignatureSigner::from_seed(WITNESS, &WITNESS_SEED).unwrap();
    let wrong = witness_signer
        .sign_at(other.note().text(), 1_767_225_600)
        .unwrap();
    w.respond_next(scripted_200(&wrong.to_line()));
    assert!(matches!(
        a.add_checkpoint(&cp, None),
        Err(WitnessError::Cosignature(_))
    ));
    w.respond_next(Scripted::new(500, None, ""));
    assert!(matches!(
        a.add_checkpoint(&cp, None),
        Err(WitnessError::UnexpectedStatus { status: 500 })
    ));
    // A valid cosignature after an empty line: the empty line would make the lines before it
    // part of the signed text, so the answer is refused as malformed.
    let genuine = witness_signer
        .sign_at(cp.note().text(), 1_767_225_600)
        .unwrap()
        .to_line();
    for body in [format!("\n{genuine}"), format!("{genuine}\n{genuine}")] {
        w.respond_next(scripted_200(&body));
        assert!(matches!(
            a.add_checkpoint(&cp, None),
            Err(WitnessError::BadAnswer(_))
        ));
    }
    assert!(a.latest().unwrap().is_none(), "nothing was accepted");

    // An anchor that trusts another key (same name) finds no cosignature it knows.
    let impostor = CosignatureSigner::from_seed(WITNESS, &[99; 32]).unwrap();
    let b = WitnessAnchor::new(&w.url(), vec![impostor.verifier()]).unwrap();
    assert!(matches!(
        b.add_checkpoint(&cp, None),
        Err(WitnessError::NotCosigned)
    ));
    assert!(b.latest().unwrap().is_none());
    // The genuine key accepts the same answer.
    let good = a.add_checkpoint(&cp, None).unwrap();
    assert_eq!(
        verify_cosignatures(good.note(), &[&witness_key(&w)])
            .unwrap()
            .len(),
        1
    );

    // A witness that does not trust the log's key (403) or does not know the origin (404).
    let stranger = TlogWitness::start(WITNESS, &WITNESS_SEED).unwrap();
    let other_key = Ed25519Signer::from_seed(ORIGIN, &[12; 32]).unwrap();
    stranger
        .add_log(ORIGIN, &other_key.verifier().to_vkey())
        .unwrap();
    assert!(matches!(
        anchor(&stranger).add_checkpoint(&cp, None),
        Err(WitnessError::Refused { status: 403, .. })
    ));
    let unknown = TlogWitness::start(WITNESS, &WITNESS_SEED).unwrap();
    assert!(matches!(
        anchor(&unknown).add_checkpoint(&cp, None),
        Err(WitnessError::Refused { status: 404, .. })
    ));
    // Nothing listening at all (port 1 is privileged and unused).
    let nowhere = WitnessAnchor::new("http://127.0.0.1:1", vec![witness_key(&w)])
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    assert!(matches!(
        nowhere.add_checkpoint(&cp, None),
        Err(WitnessError::Transport(_) | WitnessError::Timeout(_))
    ));
}

#[test]
fn the_anchor_is_configured_plainly_and_prints_no_more_than_its_address() {
    let w = witness();
    assert!(matches!(
        WitnessAnchor::new("https://witness.example", vec![witness_key(&w)]),
        Err(WitnessError::InvalidUrl { .. })
    ));
    assert!(matches!(
        WitnessAnchor::new(&w.url(), vec![]),
        Err(WitnessError::NoWitnessKey)
    ));
    let a = anchor(&w);
    assert_eq!(a.url(), format!("{}/add-checkpoint", w.url()));
    let shown = format!("{a:?}");
    assert!(
        shown.contains(&w.url()) && shown.contains(WITNESS),
        "{shown}"
    );
    // A state file that holds no cosigned checkpoint is refused, not ignored.
    let state = dir("bad-state");
    std::fs::create_dir_all(&state).unwrap();
    let file = state.join("cp");
    std::fs::write(&file, b"not a checkpoint").unwrap();
    assert!(matches!(
        anchor(&w).with_state_file(&file),
        Err(WitnessError::State { .. })
    ));
    std::fs::remove_dir_all(&state).unwrap();
}

/// One raw `POST /add-checkpoint`: status, content type and body of the answer.
fn raw_post(w: &TlogWitness, body: &[u8]) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(w.addr()).expect("connect");
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        w.addr(),
        body.len()
    );
    tcp.write_all(head.as_bytes()).expect("send");
    tcp.write_all(body).expect("send");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head[9..12].parse().expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

#[test]
fn the_stand_in_answers_as_the_spec_says_and_its_cosignature_verifies_here() {
    let w = witness();
    let cp = |size: u64, root: Hash, signer: &Ed25519Signer| {
        Checkpoint::new(ORIGIN, size, root)
            .unwrap()
            .sign(&[signer])
            .unwrap()
            .to_bytes()
    };
    let with = |head: &str, note: &[u8]| [head.as_bytes(), note].concat();
    let empty = cp(0, biv_integrity::tlog::empty_root(), &signer());
    let line = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    assert_eq!(raw_post(&w, b"garbage").0, 400);
    assert_eq!(
        raw_post(&w, &with("old 01\n\n", &empty)).0,
        400,
        "leading zero"
    );
    assert_eq!(
        raw_post(&w, &with("old 5\n\n", &empty)).0,
        400,
        "old above size"
    );
    assert_eq!(
        raw_post(&w, &with(&format!("old 0\n{line}\n"), &empty)).0,
        400
    );
    let many = format!("old 0\n{}\n", line.repeat(64));
    assert_eq!(raw_post(&w, &with(&many, &empty)).0, 400, "64 proof lines");
    // Signed by an unknown key only, or with a failing signature by the trusted key: 403.
    let stranger = Ed25519Signer::from_seed("someone.else", &[1; 32]).unwrap();
    let foreign = cp(0, biv_integrity::tlog::empty_root(), &stranger);
    assert_eq!(raw_post(&w, &with("old 0\n\n", &foreign)).0, 403);
    let mut forged = empty.clone();
    let at = forged.len() - 3;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(raw_post(&w, &with("old 0\n\n", &forged)).0, 403);
    // Accepted: one cosignature line, which biv-integrity's own code verifies.
    let (status, _, body) = raw_post(&w, &with("old 0\n\n", &empty));
    assert_eq!(status, 200);
    let mut note = empty.clone();
    note.extend_from_slice(body.as_bytes());
    let signed = SignedCheckpoint::open(&note, ORIGIN, &[&signer().verifier()]).unwrap();
    let cosigs = verify_cosignatures(signed.note(), &[&witness_key(&w)]).unwrap();
    assert_eq!(cosigs.len(), 1);
    // A stale old size: 409 with the size it holds, as text/x.tlog.size.
    let one = cp(1, Hash::from_bytes([7; 32]), &signer());
    assert_eq!(
        raw_post(&w, &with("old 0\n\n", &one)).0,
        200,
        "first size-1 head"
    );
    let (status, content_type, body) = raw_post(&w, &with("old 0\n\n", &one));
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "1\n")
    );
    // Same size, another root: 409.
    let other = cp(1, Hash::from_bytes([8; 32]), &signer());
    assert_eq!(raw_post(&w, &with("old 1\n\n", &other)).0, 409);
    // A wrong proof to a larger size: 422, and the state stays.
    let three = cp(3, Hash::from_bytes([9; 32]), &signer());
    assert_eq!(
        raw_post(&w, &with(&format!("old 1\n{line}\n"), &three)).0,
        422
    );
    assert_eq!(w.checkpoint(ORIGIN), Some((1, [7; 32])));
}
