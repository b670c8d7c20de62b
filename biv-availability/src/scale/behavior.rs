//! Scaling behavior: stabilization windows and rate policies (`horizontal.go`), in the shape of
//! Kubernetes' `autoscaling/v2` `HorizontalPodAutoscalerBehavior`.

use serde::{Deserialize, Serialize};

/// The kind of a rate policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PolicyType {
    /// At most `value` pods per period.
    Pods,
    /// At most `value` percent of the pods at the start of the period, per period.
    Percent,
}

/// One rate policy (`HPAScalingPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub kind: PolicyType,
    /// The number of pods or the percentage.
    pub value: u32,
    /// The period the limit applies to, in seconds.
    pub period_seconds: u32,
}

impl ScalingPolicy {
    /// A policy.
    pub fn new(kind: PolicyType, value: u32, period_seconds: u32) -> Self {
        ScalingPolicy {
            kind,
            value,
            period_seconds,
        }
    }
}

/// Which policy wins when there are several (`selectPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SelectPolicy {
    /// The policy allowing the largest change (the default).
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// The rules for one direction (`HPAScalingRules`); absent fields take Kubernetes' defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ScalingRules {
    /// Seconds of past recommendations to consider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<u32>,
    /// Which policy wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<SelectPolicy>,
    /// The rate policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ScalingPolicy>>,
}

impl ScalingRules {
    /// Rules with a window, `Max` selection and the given policies.
    pub fn new(stabilization_window_seconds: u32, policies: Vec<ScalingPolicy>) -> Self {
        ScalingRules {
            stabilization_window_seconds: Some(stabilization_window_seconds),
            select_policy: Some(SelectPolicy::Max),
            policies: Some(policies),
        }
    }

    /// Sets the policy selection.
    #[must_use]
    pub fn with_select_policy(mut self, select: SelectPolicy) -> Self {
        self.select_policy = Some(select);
        self
    }
}

/// Scale-up and scale-down rules (`HorizontalPodAutoscalerBehavior`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Behavior {
    /// Rules for scaling up; defaults: window 0 s, `Max` of 4 pods and 100 % per 15 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingRules>,
    /// Rules for scaling down; defaults: window 300 s, 100 % per 15 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingRules>,
}

impl Behavior {
    /// The given rules for each direction (`None` takes the defaults).
    pub fn new(scale_up: Option<ScalingRules>, scale_down: Option<ScalingRules>) -> Self {
        Behavior {
            scale_up,
            scale_down,
        }
    }
}

/// Rules with every default filled in (`GenerateHPAScaleUpRules` / `…ScaleDownRules`).
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) window: u32,
    pub(crate) select: SelectPolicy,
    pub(crate) policies: Vec<ScalingPolicy>,
}

pub(crate) fn resolve_up(rules: Option<&ScalingRules>) -> Resolved {
    let default = vec![
        ScalingPolicy::new(PolicyType::Pods, 4, 15),
        ScalingPolicy::new(PolicyType::Percent, 100, 15),
    ];
    resolve(rules, 0, default)
}

pub(crate) fn resolve_down(rules: Option<&ScalingRules>) -> Resolved {
    resolve(
        rules,
        300,
        vec![ScalingPolicy::new(PolicyType::Percent, 100, 15)],
    )
}

fn resolve(rules: Option<&ScalingRules>, window: u32, policies: Vec<ScalingPolicy>) -> Resolved {
    Resolved {
        window: rules
            .and_then(|r| r.stabilization_window_seconds)
            .unwrap_or(window),
        select: rules.and_then(|r| r.select_policy).unwrap_or_default(),
        policies: rules
            .and_then(|r| r.policies.clone())
            .filter(|p| !p.is_empty())
            .unwrap_or(policies),
    }
}

/// A past recommendation or scale event, `seconds_ago` before now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// How long ago, in seconds.
    pub seconds_ago: f64,
    /// The replica count recommended then (before behavior), for the stabilization windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<u32>,
    /// The change made then: positive for a scale-up, negative for a scale-down, for the rate
    /// policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_change: Option<i64>,
}

impl HistoryEntry {
    /// A past recommendation.
    pub fn recommendation(seconds_ago: f64, replicas: u32) -> Self {
        HistoryEntry {
            seconds_ago,
            recommendation: Some(replicas),
            replica_change: None,
        }
    }

    /// A past scale event (`change` > 0 up, < 0 down).
    pub fn scale_event(seconds_ago: f64, change: i64) -> Self {
        HistoryEntry {
            seconds_ago,
            recommendation: None,
            replica_change: Some(change),
        }
    }
}

/// Replicas added (`up`) or removed (`!up`) less than `period` seconds ago
/// (`getReplicasChangePerPeriod`).
fn change_in_period(history: &[HistoryEntry], period: u32, up: bool) -> i64 {
    history
        .iter()
        .filter(|h| h.seconds_ago < f64::from(period))
        .filter_map(|h| h.replica_change)
        .filter(|c| if up { *c > 0 } else { *c < 0 })
        .map(i64::abs)
        .sum()
}

/// The highest count scaling up may reach now (`calculateScaleUpLimitWithScalingRules`).
pub(crate) fn scale_up_limit(current: i64, history: &[HistoryEntry], rules: &Resolved) -> i64 {
    if rules.select == SelectPolicy::Disabled {
        return current;
    }
    let mut result: Option<i64> = None;
    for policy in &rules.policies {
        let start = current - change_in_period(history, policy.period_seconds, true)
            + change_in_period(history, policy.period_seconds, false);
        let proposed = match policy.kind {
            PolicyType::Pods => start + i64::from(policy.value),
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            PolicyType::Percent => {
                (start as f64 * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i64
            }
        };
        result = Some(match (result, rules.select) {
            (None, _) => proposed,
            (Some(r), SelectPolicy::Min) => r.min(proposed),
            (Some(r), _) => r.max(proposed),
        });
    }
    result.unwrap_or(current)
}

/// The lowest count scaling down may reach now (`calculateScaleDownLimitWithBehaviors`).
pub(crate) fn scale_down_limit(current: i64, history: &[HistoryEntry], rules: &Resolved) -> i64 {
    if rules.select == SelectPolicy::Disabled {
        return current;
    }
    let mut result: Option<i64> = None;
    for policy in &rules.policies {
        let start = current - change_in_period(history, policy.period_seconds, true)
            + change_in_period(history, policy.period_seconds, false);
        let proposed = match policy.kind {
            PolicyType::Pods => start - i64::from(policy.value),
            // Truncation toward zero, as Go's int32(float64) conversion.
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            PolicyType::Percent => (start as f64 * (1.0 - f64::from(policy.value) / 100.0)) as i64,
        };
        result = Some(match (result, rules.select) {
            (None, _) => proposed,
            (Some(r), SelectPolicy::Min) => r.max(proposed),
            (Some(r), _) => r.min(proposed),
        });
    }
    result.unwrap_or(current)
}

/// The stabilized recommendation (`stabilizeRecommendationWithBehaviors`): the lowest
/// recommendation (with `desired`) inside the scale-up window bounds it from below, the highest
/// inside the scale-down window from above; the current count is moved into those bounds.
/// A recommendation counts when it is less than the window's length old.
///
/// ```
/// use biv_availability::scale::{HistoryEntry, stabilize_recommendation};
/// // kubernetes TestNormalizeDesiredReplicasWithBehavior "simple scale down stabilization".
/// let history = [HistoryEntry::recommendation(120.0, 4), HistoryEntry::recommendation(60.0, 5)];
/// assert_eq!(stabilize_recommendation(100, 3, &history, 0, 180), 5);
/// ```
pub fn stabilize_recommendation(
    current: u32,
    desired: u32,
    history: &[HistoryEntry],
    up_window: u32,
    down_window: u32,
) -> u32 {
    let mut up = desired;
    let mut down = desired;
    for h in history {
        let Some(rec) = h.recommendation else {
            continue;
        };
        if h.seconds_ago < f64::from(up_window) {
            up = up.min(rec);
        }
        if h.seconds_ago < f64::from(down_window) {
            down = down.max(rec);
        }
    }
    current.max(up).min(down)
}
