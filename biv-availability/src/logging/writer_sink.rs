//! [`WriterSink`]: the default [`LogSink`] — a bounded queue and a thread writing lines to
//! stdout, a file, or any writer; Filebeat or rsyslog ship what it writes. For a file, give it a
//! [`RotatingFile`](super::RotatingFile): rotation by size and UTC day, lines kept whole.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::metrics::{Collector, MetricFamily, MetricKind, Sample, SampleValue};
use biv_core::{BackendError, LogFlushError, LogRecord, LogSink, LogSubmitError};

/// How long the writer thread, having emptied the queue, waits for more records before it
/// sleeps until woken. Records submitted meanwhile are written when this ends (or earlier, when
/// the queue passes [`Shared::wake_at`] or a flush asks), so a busy emitter never wakes it.
const LINGER: Duration = Duration::from_millis(2);
/// Most bytes of lines waiting in the queue; a record that would pass it is refused like one
/// over `capacity` (dropped and counted). Up to as many again can be in the writer's hands.
const MAX_QUEUED_BYTES: usize = 64 << 20;

/// Records handed to the writer in one `write` call, at most.
const CHUNK: usize = 1024;

/// What the writer thread is doing; decides whether `submit` has to wake it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    /// Writing, or about to look at the queue again: nobody needs to wake it.
    Busy,
    /// Waiting at most [`LINGER`] for more records: woken only when the queue passes
    /// [`Shared::wake_at`], by a flush, or at drop.
    Lingering,
    /// Asleep until woken: the next record wakes it.
    Idle,
    /// The thread has ended (its writer panicked): records are refused as `Closed`.
    Gone,
}

/// The queue and the writer's progress, under one lock.
///
/// The queue holds the lines themselves, copied by `submit`, not the records: the record (and
/// its line's memory) is dropped by the emitting thread that made it, whose allocator cache
/// hands the memory straight to its next line, while the writer thread only writes bytes.
#[derive(Debug)]
struct State {
    /// The waiting lines, each with its `\n`, back to back.
    bytes: Vec<u8>,
    /// Where each waiting line ends in `bytes` (after its `\n`): one entry per record.
    ends: Vec<usize>,
    /// Records accepted so far.
    accepted: u64,
    /// Records the writer has finished with (written or lost); `flush` waits for `accepted`.
    done: u64,
    writer: WriterState,
    /// Threads waiting in `flush`: the writer signals progress only when there are some.
    flushers: usize,
    /// Set by `drop`: the writer writes what is queued and ends.
    closing: bool,
    /// The error of the last write, cleared by the next write that succeeds; `flush` reports it.
    failed: Option<String>,
    /// Lost records as ranges of their numbers (the n-th accepted record is number n), not yet
    /// known to be reported: a flush fails when a record submitted before it is among them,
    /// even when a later write succeeded. At most [`MAX_LOSS_RANGES`], the oldest dropped.
    losses: std::collections::VecDeque<(u64, u64)>,
    /// Every loss of a record numbered up to this was reported by a flush that has returned.
    reported_upto: u64,
    /// The error of the last write that lost records.
    last_loss: Option<String>,
}

/// Loss ranges kept for flushes still to report them; a writer failing on and off between two
/// flushes more often than this reports only the newest.
const MAX_LOSS_RANGES: usize = 4096;

impl State {
    fn record_loss(&mut self, first: u64, last: u64, why: String) {
        if self.losses.len() == MAX_LOSS_RANGES {
            self.losses.pop_front();
        }
        self.losses.push_back((first, last));
        self.last_loss = Some(why);
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The writer thread waits here for records.
    wake: Condvar,
    /// Flushing threads wait here for `done` to advance.
    progress: Condvar,
    /// Records accepted but not written because the writer failed.
    lost: AtomicU64,
    /// Records refused because the queue was full.
    full: AtomicU64,
    capacity: usize,
    /// Queue length at which a lingering writer is woken early.
    wake_at: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long a writer that answers `WouldBlock` (a non-blocking stdout, a full pipe) is waited
/// for before the batch counts as failed.
const STALL_LIMIT: Duration = Duration::from_secs(5);

/// Writes all of `bytes`, retrying `Interrupted` and waiting out `WouldBlock` up to
/// [`STALL_LIMIT`], then flushes. Returns how many bytes were written and the outcome.
fn write_patiently(writer: &mut impl Write, bytes: &[u8]) -> (usize, std::io::Result<()>) {
    use std::io::ErrorKind;
    let mut written = 0;
    let mut stalled_since: Option<Instant> = None;
    let stalled = |since: &mut Option<Instant>| {
        let first = *since.get_or_insert_with(Instant::now);
        if first.elapsed() > STALL_LIMIT {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
        false
    };
    while written < bytes.len() {
        match writer.write(&bytes[written..]) {
            Ok(0) => return (written, Err(ErrorKind::WriteZero.into())),
            Ok(n) => {
                written += n;
                stalled_since = None;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stalled(&mut stalled_since) {
                    return (written, Err(e));
                }
            }
            Err(e) => return (written, Err(e)),
        }
    }
    loop {
        match writer.flush() {
            Ok(()) => return (written, Ok(())),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stalled(&mut stalled_since) {
                    return (written, Err(e));
                }
            }
            Err(e) => return (written, Err(e)),
        }
    }
}

/// A [`LogSink`] that never blocks its caller: `submit` puts the record in a bounded queue (a
/// full queue refuses it, counted as `full`), and a thread writes one line per record, in order.
/// A writer answering `WouldBlock` is waited for (up to five seconds per batch); records a
/// failing writer could not take are counted ([`WriterSink::lost_records`]) and the next records
/// are tried again, so one bad moment of the disk does not silence the log for good. To write a
/// rotated file, pass a [`RotatingFile`](super::RotatingFile) as the writer.
///
/// `submit` copies the line into the queue (at most `capacity` lines wait, and at most as many
/// more are being written) and drops the record on the calling thread. While records keep
/// coming, it does not wake the writing thread: the thread collects what arrived every two
/// milliseconds, or as soon as half the queue (at most 1,024 records) is waiting; only the first
/// record after a quiet spell wakes it at once. So a record reaches the writer within about two
/// milliseconds, `flush` writes everything submitted before it without waiting for that, and
/// dropping the sink writes everything queued before the thread ends (waiting for that at most
/// [`WriterSink::with_close_timeout`], 10 s by default).
///
/// ```
/// use std::time::Duration;
/// use biv_availability::logging::WriterSink;
/// use biv_core::LogSink;
///
/// let sink = WriterSink::new(Vec::<u8>::new(), 1024)?; // or std::io::stdout()
/// sink.submit(biv_testkit::sample_log_record(1))?;
/// sink.flush(Duration::from_secs(1))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WriterSink {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Disconnected when the writer thread has ended.
    thread_done: Mutex<std::sync::mpsc::Receiver<()>>,
    close_timeout: Duration,
}

/// How long dropping a [`WriterSink`] waits for its thread by default.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

impl std::fmt::Debug for WriterSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterSink")
            .field("full_drops", &self.full_drops())
            .finish_non_exhaustive()
    }
}

impl WriterSink {
    /// A sink writing to `writer` through a queue of `capacity` records and at most 64 MiB of
    /// lines; a record that would pass either bound is refused with `Full` and counted.
    ///
    /// # Errors
    /// An I/O error when the writing thread cannot be started.
    pub fn new(writer: impl Write + Send + 'static, capacity: usize) -> std::io::Result<Self> {
        let capacity = capacity.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                bytes: Vec::new(),
                ends: Vec::new(),
                accepted: 0,
                done: 0,
                writer: WriterState::Busy,
                flushers: 0,
                closing: false,
                failed: None,
                losses: std::collections::VecDeque::new(),
                reported_upto: 0,
                last_loss: None,
            }),
            wake: Condvar::new(),
            progress: Condvar::new(),
            lost: AtomicU64::new(0),
            full: AtomicU64::new(0),
            capacity,
            wake_at: (capacity / 2).clamp(1, CHUNK),
        });
        let thread_shared = Arc::clone(&shared);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("biv-log-writer".into())
            .spawn(move || {
                let _done = done_tx;
                let gone = Gone(&thread_shared);
                write_queue(&thread_shared, writer);
                drop(gone);
            })?;
        Ok(WriterSink {
            shared,
            thread: Some(thread),
            thread_done: Mutex::new(done_rx),
            close_timeout: CLOSE_TIMEOUT,
        })
    }

    /// Sets the longest a drop waits for the queued records to be written (default 10 s). A
    /// writer still blocked then (a pipe nobody reads, a hung disk) is left to its thread, so
    /// the host's shutdown does not hang; what it could not write is counted as lost.
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// A sink on standard output with a queue of 65,536 records.
    ///
    /// # Errors
    /// As [`WriterSink::new`].
    pub fn stdout() -> std::io::Result<Self> {
        Self::new(std::io::stdout(), 65_536)
    }

    /// Records refused because the queue was full.
    pub fn full_drops(&self) -> u64 {
        self.shared.full.load(Ordering::Relaxed)
    }

    /// Records accepted but lost because the writer failed (after waiting out `WouldBlock`).
    /// The writer is tried again with the next records; `flush` fails while the writer is
    /// failing, and once for records lost since the previous flush even when the writer has
    /// recovered.
    pub fn lost_records(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }
}

/// Marks the writer thread as ended, also when its writer panics: records still queued count
/// as lost, later ones are refused, and flushes stop waiting.
struct Gone<'a>(&'a Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.writer = WriterState::Gone;
        state.bytes = Vec::new();
        state.ends = Vec::new();
        // Normally nothing: a panicking writer leaves its batch and the queue unwritten.
        let unfinished = state.accepted.saturating_sub(state.done);
        if unfinished > 0 {
            let (first, last) = (state.done + 1, state.accepted);
            state.record_loss(first, last, "the log writer thread stopped".to_owned());
        }
        state.done = state.accepted;
        self.0.lost.fetch_add(unfinished, Ordering::Relaxed);
        if !state.closing {
            state.failed = Some("the log writer thread stopped".to_owned());
        }
        drop(state);
        self.0.progress.notify_all();
    }
}

/// Buffers larger than this are given back after their batch instead of kept for the next.
const KEEP_BYTES: usize = 1 << 20;

/// The writer thread: takes the whole queue at once (the emitters wait for the lock only for
/// that swap) and writes it in chunks of lines, until the sink is dropped and the queue is empty.
fn write_queue(shared: &Shared, mut writer: impl Write) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    // Set when a failed write left half a line behind: the next write starts a new line, so one
    // lost record does not corrupt the next.
    let mut torn = false;
    let mut state = shared.lock();
    loop {
        if state.ends.is_empty() {
            if state.closing {
                return;
            }
            state.writer = WriterState::Lingering;
            state = shared
                .wake
                .wait_timeout(state, LINGER)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            while state.ends.is_empty() && !state.closing {
                state.writer = WriterState::Idle;
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            continue;
        }
        state.writer = WriterState::Busy;
        std::mem::swap(&mut state.bytes, &mut bytes);
        std::mem::swap(&mut state.ends, &mut ends);
        drop(state);
        let mut start = 0;
        for chunk in ends.chunks(CHUNK) {
            let stop = chunk.last().copied().unwrap_or(start);
            let lines = bytes.get(start..stop).unwrap_or_default();
            // A torn line is ended first; `torn` stays set only if that fails.
            let ended = if torn {
                write_patiently(&mut writer, b"\n").1
            } else {
                Ok(())
            };
            let (written, result) = match ended {
                Ok(()) => {
                    torn = false;
                    write_patiently(&mut writer, lines)
                }
                Err(e) => (0, Err(e)),
            };
            let mut state = shared.lock();
            match result {
                Ok(()) => {
                    torn = false;
                    state.failed = None;
                }
                Err(e) => {
                    let lost = chunk
                        .iter()
                        .filter(|&&end| end.saturating_sub(start) > written)
                        .count();
                    shared.lost.fetch_add(lost as u64, Ordering::Relaxed);
                    if lost > 0 {
                        // The lost ones end the chunk: the records whose lines were not all
                        // written.
                        let last = state.done + chunk.len() as u64;
                        state.record_loss(last + 1 - lost as u64, last, e.to_string());
                    }
                    torn = torn
                        || (written > 0
                            && !chunk
                                .iter()
                                .any(|&end| end.saturating_sub(start) == written));
                    state.failed = Some(e.to_string());
                }
            }
            state.done += chunk.len() as u64;
            let wanted = state.flushers > 0;
            drop(state);
            if wanted {
                shared.progress.notify_all();
            }
            start = stop;
        }
        bytes.clear();
        ends.clear();
        // Keep the emptied buffers for the next swap, unless a burst made them huge.
        if bytes.capacity() > KEEP_BYTES {
            bytes = Vec::new();
            ends = Vec::new();
        }
        state = shared.lock();
    }
}

/// Exposes [`WriterSink::lost_records`] as `biv_log_records_lost_total`.
impl Collector for WriterSink {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        out.push(
            MetricFamily::new(
                "biv_log_records_lost",
                "Log records accepted by the writer sink but lost because the writer failed.",
                MetricKind::Counter,
            )
            .with_sample(Sample::new(
                Vec::new(),
                SampleValue::Counter(self.lost_records()),
            )),
        );
    }
}

impl LogSink for WriterSink {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.writer == WriterState::Gone {
            return Err(LogSubmitError::Closed);
        }
        // Bounded by records and by bytes: capacity counts lines, and a line may be up to
        // `MAX_LOG_RECORD_BYTES`, so the bytes waiting have a limit of their own.
        if state.ends.len() >= shared.capacity
            || state.bytes.len() + record.line().len() + 1 > MAX_QUEUED_BYTES
        {
            drop(state);
            shared.full.fetch_add(1, Ordering::Relaxed);
            return Err(LogSubmitError::Full);
        }
        state.bytes.extend_from_slice(record.line().as_bytes());
        state.bytes.push(b'\n');
        let end = state.bytes.len();
        state.ends.push(end);
        state.accepted += 1;
        let wake = match state.writer {
            WriterState::Busy | WriterState::Gone => false,
            WriterState::Lingering => state.ends.len() >= shared.wake_at,
            WriterState::Idle => true,
        };
        if wake {
            // Woken once: later records see `Busy` and do not signal again.
            state.writer = WriterState::Busy;
        }
        drop(state);
        if wake {
            shared.wake.notify_one();
        }
        // The record is dropped here, by the thread that made it.
        drop(record);
        Ok(())
    }

    fn flush(&self, timeout: Duration) -> Result<(), LogFlushError> {
        let shared = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut state = shared.lock();
        // Everything submitted before this call; later records do not keep it waiting.
        let target = state.accepted;
        // Losses of records up to this were reported by a flush that returned before this one
        // started; later ones up to `target` are this flush's to report.
        let reported = state.reported_upto;
        if state.done < target {
            if matches!(state.writer, WriterState::Lingering | WriterState::Idle) {
                state.writer = WriterState::Busy;
                shared.wake.notify_one();
            }
            state.flushers += 1;
            while state.done < target {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    state.flushers -= 1;
                    return Err(LogFlushError::Timeout {
                        pending: target - state.done,
                    });
                }
                state = shared
                    .progress
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            state.flushers -= 1;
        }
        // Lost records submitted before this call and not reported by an earlier flush; every
        // flush waiting meanwhile reports the losses among its own records.
        let lost: u64 = state
            .losses
            .iter()
            .map(|&(first, last)| {
                let (from, to) = (first.max(reported + 1), last.min(target));
                (to + 1).saturating_sub(from)
            })
            .sum();
        state.reported_upto = state.reported_upto.max(target);
        if state.flushers == 0 {
            let upto = state.reported_upto;
            state.losses.retain(|&(_, last)| last > upto);
        }
        if let Some(why) = state.failed.clone() {
            let why = if lost > 0 {
                format!("{why}; {lost} of the log records submitted before this flush were lost")
            } else {
                why
            };
            return Err(LogFlushError::Backend(BackendError::msg(why)));
        }
        if lost > 0 {
            let why = state.last_loss.clone().unwrap_or_default();
            return Err(LogFlushError::Backend(BackendError::msg(format!(
                "{lost} of the log records submitted before this flush were lost (the writer has recovered): {why}"
            ))));
        }
        Ok(())
    }
}

impl Drop for WriterSink {
    fn drop(&mut self) {
        // The thread writes what is queued and ends — within the close timeout, or on its own
        // after the drop returned.
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        let done = self
            .thread_done
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .recv_timeout(self.close_timeout);
        match (done, self.thread.take()) {
            (Err(std::sync::mpsc::RecvTimeoutError::Timeout), Some(_detached)) => {}
            (_, Some(t)) => {
                let _ = t.join();
            }
            (_, None) => {}
        }
    }
}
