//! The replica calculation of the HorizontalPodAutoscaler (`replica_calculator.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the metric is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Target {
    /// Average usage as a percentage of the pods' requests (`averageUtilization`, e.g. 50).
    Utilization(u32),
    /// Average usage per pod in milli-units (`averageValue`, e.g. 15000 for 15 requests/s).
    AverageValue(u64),
}

/// One pod as the autoscaler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PodSample {
    /// The pod's name.
    pub name: String,
    /// Whether the pod is ready (Running, Ready, past its CPU initialisation period). Unready
    /// pods are ignored on a scale-down and count as 0 % on a scale-up.
    pub ready: bool,
    /// The pod's request of the resource in milli-units (needed for a utilization target).
    #[serde(default)]
    pub request_milli: u64,
    /// The pod's usage in milli-units.
    #[serde(default)]
    pub usage_milli: u64,
}

impl PodSample {
    /// A pod with its readiness, request and usage.
    pub fn new(name: impl Into<String>, ready: bool, request_milli: u64, usage_milli: u64) -> Self {
        PodSample {
            name: name.into(),
            ready,
            request_milli,
            usage_milli,
        }
    }
}

/// A running pod without a metric sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum MissingPod {
    /// Only the name: its request is taken as the mean request of the sampled pods.
    Name(String),
    /// The name and its request in milli-units.
    WithRequest {
        /// The pod's name.
        name: String,
        /// The pod's request in milli-units.
        request_milli: u64,
    },
}

/// The lower and upper tolerance: no change while `1 − down ≤ ratio ≤ 1 + up`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Tolerances {
    /// Tolerance below the target (scale-down).
    pub scale_down: f64,
    /// Tolerance above the target (scale-up).
    pub scale_up: f64,
}

impl Tolerances {
    /// The same tolerance both ways (Kubernetes' default is 0.1).
    pub fn symmetric(tolerance: f64) -> Self {
        Tolerances {
            scale_down: tolerance,
            scale_up: tolerance,
        }
    }

    fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

impl Default for Tolerances {
    fn default() -> Self {
        Self::symmetric(0.1)
    }
}

/// Why the replica count could not be calculated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaCalcError {
    /// No ready pod has a sample.
    #[error("did not receive metrics for any ready pods")]
    NoReadyPods,
    /// A utilization target needs each pod's request.
    #[error("missing request for pod {0}")]
    MissingRequest(String),
    /// The target is zero.
    #[error("the target must be greater than zero")]
    ZeroTarget,
    /// Two pods have the same name.
    #[error("pod {0} is listed twice")]
    DuplicatePod(String),
}

/// The result of [`replica_count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaCalculation {
    /// The replica count the metric asks for, before min/max and behavior.
    pub replicas: u32,
    /// The measured utilization over the ready pods: percent of requests for a utilization
    /// target, milli-units per pod for an average-value target (truncated as Kubernetes does).
    pub utilization: i64,
}

/// `(ratio, utilization)` of `metrics` against `target`, as `GetResourceUtilizationRatio`
/// and `GetMetricUtilizationRatio` compute them.
fn usage_ratio(
    metrics: &BTreeMap<&str, i64>,
    requests: &BTreeMap<&str, i64>,
    target: Target,
) -> Result<(f64, i64), ReplicaCalcError> {
    match target {
        Target::Utilization(percent) => {
            let mut used = 0i64;
            let mut requested = 0i64;
            for (name, value) in metrics {
                if let Some(request) = requests.get(name) {
                    used = used.saturating_add(*value);
                    requested = requested.saturating_add(*request);
                }
            }
            if requested == 0 {
                return Err(ReplicaCalcError::NoReadyPods);
            }
            let utilization = used.saturating_mul(100) / requested;
            #[allow(clippy::cast_precision_loss)] // percentages are far below 2^53
            let ratio = utilization as f64 / f64::from(percent);
            Ok((ratio, utilization))
        }
        Target::AverageValue(value) => {
            let total: i64 = metrics.values().fold(0i64, |a, v| a.saturating_add(*v));
            let count = i64::try_from(metrics.len()).unwrap_or(i64::MAX).max(1);
            let utilization = total / count;
            #[allow(clippy::cast_precision_loss)] // milli-values far below 2^53
            let ratio = utilization as f64 / value as f64;
            Ok((ratio, utilization))
        }
    }
}

fn ceil_replicas(ratio: f64, pods: usize) -> u32 {
    #[allow(clippy::cast_precision_loss)] // pod counts are small
    let wanted = (ratio * pods as f64).ceil();
    if wanted <= 0.0 {
        0
    } else if wanted >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked above
        let n = wanted as u32;
        n
    }
}

fn milli(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The HPA's replica calculation for one metric (`GetResourceReplicas` for a utilization
/// target, `GetMetricReplicas` for an average value), from Kubernetes'
/// `pkg/controller/podautoscaler/replica_calculator.go`.
///
/// Unready pods are left out; on a scale-up they count as using nothing. Pods in `missing`
/// (running, but without a sample) count as using nothing on a scale-up and as using their full
/// request (or the target, if above 100 %) on a scale-down. When counting those pods would
/// reverse the direction, or bring the ratio within tolerance, the count stays at `current`.
///
/// ```
/// use biv_availability::scale::{PodSample, Target, Tolerances, replica_count};
///
/// // kubernetes TestReplicaCalcScaleUp: 3 pods at 30 %, 50 %, 70 % of 1 CPU, target 30 %.
/// let pods = [
///     PodSample::new("a", true, 1000, 300),
///     PodSample::new("b", true, 1000, 500),
///     PodSample::new("c", true, 1000, 700),
/// ];
/// let r = replica_count(3, Target::Utilization(30), &pods, &[], Tolerances::default())?;
/// assert_eq!((r.replicas, r.utilization), (5, 50));
/// # Ok::<(), biv_availability::scale::ReplicaCalcError>(())
/// ```
///
/// # Errors
/// [`ReplicaCalcError`] when no ready pod has a sample, a request is missing for a
/// utilization target, the target is zero, or a pod name repeats.
pub fn replica_count(
    current: u32,
    target: Target,
    pods: &[PodSample],
    missing: &[MissingPod],
    tolerances: Tolerances,
) -> Result<ReplicaCalculation, ReplicaCalcError> {
    if matches!(target, Target::Utilization(0) | Target::AverageValue(0)) {
        return Err(ReplicaCalcError::ZeroTarget);
    }
    let mut requests: BTreeMap<&str, i64> = BTreeMap::new();
    let mut metrics: BTreeMap<&str, i64> = BTreeMap::new();
    let mut ignored: Vec<&str> = Vec::new();
    for pod in pods {
        if requests
            .insert(&pod.name, milli(pod.request_milli))
            .is_some()
        {
            return Err(ReplicaCalcError::DuplicatePod(pod.name.clone()));
        }
        if matches!(target, Target::Utilization(_)) && pod.request_milli == 0 {
            return Err(ReplicaCalcError::MissingRequest(pod.name.clone()));
        }
        if pod.ready {
            metrics.insert(&pod.name, milli(pod.usage_milli));
        } else {
            ignored.push(&pod.name);
        }
    }
    let mean_request = if pods.is_empty() {
        0
    } else {
        requests.values().sum::<i64>() / i64::try_from(pods.len()).unwrap_or(i64::MAX)
    };
    let mut missing_names: Vec<&str> = Vec::new();
    for pod in missing {
        let (name, request) = match pod {
            MissingPod::Name(name) => (name.as_str(), mean_request),
            MissingPod::WithRequest {
                name,
                request_milli,
            } => (name.as_str(), milli(*request_milli)),
        };
        if requests.insert(name, request).is_some() {
            return Err(ReplicaCalcError::DuplicatePod(name.to_owned()));
        }
        if matches!(target, Target::Utilization(_)) && request == 0 {
            return Err(ReplicaCalcError::MissingRequest(name.to_owned()));
        }
        missing_names.push(name);
    }
    if metrics.is_empty() {
        return Err(ReplicaCalcError::NoReadyPods);
    }
    let ready_count = metrics.len();

    let (ratio, utilization) = usage_ratio(&metrics, &requests, target)?;
    let rebalance_ignored = !ignored.is_empty() && ratio > 1.0;
    if !rebalance_ignored && missing_names.is_empty() {
        if tolerances.is_within(ratio) {
            return Ok(ReplicaCalculation {
                replicas: current,
                utilization,
            });
        }
        return Ok(ReplicaCalculation {
            replicas: ceil_replicas(ratio, ready_count),
            utilization,
        });
    }

    for name in &missing_names {
        let value = match target {
            // Scale-down: the full request, or the target if it is above 100 %.
            Target::Utilization(percent) if ratio < 1.0 => {
                let request = requests.get(name).copied().unwrap_or(0);
                request.saturating_mul(i64::from(percent.max(100))) / 100
            }
            Target::AverageValue(value) if ratio < 1.0 => milli(value),
            // A utilization exactly on target leaves missing pods out (as upstream does).
            Target::Utilization(_) if ratio <= 1.0 => continue,
            // Scale-up: a pod without a sample is assumed idle.
            _ => 0,
        };
        metrics.insert(name, value);
    }
    if rebalance_ignored {
        for name in &ignored {
            metrics.insert(name, 0);
        }
    }

    let (new_ratio, _) = usage_ratio(&metrics, &requests, target)?;
    let unchanged = ReplicaCalculation {
        replicas: current,
        utilization,
    };
    if tolerances.is_within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(unchanged);
    }
    let replicas = ceil_replicas(new_ratio, metrics.len());
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(unchanged);
    }
    Ok(ReplicaCalculation {
        replicas,
        utilization,
    })
}
