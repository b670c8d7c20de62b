//! Counters of the spool and the shipper, exposed as metrics through the
//! [`Collector`](crate::metrics::Collector) trait: nothing is lost silently.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{Collector, MetricFamily, MetricKind, Sample, SampleValue};

/// Why a record did not enter the spool. Each is a label value of
/// `biv_spool_records_dropped_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The spool's byte cap would have been exceeded (`cap`).
    Cap,
    /// The sink's queue stayed full for the whole time budget (`budget`).
    Budget,
    /// The sink was closed (`closed`).
    Closed,
    /// Writing the segment failed (`io`).
    Io,
}

impl DropReason {
    /// All reasons, in label order.
    pub const ALL: [DropReason; 4] = [
        DropReason::Cap,
        DropReason::Budget,
        DropReason::Closed,
        DropReason::Io,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Cap => "cap",
            DropReason::Budget => "budget",
            DropReason::Closed => "closed",
            DropReason::Io => "io",
        }
    }

    fn index(self) -> usize {
        match self {
            DropReason::Cap => 0,
            DropReason::Budget => 1,
            DropReason::Closed => 2,
            DropReason::Io => 3,
        }
    }
}

/// Counters of one spool (writer side and reader side). Register it with
/// [`Registry::register_collector`](crate::metrics::Registry::register_collector):
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::metrics::{Format, Registry};
/// use biv_availability::shipping::SpoolStats;
///
/// let stats = Arc::new(SpoolStats::default());
/// let registry = Registry::new();
/// registry.register_collector(stats.clone());
/// assert!(registry.encode(Format::Prometheus).contains("biv_spool_records_dropped_total{reason=\"cap\"} 0"));
/// ```
#[derive(Debug, Default)]
pub struct SpoolStats {
    appended: AtomicU64,
    dropped: [AtomicU64; 4],
    torn_frames: AtomicU64,
    torn_bytes: AtomicU64,
    corrupt_frames: AtomicU64,
    corrupt_bytes: AtomicU64,
    invalid_ack: AtomicU64,
    bytes: AtomicU64,
}

impl SpoolStats {
    /// Records written to a segment.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// Records dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    /// Records dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        DropReason::ALL.iter().map(|r| self.dropped(*r)).sum()
    }

    /// Partially written frames found at the end of a segment (a crash during a write) and cut
    /// off or skipped.
    pub fn torn_frames(&self) -> u64 {
        self.torn_frames.load(Ordering::Relaxed)
    }

    /// Bytes of those partial frames.
    pub fn torn_bytes(&self) -> u64 {
        self.torn_bytes.load(Ordering::Relaxed)
    }

    /// Whole frames that failed their CRC-32C (or held no valid record) and were not shipped.
    pub fn corrupt_frames(&self) -> u64 {
        self.corrupt_frames.load(Ordering::Relaxed)
    }

    /// Bytes skipped because of corrupt frames (from the frame to the next valid one, or to the
    /// end of its segment when none follows).
    pub fn corrupt_bytes(&self) -> u64 {
        self.corrupt_bytes.load(Ordering::Relaxed)
    }

    /// Times the ack file was unreadable and shipping restarted from the oldest segment.
    pub fn invalid_ack_files(&self) -> u64 {
        self.invalid_ack.load(Ordering::Relaxed)
    }

    /// Bytes of segments on disk, as last seen by the writer.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn add_appended(&self, n: u64) {
        self.appended.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_dropped(&self, reason: DropReason, n: u64) {
        self.dropped[reason.index()].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_torn(&self, bytes: u64) {
        self.torn_frames.fetch_add(1, Ordering::Relaxed);
        self.torn_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn add_corrupt(&self, bytes: u64) {
        self.corrupt_frames.fetch_add(1, Ordering::Relaxed);
        self.corrupt_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn add_invalid_ack(&self) {
        self.invalid_ack.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_bytes(&self, bytes: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
    }
}

fn counter(name: &str, help: &str, value: u64) -> MetricFamily {
    MetricFamily::new(name, help, MetricKind::Counter)
        .with_sample(Sample::new(Vec::new(), SampleValue::Counter(value)))
}

fn labelled(name: &str, help: &str, label: &str, values: &[(&str, u64)]) -> MetricFamily {
    values.iter().fold(
        MetricFamily::new(name, help, MetricKind::Counter),
        |family, (l, v)| {
            family.with_sample(Sample::new(
                vec![(label.to_owned(), (*l).to_owned())],
                SampleValue::Counter(*v),
            ))
        },
    )
}

impl Collector for SpoolStats {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        out.push(counter(
            "biv_spool_records_appended",
            "Log records written to the spool.",
            self.appended(),
        ));
        let drops: Vec<(&str, u64)> = DropReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.dropped(*r)))
            .collect();
        out.push(labelled(
            "biv_spool_records_dropped",
            "Log records that did not enter the spool, by reason.",
            "reason",
            &drops,
        ));
        out.push(counter(
            "biv_spool_torn_frames",
            "Partially written frames cut off a segment's end.",
            self.torn_frames(),
        ));
        out.push(counter(
            "biv_spool_corrupt_frames",
            "Frames that failed their CRC-32C and were not shipped.",
            self.corrupt_frames(),
        ));
        out.push(counter(
            "biv_spool_corrupt_bytes",
            "Bytes skipped because of corrupt frames.",
            self.corrupt_bytes(),
        ));
        out.push(
            MetricFamily::new(
                "biv_spool_bytes",
                "Bytes of spool segments on disk.",
                MetricKind::Gauge,
            )
            .with_sample(Sample::new(
                Vec::new(),
                SampleValue::Gauge(self.bytes() as f64),
            )),
        );
    }
}

/// Counters of a [`BulkShipper`](super::BulkShipper), exposed as `biv_logship_*` metrics.
#[derive(Debug, Default)]
pub struct ShipperStats {
    delivered: AtomicU64,
    conflicts: AtomicU64,
    dead_lettered: AtomicU64,
    requests: AtomicU64,
    splits: AtomicU64,
    retries: [AtomicU64; 5],
    bytes_sent: AtomicU64,
    /// Seconds (f64 bits) between the oldest record not yet shipped and now.
    lag: AtomicU64,
}

/// Why a request or some of its items were sent again. Label values of
/// `biv_logship_retries_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// 429 for the request or for items (`throttled`).
    Throttled,
    /// A 5xx for the request or for items (`server_error`).
    ServerError,
    /// Connection refused or reset, a timeout, an unreadable answer (`transport`).
    Transport,
    /// The request was too large (413) and was split (`split`).
    Split,
    /// 401, 403, 404 or 408 for items: a permission, index or timeout problem of the
    /// receiver, not of the record (`refused`).
    Refused,
}

impl RetryReason {
    /// All reasons, in label order.
    pub const ALL: [RetryReason; 5] = [
        RetryReason::Throttled,
        RetryReason::ServerError,
        RetryReason::Transport,
        RetryReason::Split,
        RetryReason::Refused,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::Throttled => "throttled",
            RetryReason::ServerError => "server_error",
            RetryReason::Transport => "transport",
            RetryReason::Split => "split",
            RetryReason::Refused => "refused",
        }
    }

    fn index(self) -> usize {
        match self {
            RetryReason::Throttled => 0,
            RetryReason::ServerError => 1,
            RetryReason::Transport => 2,
            RetryReason::Split => 3,
            RetryReason::Refused => 4,
        }
    }
}

impl ShipperStats {
    /// Records the receiver stored (201/200).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Records the receiver already held (409 on `create`): delivered before, acknowledged.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Records the receiver refused for good (400 and other 4xx), written to the dead-letter
    /// file.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// `_bulk` requests sent (including retries).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Batches split in two after a 413.
    pub fn splits(&self) -> u64 {
        self.splits.load(Ordering::Relaxed)
    }

    /// Retries for `reason`.
    pub fn retries(&self, reason: RetryReason) -> u64 {
        self.retries[reason.index()].load(Ordering::Relaxed)
    }

    /// Request body bytes sent.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }

    /// How far behind the shipper is: the age in seconds of the oldest record it is shipping
    /// (by the record's time), 0 when it has caught up.
    pub fn lag_seconds(&self) -> f64 {
        f64::from_bits(self.lag.load(Ordering::Relaxed))
    }

    pub(crate) fn set_lag(&self, seconds: f64) {
        self.lag
            .store(seconds.max(0.0).to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn add_delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_conflicts(&self, n: u64) {
        self.conflicts.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_dead_lettered(&self, n: u64) {
        self.dead_lettered.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_request(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn add_split(&self) {
        self.splits.fetch_add(1, Ordering::Relaxed);
        self.add_retry(RetryReason::Split);
    }

    pub(crate) fn add_retry(&self, reason: RetryReason) {
        self.retries[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

impl Collector for ShipperStats {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        out.push(labelled(
            "biv_logship_records",
            "Spooled records shipped to Elasticsearch, by outcome.",
            "outcome",
            &[
                ("delivered", self.delivered()),
                ("conflict", self.conflicts()),
                ("dead_lettered", self.dead_lettered()),
            ],
        ));
        out.push(counter(
            "biv_logship_requests",
            "_bulk requests sent, retries included.",
            self.requests(),
        ));
        let retries: Vec<(&str, u64)> = RetryReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.retries(*r)))
            .collect();
        out.push(labelled(
            "biv_logship_retries",
            "Requests or items sent again, by reason.",
            "reason",
            &retries,
        ));
        out.push(counter(
            "biv_logship_bytes_sent",
            "_bulk request body bytes sent.",
            self.bytes_sent(),
        ));
        out.push(
            MetricFamily::new(
                "biv_logship_lag_seconds",
                "Age of the oldest record being shipped; 0 when caught up.",
                MetricKind::Gauge,
            )
            .with_sample(Sample::new(
                Vec::new(),
                SampleValue::Gauge(self.lag_seconds()),
            )),
        );
    }
}
