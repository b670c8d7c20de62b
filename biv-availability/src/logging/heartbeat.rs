//! [`Heartbeat`]: a canary log record every interval (default one minute), so that a gap in
//! the records that arrive downstream shows log loss; [`heartbeat_gaps`] finds those gaps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use biv_core::Timestamp;

/// The default heartbeat interval: one minute.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);

/// Why [`Heartbeat::spawn`] could not start the heartbeat task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeartbeatSpawnError {
    /// `spawn` was called outside a tokio runtime.
    #[error("the heartbeat needs a tokio runtime; call spawn inside one")]
    NoRuntime,
    /// The interval was zero.
    #[error("the heartbeat interval must be longer than zero")]
    ZeroInterval,
}

/// Emits a heartbeat: a `tracing` info event with `event.dataset = "system"`,
/// `event.action = "heartbeat"` and `labels.sequence` = 1, 2, 3, … (per process), which the
/// ECS layer turns into a log record like any other. A receiver that counts them sees loss as
/// a missing sequence number or a late beat ([`heartbeat_gaps`]).
///
/// [`Heartbeat::tick`] emits one beat (tests call it directly); [`Heartbeat::spawn`] calls it
/// every interval on a tokio task that stops when the returned handle is dropped.
///
/// ```
/// use biv_availability::logging::Heartbeat;
///
/// let heartbeat = Heartbeat::new();
/// assert_eq!(heartbeat.tick(), 1);
/// assert_eq!(heartbeat.tick(), 2);
/// assert_eq!(heartbeat.last_sequence(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Heartbeat {
    sequence: AtomicU64,
}

/// Stops the heartbeat task when dropped.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use biv_availability::logging::Heartbeat;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let handle = Arc::new(Heartbeat::new()).spawn(Duration::from_secs(60))?;
/// drop(handle); // no more beats
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct HeartbeatHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HeartbeatHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Heartbeat {
    /// A heartbeat whose first beat has sequence 1.
    ///
    /// ```
    /// assert_eq!(biv_availability::logging::Heartbeat::new().last_sequence(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Emits one beat and returns its sequence number.
    ///
    /// ```
    /// let h = biv_availability::logging::Heartbeat::new();
    /// assert_eq!(h.tick(), 1);
    /// ```
    pub fn tick(&self) -> u64 {
        let sequence = self
            .sequence
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        tracing::info!(
            event.dataset = "system",
            event.action = "heartbeat",
            labels.sequence = sequence,
            "heartbeat"
        );
        sequence
    }

    /// The sequence number of the last beat (0 before the first).
    ///
    /// ```
    /// let h = biv_availability::logging::Heartbeat::new();
    /// h.tick();
    /// assert_eq!(h.last_sequence(), 1);
    /// ```
    pub fn last_sequence(&self) -> u64 {
        self.sequence.load(Ordering::Relaxed)
    }

    /// Beats now and then every `interval` ([`HEARTBEAT_INTERVAL`] in production) on a task of
    /// the current tokio runtime (which needs the time driver). A beat that is late because the
    /// runtime was busy is emitted once, not made up for: the late beat is what shows the stall.
    ///
    /// # Errors
    /// [`HeartbeatSpawnError::NoRuntime`] outside a tokio runtime,
    /// [`HeartbeatSpawnError::ZeroInterval`] for a zero interval.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use biv_availability::logging::Heartbeat;
    ///
    /// assert!(Arc::new(Heartbeat::new()).spawn(Duration::from_secs(60)).is_err()); // no runtime
    /// ```
    pub fn spawn(
        self: Arc<Self>,
        interval: Duration,
    ) -> Result<HeartbeatHandle, HeartbeatSpawnError> {
        if interval.is_zero() {
            return Err(HeartbeatSpawnError::ZeroInterval);
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| HeartbeatSpawnError::NoRuntime)?;
        let task = runtime.spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                self.tick();
            }
        });
        Ok(HeartbeatHandle { task })
    }
}

/// One heartbeat as a receiver saw it: its `labels.sequence` and its `@timestamp`.
///
/// ```
/// use biv_availability::logging::HeartbeatSeen;
/// let seen = HeartbeatSeen::new(1, biv_core::Timestamp::UNIX_EPOCH);
/// assert_eq!(seen.sequence, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatSeen {
    /// The beat's sequence number.
    pub sequence: u64,
    /// The beat's time.
    pub time: Timestamp,
}

impl HeartbeatSeen {
    /// A beat seen with `sequence` at `time`.
    ///
    /// ```
    /// let s = biv_availability::logging::HeartbeatSeen::new(7, biv_core::Timestamp::UNIX_EPOCH);
    /// assert_eq!(s.sequence, 7);
    /// ```
    pub fn new(sequence: u64, time: Timestamp) -> Self {
        HeartbeatSeen { sequence, time }
    }
}

/// A stretch between two received beats in which records may have been lost.
///
/// ```
/// use std::time::Duration;
/// use biv_availability::logging::{HeartbeatSeen, heartbeat_gaps};
/// use biv_core::Timestamp;
///
/// let at = |s| Timestamp::from_unix_seconds(s, 0).unwrap();
/// let gaps = heartbeat_gaps(&[HeartbeatSeen::new(1, at(0)), HeartbeatSeen::new(3, at(120))], Duration::from_secs(60));
/// assert_eq!((gaps[0].missing, gaps[0].restarted), (1, false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatGap {
    /// The last beat before the gap.
    pub after: HeartbeatSeen,
    /// The first beat after the gap.
    pub before: HeartbeatSeen,
    /// Sequence numbers missing in between (0 when the beats are consecutive but late, or the
    /// process restarted).
    pub missing: u64,
    /// The sequence went back (`before.sequence` ≤ `after.sequence`): the process restarted,
    /// and how many beats the old process sent after `after` is unknown.
    pub restarted: bool,
}

/// The gaps in the heartbeats a receiver saw (in any order; duplicates, e.g. from a retried
/// delivery, are ignored), for a heartbeat of `interval`.
///
/// Beats are ordered by time. Between two neighbours there is a gap when a sequence number is
/// missing, when the sequence went back (a restart) more than 1.5 × `interval` after the
/// previous beat, or when they are more than 1.5 × `interval` apart (a stalled process or a
/// delayed pipeline). Loss before the first or after the last beat cannot be seen here: the
/// digest compares the last beat with the time of the check.
///
/// ```
/// use std::time::Duration;
/// use biv_availability::logging::{HeartbeatSeen, heartbeat_gaps};
/// use biv_core::Timestamp;
///
/// let at = |s| Timestamp::from_unix_seconds(1_795_680_000 + s, 0).unwrap();
/// let seen = [1, 2, 3].map(|n| HeartbeatSeen::new(n, at(60 * n as i64)));
/// assert!(heartbeat_gaps(&seen, Duration::from_secs(60)).is_empty());
/// ```
pub fn heartbeat_gaps(seen: &[HeartbeatSeen], interval: Duration) -> Vec<HeartbeatGap> {
    let mut beats = seen.to_vec();
    beats.sort_by_key(|b| (b.time, b.sequence));
    beats.dedup();
    let tolerance = interval + interval / 2;
    let mut gaps = Vec::new();
    for pair in beats.windows(2) {
        let [after, before] = [pair[0], pair[1]];
        let late = before
            .time
            .duration_since(after.time)
            .is_some_and(|d| d > tolerance);
        let restarted = before.sequence <= after.sequence;
        let missing = if restarted {
            0
        } else {
            before.sequence - after.sequence - 1
        };
        if missing > 0 || late {
            gaps.push(HeartbeatGap {
                after,
                before,
                missing,
                restarted,
            });
        }
    }
    gaps
}
