//! [`recommend`]: one HPA reconciliation as a pure function, with the JSON input and output of
//! `biv scale recommend`.

use serde::{Deserialize, Serialize};

use super::behavior::{
    Behavior, HistoryEntry, resolve_down, resolve_up, scale_down_limit, scale_up_limit,
    stabilize_recommendation,
};
use super::calc::{MissingPod, PodSample, ReplicaCalcError, Target, Tolerances, replica_count};

/// Everything the autoscaler looks at in one reconciliation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ScaleInput {
    /// The replica count now (`spec.replicas` of the scale target).
    pub current_replicas: u32,
    /// `minReplicas` (default 1).
    #[serde(default = "one")]
    pub min_replicas: u32,
    /// `maxReplicas`.
    pub max_replicas: u32,
    /// The tolerance around the target (default 0.1).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// The target.
    pub target: Target,
    /// The pods with their samples.
    pub pods: Vec<PodSample>,
    /// Running pods without a sample.
    #[serde(default)]
    pub missing_pods: Vec<MissingPod>,
    /// Scaling behavior (default: Kubernetes' defaults).
    #[serde(default)]
    pub behavior: Behavior,
    /// Past recommendations and scale events.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

fn one() -> u32 {
    1
}

fn default_tolerance() -> f64 {
    0.1
}

impl ScaleInput {
    /// An input with default tolerance, behavior and no history.
    pub fn new(
        current_replicas: u32,
        min_replicas: u32,
        max_replicas: u32,
        target: Target,
        pods: Vec<PodSample>,
    ) -> Self {
        ScaleInput {
            current_replicas,
            min_replicas,
            max_replicas,
            tolerance: default_tolerance(),
            target,
            pods,
            missing_pods: Vec::new(),
            behavior: Behavior::default(),
            history: Vec::new(),
        }
    }

    /// Sets the pods without samples.
    #[must_use]
    pub fn with_missing(mut self, missing: Vec<MissingPod>) -> Self {
        self.missing_pods = missing;
        self
    }

    /// Sets the behavior.
    #[must_use]
    pub fn with_behavior(mut self, behavior: Behavior) -> Self {
        self.behavior = behavior;
        self
    }

    /// Sets the history.
    #[must_use]
    pub fn with_history(mut self, history: Vec<HistoryEntry>) -> Self {
        self.history = history;
        self
    }

    /// Parses the JSON input of `biv scale recommend`.
    ///
    /// # Errors
    /// [`ScaleInputError`] naming the offending key when the JSON does not fit.
    pub fn from_json(text: &str) -> Result<Self, ScaleInputError> {
        let input: ScaleInput =
            serde_json::from_str(text).map_err(|e| ScaleInputError::Malformed(e.to_string()))?;
        input.validate()?;
        Ok(input)
    }

    pub(crate) fn validate(&self) -> Result<(), ScaleInputError> {
        if self.max_replicas == 0 {
            return Err(ScaleInputError::Invalid("max_replicas must be at least 1"));
        }
        if self.min_replicas > self.max_replicas {
            return Err(ScaleInputError::Invalid(
                "min_replicas must not exceed max_replicas",
            ));
        }
        if !(self.tolerance.is_finite() && (0.0..1.0).contains(&self.tolerance)) {
            return Err(ScaleInputError::Invalid(
                "tolerance must be at least 0 and below 1",
            ));
        }
        if self
            .history
            .iter()
            .any(|h| !h.seconds_ago.is_finite() || h.seconds_ago < 0.0)
        {
            return Err(ScaleInputError::Invalid(
                "history: seconds_ago must be a non-negative number",
            ));
        }
        Ok(())
    }
}

/// Why a [`ScaleInput`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScaleInputError {
    /// Not JSON, an unknown key, or a value of the wrong type (the message names it).
    #[error("malformed input: {0}")]
    Malformed(String),
    /// The values contradict each other.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
}

/// Why no recommendation could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecommendError {
    /// The metric could not be turned into a replica count.
    #[error(transparent)]
    Calc(#[from] ReplicaCalcError),
}

/// The advice: `{"desired_replicas","utilization","reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recommendation {
    /// The replica count to scale to.
    pub desired_replicas: u32,
    /// The measured utilization (percent of requests, or milli-units per pod); absent when the
    /// metric was not consulted.
    pub utilization: Option<i64>,
    /// Why: Kubernetes' condition reason — `DesiredWithinRange`, `ScaleUpLimit`,
    /// `ScaleDownLimit`, `TooManyReplicas`, `TooFewReplicas`, `ScaleUpStabilized`,
    /// `ScaleDownStabilized`, or `ScalingDisabled` when the target is scaled to zero.
    pub reason: String,
}

/// One reconciliation of a HorizontalPodAutoscaler, as Kubernetes' `reconcileAutoscaler` does
/// it with `autoscaling/v2` behavior: the replica calculation, then the stabilization windows,
/// then the rate policies and `minReplicas`/`maxReplicas`.
///
/// ```
/// use biv_availability::scale::{PodSample, ScaleInput, Target, recommend};
///
/// let pods = (0..10).map(|i| PodSample::new(format!("p{i}"), true, 1000, 1000)).collect();
/// let input = ScaleInput::new(10, 1, 1000, Target::Utilization(20), pods);
/// // The metric asks for 50, the default scale-up policy allows doubling per 15 s.
/// let advice = recommend(&input)?;
/// assert_eq!((advice.desired_replicas, advice.reason.as_str()), (20, "ScaleUpLimit"));
/// # Ok::<(), biv_availability::scale::RecommendError>(())
/// ```
///
/// # Errors
/// [`RecommendError`] when the replica count cannot be calculated from the pods.
pub fn recommend(input: &ScaleInput) -> Result<Recommendation, RecommendError> {
    recommend_with_raw(input).map(|(advice, _)| advice)
}

/// [`recommend`], plus the replica count the metric asked for before behavior and
/// `minReplicas`/`maxReplicas` — what Kubernetes keeps as the recommendation history for the
/// stabilization windows — or `None` when the metric was not consulted.
pub(crate) fn recommend_with_raw(
    input: &ScaleInput,
) -> Result<(Recommendation, Option<u32>), RecommendError> {
    let current = input.current_replicas;
    let fixed = |desired_replicas: u32, reason: &str| {
        Ok((
            Recommendation {
                desired_replicas,
                utilization: None,
                reason: reason.to_owned(),
            },
            None,
        ))
    };
    if current == 0 && input.min_replicas != 0 {
        return fixed(0, "ScalingDisabled");
    }
    if current > input.max_replicas {
        return fixed(input.max_replicas, "TooManyReplicas");
    }
    if current < input.min_replicas {
        return fixed(input.min_replicas, "TooFewReplicas");
    }
    let calc = replica_count(
        current,
        input.target,
        &input.pods,
        &input.missing_pods,
        Tolerances::symmetric(input.tolerance),
    )?;
    let (desired, reason) = normalize(
        current,
        calc.replicas,
        input.min_replicas,
        input.max_replicas,
        &input.behavior,
        &input.history,
    );
    Ok((
        Recommendation {
            desired_replicas: desired,
            utilization: Some(calc.utilization),
            reason,
        },
        Some(calc.replicas),
    ))
}

/// `normalizeDesiredReplicasWithBehaviors`: stabilize `desired`, then limit it by the rate
/// policies and `min`/`max`. Returns the count and the reason.
///
/// ```
/// use biv_availability::scale::{Behavior, normalize};
/// // kubernetes TestScalingWithRules "scaleUp with default behavior": 10 → 50 gives 20.
/// let (n, reason) = normalize(10, 50, 1, 1000, &Behavior::default(), &[]);
/// assert_eq!((n, reason.as_str()), (20, "ScaleUpLimit"));
/// ```
pub fn normalize(
    current: u32,
    desired: u32,
    min: u32,
    max: u32,
    behavior: &Behavior,
    history: &[HistoryEntry],
) -> (u32, String) {
    let up = resolve_up(behavior.scale_up.as_ref());
    let down = resolve_down(behavior.scale_down.as_ref());
    let stabilized = stabilize_recommendation(current, desired, history, up.window, down.window);
    let (limited, reason) = limit_by_rate(current, stabilized, min, max, behavior, history);
    if reason == "DesiredWithinRange" && stabilized != desired {
        let reason = if desired >= current {
            "ScaleUpStabilized"
        } else {
            "ScaleDownStabilized"
        };
        return (limited, reason.to_owned());
    }
    (limited, reason.to_owned())
}

/// `convertDesiredReplicasWithBehaviorRate`: the rate policies and `min`/`max`, without
/// stabilization. Returns the count and the condition reason.
///
/// ```
/// use biv_availability::scale::{Behavior, HistoryEntry, PolicyType, ScalingPolicy, ScalingRules, limit_by_rate};
/// // kubernetes TestScalingWithRules "scaleUp with pod policy and previous scale up events".
/// let rules = ScalingRules::new(0, vec![ScalingPolicy::new(PolicyType::Pods, 150, 120)]);
/// let history = [1, 5, 9].iter().zip([100.0, 60.0, 20.0])
///     .map(|(c, ago)| HistoryEntry::scale_event(ago, *c)).collect::<Vec<_>>();
/// let (n, _) = limit_by_rate(100, 500, 1, 1000, &Behavior::new(Some(rules), None), &history);
/// assert_eq!(n, 235);
/// ```
pub fn limit_by_rate(
    current: u32,
    desired: u32,
    min: u32,
    max: u32,
    behavior: &Behavior,
    history: &[HistoryEntry],
) -> (u32, &'static str) {
    let current_i = i64::from(current);
    if desired > current {
        let up = resolve_up(behavior.scale_up.as_ref());
        let limit = scale_up_limit(current_i, history, &up).max(current_i);
        let (allowed, reason) = if i64::from(max) > limit {
            (limit, "ScaleUpLimit")
        } else {
            (i64::from(max), "TooManyReplicas")
        };
        if i64::from(desired) > allowed {
            return (u32::try_from(allowed).unwrap_or(max), reason);
        }
    } else if desired < current {
        let down = resolve_down(behavior.scale_down.as_ref());
        let limit = scale_down_limit(current_i, history, &down).min(current_i);
        let (allowed, reason) = if i64::from(min) < limit {
            (limit, "ScaleDownLimit")
        } else {
            (i64::from(min), "TooFewReplicas")
        };
        if i64::from(desired) < allowed {
            return (u32::try_from(allowed).unwrap_or(min), reason);
        }
    }
    (desired, "DesiredWithinRange")
}
