//! [`HealthRegistry`]: checks in groups, run in the background, read from a cache.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use biv_core::{CheckResult, Clock, Monitor, Status, Timestamp};
use tokio::task::JoinSet;

use super::report::{CheckEntry, HealthReport};

/// A probe group. Kubernetes' three probes each have one; custom groups are for dashboards or
/// other consumers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Group {
    /// Liveness: is the process itself working? Restarting it must help; never put a dependency
    /// here.
    Live,
    /// Readiness: may it take traffic now? Dependencies belong here.
    Ready,
    /// Start-up: has it finished starting? Liveness and readiness wait for it.
    Startup,
    /// A named custom group (`/health/{name}`).
    Custom(String),
}

impl Group {
    /// The group's name in URLs: `live`, `ready`, `startup` or the custom name.
    pub fn as_str(&self) -> &str {
        match self {
            Group::Live => "live",
            Group::Ready => "ready",
            Group::Startup => "startup",
            Group::Custom(name) => name,
        }
    }

    /// The group named `name` (`live`, `ready`, `startup`, or a custom group).
    pub fn from_name(name: &str) -> Group {
        match name {
            "live" => Group::Live,
            "ready" => Group::Ready,
            "startup" => Group::Startup,
            other => Group::Custom(other.to_owned()),
        }
    }
}

/// How the registry runs one check.
///
/// ```
/// use std::time::Duration;
/// use biv_availability::health::{CheckOptions, Group};
/// let options = CheckOptions::new([Group::Ready])
///     .interval(Duration::from_secs(10))
///     .timeout(Duration::from_secs(1))
///     .non_critical();
/// assert!(!options.is_critical());
/// ```
#[derive(Debug, Clone)]
pub struct CheckOptions {
    groups: BTreeSet<Group>,
    interval: Duration,
    timeout: Option<Duration>,
    critical: bool,
}

impl CheckOptions {
    /// A critical check in `groups`, refreshed every 10 s, with the monitor's own timeout.
    pub fn new(groups: impl IntoIterator<Item = Group>) -> Self {
        CheckOptions {
            groups: groups.into_iter().collect(),
            interval: Duration::from_secs(10),
            timeout: None,
            critical: true,
        }
    }

    /// How often the check runs in the background (at least 10 ms).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// A timeout that overrides the monitor's own [`Monitor::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks the check non-critical: its `fail` is reported as `warn`.
    #[must_use]
    pub fn non_critical(mut self) -> Self {
        self.critical = false;
        self
    }

    /// Whether a failure of this check fails its groups.
    pub fn is_critical(&self) -> bool {
        self.critical
    }
}

/// A result with the time it was taken.
#[derive(Debug, Clone)]
struct Cached {
    result: CheckResult,
    time: Timestamp,
}

#[derive(Debug)]
struct Entry {
    monitor: Arc<dyn Monitor>,
    options: CheckOptions,
    last: Mutex<Option<Cached>>,
}

impl Entry {
    fn timeout(&self) -> Duration {
        self.options
            .timeout
            .unwrap_or_else(|| self.monitor.timeout())
    }

    /// Results older than this are stale: two missed refreshes.
    fn max_age(&self) -> Duration {
        self.options
            .interval
            .saturating_mul(2)
            .saturating_add(self.timeout())
    }

    fn store(&self, cached: Cached) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(cached);
    }

    fn load(&self) -> Option<Cached> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Inner {
    clock: Arc<dyn Clock>,
    entries: Vec<Arc<Entry>>,
    draining: AtomicBool,
}

/// Health checks in groups (`live`, `ready`, `startup`, custom), run in the background and read
/// from a cache, so a probe never fans out to the dependencies.
///
/// Each check has its own refresh interval, timeout and criticality. A check that panics becomes
/// `fail` with the panic message; one that hangs is abandoned at its timeout and becomes `fail`.
/// A check that has not run yet, or whose last result is older than two intervals plus its
/// timeout, reports `fail`. After [`begin_shutdown`](Self::begin_shutdown) the `ready` group
/// fails, so load balancers stop sending traffic before the server stops.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use biv_availability::health::{CheckOptions, FnMonitor, Group, HealthRegistry};
/// use biv_core::{CheckResult, Status, SystemClock};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = HealthRegistry::builder(Arc::new(SystemClock::new()))
///     .check(FnMonitor::new("self:ok", || async { CheckResult::pass() }), CheckOptions::new([Group::Live, Group::Ready]))
///     .check(FnMonitor::new("cache:ping", || async { CheckResult::fail("cache down") }),
///            CheckOptions::new([Group::Ready]).non_critical())
///     .build();
/// registry.refresh_now().await;                     // or registry.spawn_refresh() in a service
/// assert_eq!(registry.report(&Group::Live).status, Status::Pass);
/// assert_eq!(registry.report(&Group::Ready).status, Status::Warn);
/// registry.begin_shutdown();
/// assert_eq!(registry.report(&Group::Ready).status, Status::Fail);
/// # });
/// ```
#[derive(Clone)]
pub struct HealthRegistry {
    inner: Arc<Inner>,
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("clock", &self.inner.clock)
            .field("entries", &self.inner.entries)
            .field("draining", &self.inner.draining.load(Ordering::Relaxed))
            .finish()
    }
}

/// Builds a [`HealthRegistry`].
#[derive(Debug)]
pub struct HealthRegistryBuilder {
    clock: Arc<dyn Clock>,
    entries: Vec<Arc<Entry>>,
}

impl HealthRegistryBuilder {
    /// Adds a check.
    #[must_use]
    pub fn check(mut self, monitor: impl Monitor + 'static, options: CheckOptions) -> Self {
        self.entries.push(Arc::new(Entry {
            monitor: Arc::new(monitor),
            options,
            last: Mutex::new(None),
        }));
        self
    }

    /// Adds a check that is already shared.
    #[must_use]
    pub fn check_arc(mut self, monitor: Arc<dyn Monitor>, options: CheckOptions) -> Self {
        self.entries.push(Arc::new(Entry {
            monitor,
            options,
            last: Mutex::new(None),
        }));
        self
    }

    /// The registry.
    pub fn build(self) -> HealthRegistry {
        HealthRegistry {
            inner: Arc::new(Inner {
                clock: self.clock,
                entries: self.entries,
                draining: AtomicBool::new(false),
            }),
        }
    }
}

/// The background refresh started by [`HealthRegistry::spawn_refresh`]; dropping it stops the
/// refresh.
#[derive(Debug)]
pub struct RefreshTask {
    tasks: JoinSet<()>,
}

impl RefreshTask {
    /// Stops the refresh (the same as dropping it).
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

/// The panic message, if the payload is a string.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Runs one check in its own task, bounded by `timeout`; a panic or a timeout becomes `fail`.
async fn run_guarded(monitor: Arc<dyn Monitor>, timeout: Duration) -> CheckResult {
    let name = monitor.name().to_owned();
    let task = tokio::spawn(async move { monitor.check().await });
    let abort = task.abort_handle();
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) if e.is_panic() => {
            let payload = e.into_panic();
            CheckResult::fail(format!(
                "check {name} panicked: {}",
                panic_message(payload.as_ref())
            ))
        }
        Ok(Err(_)) => CheckResult::fail(format!("check {name} was cancelled")),
        Err(_) => {
            abort.abort();
            CheckResult::fail(format!("check {name} timed out after {timeout:?}"))
        }
    }
}

impl HealthRegistry {
    /// Starts building a registry that stamps results with `clock`.
    pub fn builder(clock: Arc<dyn Clock>) -> HealthRegistryBuilder {
        HealthRegistryBuilder {
            clock,
            entries: Vec::new(),
        }
    }

    async fn refresh_entry(inner: &Inner, entry: &Entry) {
        let result = run_guarded(Arc::clone(&entry.monitor), entry.timeout()).await;
        entry.store(Cached {
            result,
            time: inner.clock.now(),
        });
    }

    /// Runs every check once, concurrently, and caches the results. Call it at start-up, or in
    /// one-shot tools (`biv health check`); services use [`spawn_refresh`](Self::spawn_refresh).
    pub async fn refresh_now(&self) {
        let mut tasks = JoinSet::new();
        for entry in &self.inner.entries {
            let inner = Arc::clone(&self.inner);
            let entry = Arc::clone(entry);
            tasks.spawn(async move { Self::refresh_entry(&inner, &entry).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Starts one background task per check that runs it now and then every interval. Must be
    /// called inside a Tokio runtime with the time driver enabled.
    pub fn spawn_refresh(&self) -> RefreshTask {
        let mut tasks = JoinSet::new();
        for entry in &self.inner.entries {
            let inner = Arc::clone(&self.inner);
            let entry = Arc::clone(entry);
            tasks.spawn(async move {
                let mut ticker = tokio::time::interval(entry.options.interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    Self::refresh_entry(&inner, &entry).await;
                }
            });
        }
        RefreshTask { tasks }
    }

    /// Marks the service as shutting down: from now on the `ready` group (and the whole report)
    /// fails with the check `shutdown:draining`.
    pub fn begin_shutdown(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Whether any check is in `group`.
    pub fn has_group(&self, group: &Group) -> bool {
        self.inner
            .entries
            .iter()
            .any(|e| e.options.groups.contains(group))
    }

    /// The cached report for `group`. Never runs a check.
    pub fn report(&self, group: &Group) -> HealthReport {
        self.build_report(Some(group))
    }

    /// The cached report over every check. Never runs a check.
    pub fn report_all(&self) -> HealthReport {
        self.build_report(None)
    }

    fn build_report(&self, group: Option<&Group>) -> HealthReport {
        let now = self.inner.clock.now();
        let mut report = HealthReport::new();
        for entry in &self.inner.entries {
            if group.is_some_and(|g| !entry.options.groups.contains(g)) {
                continue;
            }
            let (mut result, time) = match entry.load() {
                None => (CheckResult::fail("not checked yet"), now),
                Some(cached) => {
                    let age = now.duration_since(cached.time).unwrap_or_default();
                    if age > entry.max_age() {
                        (
                            CheckResult::fail(format!(
                                "last result is stale ({}s old); the refresh has stopped or hangs",
                                age.as_secs()
                            )),
                            cached.time,
                        )
                    } else {
                        (cached.result, cached.time)
                    }
                }
            };
            if !entry.options.critical && result.status == Status::Fail {
                result.status = Status::Warn;
            }
            report.push(CheckEntry::new(
                entry.monitor.name(),
                entry.monitor.component_type(),
                result,
                time,
            ));
        }
        if self.is_shutting_down() && matches!(group, None | Some(Group::Ready)) {
            report.push(CheckEntry::new(
                "shutdown:draining",
                "component",
                CheckResult::fail("the service is shutting down"),
                now,
            ));
        }
        report
    }
}
