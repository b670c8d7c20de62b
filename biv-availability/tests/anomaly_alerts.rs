//! Deviation monitors with a `ManualClock` and an `InMemoryNotifier`: warm-up, hysteresis,
//! cooldown, and a filling disk that alerts before it is full.

use std::sync::Arc;
use std::time::Duration;

use biv_availability::anomaly::{
    AlertTemplate, Detector, DeviationMonitor, EwmaZScore, Exhaustion, GateConfig, HoltForecast,
    Limit, ObserveError, Reading, Transition,
};
use biv_core::{NotifyError, Severity};
use biv_testkit::{InMemoryNotifier, ManualClock};

/// Scores each sample as itself, so a test drives the gate directly.
#[derive(Debug)]
struct Identity;

impl Detector for Identity {
    fn kind(&self) -> &'static str {
        "identity"
    }
    fn update(&mut self, _t: f64, value: f64) -> Option<Reading> {
        Some(Reading::new(value, value))
    }
}

fn setup() -> (Arc<InMemoryNotifier>, Arc<ManualClock>) {
    (
        Arc::new(InMemoryNotifier::new()),
        Arc::new(ManualClock::default()),
    )
}

fn monitor<D: Detector>(
    d: D,
    gate: GateConfig,
    notifier: &Arc<InMemoryNotifier>,
    clock: &Arc<ManualClock>,
) -> DeviationMonitor<D> {
    let template = AlertTemplate::new("BivDeviation", Severity::Warning, "signal_under_test")
        .expect("template")
        .with_label("service", "ehr-api")
        .expect("label");
    DeviationMonitor::new(d, gate, template, notifier.clone(), clock.clone())
}

#[tokio::test]
async fn warm_up_suppresses_alerts() {
    let (notifier, clock) = setup();
    let gate = GateConfig::new(3.0, 2.0).expect("gate").with_warm_up(20);
    let mut m = monitor(
        EwmaZScore::new(0.2).expect("alpha"),
        gate,
        &notifier,
        &clock,
    );
    // the very first deviations are huge (no variance yet) but fall in the warm-up
    for v in [10.0, 50.0, 10.0, 90.0] {
        clock.advance(Duration::from_secs(15));
        let out = m.observe(v).await.expect("observe");
        assert_eq!(out.transition, Transition::None);
    }
    for i in 0..40 {
        clock.advance(Duration::from_secs(15));
        m.observe(if i % 2 == 0 { 20.0 } else { 22.0 })
            .await
            .expect("observe");
    }
    assert!(
        notifier.alerts().is_empty(),
        "no alert during warm-up or steady state"
    );
    clock.advance(Duration::from_secs(15));
    let out = m.observe(400.0).await.expect("observe");
    assert_eq!(out.transition, Transition::Fire);
    let alerts = notifier.alerts();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.labels()["alertname"], "BivDeviation");
    assert_eq!(a.labels()["severity"], "warning");
    assert_eq!(a.labels()["detector"], "ewma_zscore");
    assert_eq!(a.labels()["signal"], "signal_under_test");
    assert_eq!(a.labels()["service"], "ehr-api");
    assert_eq!(a.starts_at(), clock_now(&clock));
    assert_eq!(a.annotations()["value"], "400");
    assert!(a.annotations()["description"].contains("forecast"));
    assert!(a.ends_at().is_none());
}

fn clock_now(clock: &ManualClock) -> biv_core::Timestamp {
    use biv_core::Clock;
    clock.now()
}

#[tokio::test]
async fn hysteresis_prevents_flapping() {
    let scores = [3.5, 2.9, 3.1, 2.5, 3.2, 2.1, 3.0, 1.9, 0.5];
    // with a hysteresis band (enter 3, exit 2): one fire, one resolve at 1.9
    let (notifier, clock) = setup();
    let mut m = monitor(
        Identity,
        GateConfig::new(3.0, 2.0).expect("gate"),
        &notifier,
        &clock,
    );
    for s in scores {
        clock.advance(Duration::from_secs(10));
        m.observe(s).await.expect("observe");
    }
    let alerts = notifier.alerts();
    assert_eq!(alerts.len(), 2);
    assert!(alerts[0].ends_at().is_none());
    assert!(alerts[1].ends_at().is_some());
    assert_eq!(alerts[0].starts_at(), alerts[1].starts_at());
    // without one (enter = exit = 3) the same scores flap
    let (notifier, clock) = setup();
    let mut m = monitor(
        Identity,
        GateConfig::new(3.0, 3.0).expect("gate"),
        &notifier,
        &clock,
    );
    for s in scores {
        clock.advance(Duration::from_secs(10));
        m.observe(s).await.expect("observe");
    }
    assert!(notifier.alerts().len() > 6);
}

#[tokio::test]
async fn consecutive_samples_filter_single_spikes() {
    let (notifier, clock) = setup();
    let gate = GateConfig::new(3.0, 2.0)
        .expect("gate")
        .with_consecutive(3)
        .expect("n");
    let mut m = monitor(Identity, gate, &notifier, &clock);
    for s in [5.0, 0.0, 5.0, 5.0, 0.0, 5.0, 5.0] {
        m.observe(s).await.expect("observe");
    }
    assert!(notifier.alerts().is_empty());
    let out = m.observe(5.0).await.expect("observe");
    assert_eq!(out.transition, Transition::Fire);
}

#[tokio::test]
async fn cooldown_limits_repeats() {
    let (notifier, clock) = setup();
    let gate = GateConfig::new(3.0, 2.0)
        .expect("gate")
        .with_cooldown(Duration::from_secs(600));
    let mut m = monitor(Identity, gate, &notifier, &clock);
    let mut transitions = Vec::new();
    // a deviation that comes and goes every minute for ten minutes
    for _ in 0..5 {
        clock.advance(Duration::from_secs(60));
        transitions.push(m.observe(4.0).await.expect("observe").transition);
        clock.advance(Duration::from_secs(60));
        transitions.push(m.observe(1.0).await.expect("observe").transition);
    }
    assert_eq!(transitions[0], Transition::Fire);
    assert_eq!(transitions[1], Transition::Resolve);
    assert!(
        transitions[2..]
            .iter()
            .all(|t| matches!(t, Transition::Suppressed | Transition::None))
    );
    assert_eq!(notifier.alerts().len(), 2, "one firing, one resolved");
    // once the cooldown has passed, it fires again
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        m.observe(4.0).await.expect("observe").transition,
        Transition::Fire
    );
    assert_eq!(notifier.alerts().len(), 3);
}

#[tokio::test]
async fn a_filling_disk_alerts_before_it_is_full_and_resolves_after_cleanup() {
    let (notifier, clock) = setup();
    let capacity = 100e9;
    // used bytes must stay below the capacity; alert when full within an hour
    let detector = Exhaustion::new(
        Limit::Above(capacity),
        Duration::from_secs(3600),
        120,
        Duration::from_secs(30 * 60),
    );
    // resolve only when the forecast is 5 GB clear of the limit
    let gate = GateConfig::new(0.0, -5e9).expect("gate").with_warm_up(5);
    let mut m = monitor(detector, gate, &notifier, &clock);
    let mut used = 50e9;
    let mut fired_at = None;
    for minute in 0..100 {
        clock.advance(Duration::from_secs(60));
        let out = m.observe(used).await.expect("observe");
        if out.transition == Transition::Fire {
            fired_at = Some((minute, used));
            break;
        }
        used += 0.5e9; // half a gigabyte a minute: full after 100 minutes
    }
    let (minute, value) = fired_at.expect("the disk alert fired");
    assert!(value < capacity, "fired before the disk was full");
    assert!(minute >= 5, "not during warm-up");
    assert!(
        (minute as f64) <= 40.0 + 1.0,
        "fired about an hour before full, at minute {minute}"
    );
    let alerts = notifier.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels()["detector"], "linear_exhaustion");
    let description = &alerts[0].annotations()["description"];
    assert!(description.contains("limit reached in"), "{description}");
    let forecast: f64 = alerts[0].annotations()["forecast"].parse().expect("number");
    assert!(forecast >= capacity);

    // the operator frees space: the level drops and stays flat
    for _ in 0..40 {
        clock.advance(Duration::from_secs(60));
        m.observe(20e9).await.expect("observe");
        if m.active_alert().is_none() {
            break;
        }
    }
    let alerts = notifier.alerts();
    assert_eq!(alerts.len(), 2);
    let resolved = &alerts[1];
    assert_eq!(resolved.starts_at(), alerts[0].starts_at());
    assert_eq!(resolved.ends_at(), Some(clock_now(&clock)));
}

#[tokio::test]
async fn holt_forecast_alerts_on_a_rising_trend() {
    let (notifier, clock) = setup();
    let detector = HoltForecast::new(0.5, 0.3, 10.0, Limit::Above(100.0)).expect("factors");
    let mut m = monitor(
        detector,
        GateConfig::new(0.0, -5.0).expect("gate"),
        &notifier,
        &clock,
    );
    let mut fired = None;
    for i in 0..20 {
        let v = 10.0 + 5.0 * f64::from(i);
        clock.advance(Duration::from_secs(10));
        if m.observe(v).await.expect("observe").transition == Transition::Fire {
            fired = Some(v);
            break;
        }
    }
    let v = fired.expect("fired");
    assert!(v < 100.0, "fired at {v}, before the limit");
    assert_eq!(notifier.alerts()[0].labels()["detector"], "holt");
}

#[tokio::test]
async fn a_clock_stepping_back_does_not_lose_the_resolution() {
    let (notifier, clock) = setup();
    let mut m = monitor(
        Identity,
        GateConfig::new(3.0, 2.0).expect("gate"),
        &notifier,
        &clock,
    );
    clock.advance(Duration::from_secs(60));
    let fired_at = clock_now(&clock);
    m.observe(5.0).await.expect("fire");
    // NTP steps the clock back half a minute before the signal recovers
    clock.set(
        biv_core::Timestamp::from_unix_nanos(fired_at.unix_nanos() - 30_000_000_000)
            .expect("timestamp"),
    );
    let out = m.observe(0.5).await.expect("resolve");
    assert_eq!(out.transition, Transition::Resolve);
    let alerts = notifier.alerts();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1].ends_at(), Some(alerts[0].starts_at()));
    assert!(m.active_alert().is_none());
}

#[tokio::test]
async fn an_unavailable_notifier_is_an_error_and_the_alert_stays_active() {
    let (notifier, clock) = setup();
    notifier.set_unavailable(true);
    let mut m = monitor(
        Identity,
        GateConfig::new(3.0, 2.0).expect("gate"),
        &notifier,
        &clock,
    );
    let err = m.observe(5.0).await.expect_err("notifier down");
    assert!(matches!(
        err,
        ObserveError::Notify(NotifyError::Unavailable(_))
    ));
    assert!(m.active_alert().is_some(), "the caller can resend it");
}

#[test]
fn gate_config_is_validated() {
    assert!(GateConfig::new(2.0, 3.0).is_err());
    assert!(GateConfig::new(f64::NAN, 3.0).is_err());
    assert!(
        GateConfig::new(3.0, 2.0)
            .expect("gate")
            .with_consecutive(0)
            .is_err()
    );
    assert!(EwmaZScore::new(0.0).is_err());
    assert!(EwmaZScore::new(1.5).is_err());
}

#[tokio::test]
async fn the_score_gauge_follows_the_readings_and_min_stddev_caps_z() {
    let (notifier, clock) = setup();
    let registry = biv_availability::metrics::Registry::new();
    let scores = registry
        .gauge_vec("biv_anomaly_score", "Detector score.", &["signal"])
        .expect("gauge");
    let gauge = scores.with_label_values(&["queue"]).expect("labels");
    let detector = EwmaZScore::new(0.5).expect("alpha").with_min_stddev(1.0);
    let mut m = monitor(
        detector,
        GateConfig::new(3.0, 2.0).expect("gate"),
        &notifier,
        &clock,
    )
    .with_score_gauge(gauge.clone());
    m.observe(10.0).await.expect("observe");
    // constant baseline, zero variance: without the floor 12 would score +Inf
    let out = m.observe(12.0).await.expect("observe");
    assert_eq!(out.reading.expect("reading").score(), 2.0);
    assert_eq!(gauge.get(), 2.0);
    assert!(
        registry
            .encode(biv_availability::metrics::Format::Prometheus)
            .contains("biv_anomaly_score{signal=\"queue\"} 2\n")
    );
    assert!(notifier.alerts().is_empty());
}

#[test]
fn an_overflowing_sample_does_not_blind_the_ewma_detector() {
    let mut d = EwmaZScore::new(0.2).expect("alpha");
    for (i, v) in [1.0, 2.0, 1.0, 2.0, 1e160, 1.0, 2.0, 1.0, 2.0]
        .into_iter()
        .enumerate()
    {
        d.update(i as f64, v);
    }
    // after the overflow the detector learnt again from the samples since; a jump scores high
    let reading = d.update(10.0, 1e6).expect("reading");
    assert!(
        reading.score().is_finite() && reading.score() > 3.0,
        "{reading:?}"
    );
}
