//! Process metrics from `/proc/self` and host load and memory from `/proc`.

use std::path::PathBuf;

use super::family::{MetricFamily, MetricKind, Sample, SampleValue};
use super::registry::Collector;
use crate::health::MemInfo;

/// The figures of `/proc/<pid>/stat` a process collector needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcStat {
    /// User-mode CPU time in clock ticks.
    pub utime_ticks: u64,
    /// Kernel-mode CPU time in clock ticks.
    pub stime_ticks: u64,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

impl ProcStat {
    /// Parses `/proc/<pid>/stat` (the command name may hold spaces and parentheses).
    ///
    /// ```
    /// use biv_availability::metrics::ProcStat;
    /// let line = "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 150 30 0 0 20 0 4 0 9000 1000000 250 18446744073709551615";
    /// let s = ProcStat::parse(line).expect("valid");
    /// assert_eq!((s.utime_ticks, s.stime_ticks, s.start_ticks, s.rss_pages), (150, 30, 9000, 250));
    /// ```
    pub fn parse(text: &str) -> Option<ProcStat> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        Some(ProcStat {
            utime_ticks: field(11)?,
            stime_ticks: field(12)?,
            start_ticks: field(19)?,
            rss_pages: field(21)?,
        })
    }
}

/// The boot time (`btime`) from `/proc/stat`, in seconds since the epoch.
pub fn parse_boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft "Max open files" limit from `/proc/<pid>/limits` (`None` when unlimited).
pub fn parse_max_fds(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

fn gauge(name: &str, help: &str, v: f64) -> MetricFamily {
    MetricFamily::new(name, help, MetricKind::Gauge)
        .with_sample(Sample::new(Vec::new(), SampleValue::Gauge(v)))
}

/// Collects the standard process metrics of the Prometheus client libraries:
/// `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`,
/// `process_max_fds`, `process_start_time_seconds`; and host metrics:
/// `biv_host_load1`, `biv_host_load5`, `biv_host_load15`, `biv_host_memory_total_bytes`,
/// `biv_host_memory_available_bytes`. A figure that cannot be read is left out of the scrape.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::metrics::{Format, ProcessCollector, Registry};
/// let registry = Registry::new();
/// registry.register_collector(Arc::new(ProcessCollector::new()));
/// # #[cfg(target_os = "linux")]
/// assert!(registry.encode(Format::Prometheus).contains("process_open_fds "));
/// ```
#[derive(Debug, Clone)]
pub struct ProcessCollector {
    proc_root: PathBuf,
    ticks_per_second: f64,
    page_size: f64,
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessCollector {
    /// Reads `/proc/self` and `/proc`.
    pub fn new() -> Self {
        #[allow(clippy::cast_precision_loss)]
        ProcessCollector {
            proc_root: PathBuf::from("/proc"),
            ticks_per_second: rustix::param::clock_ticks_per_second() as f64,
            page_size: rustix::param::page_size() as f64,
        }
    }

    /// Reads another `proc` tree (for tests: a directory with `self/stat`, `self/limits`,
    /// `self/fd/`, `stat`, `loadavg`, `meminfo`).
    #[must_use]
    pub fn with_proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.proc_root = root.into();
        self
    }

    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.proc_root.join(rel)).ok()
    }
}

impl Collector for ProcessCollector {
    #[allow(clippy::cast_precision_loss)]
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        if let Some(stat) = self.read("self/stat").as_deref().and_then(ProcStat::parse) {
            let cpu = (stat.utime_ticks + stat.stime_ticks) as f64 / self.ticks_per_second;
            out.push(
                MetricFamily::new(
                    "process_cpu_seconds",
                    "Total user and system CPU time spent in seconds.",
                    MetricKind::Counter,
                )
                .with_sample(Sample::new(Vec::new(), SampleValue::FloatCounter(cpu))),
            );
            out.push(gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                stat.rss_pages as f64 * self.page_size,
            ));
            if let Some(btime) = self.read("stat").as_deref().and_then(parse_boot_time) {
                out.push(gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    btime as f64 + stat.start_ticks as f64 / self.ticks_per_second,
                ));
            }
        }
        if let Ok(dir) = std::fs::read_dir(self.proc_root.join("self/fd")) {
            out.push(gauge(
                "process_open_fds",
                "Number of open file descriptors.",
                dir.count() as f64,
            ));
        }
        if let Some(max) = self.read("self/limits").as_deref().and_then(parse_max_fds) {
            out.push(gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                max as f64,
            ));
        }
        if let Some([l1, l5, l15]) = self.read("loadavg").as_deref().and_then(parse_loadavg) {
            out.push(gauge("biv_host_load1", "1m load average.", l1));
            out.push(gauge("biv_host_load5", "5m load average.", l5));
            out.push(gauge("biv_host_load15", "15m load average.", l15));
        }
        if let Some(mem) = self.read("meminfo").and_then(|t| MemInfo::parse(&t).ok()) {
            out.push(gauge(
                "biv_host_memory_total_bytes",
                "Total usable memory in bytes (MemTotal).",
                mem.total_bytes as f64,
            ));
            out.push(gauge(
                "biv_host_memory_available_bytes",
                "Memory available for new work in bytes (MemAvailable).",
                mem.available_bytes as f64,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limits_stat_and_loadavg() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert_eq!(
            parse_max_fds("Max open files unlimited unlimited files\n"),
            None
        );
        assert_eq!(
            parse_boot_time("cpu 1 2 3\nbtime 1767225600\n"),
            Some(1_767_225_600)
        );
        assert_eq!(
            parse_loadavg("0.50 1.25 2.00 1/123 4567\n"),
            Some([0.5, 1.25, 2.0])
        );
        assert_eq!(ProcStat::parse("garbage"), None);
    }
}
