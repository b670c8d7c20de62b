//! The [`Clock`] capability: every time-dependent control reads time through it.

use std::fmt::Debug;
use std::sync::Arc;

use super::Timestamp;

/// A source of the current UTC time.
///
/// Audit timestamps, health-check intervals, alert throttling, key-rotation age and SLO windows
/// all read time through an injected `Clock`, so tests drive time by hand
/// (`biv_testkit::ManualClock`) and a host can plug in a clock it trusts (NTP-disciplined,
/// ISO 27001 A.8.17). There is no global clock in biv.
///
/// # Example
/// ```
/// use biv_core::{Clock, SystemClock, Timestamp};
///
/// fn is_stale(clock: &dyn Clock, issued: Timestamp) -> bool {
///     clock.now().duration_since(issued).is_some_and(|age| age.as_secs() > 300)
/// }
/// let clock = SystemClock::new();
/// assert!(is_stale(&clock, Timestamp::UNIX_EPOCH));
/// ```
pub trait Clock: Send + Sync + Debug {
    /// The current time in UTC.
    fn now(&self) -> Timestamp;
}

/// The operating system's real-time clock.
///
/// ```
/// use biv_core::{Clock, SystemClock};
/// let a = SystemClock::new().now();
/// assert!(a.unix_seconds() > 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    _private: (),
}

impl SystemClock {
    /// The system clock.
    pub const fn new() -> Self {
        SystemClock { _private: () }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let (secs, nanos) = match since {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            // A clock set before 1970 is misconfigured; report the epoch rather than panic.
            Err(_) => (0, 0),
        };
        Timestamp::from_unix_seconds(secs, nanos).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

impl<T: Clock + ?Sized> Clock for Arc<T> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<T: Clock + ?Sized> Clock for Box<T> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<T: Clock + ?Sized> Clock for &T {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}
