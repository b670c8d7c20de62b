//! `ScaleAdvisor`: the HPA algorithm over successive observations, with the history the
//! advisor keeps itself, and the advice exported as metrics.

use std::sync::Arc;
use std::time::Duration;

use biv_availability::metrics::{Format, Registry};
use biv_availability::scale::{
    AdviseError, MAX_WORKLOADS, PodSample, ScaleAdvisor, ScaleInput, Target, recommend,
};
use biv_core::Timestamp;
use biv_testkit::ManualClock;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::from_unix_seconds(1_800_000_000, 0).expect("a valid time"),
    ))
}

/// `n` ready pods, each requesting 1000m and using `usage` milli-cores.
fn pods(n: u32, usage: u64) -> Vec<PodSample> {
    (0..n)
        .map(|i| PodSample::new(format!("web-{i}"), true, 1000, usage))
        .collect()
}

/// The value of the series `name{labels}` in the Prometheus text of `registry`.
fn series(registry: &Registry, series: &str) -> Option<f64> {
    registry
        .encode(Format::Prometheus)
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn the_advice_and_its_inputs_are_exported_per_workload() {
    let registry = Registry::new();
    let advisor = ScaleAdvisor::new(&registry, clock()).expect("fresh registry");
    // 4 pods at 90 % against a 60 % target: 6 replicas.
    let advice = advisor
        .observe(
            "web",
            ScaleInput::new(4, 2, 10, Target::Utilization(60), pods(4, 900)),
        )
        .expect("advice");
    assert_eq!(advice.desired_replicas, 6);
    // 3 pods at 20 % against 60 %: 1 replica wanted, but minReplicas is 2.
    let other = advisor
        .observe(
            "worker",
            ScaleInput::new(3, 2, 10, Target::Utilization(60), pods(3, 200)),
        )
        .expect("advice");
    assert_eq!(other.desired_replicas, 2);

    let desired = |w: &str| {
        series(
            &registry,
            &format!("biv_scale_desired_replicas{{workload=\"{w}\"}}"),
        )
    };
    assert_eq!(desired("web"), Some(6.0));
    assert_eq!(desired("worker"), Some(2.0));
    assert_eq!(
        series(&registry, "biv_scale_current_replicas{workload=\"web\"}"),
        Some(4.0)
    );
    assert_eq!(
        series(&registry, "biv_scale_utilization{workload=\"web\"}"),
        Some(90.0)
    );
    assert_eq!(
        series(
            &registry,
            &format!(
                "biv_scale_recommendations_total{{workload=\"web\",reason=\"{}\"}}",
                advice.reason
            )
        ),
        Some(1.0)
    );
    assert_eq!(advisor.workloads(), ["web", "worker"]);
}

#[test]
fn scale_down_is_stabilized_over_the_window_the_advisor_remembers() {
    let registry = Registry::new();
    let clock = clock();
    let advisor = ScaleAdvisor::new(&registry, clock.clone()).expect("fresh registry");
    let observe = |usage| {
        advisor
            .observe(
                "web",
                ScaleInput::new(10, 1, 20, Target::Utilization(50), pods(10, usage)),
            )
            .expect("advice")
    };
    // At the target: 10 is recommended and remembered.
    assert_eq!(observe(500).desired_replicas, 10);
    // Load halves a minute later: the metric asks for 5, but the 10 of a minute ago is inside
    // the default 300 s scale-down window.
    clock.advance(Duration::from_secs(60));
    let held = observe(250);
    assert_eq!(
        (held.desired_replicas, held.reason.as_str()),
        (10, "ScaleDownStabilized")
    );
    // The same input without the advisor's memory would scale down at once: the window is
    // what the advisor adds.
    let stateless = recommend(&ScaleInput::new(
        10,
        1,
        20,
        Target::Utilization(50),
        pods(10, 250),
    ))
    .expect("advice");
    assert_eq!(stateless.desired_replicas, 5);
    // Once the 10 has left the window, the advice follows the metric.
    clock.advance(Duration::from_secs(241));
    assert_eq!(observe(250).desired_replicas, 5);
    assert_eq!(
        series(&registry, "biv_scale_desired_replicas{workload=\"web\"}"),
        Some(5.0)
    );
}

#[test]
fn scale_up_rate_counts_the_scale_events_the_advisor_observed() {
    let registry = Registry::new();
    let clock = clock();
    let advisor = ScaleAdvisor::new(&registry, clock.clone()).expect("fresh registry");
    let observe = |current: u32| {
        advisor
            .observe(
                "web",
                ScaleInput::new(
                    current,
                    1,
                    100,
                    Target::Utilization(10),
                    pods(current, 1000),
                ),
            )
            .expect("advice")
    };
    // 2 pods at 100 % against 10 % want 20; the default policies allow max(+100 %, +4 pods)
    // per 15 s: 6.
    let first = observe(2);
    assert_eq!(
        (first.desired_replicas, first.reason.as_str()),
        (6, "ScaleUpLimit")
    );
    // Five seconds later the workload runs 6: the +4 is a scale event inside the 15 s period,
    // so the period started at 2 and 6 is still the limit.
    clock.advance(Duration::from_secs(5));
    let second = observe(6);
    assert_eq!(
        (second.desired_replicas, second.reason.as_str()),
        (6, "ScaleUpLimit")
    );
    // Without the advisor's memory of the +4, 6 could double to 12 at once.
    let stateless = recommend(&ScaleInput::new(
        6,
        1,
        100,
        Target::Utilization(10),
        pods(6, 1000),
    ))
    .expect("advice");
    assert_eq!(stateless.desired_replicas, 12);
    // The advisor dates the +4 at the observation that saw it; 15 s after that, the period is
    // over and the limit moves on from 6.
    clock.advance(Duration::from_secs(14));
    assert_eq!(observe(6).desired_replicas, 6);
    clock.advance(Duration::from_secs(1));
    assert_eq!(observe(6).desired_replicas, 12);
}

#[test]
fn refused_observations_change_nothing() {
    let registry = Registry::new();
    let advisor = ScaleAdvisor::new(&registry, clock()).expect("fresh registry");
    advisor
        .observe(
            "web",
            ScaleInput::new(4, 1, 10, Target::Utilization(50), pods(4, 500)),
        )
        .expect("advice");
    let before = registry.encode(Format::Prometheus);

    let no_ready_pods: Vec<PodSample> = (0..4)
        .map(|i| PodSample::new(format!("web-{i}"), false, 1000, 900))
        .collect();
    assert!(matches!(
        advisor.observe(
            "web",
            ScaleInput::new(4, 1, 10, Target::Utilization(50), no_ready_pods)
        ),
        Err(AdviseError::Recommend(_))
    ));
    assert!(matches!(
        advisor.observe(
            "web",
            ScaleInput::new(4, 5, 3, Target::Utilization(50), pods(4, 500))
        ),
        Err(AdviseError::Input(_))
    ));
    for bad in ["", "a\nb", &"x".repeat(254)] {
        assert!(matches!(
            advisor.observe(
                bad,
                ScaleInput::new(4, 1, 10, Target::Utilization(50), pods(4, 500))
            ),
            Err(AdviseError::Workload(_))
        ));
    }
    assert_eq!(registry.encode(Format::Prometheus), before);
    assert_eq!(advisor.workloads(), ["web"]);
}

#[test]
fn the_number_of_workloads_is_bounded() {
    let registry = Registry::new();
    let advisor = ScaleAdvisor::new(&registry, clock()).expect("fresh registry");
    let input = || ScaleInput::new(2, 1, 10, Target::Utilization(50), pods(2, 500));
    for i in 0..MAX_WORKLOADS {
        advisor
            .observe(&format!("w{i}"), input())
            .expect("within the bound");
    }
    assert_eq!(
        advisor.observe("one-too-many", input()),
        Err(AdviseError::TooManyWorkloads)
    );
    // A workload it already tracks is still advised.
    assert!(advisor.observe("w0", input()).is_ok());
}

#[test]
fn one_advisor_per_registry() {
    let registry = Registry::new();
    let _first = ScaleAdvisor::new(&registry, clock()).expect("fresh registry");
    assert!(ScaleAdvisor::new(&registry, clock()).is_err());
}

#[test]
fn a_refused_first_observation_leaves_no_trace_and_forget_frees_the_workload() {
    let registry = Registry::new();
    let advisor = ScaleAdvisor::new(&registry, clock()).expect("fresh registry");
    let no_ready: Vec<PodSample> = (0..2)
        .map(|i| PodSample::new(format!("web-{i}"), false, 1000, 900))
        .collect();
    assert!(
        advisor
            .observe(
                "new",
                ScaleInput::new(2, 1, 10, Target::Utilization(50), no_ready)
            )
            .is_err()
    );
    assert!(advisor.workloads().is_empty());
    assert!(
        !registry
            .encode(Format::Prometheus)
            .contains("workload=\"new\"")
    );

    advisor
        .observe(
            "gone",
            ScaleInput::new(2, 1, 10, Target::Utilization(50), pods(2, 500)),
        )
        .expect("advice");
    assert!(
        registry
            .encode(Format::Prometheus)
            .contains("workload=\"gone\"")
    );
    assert!(
        series(
            &registry,
            "biv_scale_last_observation_timestamp_seconds{workload=\"gone\"}"
        )
        .is_some_and(|t| t > 1.7e9)
    );
    assert!(advisor.forget("gone"));
    assert!(!advisor.forget("gone"));
    assert!(advisor.workloads().is_empty());
    let text = registry.encode(Format::Prometheus);
    assert!(!text.contains("workload=\"gone\""), "{text}");
}

#[test]
fn steady_advice_is_kept_with_its_newest_time() {
    let registry = Registry::new();
    let clock = clock();
    let advisor = ScaleAdvisor::new(&registry, clock.clone()).expect("fresh registry");
    let observe = |usage| {
        advisor
            .observe(
                "web",
                ScaleInput::new(10, 1, 20, Target::Utilization(50), pods(10, usage)),
            )
            .expect("advice")
    };
    // Ten minutes of steady advice for 10, one observation a second.
    for _ in 0..600 {
        assert_eq!(observe(500).desired_replicas, 10);
        clock.advance(Duration::from_secs(1));
    }
    // The load halves: the last 10 is one second old, so the scale-down waits the whole
    // 300 s window from the *last* 10, not from the first.
    assert_eq!(observe(250).desired_replicas, 10);
    clock.advance(Duration::from_secs(290));
    assert_eq!(observe(250).desired_replicas, 10);
    clock.advance(Duration::from_secs(11));
    assert_eq!(observe(250).desired_replicas, 5);
}
