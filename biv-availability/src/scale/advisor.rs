//! [`ScaleAdvisor`]: the HPA algorithm run continuously, with its own history, and its advice
//! exported as metrics that a HorizontalPodAutoscaler (through an external-metrics adapter) or
//! KEDA's Prometheus scaler scales on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use biv_core::{Clock, Timestamp};

use super::behavior::HistoryEntry;
use super::recommend::{
    RecommendError, Recommendation, ScaleInput, ScaleInputError, recommend_with_raw,
};
use crate::metrics::{CounterVec, GaugeVec, MetricsError, Registry};

/// How long the advisor keeps history: Kubernetes allows stabilization windows up to one hour,
/// and rate-policy periods up to 30 minutes.
pub const HISTORY_HORIZON: Duration = Duration::from_secs(3600);

/// The most workloads one advisor tracks, so the `workload` label stays bounded: with up to
/// nine reasons per workload, `biv_scale_recommendations_total` stays within a registry's
/// default series limit of 2,000.
pub const MAX_WORKLOADS: usize = 200;

/// The most history entries kept per workload; consecutive equal recommendations are merged,
/// so this bounds memory only for a caller that observes far more often than the HPA's 15 s.
pub const MAX_HISTORY: usize = 1024;

/// The metric whose value is the advised replica count, labelled `workload`.
pub const DESIRED_REPLICAS_METRIC: &str = "biv_scale_desired_replicas";

/// Why a [`ScaleAdvisor`] gave no advice. The metrics keep their previous values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdviseError {
    /// The workload name is empty, longer than 253 bytes or contains a control character.
    #[error("invalid workload name: {0}")]
    Workload(&'static str),
    /// The advisor already tracks [`MAX_WORKLOADS`] other workloads.
    #[error("too many workloads: at most {MAX_WORKLOADS} per advisor")]
    TooManyWorkloads,
    /// The input contradicts itself.
    #[error(transparent)]
    Input(#[from] ScaleInputError),
    /// The metric could not be turned into a replica count.
    #[error(transparent)]
    Recommend(#[from] RecommendError),
}

/// What the advisor remembers of one past reconciliation.
#[derive(Debug, Clone, Copy)]
struct Past {
    at: Timestamp,
    recommendation: Option<u32>,
    replica_change: Option<i64>,
}

/// The state kept per workload.
#[derive(Debug, Default, Clone)]
struct Workload {
    history: VecDeque<Past>,
    last_replicas: Option<u32>,
}

/// The metric families the advisor writes.
#[derive(Debug)]
struct AdvisorMetrics {
    desired: GaugeVec,
    current: GaugeVec,
    utilization: GaugeVec,
    observed_at: GaugeVec,
    reasons: CounterVec,
}

/// Runs the HorizontalPodAutoscaler algorithm ([`super::recommend`]) on every observation of a
/// workload, keeps the history Kubernetes keeps (past recommendations for the stabilization
/// windows, scale events for the rate policies) itself, and publishes the advice as metrics:
///
/// | metric | value |
/// |---|---|
/// | `biv_scale_desired_replicas{workload}` | the advised replica count |
/// | `biv_scale_current_replicas{workload}` | the replica count observed |
/// | `biv_scale_utilization{workload}` | the measured utilization (percent of requests, or milli-units per pod) |
/// | `biv_scale_last_observation_timestamp_seconds{workload}` | when the advice was last computed, so a scaler can ignore stale advice |
/// | `biv_scale_recommendations_total{workload,reason}` | reconciliations by Kubernetes' reason |
///
/// A scale event is recorded when an observation's `current_replicas` differs from the
/// previous one, as Kubernetes records the change it made. Any history in the input is used
/// as well. Time comes from the injected [`Clock`].
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::metrics::{Format, Registry};
/// use biv_availability::scale::{PodSample, ScaleAdvisor, ScaleInput, Target};
/// use biv_core::SystemClock;
///
/// let registry = Registry::new();
/// let advisor = ScaleAdvisor::new(&registry, Arc::new(SystemClock::new()))?;
/// let pods = (0..4).map(|i| PodSample::new(format!("web-{i}"), true, 500, 450)).collect();
/// let advice = advisor.observe("web", ScaleInput::new(4, 2, 10, Target::Utilization(60), pods))?;
/// assert_eq!(advice.desired_replicas, 6);
/// assert!(registry
///     .encode(Format::Prometheus)
///     .contains("biv_scale_desired_replicas{workload=\"web\"} 6\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ScaleAdvisor {
    clock: Arc<dyn Clock>,
    metrics: AdvisorMetrics,
    workloads: Mutex<BTreeMap<String, Workload>>,
}

impl ScaleAdvisor {
    /// An advisor that registers its metric families in `registry`.
    ///
    /// # Errors
    /// [`MetricsError`] when `registry` already has families of these names (one advisor per
    /// registry).
    pub fn new(registry: &Registry, clock: Arc<dyn Clock>) -> Result<Self, MetricsError> {
        let workload = &["workload"];
        let metrics = AdvisorMetrics {
            desired: registry.gauge_vec(
                DESIRED_REPLICAS_METRIC,
                "The replica count the HorizontalPodAutoscaler algorithm advises.",
                workload,
            )?,
            current: registry.gauge_vec(
                "biv_scale_current_replicas",
                "The replica count observed at the last reconciliation.",
                workload,
            )?,
            utilization: registry.gauge_vec(
                "biv_scale_utilization",
                "The measured utilization: percent of requests, or milli-units per pod.",
                workload,
            )?,
            observed_at: registry.gauge_vec(
                "biv_scale_last_observation_timestamp_seconds",
                "When the advice was last computed (Unix seconds); a scaler should ignore older advice.",
                workload,
            )?,
            reasons: registry.counter_vec(
                "biv_scale_recommendations",
                "Reconciliations by the reason Kubernetes would give.",
                &["workload", "reason"],
            )?,
        };
        Ok(ScaleAdvisor {
            clock,
            metrics,
            workloads: Mutex::new(BTreeMap::new()),
        })
    }

    /// One reconciliation of `workload`: advises, remembers, and updates the metrics.
    ///
    /// # Errors
    /// [`AdviseError`] for a bad workload name or input, or when no replica count can be
    /// calculated (e.g. no ready pods); nothing is remembered and the metrics keep their values.
    pub fn observe(
        &self,
        workload: &str,
        mut input: ScaleInput,
    ) -> Result<Recommendation, AdviseError> {
        check_workload(workload)?;
        input.validate()?;
        let now = self.clock.now();
        let mut workloads = self
            .workloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !workloads.contains_key(workload) && workloads.len() >= MAX_WORKLOADS {
            return Err(AdviseError::TooManyWorkloads);
        }
        let mut state = workloads.get(workload).cloned().unwrap_or_default();
        let horizon = now.checked_sub(HISTORY_HORIZON);
        state
            .history
            .retain(|p| horizon.is_none_or(|h| p.at >= h) && p.at <= now);
        let scale_event = state
            .last_replicas
            .filter(|last| *last != input.current_replicas)
            .map(|last| i64::from(input.current_replicas) - i64::from(last));
        let mut history = std::mem::take(&mut input.history);
        history.extend(state.history.iter().map(|p| entry(p, now)));
        if let Some(change) = scale_event {
            history.push(HistoryEntry::scale_event(0.0, change));
        }
        input.history = history;
        // Nothing is remembered when no advice can be given.
        let (advice, raw) = recommend_with_raw(&input)?;
        remember(&mut state.history, now, raw, scale_event);
        state.last_replicas = Some(input.current_replicas);
        // Published under the lock, so concurrent observations of one workload leave the
        // newest advice in the gauges.
        self.publish(workload, &input, &advice, now);
        workloads.insert(workload.to_owned(), state);
        Ok(advice)
    }

    /// Forgets `workload`: its history and its series (a scaled-away deployment). Returns
    /// whether it was tracked.
    pub fn forget(&self, workload: &str) -> bool {
        let removed = self
            .workloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(workload)
            .is_some();
        if removed {
            for family in [
                &self.metrics.desired,
                &self.metrics.current,
                &self.metrics.utilization,
                &self.metrics.observed_at,
            ] {
                family.remove_label_values(&[workload]);
            }
            self.metrics.reasons.remove_matching(0, workload);
        }
        removed
    }

    /// The workloads this advisor has seen.
    pub fn workloads(&self) -> Vec<String> {
        self.workloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    fn publish(&self, workload: &str, input: &ScaleInput, advice: &Recommendation, now: Timestamp) {
        // The label counts are right by construction, so these lookups cannot fail.
        if let Ok(g) = self.metrics.desired.with_label_values(&[workload]) {
            g.set(f64::from(advice.desired_replicas));
        }
        if let Ok(g) = self.metrics.current.with_label_values(&[workload]) {
            g.set(f64::from(input.current_replicas));
        }
        if let (Some(u), Ok(g)) = (
            advice.utilization,
            self.metrics.utilization.with_label_values(&[workload]),
        ) {
            g.set(u as f64);
        }
        if let Ok(g) = self.metrics.observed_at.with_label_values(&[workload]) {
            #[expect(clippy::cast_precision_loss, reason = "seconds since 1970 fit in f64")]
            g.set(now.unix_millis() as f64 / 1000.0);
        }
        if let Ok(c) = self
            .metrics
            .reasons
            .with_label_values(&[workload, &advice.reason])
        {
            c.inc();
        }
    }
}

/// Adds what this reconciliation leaves for later ones: the recommendation before behavior and
/// the scale event seen. A recommendation equal to the previous one (with no scale event in
/// between) replaces it with the newer time — the windows' maximum and minimum stay the same —
/// so steady advice costs one entry; at most [`MAX_HISTORY`] entries are kept.
fn remember(
    history: &mut VecDeque<Past>,
    now: Timestamp,
    recommendation: Option<u32>,
    replica_change: Option<i64>,
) {
    if recommendation.is_none() && replica_change.is_none() {
        return;
    }
    if replica_change.is_none()
        && let Some(last) = history.back_mut()
        && last.replica_change.is_none()
        && last.recommendation == recommendation
    {
        last.at = now;
        return;
    }
    history.push_back(Past {
        at: now,
        recommendation,
        replica_change,
    });
    while history.len() > MAX_HISTORY {
        history.pop_front();
    }
}

/// `past` as a history entry seen from `now`.
fn entry(past: &Past, now: Timestamp) -> HistoryEntry {
    let seconds_ago = now.duration_since(past.at).map_or(0.0, |d| d.as_secs_f64());
    HistoryEntry {
        seconds_ago,
        recommendation: past.recommendation,
        replica_change: past.replica_change,
    }
}

fn check_workload(name: &str) -> Result<(), AdviseError> {
    if name.is_empty() {
        return Err(AdviseError::Workload("empty"));
    }
    if name.len() > 253 {
        return Err(AdviseError::Workload("longer than 253 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(AdviseError::Workload("contains a control character"));
    }
    Ok(())
}
