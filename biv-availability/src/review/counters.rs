//! Counter readings (drop and loss counters) from a Prometheus text scrape, and which of them rose.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::DigestError;
use super::lines::{BoundedLines, Line};

/// Longest counter line read; longer lines are skipped and counted.
const MAX_COUNTER_LINE_BYTES: usize = 64 * 1024;

/// One counter series and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CounterReading {
    /// The sample name as exposed, e.g. `biv_log_records_dropped_total`.
    pub name: String,
    /// The labels, by name.
    pub labels: BTreeMap<String, String>,
    /// The count.
    pub value: u64,
}

impl CounterReading {
    /// A reading of `name{labels} value`.
    ///
    /// ```
    /// use biv_availability::review::CounterReading;
    /// let r = CounterReading::new("biv_log_records_dropped_total", [("reason", "full")], 3);
    /// assert_eq!(r.labels["reason"], "full");
    /// let unlabelled = CounterReading::new("biv_log_records_lost_total", [] as [(&str, &str); 0], 0);
    /// assert!(unlabelled.labels.is_empty());
    /// ```
    pub fn new<K: Into<String>, V: Into<String>>(
        name: impl Into<String>,
        labels: impl IntoIterator<Item = (K, V)>,
        value: u64,
    ) -> Self {
        CounterReading {
            name: name.into(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            value,
        }
    }
}

/// The counters read at one moment: typically a scrape of `/metrics` at the start and one at the
/// end of the window.
///
/// [`CounterSnapshot::parse_prometheus`] reads the sample lines of the Prometheus text format
/// 0.0.4 (and OpenMetrics 1.0, whose counter samples have the same shape):
/// `name{label="value",…} value [timestamp]`. Comment lines (`# HELP`, `# TYPE`, `# EOF`) and
/// blank lines are ignored; samples whose value is not a whole number from 0 to 2⁵³ (gauges,
/// `NaN`, `+Inf`) are ignored as no count; a line that is not a sample at all is counted in
/// [`skipped_lines`](CounterSnapshot::skipped_lines).
///
/// ```
/// use biv_availability::review::CounterSnapshot;
///
/// let text = "# TYPE biv_log_records_dropped_total counter\n\
///             biv_log_records_dropped_total{reason=\"full\"} 3\n\
///             process_cpu_seconds_total 1.25\n\
///             this is not a sample\n";
/// let snapshot = CounterSnapshot::parse_prometheus(text);
/// assert_eq!(snapshot.readings().len(), 1);
/// assert_eq!(snapshot.readings()[0].labels["reason"], "full");
/// assert_eq!(snapshot.skipped_lines(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    readings: Vec<CounterReading>,
    skipped_lines: u64,
}

impl CounterSnapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reading.
    #[must_use]
    pub fn with_reading(mut self, reading: CounterReading) -> Self {
        self.readings.push(reading);
        self
    }

    /// The readings, in the order given.
    pub fn readings(&self) -> &[CounterReading] {
        &self.readings
    }

    /// Lines that were neither samples, comments nor blank.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// Reads the counters of a Prometheus or OpenMetrics text exposition.
    pub fn parse_prometheus(text: &str) -> Self {
        let mut snapshot = CounterSnapshot::new();
        for line in text.lines() {
            snapshot.add_line(line);
        }
        snapshot
    }

    /// Reads a Prometheus text file line by line (lines over 64 KiB are skipped and counted).
    ///
    /// # Errors
    /// [`DigestError::Unreadable`] naming the path.
    pub fn read_prometheus_path(path: &Path) -> Result<Self, DigestError> {
        let unreadable = |source| DigestError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(unreadable)?;
        Self::read_prometheus(file).map_err(unreadable)
    }

    /// Reads a Prometheus text exposition from `reader` line by line.
    ///
    /// # Errors
    /// The reader's error.
    pub fn read_prometheus(reader: impl Read) -> std::io::Result<Self> {
        let mut snapshot = CounterSnapshot::new();
        let mut lines = BoundedLines::new(BufReader::new(reader), MAX_COUNTER_LINE_BYTES);
        while let Some(line) = lines.next_line()? {
            match line {
                Line::Text(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => snapshot.add_line(text),
                    Err(_) => snapshot.skipped_lines += 1,
                },
                Line::TooLong => snapshot.skipped_lines += 1,
            }
        }
        Ok(snapshot)
    }

    fn add_line(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        match parse_sample(line) {
            Some(Some(reading)) => self.readings.push(reading),
            Some(None) => {}
            None => self.skipped_lines += 1,
        }
    }
}

/// `None`: not a sample line; `Some(None)`: a sample whose value is no count.
fn parse_sample(line: &str) -> Option<Option<CounterReading>> {
    let name_len = line
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(line.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, mut rest) = line.split_at(name_len);
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let mut parts = rest.split_whitespace();
    let value = parts.next()?;
    if let Some(timestamp) = parts.next()
        && timestamp.parse::<f64>().is_err()
    {
        return None;
    }
    if parts.next().is_some() || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let value: f64 = value.parse().ok()?;
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if !(value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_EXACT) {
        return Some(None);
    }
    // Exact: a whole number in 0..=2^53 converts without loss.
    let value = format!("{value:.0}").parse::<u64>().ok()?;
    Some(Some(CounterReading {
        name: name.to_owned(),
        labels,
        value,
    }))
}

/// Parses `name="value",…}` and returns what follows the `}`.
fn parse_labels<'a>(mut rest: &'a str, labels: &mut BTreeMap<String, String>) -> Option<&'a str> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Some(after);
        }
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_len == 0 {
            return None;
        }
        let (name, after) = rest.split_at(name_len);
        let body = after
            .trim_start()
            .strip_prefix('=')?
            .trim_start()
            .strip_prefix('"')?;
        let mut chars = body.char_indices();
        let mut value = String::new();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i + 1,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        labels.insert(name.to_owned(), value);
        rest = body.get(end..)?.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return None;
        }
    }
}

/// Whether `name` is one of biv's drop or loss counters: `biv_…_dropped_total`,
/// `biv_…_lost_total` or `biv_dropped_total` (e.g. `biv_log_records_dropped_total{reason}`,
/// `biv_log_records_lost_total`, `biv_syslog_records_dropped_total{reason}`), or one of
/// `extra` (exact sample names).
///
/// ```
/// use biv_availability::review::is_drop_counter;
/// assert!(is_drop_counter("biv_syslog_records_dropped_total", &[]));
/// assert!(is_drop_counter("biv_log_records_lost_total", &[]));
/// assert!(!is_drop_counter("biv_syslog_connections_total", &[]));
/// assert!(is_drop_counter("app_rejected_total", &["app_rejected_total".to_owned()]));
/// ```
pub fn is_drop_counter(name: &str, extra: &[String]) -> bool {
    (name.starts_with("biv_")
        && (name.ends_with("_dropped_total")
            || name.ends_with("_lost_total")
            || name == "biv_dropped_total"))
        || extra.iter().any(|e| e == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_escapes_and_timestamps() {
        let s = CounterSnapshot::parse_prometheus(
            "a_total{x=\"q\\\"uo\\\\te\\n\",y=\"2\",} 7 1795713743000\n\
             b_total 1e3\n\
             c_total{x=\"1\"} NaN\n\
             d_total{x=1} 3\n\
             e_total{x=\"1\"}3\n\
             f_total 3 4 5\n\
             {x=\"1\"} 3\n",
        );
        let r = s.readings();
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].labels["x"], "q\"uo\\te\n");
        assert_eq!(r[0].labels["y"], "2");
        assert_eq!(r[0].value, 7);
        assert_eq!((r[1].name.as_str(), r[1].value), ("b_total", 1000));
        assert_eq!(s.skipped_lines(), 4);
    }
}
