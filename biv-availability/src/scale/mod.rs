//! Scaling advice: a port of the Kubernetes HorizontalPodAutoscaler's algorithm.
//!
//! - [`replica_count`]: the replica calculation of `replica_calculator.go` (tolerance, unready
//!   and missing pods) for a utilization or average-value target.
//! - [`normalize`] and [`limit_by_rate`]: stabilization windows and scale-up/scale-down
//!   policies with `minReplicas`/`maxReplicas`, from `horizontal.go`, in the
//!   `autoscaling/v2` `behavior` shape.
//! - [`recommend`]: one reconciliation from a [`ScaleInput`] (the JSON of
//!   `biv scale recommend`) to a [`Recommendation`].
//!
//! - [`ScaleAdvisor`]: [`recommend`] run on every observation of a workload, keeping the
//!   history itself, with the advice exported as the metric `biv_scale_desired_replicas` that
//!   an HPA (through an external-metrics adapter) or KEDA scales on.
//!
//! Everything except the advisor is a pure function: history (past recommendations and scale
//! events) is input, so the same input always gives the same advice.

mod advisor;
mod behavior;
mod calc;
mod recommend;

pub use advisor::{
    AdviseError, DESIRED_REPLICAS_METRIC, HISTORY_HORIZON, MAX_HISTORY, MAX_WORKLOADS, ScaleAdvisor,
};
pub use behavior::{
    Behavior, HistoryEntry, PolicyType, ScalingPolicy, ScalingRules, SelectPolicy,
    stabilize_recommendation,
};
pub use calc::{
    MissingPod, PodSample, ReplicaCalcError, ReplicaCalculation, Target, Tolerances, replica_count,
};
pub use recommend::{
    RecommendError, Recommendation, ScaleInput, ScaleInputError, limit_by_rate, normalize,
    recommend,
};
