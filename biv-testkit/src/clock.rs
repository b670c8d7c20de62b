//! [`ManualClock`]: time that moves only when a test says so.

use std::sync::Mutex;
use std::time::Duration;

use biv_core::{Clock, Timestamp};

/// A [`Clock`] that stands still until [`ManualClock::advance`] or [`ManualClock::set`] moves it.
///
/// Share it as `Arc<ManualClock>`: the code under test holds it as `Arc<dyn Clock>` while the
/// test keeps a handle to move time.
///
/// ```
/// use std::time::Duration;
/// use biv_core::{Clock, Timestamp};
/// use biv_testkit::ManualClock;
///
/// let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-11-26T12:00:00Z")?);
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().to_string(), "2026-11-26T12:01:30Z");
/// # Ok::<(), biv_core::TimestampError>(())
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`, stopping at the largest representable instant.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        if let Some(next) = now.checked_add(by) {
            *now = next;
        }
    }

    /// Sets the clock to `to`, which may be earlier (to test clock steps backwards).
    pub fn set(&self, to: Timestamp) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        // A panic while holding this lock cannot leave a Timestamp half-written.
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    /// A clock at 2026-01-01T00:00:00Z.
    fn default() -> Self {
        ManualClock::new(
            Timestamp::from_unix_seconds(1_767_225_600, 0).unwrap_or(Timestamp::UNIX_EPOCH),
        )
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}
