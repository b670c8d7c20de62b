//! The writer sink's queue: bounded (a full queue refuses and counts), never blocks an emitter,
//! keeps order, writes records without a flush, and loses nothing at `flush` or at drop.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use biv_availability::logging::WriterSink;
use biv_core::{
    Dataset, Level, LogFlushError, LogRecord, LogSink, LogSubmitError, RecordId, Timestamp,
};
use biv_testkit::sample_log_record;

/// A writer collecting into shared memory. While `open` is false, `write` blocks; `calls`
/// counts the `write` calls that have started; `pause` slows every call down.
#[derive(Clone)]
struct Gated {
    out: Arc<Mutex<Vec<u8>>>,
    open: Arc<(Mutex<bool>, Condvar)>,
    calls: Arc<(Mutex<usize>, Condvar)>,
    pause: Duration,
}

impl Gated {
    fn new(open: bool) -> Self {
        Gated {
            out: Arc::default(),
            open: Arc::new((Mutex::new(open), Condvar::new())),
            calls: Arc::default(),
            pause: Duration::ZERO,
        }
    }

    fn set_open(&self, open: bool) {
        *self.open.0.lock().expect("lock") = open;
        self.open.1.notify_all();
    }

    /// Waits until `n` calls to `write` have started.
    fn wait_for_calls(&self, n: usize) {
        let (calls, started) = &*self.calls;
        let mut calls = calls.lock().expect("lock");
        while *calls < n {
            calls = started.wait(calls).expect("lock");
        }
    }

    /// The numbers `n` of the `sample_log_record(n)` lines written so far, in order.
    fn numbers(&self) -> Vec<u64> {
        let out = self.out.lock().expect("lock");
        String::from_utf8(out.clone())
            .expect("utf-8")
            .lines()
            .map(|line| {
                let start = line.find("request ").expect("a sample line") + "request ".len();
                let end = line.find(" served").expect("a sample line");
                line[start..end].parse().expect("a number")
            })
            .collect()
    }

    /// Waits (up to ten seconds, which only a broken sink needs) until `n` lines are written.
    fn wait_for_lines(&self, n: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let numbers = self.numbers();
            if numbers.len() >= n || Instant::now() > deadline {
                return numbers;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        {
            let (calls, started) = &*self.calls;
            *calls.lock().expect("lock") += 1;
            started.notify_all();
        }
        let (open, opened) = &*self.open;
        let mut is_open = open.lock().expect("lock");
        while !*is_open {
            is_open = opened.wait(is_open).expect("lock");
        }
        drop(is_open);
        if !self.pause.is_zero() {
            std::thread::sleep(self.pause);
        }
        self.out.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_queue_refuses_and_counts_while_a_blocked_writer_blocks_no_emitter() {
    let w = Gated::new(false);
    let sink = WriterSink::new(w.clone(), 4).unwrap();
    sink.submit(sample_log_record(0)).unwrap();
    // The writer has taken record 0 and hangs in `write`: the queue holds four more.
    w.wait_for_calls(1);
    let results: Vec<_> = (1..=10)
        .map(|n| sink.submit(sample_log_record(n)))
        .collect();
    assert!(results[..4].iter().all(Result::is_ok), "{results:?}");
    assert!(
        results[4..]
            .iter()
            .all(|r| matches!(r, Err(LogSubmitError::Full))),
        "{results:?}"
    );
    assert_eq!(sink.full_drops(), 6);
    // Still blocked: the flush gives up and says how many records wait.
    assert!(matches!(
        sink.flush(Duration::from_millis(20)),
        Err(LogFlushError::Timeout { pending: 5 })
    ));
    w.set_open(true);
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(w.numbers(), [0, 1, 2, 3, 4]);
    // Room again: the next record is taken.
    sink.submit(sample_log_record(11)).unwrap();
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(w.numbers(), [0, 1, 2, 3, 4, 11]);
    assert_eq!(sink.full_drops(), 6);
    assert_eq!(sink.lost_records(), 0);
}

#[test]
fn records_are_written_without_a_flush() {
    let w = Gated::new(true);
    let sink = WriterSink::new(w.clone(), 1024).unwrap();
    // The first record wakes a sleeping writer; the next come while it may still be lingering
    // (no wake-up); after a pause it is asleep again.
    sink.submit(sample_log_record(0)).unwrap();
    assert_eq!(w.wait_for_lines(1), [0]);
    sink.submit(sample_log_record(1)).unwrap();
    sink.submit(sample_log_record(2)).unwrap();
    assert_eq!(w.wait_for_lines(3), [0, 1, 2]);
    std::thread::sleep(Duration::from_millis(50));
    sink.submit(sample_log_record(3)).unwrap();
    assert_eq!(w.wait_for_lines(4), [0, 1, 2, 3]);
}

#[test]
fn flush_waits_for_everything_submitted_before_it_while_others_keep_logging() {
    let w = Gated::new(true);
    let sink = Arc::new(WriterSink::new(w.clone(), 1 << 20).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let chatter = {
        let (sink, stop) = (Arc::clone(&sink), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 1_000_000;
            while !stop.load(Ordering::Relaxed) && n < 1_100_000 {
                sink.submit(sample_log_record(n))
                    .expect("room in the queue");
                n += 1;
                std::thread::yield_now();
            }
        })
    };
    for n in 0..2_000 {
        sink.submit(sample_log_record(n)).unwrap();
    }
    sink.flush(Duration::from_secs(30)).unwrap();
    let mine: Vec<u64> = w.numbers().into_iter().filter(|&n| n < 1_000_000).collect();
    assert_eq!(mine, (0..2_000).collect::<Vec<_>>());
    stop.store(true, Ordering::Relaxed);
    chatter.join().unwrap();
}

#[test]
fn lines_of_each_emitter_keep_their_order() {
    let w = Gated::new(true);
    let sink = Arc::new(WriterSink::new(w.clone(), 1 << 16).unwrap());
    let emitters: Vec<_> = (0..4u64)
        .map(|t| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    sink.submit(sample_log_record(t * 10_000 + i))
                        .expect("room in the queue");
                }
            })
        })
        .collect();
    for emitter in emitters {
        emitter.join().unwrap();
    }
    sink.flush(Duration::from_secs(30)).unwrap();
    let numbers = w.numbers();
    assert_eq!(numbers.len(), 8_000);
    for t in 0..4u64 {
        let own: Vec<u64> = numbers
            .iter()
            .copied()
            .filter(|n| n / 10_000 == t)
            .collect();
        assert_eq!(own, (t * 10_000..t * 10_000 + 2_000).collect::<Vec<_>>());
    }
}

#[test]
fn dropping_the_sink_writes_everything_queued() {
    let mut w = Gated::new(true);
    w.pause = Duration::from_millis(2);
    let sink = WriterSink::new(w.clone(), 4096).unwrap();
    for n in 0..3_000 {
        sink.submit(sample_log_record(n)).unwrap();
    }
    drop(sink);
    assert_eq!(w.numbers(), (0..3_000).collect::<Vec<_>>());

    // A writer still blocked when the sink is dropped: the drop waits for it.
    let w = Gated::new(false);
    let sink = WriterSink::new(w.clone(), 16).unwrap();
    sink.submit(sample_log_record(0)).unwrap();
    w.wait_for_calls(1);
    sink.submit(sample_log_record(1)).unwrap();
    let opener = {
        let w = w.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w.set_open(true);
        })
    };
    drop(sink);
    opener.join().unwrap();
    assert_eq!(w.numbers(), [0, 1]);
}

/// A writer that panics: the thread ends.
struct Panics;

impl Write for Panics {
    fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        panic!("a writer that panics");
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_writer_thread_that_died_refuses_records_and_fails_flush() {
    let sink = WriterSink::new(Panics, 64).unwrap();
    sink.submit(sample_log_record(0)).unwrap();
    // Until the thread has ended (its panic message may take a while), records are queued or,
    // with the queue full, refused as `Full`; after that, as `Closed`.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut accepted = 1;
    for n in 1.. {
        match sink.submit(sample_log_record(n)) {
            Ok(()) => accepted += 1,
            Err(LogSubmitError::Full) => {}
            Err(e) => {
                assert!(matches!(e, LogSubmitError::Closed), "{e:?}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "the sink still takes records");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(matches!(
        sink.flush(Duration::from_secs(10)),
        Err(LogFlushError::Backend(_))
    ));
    // Every accepted record is accounted for as lost.
    assert_eq!(sink.lost_records(), accepted);
}

/// A writer whose next answers are scripted: `Fail` fails one call, `Take(n)` takes at most
/// `n` bytes of one call; with the script empty it takes everything.
#[derive(Clone, Default)]
struct Scripted {
    out: Arc<Mutex<Vec<u8>>>,
    script: Arc<Mutex<std::collections::VecDeque<Step>>>,
}

#[derive(Clone, Copy)]
enum Step {
    Fail,
    Take(usize),
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = match self.script.lock().expect("lock").pop_front() {
            Some(Step::Fail) => return Err(std::io::ErrorKind::StorageFull.into()),
            Some(Step::Take(n)) => n.min(buf.len()),
            None => buf.len(),
        };
        self.out.lock().expect("lock").extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_torn_line_stays_alone_even_when_the_next_write_fails_too() {
    let w = Scripted::default();
    let sink = WriterSink::new(w.clone(), 64).unwrap();
    // Ten bytes of record 0 go out, then the disk fails: record 0 is lost, its start is torn.
    w.script
        .lock()
        .unwrap()
        .extend([Step::Take(10), Step::Fail]);
    sink.submit(sample_log_record(0)).unwrap();
    assert!(sink.flush(Duration::from_secs(10)).is_err());
    // Still failing: not even the line break that ends the torn line gets out; record 1 is lost.
    w.script.lock().unwrap().extend([Step::Fail]);
    sink.submit(sample_log_record(1)).unwrap();
    assert!(sink.flush(Duration::from_secs(10)).is_err());
    // The line break gets out, record 2 does not: no new tear, and no empty line later.
    w.script.lock().unwrap().extend([Step::Take(1), Step::Fail]);
    sink.submit(sample_log_record(2)).unwrap();
    assert!(sink.flush(Duration::from_secs(10)).is_err());
    // Back: record 3 starts on a line of its own.
    sink.submit(sample_log_record(3)).unwrap();
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(sink.lost_records(), 3);
    let text = String::from_utf8(w.out.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0].len(), 10, "{text}");
    assert!(lines[1].contains("request 3 served"), "{text}");
    assert!(text.ends_with('\n'), "{text}");
}

#[test]
fn a_flush_reports_records_lost_before_the_writer_recovered() {
    let w = Scripted::default();
    let sink = WriterSink::new(w.clone(), 64).unwrap();
    w.script.lock().unwrap().extend([Step::Fail]);
    sink.submit(sample_log_record(0)).unwrap();
    // Record 0 meets the failing write; wait until the writer is done with it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sink.lost_records() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "record 0 was never written"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // Record 1 is written: the writer recovered, but record 0 is gone, and the flush says so.
    sink.submit(sample_log_record(1)).unwrap();
    let err = sink.flush(Duration::from_secs(10)).unwrap_err();
    assert!(err.to_string().contains("1 of the log records"), "{err}");
    // Reported once: the next flush has nothing to report.
    sink.submit(sample_log_record(2)).unwrap();
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(sink.lost_records(), 1);
    let text = String::from_utf8(w.out.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn every_flush_waiting_for_a_lost_record_reports_it() {
    // The first write waits for the test, then fails; later writes succeed.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    struct FailOnceLate(Option<(std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>)>);
    impl std::io::Write for FailOnceLate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.0.take() {
                Some((release, entered)) => {
                    let _ = entered.send(());
                    let _ = release.recv();
                    Err(std::io::ErrorKind::StorageFull.into())
                }
                None => Ok(buf.len()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let writer = FailOnceLate(Some((release_rx, entered_tx)));
    let sink = std::sync::Arc::new(WriterSink::new(writer, 4096).unwrap());
    sink.submit(sample_log_record(0)).unwrap();
    entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Record 0 is in the failing write; 1,025 more wait, written after it in two chunks that
    // succeed, so the writer has recovered by the time the flushes return.
    for n in 1..=1025 {
        sink.submit(sample_log_record(n)).unwrap();
    }
    let flushers: Vec<_> = (0..2)
        .map(|_| {
            let sink = std::sync::Arc::clone(&sink);
            std::thread::spawn(move || sink.flush(Duration::from_secs(30)))
        })
        .collect();
    // Time for both to reach their wait (a thread starting later would flush after the first
    // one had reported the loss, and rightly find nothing to report).
    std::thread::sleep(Duration::from_millis(300));
    release_tx.send(()).unwrap();
    for f in flushers {
        let err = f.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("1 of the log records"), "{err}");
    }
    assert_eq!(sink.lost_records(), 1);
    // Reported: the next flush is clean.
    sink.submit(sample_log_record(2000)).unwrap();
    sink.flush(Duration::from_secs(10)).unwrap();
}

#[test]
fn a_drop_does_not_hang_on_a_writer_that_never_returns() {
    // A pipe nobody reads: the write blocks until the test releases it.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    struct Blocked {
        release: std::sync::mpsc::Receiver<()>,
        entered: std::sync::mpsc::Sender<()>,
    }
    impl std::io::Write for Blocked {
        fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.release.recv();
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = WriterSink::new(
        Blocked {
            release: release_rx,
            entered: entered_tx,
        },
        64,
    )
    .unwrap()
    .with_close_timeout(Duration::from_millis(100));
    sink.submit(sample_log_record(0)).unwrap();
    entered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the writer took the record");
    let (dropped_tx, dropped_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(sink);
        let _ = dropped_tx.send(());
    });
    // The drop returns although the write is still blocked…
    dropped_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the drop hung on the blocked writer");
    // … and the thread it left behind ends once the write returns.
    release_tx.send(()).unwrap();
}

#[test]
fn the_queue_is_bounded_in_bytes_as_well_as_in_records() {
    // A writer that never returns: everything submitted stays queued (or in its hands).
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    struct Stuck(std::sync::Mutex<std::sync::mpsc::Receiver<()>>);
    impl std::io::Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = WriterSink::new(Stuck(std::sync::Mutex::new(release_rx)), 1 << 20).unwrap();
    // Lines of about 1 MiB: far fewer than the record capacity fit in 64 MiB.
    let big = format!("{{\"message\":\"{}\"}}", "x".repeat((1 << 20) - 32));
    let mut accepted = 0u64;
    let mut refused = 0u64;
    for n in 0..300u64 {
        let record = LogRecord::new(
            RecordId::from_bytes([n as u8; 16]),
            Timestamp::from_unix_seconds(1_767_225_600, 0).unwrap(),
            Level::Info,
            Dataset::Application,
            big.clone(),
        )
        .unwrap();
        match sink.submit(record) {
            Ok(()) => accepted += 1,
            Err(LogSubmitError::Full) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(refused > 0, "the byte bound refused records");
    // At most 64 MiB queued plus what the writer took before it got stuck (one chunk).
    assert!(accepted <= 64 + 64 + 1, "{accepted} accepted");
    drop(release_tx);
}
