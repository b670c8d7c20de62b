//! The spool on disk: segments roll, the acknowledged position survives a restart, torn tails
//! are cut and counted, corrupt frames are reported and never returned.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use biv_availability::shipping::{
    FsyncPolicy, Position, Spool, SpoolConfig, SpoolOpenError, SpoolReader,
};
use biv_testkit::sample_log_record;
use proptest::prelude::*;

fn fresh(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("biv-shipping-spool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

fn messages(batch: &biv_availability::shipping::ReadBatch) -> Vec<String> {
    batch
        .records
        .iter()
        .map(|r| r.record.line().to_owned())
        .collect()
}

#[test]
fn records_come_back_in_order_across_rolled_segments_and_ack_deletes_only_shipped_ones() {
    let dir = fresh("roll");
    let spool = Spool::open(&dir, SpoolConfig::new().with_segment_bytes(1024)).expect("open");
    for n in 0..40 {
        spool.append(&sample_log_record(n)).expect("append");
    }
    spool.sync().expect("sync");
    let segs = segments(&dir);
    assert!(segs.len() >= 5, "1 KiB segments must roll: {segs:?}");
    for file in segs.iter().chain([&dir.join("writer.lock")]) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    for s in &segs {
        let len = std::fs::metadata(s).expect("meta").len();
        assert!(len <= 1024, "{} is {len} bytes", s.display());
    }

    let mut reader = SpoolReader::open(&dir).expect("reader");
    let first = reader.read(reader.acked(), 1 << 20, 15).expect("read");
    assert_eq!(first.records.len(), 15);
    let expected: Vec<String> = (0..15)
        .map(|n| sample_log_record(n).line().to_owned())
        .collect();
    assert_eq!(messages(&first), expected);
    assert_eq!(first.records[14].end, first.next);
    reader.ack(first.next).expect("ack");
    let remaining = segments(&dir);
    assert!(remaining.len() < segs.len(), "acked segments are deleted");
    assert!(
        remaining
            .iter()
            .any(|p| p.ends_with(format!("{:020}.seg", first.next.segment))),
        "the segment holding the next record is kept"
    );
    drop(reader);

    // A new reader starts where the last acknowledgement left off.
    let mut reader = SpoolReader::open(&dir).expect("reopen");
    assert_eq!(reader.acked(), first.next);
    let rest = reader
        .read(reader.acked(), 1 << 20, 1000)
        .expect("read rest");
    let expected: Vec<String> = (15..40)
        .map(|n| sample_log_record(n).line().to_owned())
        .collect();
    assert_eq!(messages(&rest), expected);
    assert!(rest.corrupt.is_empty());
    drop(spool);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_second_writer_or_reader_is_refused() {
    let dir = fresh("locks");
    let spool = Spool::open(&dir, SpoolConfig::new()).expect("open");
    assert!(matches!(
        Spool::open(&dir, SpoolConfig::new()),
        Err(SpoolOpenError::Locked { role: "writer", .. })
    ));
    let reader = SpoolReader::open(&dir).expect("reader");
    assert!(matches!(
        SpoolReader::open(&dir),
        Err(SpoolOpenError::Locked { role: "reader", .. })
    ));
    drop((spool, reader));
    Spool::open(&dir, SpoolConfig::new()).expect("writer lock released on drop");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_torn_tail_is_cut_off_at_open_and_counted_and_never_read() {
    let dir = fresh("torn");
    let spool =
        Spool::open(&dir, SpoolConfig::new().with_fsync(FsyncPolicy::Always)).expect("open");
    for n in 0..3 {
        spool.append(&sample_log_record(n)).expect("append");
    }
    drop(spool);
    let seg = segments(&dir).pop().expect("a segment");
    let whole = std::fs::metadata(&seg).expect("meta").len();
    // A crash in the middle of writing a fourth frame: its header and half its payload.
    let frame_of_fourth = {
        let probe = fresh("torn-probe");
        let s = Spool::open(&probe, SpoolConfig::new()).expect("probe");
        s.append(&sample_log_record(3)).expect("append");
        drop(s);
        let bytes = std::fs::read(segments(&probe).pop().expect("probe seg")).expect("read");
        std::fs::remove_dir_all(&probe).expect("cleanup probe");
        bytes[16..].to_vec()
    };
    let half = frame_of_fourth.len() / 2;
    OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open seg")
        .write_all(&frame_of_fourth[..half])
        .expect("write torn");

    // A reader while no writer is alive sees the torn frame as the end, reports it, ships
    // nothing of it.
    let mut reader = SpoolReader::open(&dir).expect("reader");
    let batch = reader.read(reader.acked(), 1 << 20, 100).expect("read");
    assert_eq!(batch.records.len(), 3);
    assert_eq!(batch.corrupt.len(), 1);
    assert!(batch.corrupt[0].torn);
    assert_eq!(batch.corrupt[0].bytes, half as u64);
    assert_eq!(reader.stats().torn_frames(), 1);
    drop(reader);

    // The writer's recovery cuts it off and counts it; appends go to a new segment.
    let spool = Spool::open(&dir, SpoolConfig::new()).expect("reopen");
    assert_eq!(spool.stats().torn_frames(), 1);
    assert_eq!(spool.stats().torn_bytes(), half as u64);
    assert_eq!(std::fs::metadata(&seg).expect("meta").len(), whole);
    spool
        .append(&sample_log_record(4))
        .expect("append after recovery");
    spool.sync().expect("sync");
    let mut reader = SpoolReader::open(&dir).expect("reader");
    let batch = reader.read(reader.acked(), 1 << 20, 100).expect("read");
    let expected: Vec<String> = [0, 1, 2, 4]
        .iter()
        .map(|n| sample_log_record(*n).line().to_owned())
        .collect();
    assert_eq!(messages(&batch), expected);
    assert!(batch.corrupt.is_empty(), "{:?}", batch.corrupt);
    drop((spool, reader));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_corrupt_frame_is_reported_and_skipped_and_the_next_segments_still_read() {
    let dir = fresh("crc");
    let spool = Spool::open(&dir, SpoolConfig::new().with_segment_bytes(800)).expect("open");
    for n in 0..20 {
        spool.append(&sample_log_record(n)).expect("append");
    }
    spool.sync().expect("sync");
    let segs = segments(&dir);
    assert!(segs.len() >= 3);
    // Flip one bit inside the message of the second frame of the first segment.
    let first_seg = std::fs::read(&segs[0]).expect("read seg");
    // Frames of records 0..9 are all the same length: 8 (frame header) + 32 (payload header) + line.
    let frame_len = 8 + 32 + sample_log_record(0).line().len();
    let second_frame = 16 + frame_len;
    let mut damaged = first_seg.clone();
    let at = second_frame + 8 + 32 + 40;
    damaged[at] ^= 0x04;
    std::fs::write(&segs[0], &damaged).expect("write damaged");
    let in_first = (first_seg.len() - 16) / frame_len;
    assert!(in_first >= 2, "at least two frames in the first segment");

    let mut reader = SpoolReader::open(&dir).expect("reader");
    let mut all = Vec::new();
    let mut corrupt = Vec::new();
    let mut pos = reader.acked();
    for _ in 0..100 {
        let batch = reader.read(pos, 1 << 20, 3).expect("read");
        if batch.records.is_empty() && batch.corrupt.is_empty() {
            break;
        }
        all.extend(messages(&batch));
        corrupt.extend(batch.corrupt.iter().copied());
        pos = batch.next;
    }
    assert_eq!(corrupt.len(), 1, "{corrupt:?}");
    assert!(!corrupt[0].torn);
    assert_eq!(corrupt[0].offset, second_frame as u64);
    assert_eq!(reader.stats().corrupt_frames(), 1);
    assert_eq!(
        corrupt[0].bytes, frame_len as u64,
        "only the damaged frame is skipped"
    );
    // Everything but the damaged frame: the frames after it in its segment too, and nothing
    // returned is garbage.
    let expected: Vec<String> = (0..20)
        .filter(|&n| n != 1)
        .map(|n| sample_log_record(n).line().to_owned())
        .collect();
    assert_eq!(all, expected);
    drop((spool, reader));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_damaged_header_or_frame_length_in_the_newest_segment_loses_no_other_record_at_recovery() {
    for (name, damage_at) in [("header", 3usize), ("length", 16 + 1)] {
        let dir = fresh(&format!("recover-{name}"));
        let spool = Spool::open(&dir, SpoolConfig::new()).expect("open");
        for n in 0..6 {
            spool.append(&sample_log_record(n)).expect("append");
        }
        drop(spool);
        let seg = segments(&dir).pop().expect("a segment");
        let mut bytes = std::fs::read(&seg).expect("read");
        // In the header's magic, or the high byte of the first frame's length (which then
        // announces more bytes than the file holds: it looks torn).
        bytes[damage_at] ^= 0x40;
        std::fs::write(&seg, &bytes).expect("write");

        // The writer's recovery keeps the segment as it is and starts a new one.
        let spool = Spool::open(&dir, SpoolConfig::new()).expect("recover");
        assert_eq!(std::fs::read(&seg).expect("still there"), bytes, "{name}");
        spool
            .append(&sample_log_record(6))
            .expect("append after recovery");
        spool.sync().expect("sync");
        let mut reader = SpoolReader::open(&dir).expect("reader");
        let got = read_all(&mut reader);
        let first_kept = usize::from(name == "length");
        let expected: Vec<String> = (first_kept as u64..7)
            .map(|n| sample_log_record(n).line().to_owned())
            .collect();
        assert_eq!(got, expected, "{name}");
        drop((spool, reader));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}

#[test]
fn a_writer_lock_held_for_an_instant_delays_the_writer_and_one_held_on_refuses_it() {
    let dir = fresh("probe");
    drop(Spool::open(&dir, SpoolConfig::new()).expect("open"));
    let hold = |millis: u64| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("writer.lock"))
            .expect("the lock file");
        file.try_lock().expect("take the lock");
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(millis));
            drop(file);
        })
    };
    // A reader's probe holds the lock for an instant: the writer waits it out.
    let probe = hold(10);
    let spool = Spool::open(&dir, SpoolConfig::new()).expect("opens after the probe");
    probe.join().expect("probe");
    drop(spool);
    // Someone who keeps holding it is another writer: refused.
    let other = hold(2_000);
    assert!(matches!(
        Spool::open(&dir, SpoolConfig::new()),
        Err(SpoolOpenError::Locked { .. })
    ));
    other.join().expect("other");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_damaged_ack_file_restarts_from_the_oldest_segment_and_is_counted() {
    let dir = fresh("badack");
    let spool = Spool::open(&dir, SpoolConfig::new()).expect("open");
    for n in 0..5 {
        spool.append(&sample_log_record(n)).expect("append");
    }
    spool.sync().expect("sync");
    let mut reader = SpoolReader::open(&dir).expect("reader");
    let b = reader.read(reader.acked(), 1 << 20, 2).expect("read");
    reader.ack(b.next).expect("ack");
    drop(reader);
    let mut bytes = std::fs::read(dir.join("ack")).expect("ack file");
    bytes[10] ^= 0xff;
    std::fs::write(dir.join("ack"), &bytes).expect("damage ack");
    let mut reader = SpoolReader::open(&dir).expect("reader");
    assert_eq!(reader.stats().invalid_ack_files(), 1);
    let all = reader.read(reader.acked(), 1 << 20, 100).expect("read");
    assert_eq!(all.records.len(), 5, "everything is offered again");
    drop((spool, reader));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_segment_deleted_after_the_ack_is_skipped_without_error() {
    let dir = fresh("missing");
    let spool = Spool::open(&dir, SpoolConfig::new().with_segment_bytes(600)).expect("open");
    for n in 0..12 {
        spool.append(&sample_log_record(n)).expect("append");
    }
    spool.sync().expect("sync");
    let segs = segments(&dir);
    assert!(segs.len() >= 3);
    // As if a crash came after the unlink of an acknowledged segment but the position file
    // still pointed into it (the order is the other way round, but a reader must cope).
    std::fs::remove_file(&segs[0]).expect("remove");
    let mut reader = SpoolReader::open(&dir).expect("reader");
    assert_eq!(reader.acked(), Position::default());
    let batch = reader.read(reader.acked(), 1 << 20, 100).expect("read");
    assert!(!batch.records.is_empty());
    assert!(batch.corrupt.is_empty());
    assert_eq!(
        batch.records.last().map(|r| r.record.line().to_owned()),
        Some(sample_log_record(11).line().to_owned())
    );
    drop((spool, reader));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_writer_opened_after_everything_was_shipped_and_deleted_writes_where_the_reader_looks() {
    let dir = fresh("after-drain");
    let spool = Spool::open(&dir, SpoolConfig::new()).expect("open");
    for n in 0..3 {
        spool.append(&sample_log_record(n)).expect("append");
    }
    drop(spool);
    let mut reader = SpoolReader::open(&dir).expect("reader");
    let batch = reader.read(reader.acked(), 1 << 20, 100).expect("read");
    assert_eq!(batch.records.len(), 3);
    reader.ack(batch.next).expect("ack");
    // The writer is gone, so the segment is finished: the next read moves past it and the
    // acknowledgement deletes it.
    let empty = reader.read(reader.acked(), 1 << 20, 100).expect("read");
    assert!(empty.records.is_empty());
    reader.ack(empty.next).expect("ack");
    assert!(segments(&dir).is_empty(), "{:?}", segments(&dir));

    let spool = Spool::open(&dir, SpoolConfig::new()).expect("reopen");
    spool.append(&sample_log_record(3)).expect("append");
    spool.sync().expect("sync");
    let batch = reader.read(reader.acked(), 1 << 20, 100).expect("read");
    assert_eq!(
        messages(&batch),
        vec![sample_log_record(3).line().to_owned()],
        "the new segment is not hidden behind the acknowledged position"
    );
    drop((spool, reader));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn read_all(reader: &mut SpoolReader) -> Vec<String> {
    let mut all = Vec::new();
    let mut pos = reader.acked();
    for _ in 0..1000 {
        let batch = reader.read(pos, 1 << 20, 7).expect("read");
        if batch.records.is_empty() && batch.corrupt.is_empty() && batch.next == pos {
            break;
        }
        all.extend(messages(&batch));
        pos = batch.next;
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever byte a crash cuts the segment at, and whatever bit rots in it, the reader
    /// returns what was appended, in order, never a damaged record: every whole frame before a
    /// clean cut, and all but the one damaged frame after a bit flip. After the writer's
    /// recovery new records still arrive.
    #[test]
    fn after_any_cut_or_bit_flip_the_reader_loses_at_most_the_damaged_frame_and_never_returns_garbage(
        n in 1u64..16,
        cut in any::<prop::sample::Index>(),
        flip in proptest::option::of((any::<prop::sample::Index>(), 0u8..8)),
    ) {
        static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = fresh(&format!("prop-{case}"));
        let originals: Vec<String> = (0..n).map(|i| sample_log_record(i).line().to_owned()).collect();
        let spool = Spool::open(&dir, SpoolConfig::new()).expect("open");
        for i in 0..n {
            spool.append(&sample_log_record(i)).expect("append");
        }
        drop(spool);
        let seg = segments(&dir).pop().expect("segment");
        let mut bytes = std::fs::read(&seg).expect("read");
        let keep = 16 + cut.index(bytes.len() - 16 + 1);
        bytes.truncate(keep);
        if let Some((at, bit)) = flip
            && bytes.len() > 16
        {
            let i = 16 + at.index(bytes.len() - 16);
            bytes[i] ^= 1 << bit;
        }
        std::fs::write(&seg, &bytes).expect("write");
        let whole_frames = {
            let mut end = 16usize;
            let mut k = 0usize;
            for line in &originals {
                end += 8 + 32 + line.len();
                if end > keep {
                    break;
                }
                k += 1;
            }
            k
        };

        let mut reader = SpoolReader::open(&dir).expect("reader");
        let got = read_all(&mut reader);
        // In order, each an original among the whole frames, and at most one missing.
        let mut rest = originals[..whole_frames].iter();
        for line in &got {
            prop_assert!(rest.any(|o| o == line), "{line} out of order or not appended");
        }
        prop_assert!(got.len() + 1 >= whole_frames, "{} of {whole_frames}", got.len());
        if flip.is_none() {
            prop_assert_eq!(&got[..], &originals[..whole_frames]);
        }
        drop(reader);

        let spool = Spool::open(&dir, SpoolConfig::new()).expect("recover");
        let marker = sample_log_record(99);
        spool.append(&marker).expect("append after recovery");
        spool.sync().expect("sync");
        let mut reader = SpoolReader::open(&dir).expect("reader");
        let after = read_all(&mut reader);
        prop_assert_eq!(after.last(), Some(&marker.line().to_owned()));
        prop_assert_eq!(&after[..after.len() - 1], &got[..]);
        drop((spool, reader));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
