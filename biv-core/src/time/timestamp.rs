//! A UTC instant with nanosecond precision and an exact RFC 3339 text form.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Seconds from 0001-01-01T00:00:00Z to the Unix epoch.
const MIN_UNIX_SECONDS: i64 = -62_135_596_800;
/// Seconds from the Unix epoch to 9999-12-31T23:59:59Z.
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;
const NANOS_PER_SECOND: u32 = 1_000_000_000;

/// An instant in UTC, from 0001-01-01 to 9999-12-31, with nanosecond precision.
///
/// biv keeps its own timestamp type so that no date-time crate becomes part of its public API
/// and so that the text form is exactly specified: [`Display`](fmt::Display) writes RFC 3339 in
/// UTC with a `Z` suffix and the shortest of 0, 3, 6 or 9 fraction digits that is exact;
/// [`Timestamp::parse_rfc3339`] reads any RFC 3339 `date-time` (any offset) and converts it to UTC.
/// Leap seconds (`:60`) are rejected, as Unix time has none.
///
/// # Example
/// ```
/// use biv_core::Timestamp;
///
/// let t = Timestamp::parse_rfc3339("2026-11-26T18:22:23.5+01:00")?;
/// assert_eq!(t.to_string(), "2026-11-26T17:22:23.500Z");
/// assert_eq!(t.unix_millis(), 1_795_713_743_500);
/// # Ok::<(), biv_core::TimestampError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

/// Why a timestamp could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The instant lies outside 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999999Z.
    #[error("timestamp out of range (years 0001 to 9999 only)")]
    OutOfRange,
    /// The text is not an RFC 3339 `date-time`; `position` is the byte offset where it went wrong.
    #[error("not an RFC 3339 date-time (at byte {position}): {reason}")]
    Syntax {
        /// Byte offset into the input.
        position: usize,
        /// What was expected there.
        reason: &'static str,
    },
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// Builds a timestamp from whole seconds since the Unix epoch and a nanosecond part.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] if `nanos` is 10⁹ or more, or the instant is outside the
    /// years 0001–9999.
    pub fn from_unix_seconds(secs: i64, nanos: u32) -> Result<Self, TimestampError> {
        if nanos >= NANOS_PER_SECOND || !(MIN_UNIX_SECONDS..=MAX_UNIX_SECONDS).contains(&secs) {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Timestamp { secs, nanos })
    }

    /// Builds a timestamp from milliseconds since the Unix epoch.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] outside the years 0001–9999.
    pub fn from_unix_millis(millis: i64) -> Result<Self, TimestampError> {
        let secs = millis.div_euclid(1000);
        let rem = millis.rem_euclid(1000);
        // rem is in 0..1000, so it fits in u32.
        Self::from_unix_seconds(secs, u32::try_from(rem).unwrap_or(0) * 1_000_000)
    }

    /// Builds a timestamp from nanoseconds since the Unix epoch.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] outside the years 0001–9999.
    pub fn from_unix_nanos(nanos: i128) -> Result<Self, TimestampError> {
        let secs = i64::try_from(nanos.div_euclid(1_000_000_000))
            .map_err(|_| TimestampError::OutOfRange)?;
        let rem = u32::try_from(nanos.rem_euclid(1_000_000_000))
            .map_err(|_| TimestampError::OutOfRange)?;
        Self::from_unix_seconds(secs, rem)
    }

    /// Whole seconds since the Unix epoch (negative before 1970).
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// The nanoseconds within the second, `0..1_000_000_000`.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Milliseconds since the Unix epoch, rounded towards the past.
    pub fn unix_millis(&self) -> i64 {
        self.secs * 1000 + i64::from(self.nanos / 1_000_000)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// This instant plus `d`, or `None` past 9999-12-31.
    pub fn checked_add(&self, d: Duration) -> Option<Timestamp> {
        let total = self
            .unix_nanos()
            .checked_add(i128::try_from(d.as_nanos()).ok()?)?;
        Self::from_unix_nanos(total).ok()
    }

    /// This instant minus `d`, or `None` before 0001-01-01.
    pub fn checked_sub(&self, d: Duration) -> Option<Timestamp> {
        let total = self
            .unix_nanos()
            .checked_sub(i128::try_from(d.as_nanos()).ok()?)?;
        Self::from_unix_nanos(total).ok()
    }

    /// How long after `earlier` this instant is, or `None` if `earlier` is later.
    pub fn duration_since(&self, earlier: Timestamp) -> Option<Duration> {
        let diff = self.unix_nanos() - earlier.unix_nanos();
        let diff = u128::try_from(diff).ok()?;
        let secs = u64::try_from(diff / 1_000_000_000).ok()?;
        let nanos = u32::try_from(diff % 1_000_000_000).ok()?;
        Some(Duration::new(secs, nanos))
    }

    /// RFC 3339 in UTC with exactly three fraction digits (truncated), as ECS `@timestamp` wants.
    ///
    /// ```
    /// let t = biv_core::Timestamp::from_unix_seconds(0, 999_999_999)?;
    /// assert_eq!(t.to_rfc3339_millis(), "1970-01-01T00:00:00.999Z");
    /// # Ok::<(), biv_core::TimestampError>(())
    /// ```
    pub fn to_rfc3339_millis(&self) -> String {
        let (date, time) = self.civil();
        format!("{date}T{time}.{:03}Z", self.nanos / 1_000_000)
    }

    /// Parses an RFC 3339 `date-time` such as `2026-11-26T17:22:23Z` or
    /// `2026-11-26T18:22:23.123456+01:00`. Lower-case `t` and `z` are accepted (RFC 3339 §5.6);
    /// more than nine fraction digits are rejected rather than silently rounded.
    ///
    /// # Errors
    /// [`TimestampError::Syntax`] with the byte position, or [`TimestampError::OutOfRange`].
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        Parser {
            bytes: text.as_bytes(),
            pos: 0,
        }
        .timestamp()
    }

    fn civil(&self) -> (String, String) {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (
            format!("{y:04}-{m:02}-{d:02}"),
            format!("{:02}:{:02}:{:02}", sod / 3600, (sod % 3600) / 60, sod % 60),
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (date, time) = self.civil();
        write!(f, "{date}T{time}")?;
        match self.nanos {
            0 => {}
            n if n % 1_000_000 == 0 => write!(f, ".{:03}", n / 1_000_000)?,
            n if n % 1_000 == 0 => write!(f, ".{:06}", n / 1_000)?,
            n => write!(f, ".{n:09}")?,
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"), for code that formats or
/// buckets times itself.
///
/// ```
/// use biv_core::{civil_from_days, days_from_civil};
/// assert_eq!(civil_from_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_days(20_418), (2025, 11, 26));
/// assert_eq!(days_from_civil(2024, 2, 29), 19_782);
/// ```
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // d is 1..=31 and m is 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// (year, month, day) to days since 1970-01-01, the inverse of [`civil_from_days`] (the month
/// and day are not checked: 2023-02-31 is 2023-03-03).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> TimestampError {
        TimestampError::Syntax {
            position: self.pos,
            reason,
        }
    }

    fn digits(&mut self, n: usize, reason: &'static str) -> Result<u32, TimestampError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.bytes.get(self.pos) {
                Some(b) if b.is_ascii_digit() => {
                    v = v * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(self.err(reason)),
            }
        }
        Ok(v)
    }

    fn expect(&mut self, options: &[u8], reason: &'static str) -> Result<u8, TimestampError> {
        match self.bytes.get(self.pos) {
            Some(b) if options.contains(b) => {
                self.pos += 1;
                Ok(*b)
            }
            _ => Err(self.err(reason)),
        }
    }

    fn timestamp(mut self) -> Result<Timestamp, TimestampError> {
        let year = i64::from(self.digits(4, "four-digit year")?);
        self.expect(b"-", "'-' after the year")?;
        let month = self.digits(2, "two-digit month")?;
        if !(1..=12).contains(&month) {
            self.pos -= 2;
            return Err(self.err("month 01 to 12"));
        }
        self.expect(b"-", "'-' after the month")?;
        let day = self.digits(2, "two-digit day")?;
        if day == 0 || day > days_in_month(year, month) {
            self.pos -= 2;
            return Err(self.err("a day that exists in that month"));
        }
        self.expect(b"Tt", "'T' between date and time")?;
        let hour = self.digits(2, "two-digit hour")?;
        self.expect(b":", "':' after the hour")?;
        let minute = self.digits(2, "two-digit minute")?;
        self.expect(b":", "':' after the minute")?;
        let second = self.digits(2, "two-digit second")?;
        if hour > 23 || minute > 59 || second > 59 {
            self.pos -= 2;
            return Err(self.err("hour 00-23, minute 00-59, second 00-59 (no leap second)"));
        }
        let mut nanos = 0u32;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            let start = self.pos;
            while let Some(b) = self.bytes.get(self.pos).filter(|b| b.is_ascii_digit()) {
                if self.pos - start == 9 {
                    return Err(self.err("at most nine fraction digits"));
                }
                nanos = nanos * 10 + u32::from(b - b'0');
                self.pos += 1;
            }
            let count = self.pos - start;
            if count == 0 {
                return Err(self.err("a digit after '.'"));
            }
            nanos *= 10u32.pow(u32::try_from(9 - count).unwrap_or(0));
        }
        let offset_secs: i64 = match self.expect(b"Zz+-", "'Z' or a numeric offset")? {
            b'Z' | b'z' => 0,
            sign => {
                let oh = self.digits(2, "two-digit offset hours")?;
                self.expect(b":", "':' in the offset")?;
                let om = self.digits(2, "two-digit offset minutes")?;
                if oh > 23 || om > 59 {
                    self.pos -= 5;
                    return Err(self.err("offset hours 00-23 and minutes 00-59"));
                }
                let v = i64::from(oh * 3600 + om * 60);
                if sign == b'-' { -v } else { v }
            }
        };
        if self.pos != self.bytes.len() {
            return Err(self.err("end of input"));
        }
        let local = days_from_civil(year, month, day) * 86_400
            + i64::from(hour * 3600 + minute * 60 + second);
        Timestamp::from_unix_seconds(local - offset_secs, nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_and_parse() {
        let cases = [
            (0, 0, "1970-01-01T00:00:00Z"),
            (951_782_400, 0, "2000-02-29T00:00:00Z"),
            (1_795_713_743, 123_000_000, "2026-11-26T17:22:23.123Z"),
            (1_795_713_743, 123_456_000, "2026-11-26T17:22:23.123456Z"),
            (1_795_713_743, 1, "2026-11-26T17:22:23.000000001Z"),
            (-1, 0, "1969-12-31T23:59:59Z"),
            (MIN_UNIX_SECONDS, 0, "0001-01-01T00:00:00Z"),
            (
                MAX_UNIX_SECONDS,
                999_999_999,
                "9999-12-31T23:59:59.999999999Z",
            ),
        ];
        for (secs, nanos, text) in cases {
            let t = Timestamp::from_unix_seconds(secs, nanos).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(Timestamp::parse_rfc3339(text).unwrap(), t, "{text}");
        }
    }

    #[test]
    fn offsets_convert_to_utc() {
        let a = Timestamp::parse_rfc3339("2026-03-29T03:30:00+02:00").unwrap();
        let b = Timestamp::parse_rfc3339("2026-03-29t01:30:00z").unwrap();
        let c = Timestamp::parse_rfc3339("2026-03-28T20:30:00-05:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
    }

    #[test]
    fn bad_text_says_where() {
        let cases = [
            ("", 0),
            ("2026-13-01T00:00:00Z", 5),
            ("2026-02-29T00:00:00Z", 8),
            ("2026-11-26 17:22:23Z", 10),
            ("2026-11-26T24:00:00Z", 17),
            ("2026-11-26T23:59:60Z", 17),
            ("2026-11-26T17:22:23", 19),
            ("2026-11-26T17:22:23.Z", 20),
            ("2026-11-26T17:22:23.1234567891Z", 29),
            ("2026-11-26T17:22:23Z ", 20),
            ("2026-11-26T17:22:23+0100", 22),
        ];
        for (text, at) in cases {
            match Timestamp::parse_rfc3339(text) {
                Err(TimestampError::Syntax { position, .. }) => assert_eq!(position, at, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn range_is_enforced() {
        assert_eq!(
            Timestamp::from_unix_seconds(MAX_UNIX_SECONDS + 1, 0),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            Timestamp::from_unix_seconds(0, NANOS_PER_SECOND),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("0001-01-01T00:00:00+00:01"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            Timestamp::from_unix_nanos(i128::MAX),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::from_unix_millis(-1).unwrap();
        assert_eq!((t.unix_seconds(), t.subsec_nanos()), (-1, 999_000_000));
        let later = t.checked_add(Duration::from_millis(2)).unwrap();
        assert_eq!(later.unix_millis(), 1);
        assert_eq!(later.duration_since(t), Some(Duration::from_millis(2)));
        assert_eq!(t.duration_since(later), None);
        assert_eq!(later.checked_sub(Duration::from_millis(2)), Some(t));
        let max = Timestamp::from_unix_seconds(MAX_UNIX_SECONDS, 999_999_999).unwrap();
        assert_eq!(max.checked_add(Duration::from_nanos(1)), None);
    }

    proptest::proptest! {
        #[test]
        fn text_round_trips(secs in MIN_UNIX_SECONDS..=MAX_UNIX_SECONDS, nanos in 0u32..NANOS_PER_SECOND) {
            let t = Timestamp::from_unix_seconds(secs, nanos).unwrap();
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string()).unwrap(), t);
            let days = secs.div_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            proptest::prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn parser_never_panics(text in ".{0,40}") {
            let _ = Timestamp::parse_rfc3339(&text);
        }
    }
}
