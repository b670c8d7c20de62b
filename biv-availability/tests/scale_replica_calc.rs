//! `replica_count` against the cases of kubernetes/kubernetes
//! `pkg/controller/podautoscaler/replica_calculator_test.go` (commit
//! 00067268967ec95a40035bd666374a1caf48dd1a as stored by the project's search index).
//!
//! Translation of the upstream harness: pod `i` is `test-pod-i`; `levels[i]` is the sample of
//! pod `i`, so pods beyond `len(levels)` are *missing*; `requests` are per pod (upstream puts the
//! same request and usage on two containers, which leaves every ratio unchanged; raw values are
//! not compared here). A pod counts as not ready where upstream's `groupPods` ignores it: for CPU
//! a pod whose readiness is false or that is still "hot" (inside the CPU initialisation period),
//! and for any metric a `Pending` pod. Upstream applies readiness to CPU only, so for the
//! custom-metric ("CM") cases every running pod is ready. Failed pods and pods being deleted are
//! left out, as upstream skips them.

use biv_availability::scale::{
    MissingPod, PodSample, ReplicaCalcError, Target, Tolerances, replica_count,
};

const CPU_REQUEST: u64 = 1000;

/// Pods `test-pod-0..` with CPU requests, readiness and levels; pods without a level are missing.
fn cpu_pods(requests: &[u64], ready: &[bool], levels: &[u64]) -> (Vec<PodSample>, Vec<MissingPod>) {
    let mut pods = Vec::new();
    let mut missing = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let name = format!("test-pod-{i}");
        match levels.get(i) {
            Some(level) => pods.push(PodSample::new(
                name,
                ready.get(i).copied().unwrap_or(true),
                *request,
                *level,
            )),
            None => missing.push(MissingPod::WithRequest {
                name,
                request_milli: *request,
            }),
        }
    }
    (pods, missing)
}

fn run_cpu(
    current: u32,
    requests: &[u64],
    ready: &[bool],
    levels: &[u64],
    target: u32,
) -> (u32, i64) {
    let (pods, missing) = cpu_pods(requests, ready, levels);
    let r = replica_count(
        current,
        Target::Utilization(target),
        &pods,
        &missing,
        Tolerances::default(),
    )
    .expect("the calculation succeeds");
    (r.replicas, r.utilization)
}

fn run_cm(current: u32, levels: &[u64], target: u64) -> (u32, i64) {
    let pods: Vec<PodSample> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| PodSample::new(format!("test-pod-{i}"), true, 0, *l))
        .collect();
    let r = replica_count(
        current,
        Target::AverageValue(target),
        &pods,
        &[],
        Tolerances::default(),
    )
    .expect("the calculation succeeds");
    (r.replicas, r.utilization)
}

const R3: [u64; 3] = [CPU_REQUEST; 3];
const R4: [u64; 4] = [CPU_REQUEST; 4];
const R5: [u64; 5] = [CPU_REQUEST; 5];

#[test]
fn scale_up() {
    assert_eq!(run_cpu(3, &R3, &[], &[300, 500, 700], 30), (5, 50));
}

#[test]
fn scale_up_unready_less_scale() {
    assert_eq!(
        run_cpu(3, &R3, &[false, true, true], &[300, 500, 700], 30),
        (4, 60)
    );
}

#[test]
fn scale_up_hot_cpu_less_scale() {
    // The hot pod is treated like an unready one.
    assert_eq!(
        run_cpu(3, &R3, &[false, true, true], &[300, 500, 700], 30),
        (4, 60)
    );
}

#[test]
fn scale_up_unready_no_scale() {
    assert_eq!(
        run_cpu(3, &R3, &[true, false, false], &[400, 500, 700], 30),
        (3, 40)
    );
}

#[test]
fn scale_hot_cpu_no_scale() {
    assert_eq!(
        run_cpu(3, &R3, &[true, false, false], &[400, 500, 700], 30),
        (3, 40)
    );
}

#[test]
fn scale_up_ignores_failed_and_deleted_pods() {
    // TestReplicaCalcScaleUpIgnoresFailedPods / …IgnoresDeletionPods: the two failed (or
    // deleting) pods are not listed.
    assert_eq!(run_cpu(2, &[CPU_REQUEST; 2], &[], &[500, 700], 30), (4, 60));
}

#[test]
fn scale_up_cm() {
    assert_eq!(run_cm(3, &[20000, 10000, 30000], 15000), (4, 20000));
}

#[test]
fn scale_up_cm_unready_hot_cpu_no_less_scale() {
    assert_eq!(run_cm(3, &[50000, 10000, 30000], 15000), (6, 30000));
}

#[test]
fn scale_up_cm_unready_hot_cpu_scale_would_scale_down() {
    assert_eq!(run_cm(3, &[50000, 15000, 30000], 15000), (7, 31666));
}

#[test]
fn scale_down() {
    assert_eq!(
        run_cpu(5, &R5, &[], &[100, 300, 500, 250, 250], 50),
        (3, 28)
    );
}

#[test]
fn scale_down_cm() {
    assert_eq!(run_cm(5, &[12000; 5], 20000), (3, 12000));
}

#[test]
fn scale_down_include_unready_pods() {
    let ready = [true, true, true, false, false];
    assert_eq!(
        run_cpu(5, &R5, &ready, &[100, 300, 500, 250, 250], 50),
        (2, 30)
    );
}

#[test]
fn scale_down_exclude_unscheduled_pods() {
    // Four Pending pods without samples: ignored, not missing.
    let pods: Vec<PodSample> = (0..5)
        .map(|i| {
            PodSample::new(
                format!("test-pod-{i}"),
                i == 0,
                CPU_REQUEST,
                if i == 0 { 100 } else { 0 },
            )
        })
        .collect();
    let r = replica_count(
        5,
        Target::Utilization(50),
        &pods,
        &[],
        Tolerances::default(),
    )
    .unwrap();
    assert_eq!((r.replicas, r.utilization), (1, 10));
}

#[test]
fn scale_down_ignore_hot_cpu_pods() {
    let ready = [true, true, true, false, false];
    assert_eq!(
        run_cpu(5, &R5, &ready, &[100, 300, 500, 250, 250], 50),
        (2, 30)
    );
}

#[test]
fn scale_down_ignores_failed_and_deleted_pods() {
    assert_eq!(
        run_cpu(5, &R5, &[], &[100, 300, 500, 250, 250], 50),
        (3, 28)
    );
}

#[test]
fn tolerance() {
    assert_eq!(
        run_cpu(3, &[900, 1000, 1100], &[], &[1010, 1030, 1020], 100),
        (3, 102)
    );
}

#[test]
fn tolerance_cm() {
    assert_eq!(run_cm(3, &[20000, 21000, 21000], 20000), (3, 20666));
}

#[test]
fn superfluous_metrics() {
    // Upstream also reports samples for two pods that do not exist (3200, 2000); they match no
    // pod and are ignored, so only the four pods are listed here.
    assert_eq!(
        run_cpu(4, &R4, &[], &[4000, 9500, 3000, 7000], 100),
        (24, 587)
    );
}

#[test]
fn missing_metrics() {
    assert_eq!(run_cpu(4, &R4, &[], &[400, 95], 100), (3, 24));
}

#[test]
fn empty_metrics_is_an_error() {
    let (pods, missing) = cpu_pods(&R3, &[], &[]);
    assert_eq!(
        replica_count(
            4,
            Target::Utilization(100),
            &pods,
            &missing,
            Tolerances::default()
        ),
        Err(ReplicaCalcError::NoReadyPods)
    );
}

#[test]
fn empty_cpu_request_is_an_error() {
    let pods = [PodSample::new("test-pod-0", true, 0, 200)];
    assert_eq!(
        replica_count(
            1,
            Target::Utilization(100),
            &pods,
            &[],
            Tolerances::default()
        ),
        Err(ReplicaCalcError::MissingRequest("test-pod-0".into()))
    );
}

#[test]
fn missing_metrics_no_change_eq() {
    assert_eq!(run_cpu(2, &[CPU_REQUEST; 2], &[], &[1000], 100), (2, 100));
}

#[test]
fn missing_metrics_no_change_gt() {
    assert_eq!(run_cpu(2, &[CPU_REQUEST; 2], &[], &[1900], 100), (2, 190));
}

#[test]
fn missing_metrics_no_change_lt() {
    assert_eq!(run_cpu(2, &[CPU_REQUEST; 2], &[], &[600], 100), (2, 60));
}

#[test]
fn missing_metrics_unready_change() {
    assert_eq!(
        run_cpu(3, &R3, &[false, true, true], &[100, 450], 50),
        (3, 45)
    );
}

#[test]
fn missing_metrics_hot_cpu_no_change() {
    assert_eq!(
        run_cpu(3, &R3, &[false, true, true], &[100, 450], 50),
        (3, 45)
    );
}

#[test]
fn missing_metrics_unready_scale_up() {
    assert_eq!(
        run_cpu(3, &R3, &[false, true, true], &[100, 2000], 50),
        (4, 200)
    );
}

#[test]
fn missing_metrics_hot_cpu_scale_up() {
    assert_eq!(
        run_cpu(3, &R3, &[false, true, true], &[100, 2000], 50),
        (4, 200)
    );
}

#[test]
fn missing_metrics_unready_scale_down() {
    assert_eq!(
        run_cpu(4, &R4, &[false, true, true, true], &[100, 100, 100], 50),
        (3, 10)
    );
}

#[test]
fn during_rolling_update_with_max_surge() {
    assert_eq!(run_cpu(2, &R3, &[], &[100, 100], 50), (2, 10));
}

/// TestReplicaCalcComputedToleranceAlgImplementation, with upstream's arithmetic.
#[test]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn computed_tolerance_alg_implementation() {
    let start_pods: i64 = 10;
    let total_used = start_pods * 150;
    let total_requested = 2 * total_used;
    let requested_to_used = (total_requested / total_used) as f64;
    let per_pod_requested = total_requested / start_pods;
    let tolerance = 0.1;

    let target = (1.0 / (requested_to_used * (1.0 - tolerance))).abs() + 0.01;
    let final_cpu_percent_target = (target * 100.0) as u32;
    let resources_used_ratio = total_used as f64 / (total_requested as f64 * target);
    let final_pods = (resources_used_ratio * start_pods as f64).ceil() as u32;

    let requests: Vec<u64> = [100, -100, 10, -10, 2, -2, 1, -1, 0, 0]
        .iter()
        .map(|d| (per_pod_requested + d) as u64)
        .collect();
    let levels = vec![(total_used / 10) as u64; 10];
    let expected_utilization = total_used * 100 / total_requested;
    assert_eq!(
        run_cpu(10, &requests, &[], &levels, final_cpu_percent_target),
        (final_pods, expected_utilization)
    );

    // Just inside the tolerance: no change.
    let target = (1.0 / (requested_to_used * (1.0 - tolerance))).abs() + 0.004;
    let final_cpu_percent_target = (target * 100.0) as u32;
    assert_eq!(
        run_cpu(10, &requests, &[], &levels, final_cpu_percent_target),
        (10, expected_utilization)
    );
}

#[test]
fn duplicate_pods_are_refused() {
    let pods = [
        PodSample::new("a", true, 1000, 100),
        PodSample::new("a", true, 1000, 100),
    ];
    assert_eq!(
        replica_count(
            2,
            Target::Utilization(50),
            &pods,
            &[],
            Tolerances::default()
        ),
        Err(ReplicaCalcError::DuplicatePod("a".into()))
    );
}
