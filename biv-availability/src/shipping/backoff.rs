//! Exponential backoff with full jitter, and `Retry-After` (RFC 9110 §10.2.3: seconds or an
//! HTTP-date). Pure functions; the randomness and the current time are arguments.

use std::time::Duration;

use biv_core::Timestamp;

/// The backoff policy of the shipper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// The ceiling of the first retry's delay (default 100 ms).
    pub base: Duration,
    /// The largest delay the exponential part reaches (default 30 s).
    pub max: Duration,
    /// The longest `Retry-After` honoured (default 5 min); a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// A policy with these bounds.
    pub fn new(base: Duration, max: Duration, max_retry_after: Duration) -> Self {
        Backoff {
            base,
            max,
            max_retry_after,
        }
    }

    /// The delay before retry number `attempt` (0 for the first retry): "full jitter", a
    /// uniform pick from `[0, min(max, base × 2^attempt)]` made with `random`, but never less
    /// than the server's `Retry-After` (itself capped at `max_retry_after`).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, random: u64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let jittered = Duration::from_nanos(if nanos == 0 {
            0
        } else {
            random % nanos.saturating_add(1)
        });
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// The wait a `Retry-After` value asks for at `now`: delay-seconds or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`). A date in the past means zero; anything else is `None`.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = parse_imf_fixdate(value)?;
    let secs = at.saturating_sub(now.unix_seconds());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Seconds since the Unix epoch of an IMF-fixdate.
fn parse_imf_fixdate(s: &str) -> Option<i64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let b = s.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let day = num(5..7)?;
    let month = match s.get(8..11)? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year = num(12..16)?;
    let (h, m, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A small xorshift generator for jitter (not for secrets), seeded from the OS.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn from_os() -> Self {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Jitter(u64::from_le_bytes(seed) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_the_jitter_window_and_stop_at_max() {
        let b = Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(60),
        );
        // The pick is `random` modulo (ceiling + 1 ns).
        assert_eq!(b.delay(0, None, 100_000_000), Duration::from_millis(100));
        assert_eq!(b.delay(0, None, 100_000_001), Duration::ZERO);
        assert_eq!(b.delay(3, None, 0), Duration::ZERO);
        assert_eq!(b.delay(3, None, 800_000_000), Duration::from_millis(800));
        assert_eq!(b.delay(4, None, 1_600_000_000), Duration::from_millis(1600));
        // 100 ms × 2^5 = 3.2 s, capped at 2 s.
        assert_eq!(b.delay(5, None, 2_000_000_000), Duration::from_secs(2));
        assert_eq!(b.delay(40, None, 2_000_000_000), Duration::from_secs(2));
        for r in [1u64, 12_345, 99_999_999_999] {
            assert!(b.delay(5, None, r) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_its_maximum() {
        let b = Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(60),
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(7)), 0),
            Duration::from_secs(7)
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3600)), 0),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        // RFC 9110's example date: 1994-11-06T08:49:37Z = 784111777.
        let now = Timestamp::from_unix_seconds(784_111_777 - 90, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(90))
        );
        let later = Timestamp::from_unix_seconds(784_111_777 + 5, 0).unwrap();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }
}
