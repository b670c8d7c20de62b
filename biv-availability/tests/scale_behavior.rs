//! Behavior (stabilization and rate policies) against kubernetes/kubernetes
//! `pkg/controller/podautoscaler/horizontal_test.go` (commit
//! 003e86297d18a8538c9da3619871393f9703bf70 as stored by the project's search index):
//! `TestScalingWithRules`, `TestNormalizeDesiredReplicasWithBehavior`,
//! `TestCalculateScaleUpLimitWithScalingRules` and `TestCalculateScaleDownLimitWithBehaviors`.
//!
//! Upstream passes rules through `GenerateHPAScale{Up,Down}Rules`, which fills in the defaults
//! for absent rules, as `Behavior`'s `None` does here. Scale events become history entries with
//! `seconds_ago` computed as upstream's `generateEventsUniformDistribution` does.

use biv_availability::scale::{
    Behavior, HistoryEntry, PolicyType, ScalingPolicy, ScalingRules, SelectPolicy, limit_by_rate,
    stabilize_recommendation,
};

/// Upstream's `generateScalingRules(pods, podsPeriod, percent, percentPeriod, window)`.
fn rules(
    pods: u32,
    pods_period: u32,
    percent: u32,
    percent_period: u32,
    window: u32,
) -> ScalingRules {
    let mut policies = Vec::new();
    if pods != 0 {
        policies.push(ScalingPolicy::new(PolicyType::Pods, pods, pods_period));
    }
    if percent != 0 {
        policies.push(ScalingPolicy::new(
            PolicyType::Percent,
            percent,
            percent_period,
        ));
    }
    ScalingRules::new(window, policies)
}

/// Upstream's `generateEventsUniformDistribution`: events spread over the last `period`
/// seconds; positive changes for scale-up events, negative for scale-down events.
#[allow(clippy::cast_precision_loss)]
fn events(changes: &[i64], period: u32, up: bool) -> Vec<HistoryEntry> {
    let segment = f64::from(period) / changes.len() as f64;
    changes
        .iter()
        .enumerate()
        .map(|(idx, change)| {
            let ago = (f64::from(period) - segment * (idx + 1) as f64 + segment / 2.0).trunc();
            HistoryEntry::scale_event(ago, if up { *change } else { -change })
        })
        .collect()
}

struct Case {
    name: &'static str,
    history: Vec<HistoryEntry>,
    min: u32,
    max: u32,
    up: Option<ScalingRules>,
    down: Option<ScalingRules>,
    current: u32,
    desired: u32,
    expected: u32,
    condition: &'static str,
}

#[allow(clippy::too_many_arguments)]
fn case(
    name: &'static str,
    history: Vec<HistoryEntry>,
    min: u32,
    max: u32,
    up: Option<ScalingRules>,
    down: Option<ScalingRules>,
    current: u32,
    desired: u32,
    expected: u32,
    condition: &'static str,
) -> Case {
    Case {
        name,
        history,
        min,
        max,
        up,
        down,
        current,
        desired,
        expected,
        condition,
    }
}

#[test]
fn scaling_with_rules() {
    let up_events = || events(&[1, 5, 9], 120, true);
    let down_events = || events(&[1, 5, 9], 120, false);
    let cases = vec![
        case(
            "prenormalized desired replicas within range",
            vec![],
            3,
            8,
            None,
            None,
            5,
            7,
            7,
            "DesiredWithinRange",
        ),
        case(
            "prenormalized desired replicas < minReplicas",
            vec![],
            2,
            8,
            None,
            None,
            3,
            1,
            2,
            "TooFewReplicas",
        ),
        case(
            "prenormalized desired replicas within range when minReplicas is 0",
            vec![],
            0,
            10,
            None,
            None,
            1,
            0,
            0,
            "DesiredWithinRange",
        ),
        case(
            "maxReplicas is the limit because maxReplicas < scaleUpLimit",
            vec![],
            1,
            10,
            None,
            None,
            20,
            1000,
            10,
            "TooManyReplicas",
        ),
        case(
            "desired replica count is more than the maximum replica count",
            vec![],
            100,
            150,
            None,
            None,
            100,
            1000,
            150,
            "TooManyReplicas",
        ),
        case(
            "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies",
            vec![],
            1,
            2000,
            Some(rules(0, 0, 1, 60, 0)),
            None,
            3,
            1000,
            4,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with default behavior",
            vec![],
            1,
            1000,
            None,
            None,
            10,
            50,
            20,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with pods policy larger than percent policy",
            vec![],
            1,
            1000,
            Some(rules(100, 60, 100, 60, 0)),
            None,
            10,
            500,
            110,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with percent policy larger than pods policy",
            vec![],
            1,
            1000,
            Some(rules(2, 60, 100, 60, 0)),
            None,
            10,
            500,
            20,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with spec MaxReplicas limitation with large pod policy",
            vec![],
            1,
            1000,
            Some(rules(100, 60, 0, 0, 0)),
            None,
            10,
            50,
            50,
            "DesiredWithinRange",
        ),
        case(
            "scaleUp with spec MaxReplicas limitation with large percent policy",
            vec![],
            1,
            1000,
            Some(rules(10000, 60, 0, 0, 0)),
            None,
            10,
            50,
            50,
            "DesiredWithinRange",
        ),
        case(
            "scaleUp with pod policy limitation",
            vec![],
            1,
            1000,
            Some(rules(30, 60, 0, 0, 0)),
            None,
            10,
            50,
            40,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with percent policy limitation",
            vec![],
            1,
            1000,
            Some(rules(0, 0, 200, 60, 0)),
            None,
            10,
            50,
            30,
            "ScaleUpLimit",
        ),
        case(
            "scaleDown with percent policy larger than pod policy",
            vec![],
            1,
            1000,
            None,
            Some(rules(20, 60, 1, 60, 300)),
            100,
            2,
            80,
            "ScaleDownLimit",
        ),
        case(
            "scaleDown with pod policy larger than percent policy",
            vec![],
            1,
            1000,
            None,
            Some(rules(2, 60, 1, 60, 300)),
            100,
            2,
            98,
            "ScaleDownLimit",
        ),
        case(
            "scaleDown with spec MinReplicas=nil limitation with large pod policy",
            vec![],
            1,
            1000,
            None,
            Some(rules(100, 60, 0, 0, 300)),
            10,
            0,
            1,
            "TooFewReplicas",
        ),
        case(
            "scaleDown with spec MinReplicas limitation with large pod policy",
            vec![],
            1,
            1000,
            None,
            Some(rules(100, 60, 0, 0, 300)),
            10,
            0,
            1,
            "TooFewReplicas",
        ),
        case(
            "scaleDown with spec MinReplicas limitation with large percent policy",
            vec![],
            5,
            1000,
            None,
            Some(rules(0, 0, 100, 60, 300)),
            10,
            2,
            5,
            "TooFewReplicas",
        ),
        case(
            "scaleDown with pod policy limitation",
            vec![],
            1,
            1000,
            None,
            Some(rules(5, 60, 0, 0, 300)),
            10,
            2,
            5,
            "ScaleDownLimit",
        ),
        case(
            "scaleDown with percent policy limitation",
            vec![],
            1,
            1000,
            None,
            Some(rules(0, 0, 50, 60, 300)),
            10,
            5,
            5,
            "DesiredWithinRange",
        ),
        case(
            "scaleUp with spec MaxReplicas limitation with large pod policy and events",
            up_events(),
            1,
            200,
            Some(rules(300, 60, 0, 0, 0)),
            None,
            100,
            500,
            200,
            "TooManyReplicas",
        ),
        case(
            "scaleUp with spec MaxReplicas limitation with large percent policy and events",
            up_events(),
            1,
            200,
            Some(rules(0, 0, 10000, 60, 0)),
            None,
            100,
            500,
            200,
            "TooManyReplicas",
        ),
        case(
            "scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events",
            up_events(),
            1,
            1000,
            Some(rules(5, 120, 0, 0, 0)),
            None,
            100,
            500,
            100,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with pod policy and previous scale up events",
            up_events(),
            1,
            1000,
            Some(rules(150, 120, 0, 0, 0)),
            None,
            100,
            500,
            235,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with percent policy and previous scale up events",
            up_events(),
            1,
            1000,
            Some(rules(0, 0, 200, 120, 0)),
            None,
            100,
            500,
            255,
            "ScaleUpLimit",
        ),
        case(
            "scaleUp with percent policy and previous scale up and down events",
            [events(&[4], 120, true), events(&[2], 120, false)].concat(),
            1,
            1000,
            Some(rules(0, 0, 300, 300, 0)),
            None,
            6,
            24,
            16,
            "ScaleUpLimit",
        ),
        case(
            "scaleDown with default policy and previous events",
            down_events(),
            1,
            1000,
            None,
            None,
            10,
            5,
            5,
            "DesiredWithinRange",
        ),
        case(
            "scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events",
            down_events(),
            1,
            1000,
            None,
            Some(rules(115, 120, 0, 0, 300)),
            100,
            0,
            1,
            "TooFewReplicas",
        ),
        case(
            "scaleDown with spec MinReplicas limitation with large pod policy and previous events",
            down_events(),
            5,
            1000,
            None,
            Some(rules(130, 120, 0, 0, 300)),
            100,
            0,
            5,
            "TooFewReplicas",
        ),
        case(
            "scaleDown with spec MinReplicas limitation with large percent policy and previous events",
            down_events(),
            5,
            1000,
            None,
            Some(rules(0, 0, 100, 120, 300)),
            100,
            2,
            5,
            "TooFewReplicas",
        ),
        case(
            "scaleDown with pod policy limitation and previous events",
            down_events(),
            1,
            1000,
            None,
            Some(rules(5, 120, 0, 0, 300)),
            100,
            2,
            100,
            "ScaleDownLimit",
        ),
        case(
            "scaleDown with percent policy limitation and previous events",
            events(&[2, 4, 6], 120, false),
            1,
            1000,
            None,
            Some(rules(0, 0, 50, 120, 300)),
            100,
            0,
            56,
            "ScaleDownLimit",
        ),
        case(
            "scaleDown with percent policy and previous scale up and down events",
            [events(&[2], 120, true), events(&[4], 120, false)].concat(),
            1,
            1000,
            None,
            Some(rules(0, 0, 50, 180, 0)),
            10,
            1,
            6,
            "ScaleDownLimit",
        ),
        case(
            "scaleDown with previous events preventing further scale down",
            events(&[10, 10, 10], 120, false),
            1,
            1000,
            None,
            Some(rules(0, 0, 10, 120, 300)),
            100,
            0,
            100,
            "ScaleDownLimit",
        ),
        case(
            "scaleDown with with previous events still allowing more scale down",
            events(&[10, 10, 10], 120, false),
            1,
            1000,
            None,
            Some(rules(0, 0, 1000, 120, 300)),
            10,
            5,
            5,
            "DesiredWithinRange",
        ),
        case(
            "check 'outdated' flag for events for one behavior for up",
            events(&[8, 12, 9, 11], 120, true),
            1,
            1000,
            Some(rules(1000, 60, 0, 0, 0)),
            None,
            100,
            200,
            200,
            "DesiredWithinRange",
        ),
        case(
            "check that events were not marked 'outdated' for two different policies in the behavior for up",
            events(&[8, 12, 9, 11], 120, true),
            1,
            1000,
            Some(rules(1000, 120, 100, 60, 0)),
            None,
            100,
            200,
            200,
            "DesiredWithinRange",
        ),
        case(
            "check that events were marked 'outdated' for two different policies in the behavior for up",
            events(&[8, 12, 9, 11], 120, true),
            1,
            1000,
            Some(rules(1000, 30, 100, 60, 0)),
            None,
            100,
            200,
            200,
            "DesiredWithinRange",
        ),
        case(
            "check 'outdated' flag for events for one behavior for down",
            events(&[8, 12, 9, 11], 120, false),
            1,
            1000,
            None,
            Some(rules(1000, 60, 0, 0, 300)),
            100,
            5,
            5,
            "DesiredWithinRange",
        ),
        case(
            "check that events were not marked 'outdated' for two different policies in the behavior for down",
            events(&[8, 12, 9, 11], 120, false),
            1,
            1000,
            None,
            Some(rules(1000, 120, 100, 60, 300)),
            100,
            5,
            5,
            "DesiredWithinRange",
        ),
        case(
            "check that events were marked 'outdated' for two different policies in the behavior for down",
            events(&[8, 12, 9, 11], 120, false),
            1,
            1000,
            None,
            Some(rules(1000, 30, 100, 60, 300)),
            100,
            5,
            5,
            "DesiredWithinRange",
        ),
    ];
    assert_eq!(cases.len(), 41);
    let mut failures = Vec::new();
    for c in &cases {
        let behavior = Behavior::new(c.up.clone(), c.down.clone());
        let got = limit_by_rate(c.current, c.desired, c.min, c.max, &behavior, &c.history);
        if got != (c.expected, c.condition) {
            failures.push(format!(
                "{}: got {got:?}, expected ({}, {})",
                c.name, c.expected, c.condition
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// (name, recommendations, current, prenormalized, up window, down window, expected)
type StabilizeCase = (&'static str, Vec<HistoryEntry>, u32, u32, u32, u32, u32);

#[test]
fn normalize_desired_replicas_with_behavior() {
    let rec = |ago_minutes: f64, n: u32| HistoryEntry::recommendation(ago_minutes * 60.0, n);
    // (name, recommendations, current, prenormalized, up window, down window, expected)
    let cases: Vec<StabilizeCase> = vec![
        (
            "empty recommendations for scaling down",
            vec![],
            100,
            5,
            0,
            0,
            5,
        ),
        (
            "simple scale down stabilization",
            vec![rec(2.0, 4), rec(1.0, 5)],
            100,
            3,
            0,
            180,
            5,
        ),
        (
            "simple scale up stabilization",
            vec![rec(2.0, 4), rec(1.0, 5)],
            1,
            7,
            300,
            0,
            4,
        ),
        (
            "no scale down stabilization",
            vec![rec(2.0, 1), rec(1.0, 2)],
            100,
            3,
            300,
            0,
            3,
        ),
        (
            "no scale up stabilization",
            vec![rec(2.0, 4), rec(1.0, 5)],
            1,
            3,
            0,
            300,
            3,
        ),
        (
            "no scale down stabilization, reuse recommendation element",
            vec![rec(10.0, 10), rec(9.0, 9)],
            100,
            3,
            0,
            0,
            3,
        ),
        (
            "no scale up stabilization, reuse recommendation element",
            vec![rec(10.0, 10), rec(9.0, 9)],
            1,
            100,
            0,
            0,
            100,
        ),
        (
            "scale down stabilization, reuse one of obsolete recommendation element",
            vec![rec(10.0, 10), rec(1.0, 4), rec(2.0, 5), rec(9.0, 9)],
            100,
            3,
            0,
            180,
            5,
        ),
        (
            "scale up stabilization, reuse one of obsolete recommendation element",
            vec![rec(100.0, 10), rec(1.0, 6), rec(2.0, 5), rec(3.0, 9)],
            1,
            100,
            300,
            0,
            5,
        ),
        (
            "scale up and down stabilization, do not scale up when prenormalized rec goes down",
            vec![rec(100.0, 2), rec(3.0, 3)],
            2,
            1,
            300,
            300,
            2,
        ),
        (
            "scale up and down stabilization, do not scale down when prenormalized rec goes up",
            vec![rec(100.0, 2), rec(3.0, 1)],
            2,
            3,
            300,
            300,
            2,
        ),
    ];
    for (name, history, current, desired, up, down, expected) in cases {
        assert_eq!(
            stabilize_recommendation(current, desired, &history, up, down),
            expected,
            "{name}"
        );
    }
}

#[test]
fn calculate_scale_up_limit_with_scaling_rules() {
    let up = ScalingRules::new(
        300,
        vec![
            ScalingPolicy::new(PolicyType::Pods, 2, 60),
            ScalingPolicy::new(PolicyType::Percent, 50, 60),
        ],
    )
    .with_select_policy(SelectPolicy::Min);
    let behavior = Behavior::new(Some(up), None);
    assert_eq!(
        limit_by_rate(1, 1000, 1, 1000, &behavior, &[]),
        (2, "ScaleUpLimit")
    );
}

#[test]
fn calculate_scale_down_limit_with_behaviors() {
    let down = ScalingRules::new(
        300,
        vec![
            ScalingPolicy::new(PolicyType::Pods, 2, 60),
            ScalingPolicy::new(PolicyType::Percent, 50, 60),
        ],
    )
    .with_select_policy(SelectPolicy::Min);
    let behavior = Behavior::new(None, Some(down));
    assert_eq!(
        limit_by_rate(5, 0, 0, 1000, &behavior, &[]),
        (3, "ScaleDownLimit")
    );
}

#[test]
fn a_disabled_direction_does_not_move() {
    let up = ScalingRules::new(0, vec![]).with_select_policy(SelectPolicy::Disabled);
    let behavior = Behavior::new(Some(up), None);
    assert_eq!(
        limit_by_rate(3, 10, 1, 100, &behavior, &[]),
        (3, "ScaleUpLimit")
    );
}
