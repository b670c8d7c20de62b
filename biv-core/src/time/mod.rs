//! Time: a UTC [`Timestamp`] with RFC 3339 text form, and the [`Clock`] capability.

mod clock;
mod timestamp;

pub use clock::{Clock, SystemClock};
pub use timestamp::{Timestamp, TimestampError, civil_from_days, days_from_civil};
