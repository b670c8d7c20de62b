//! The reviewed period ([`ReviewWindow`]) and the working hours ([`WorkingHours`]) against which
//! access is judged.

use std::time::Duration;

use biv_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::{WindowError, WorkingHoursError};

/// Twenty-four hours: the length of a daily review window.
pub const DAY: Duration = Duration::from_secs(86_400);

/// How many periods of the window's length before it form the baseline (seven days for a daily
/// window).
pub const BASELINE_PERIODS: u32 = 7;

/// The reviewed period `[start, end)`, and the baseline before it: [`BASELINE_PERIODS`] periods
/// of the same length, `[start − 7 × length, start)`.
///
/// ```
/// use biv_availability::review::ReviewWindow;
/// use biv_core::Timestamp;
///
/// let end = Timestamp::parse_rfc3339("2026-11-26T06:00:00Z")?;
/// let window = ReviewWindow::ending_at(end)?;
/// assert_eq!(window.start().to_string(), "2026-11-25T06:00:00Z");
/// assert_eq!(window.baseline_start().to_string(), "2026-11-18T06:00:00Z");
/// assert!(ReviewWindow::new(end, window.start()).is_err()); // reversed
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewWindow {
    start: Timestamp,
    end: Timestamp,
}

/// Where an instant falls relative to a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    /// Inside `[start, end)`.
    Window,
    /// In baseline period 0 (oldest) to 6 (the one just before the window).
    Baseline(usize),
    /// Neither.
    Outside,
}

impl ReviewWindow {
    /// The 24 hours ending at `end` (exclusive).
    ///
    /// # Errors
    /// [`WindowError::OutOfRange`] when the window or its baseline falls before the year 0001.
    pub fn ending_at(end: Timestamp) -> Result<Self, WindowError> {
        let start = end.checked_sub(DAY).ok_or(WindowError::OutOfRange)?;
        Self::new(start, end)
    }

    /// The window `[start, end)`.
    ///
    /// # Errors
    /// [`WindowError::Reversed`] unless `end` is after `start`; [`WindowError::OutOfRange`] when
    /// the baseline falls before the year 0001.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, WindowError> {
        if end <= start {
            return Err(WindowError::Reversed { start, end });
        }
        let window = ReviewWindow { start, end };
        window
            .length()
            .checked_mul(BASELINE_PERIODS)
            .and_then(|d| start.checked_sub(d))
            .ok_or(WindowError::OutOfRange)?;
        Ok(window)
    }

    /// The first instant in the window.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The first instant after the window.
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// `end − start`.
    pub fn length(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    /// The first instant of the baseline, `start − 7 × length`.
    pub fn baseline_start(&self) -> Timestamp {
        self.length()
            .checked_mul(BASELINE_PERIODS)
            .and_then(|d| self.start.checked_sub(d))
            .unwrap_or(self.start)
    }

    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    pub(crate) fn classify(&self, t: Timestamp) -> Period {
        if self.contains(t) {
            return Period::Window;
        }
        let base = self.baseline_start();
        if t < base || t >= self.start {
            return Period::Outside;
        }
        let length = self.length().as_nanos();
        let offset = t.unix_nanos() - base.unix_nanos();
        let index = u128::try_from(offset)
            .ok()
            .and_then(|o| o.checked_div(length))
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        Period::Baseline(index.min(BASELINE_PERIODS as usize - 1))
    }
}

/// How to turn UTC into the local time that working hours are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LocalTime {
    /// UTC itself.
    Utc,
    /// A fixed offset from UTC in minutes (east positive).
    Fixed {
        /// Minutes east of UTC.
        offset_minutes: i16,
    },
    /// Central European Time as the Netherlands keeps it (Europe/Amsterdam): UTC+1, and UTC+2 in
    /// EU summer time, from the last Sunday of March 01:00 UTC to the last Sunday of October
    /// 01:00 UTC (Directive 2000/84/EC).
    CentralEuropean,
}

impl LocalTime {
    /// A fixed offset.
    ///
    /// # Errors
    /// [`WorkingHoursError::Offset`] for ±24 hours or more.
    pub fn fixed(offset_minutes: i16) -> Result<Self, WorkingHoursError> {
        if offset_minutes.unsigned_abs() >= 24 * 60 {
            return Err(WorkingHoursError::Offset(offset_minutes));
        }
        Ok(LocalTime::Fixed { offset_minutes })
    }

    /// The offset from UTC in seconds at `t`.
    ///
    /// ```
    /// use biv_availability::review::LocalTime;
    /// use biv_core::Timestamp;
    /// let summer = Timestamp::parse_rfc3339("2026-07-01T12:00:00Z")?;
    /// let winter = Timestamp::parse_rfc3339("2026-12-01T12:00:00Z")?;
    /// assert_eq!(LocalTime::CentralEuropean.offset_seconds(summer), 7200);
    /// assert_eq!(LocalTime::CentralEuropean.offset_seconds(winter), 3600);
    /// # Ok::<(), biv_core::TimestampError>(())
    /// ```
    pub fn offset_seconds(&self, t: Timestamp) -> i64 {
        match self {
            LocalTime::Utc => 0,
            LocalTime::Fixed { offset_minutes } => i64::from(*offset_minutes) * 60,
            LocalTime::CentralEuropean => {
                let secs = t.unix_seconds();
                let (year, _, _) = biv_core::civil_from_days(secs.div_euclid(86_400));
                let begins = last_sunday(year, 3) * 86_400 + 3_600;
                let ends = last_sunday(year, 10) * 86_400 + 3_600;
                if (begins..ends).contains(&secs) {
                    7_200
                } else {
                    3_600
                }
            }
        }
    }

    fn name(&self) -> String {
        match self {
            LocalTime::Utc => "UTC".to_owned(),
            LocalTime::Fixed { offset_minutes } => {
                let sign = if *offset_minutes < 0 { '-' } else { '+' };
                let m = offset_minutes.unsigned_abs();
                format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
            }
            LocalTime::CentralEuropean => "Europe/Amsterdam".to_owned(),
        }
    }
}

/// Names of the days, Monday first, as [`WorkingHours`] indexes them.
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The working hours: access to patient data outside them is listed for review.
///
/// Days are Monday (index 0) to Sunday (6); the hours are `[start, end)` in minutes after local
/// midnight, within one day (a night shift needs no window of its own: its accesses are exactly
/// what the review should see).
///
/// ```
/// use biv_availability::review::{LocalTime, WorkingHours};
/// use biv_core::Timestamp;
///
/// let hours = WorkingHours::office_hours_nl();
/// // 08:30 local time on Thursday 26 November 2026 (UTC+1):
/// assert!(hours.contains(Timestamp::parse_rfc3339("2026-11-26T07:30:00Z")?));
/// // 23:10 local time:
/// assert!(!hours.contains(Timestamp::parse_rfc3339("2026-11-26T22:10:00Z")?));
/// // Saturday:
/// assert!(!hours.contains(Timestamp::parse_rfc3339("2026-11-28T10:00:00Z")?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    days: [bool; 7],
    start_minute: u16,
    end_minute: u16,
    zone: LocalTime,
}

impl WorkingHours {
    /// Working hours on `days` (Monday first) from `start_minute` to `end_minute` after local
    /// midnight in `zone`.
    ///
    /// # Errors
    /// [`WorkingHoursError::Span`] unless `start_minute < end_minute ≤ 1440`.
    pub fn new(
        days: [bool; 7],
        start_minute: u16,
        end_minute: u16,
        zone: LocalTime,
    ) -> Result<Self, WorkingHoursError> {
        if start_minute >= end_minute || end_minute > 24 * 60 {
            return Err(WorkingHoursError::Span {
                start_minute,
                end_minute,
            });
        }
        Ok(WorkingHours {
            days,
            start_minute,
            end_minute,
            zone,
        })
    }

    /// Monday to Friday, 07:00–19:00 Europe/Amsterdam time: the default.
    pub fn office_hours_nl() -> Self {
        WorkingHours {
            days: [true, true, true, true, true, false, false],
            start_minute: 7 * 60,
            end_minute: 19 * 60,
            zone: LocalTime::CentralEuropean,
        }
    }

    /// Whether `t` lies within the working hours.
    pub fn contains(&self, t: Timestamp) -> bool {
        let (weekday, minute) = self.local(t);
        self.days[weekday] && (self.start_minute..self.end_minute).contains(&minute)
    }

    /// `t` as local `Ddd HH:MM` (e.g. `Sat 23:10`).
    pub(crate) fn local_text(&self, t: Timestamp) -> String {
        let (weekday, minute) = self.local(t);
        format!(
            "{} {:02}:{:02}",
            DAY_NAMES[weekday],
            minute / 60,
            minute % 60
        )
    }

    /// The rule in words, e.g. `Mon–Fri 07:00–19:00 Europe/Amsterdam`.
    pub fn describe(&self) -> String {
        let days: Vec<&str> = DAY_NAMES
            .iter()
            .zip(self.days)
            .filter_map(|(n, on)| on.then_some(*n))
            .collect();
        let days = if self.days == [true, true, true, true, true, false, false] {
            "Mon–Fri".to_owned()
        } else if days.is_empty() {
            "no days".to_owned()
        } else {
            days.join(",")
        };
        format!(
            "{days} {:02}:{:02}–{:02}:{:02} {}",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60,
            self.zone.name()
        )
    }

    /// (weekday, Monday = 0; minute after local midnight).
    fn local(&self, t: Timestamp) -> (usize, u16) {
        let local = t.unix_seconds() + self.zone.offset_seconds(t);
        let days = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (index 3).
        let weekday = usize::try_from((days + 3).rem_euclid(7)).unwrap_or(0);
        let minute = u16::try_from(local.rem_euclid(86_400) / 60).unwrap_or(0);
        (weekday, minute)
    }
}

/// Days since 1970-01-01 of the last Sunday of `month` in `year`.
fn last_sunday(year: i64, month: u32) -> i64 {
    let last_day = biv_core::days_from_civil(year, month + 1, 1) - 1;
    let weekday = (last_day + 3).rem_euclid(7); // Monday = 0, Sunday = 6
    last_day - (weekday + 1) % 7
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn summer_time_switches_on_the_last_sundays_at_one_utc() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let cet = LocalTime::CentralEuropean;
        assert_eq!(cet.offset_seconds(at("2026-03-29T00:59:59Z")), 3600);
        assert_eq!(cet.offset_seconds(at("2026-03-29T01:00:00Z")), 7200);
        assert_eq!(cet.offset_seconds(at("2026-10-25T00:59:59Z")), 7200);
        assert_eq!(cet.offset_seconds(at("2026-10-25T01:00:00Z")), 3600);
        // 2024: 31 March and 27 October.
        assert_eq!(cet.offset_seconds(at("2024-03-31T01:00:00Z")), 7200);
        assert_eq!(cet.offset_seconds(at("2024-03-30T12:00:00Z")), 3600);
        assert_eq!(cet.offset_seconds(at("2024-10-27T00:30:00Z")), 7200);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 20_000, 20_418, 2_932_896] {
            let (y, m, d) = biv_core::civil_from_days(days);
            assert_eq!(biv_core::days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn baseline_periods_are_indexed_oldest_first() {
        let w = ReviewWindow::ending_at(at("2026-11-26T00:00:00Z")).unwrap();
        assert_eq!(w.classify(at("2026-11-25T00:00:00Z")), Period::Window);
        assert_eq!(w.classify(at("2026-11-26T00:00:00Z")), Period::Outside);
        assert_eq!(w.classify(at("2026-11-24T23:59:59Z")), Period::Baseline(6));
        assert_eq!(w.classify(at("2026-11-18T00:00:00Z")), Period::Baseline(0));
        assert_eq!(w.classify(at("2026-11-17T23:59:59Z")), Period::Outside);
    }

    #[test]
    fn working_hours_reject_bad_spans() {
        let days = [true; 7];
        assert!(WorkingHours::new(days, 600, 600, LocalTime::Utc).is_err());
        assert!(WorkingHours::new(days, 600, 1441, LocalTime::Utc).is_err());
        assert!(LocalTime::fixed(1440).is_err());
        let h = WorkingHours::new(days, 0, 1440, LocalTime::fixed(-90).unwrap()).unwrap();
        assert!(h.describe().ends_with("UTC-01:30"), "{}", h.describe());
    }
}
