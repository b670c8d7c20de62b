//! The `deriv`, `predict_linear` and `double_exponential_smoothing` cases of Prometheus'
//! `promql/promqltest/testdata/functions.test` (prometheus/prometheus, commit
//! 0043f1e496dc7b887505935035f8e2ba0c3555e4), ported with their expected values.
//!
//! Series are expanded from the test's `load` notation (`a+bxN` is `a, a+b, …, a+N·b`); a range
//! `[r]` evaluated at `t` holds the samples in `(t − r, t]` (Prometheus 3, left-open). Native
//! histogram samples in the "mix" series are left out: Prometheus ignores them for these
//! functions.

use std::time::Duration;

use biv_availability::anomaly::{
    Holt, LinearWindow, deriv, double_exponential_smoothing, predict_linear,
};

/// `a+bxN` as `(a, b, N)`.
type Segment = (f64, f64, u32);

/// `a+bxN` segments, concatenated.
fn expand(segments: &[Segment]) -> Vec<f64> {
    let mut out = Vec::new();
    for &(a, b, n) in segments {
        for i in 0..=n {
            out.push(a + b * f64::from(i));
        }
    }
    out
}

/// Samples `interval` seconds apart from t = 0, restricted to `(at − range, at]`.
fn range(values: &[f64], interval: f64, at: f64, range: f64) -> Vec<(f64, f64)> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| (interval * i as f64, v))
        .filter(|&(t, _)| t > at - range && t <= at)
        .collect()
}

fn assert_close(actual: f64, expected: f64) {
    // promqltest compares with a relative tolerance of 1e-6; we are stricter.
    let tol = 1e-12 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tol,
        "got {actual}, expected {expected}"
    );
}

const M: f64 = 60.0;

fn testcounter_reset_middle_total() -> Vec<f64> {
    // testcounter_reset_middle_total 0+10x4 0+10x5 (load 5m)
    expand(&[(0.0, 10.0, 4), (0.0, 10.0, 5)])
}

fn http_requests_total() -> Vec<f64> {
    // http_requests_total{job="app-server", instance="1", group="canary"} 0+80x10 (load 5m)
    expand(&[(0.0, 80.0, 10)])
}

#[test]
fn deriv_equals_rate_in_simple_cases() {
    // eval instant at 50m deriv(http_requests_total{…}[50m]) → 0.26666666666666666
    let pts = range(&http_requests_total(), 5.0 * M, 50.0 * M, 50.0 * M);
    assert_close(deriv(&pts).expect("points"), 0.26666666666666666);
}

#[test]
fn deriv_over_a_counter_reset() {
    // eval instant at 50m deriv(testcounter_reset_middle_total[100m]) → 0.010606060606060607
    let pts = range(
        &testcounter_reset_middle_total(),
        5.0 * M,
        50.0 * M,
        100.0 * M,
    );
    assert_eq!(pts.len(), 11);
    assert_close(deriv(&pts).expect("points"), 0.010606060606060607);
}

#[test]
fn deriv_mix_ignores_histograms() {
    // eval instant at 110m deriv(http_requests_mix{…}[110m]) → 0.26666666666666666
    // (http_requests_mix 0+80x10 {{histogram}}: the histogram at 55m is ignored)
    let pts = range(&http_requests_total(), 5.0 * M, 110.0 * M, 110.0 * M);
    assert_close(deriv(&pts).expect("points"), 0.26666666666666666);
    // eval instant at 100m deriv(testcounter_reset_middle_mix[110m]) → 0.010606060606060607
    let pts = range(
        &testcounter_reset_middle_total(),
        5.0 * M,
        100.0 * M,
        110.0 * M,
    );
    assert_close(deriv(&pts).expect("points"), 0.010606060606060607);
}

fn http_requests_inf() -> Vec<f64> {
    // http_requests_inf -Inf 0+80x10 Inf
    let mut v = vec![f64::NEG_INFINITY];
    v.extend(expand(&[(0.0, 80.0, 10)]));
    v.push(f64::INFINITY);
    v
}

#[test]
fn deriv_and_predict_linear_are_nan_with_infinities() {
    // eval instant at 100m deriv(http_requests_inf[100m]) → NaN
    let pts = range(&http_requests_inf(), 5.0 * M, 100.0 * M, 100.0 * M);
    assert!(deriv(&pts).expect("points").is_nan());
    // eval instant at 100m predict_linear(http_requests_inf[100m], 6000) → NaN
    assert!(
        predict_linear(&pts, 100.0 * M, 6000.0)
            .expect("points")
            .is_nan()
    );
}

#[test]
fn predict_linear_at_the_end_of_the_range() {
    // eval instant at 50m predict_linear(testcounter_reset_middle_total[50m], 3600) → 70
    // (and the same with `1h`)
    let pts = range(
        &testcounter_reset_middle_total(),
        5.0 * M,
        50.0 * M,
        50.0 * M,
    );
    assert_close(
        predict_linear(&pts, 50.0 * M, 3600.0).expect("points"),
        70.0,
    );
}

#[test]
fn predict_linear_with_at_modifier_intercepts_at_eval_time() {
    // predict_linear(testcounter_reset_middle_total[55m] @ 3000, 3600):
    // at 50m → 76.81818181818181, at 10m → 51.36363636363637, at 70m → 89.54545454545455
    let pts = range(&testcounter_reset_middle_total(), 5.0 * M, 3000.0, 55.0 * M);
    assert_eq!(pts.len(), 11);
    for (eval, expected) in [
        (50.0 * M, 76.81818181818181),
        (10.0 * M, 51.36363636363637),
        (70.0 * M, 89.54545454545455),
    ] {
        assert_close(
            predict_linear(&pts, eval, 3600.0).expect("points"),
            expected,
        );
    }
}

#[test]
fn predict_linear_mix_ignores_histograms() {
    // eval instant at 60m predict_linear(testcounter_reset_middle_mix[60m], 3000) → 70
    // (testcounter_reset_middle_mix 0+10x4 0+10x5 {{h}} {{h}}: histograms at 55m and 60m)
    let pts: Vec<_> = range(
        &testcounter_reset_middle_total(),
        5.0 * M,
        60.0 * M,
        60.0 * M,
    );
    assert_close(
        predict_linear(&pts, 60.0 * M, 3000.0).expect("points"),
        70.0,
    );
}

#[test]
fn predict_linear_is_last_value_plus_deriv_times_duration() {
    // eval instant at 50m predict_linear(http_requests_total[50m], 3600)
    //   - (http_requests_total + deriv(http_requests_total[50m]) * 3600) → 0
    let values = http_requests_total();
    let pts = range(&values, 5.0 * M, 50.0 * M, 50.0 * M);
    let p = predict_linear(&pts, 50.0 * M, 3600.0).expect("points");
    let d = deriv(&pts).expect("points");
    assert_close(p - (values[10] + d * 3600.0), 0.0);
}

#[test]
fn streaming_window_matches_the_pure_functions() {
    let values = testcounter_reset_middle_total();
    let mut w = LinearWindow::new(64, Duration::from_secs(6000));
    for (i, &v) in values.iter().enumerate() {
        assert!(w.push(300.0 * i as f64, v));
    }
    assert_close(w.slope().expect("fit"), 0.010606060606060607);
    assert_close(w.predict(3000.0, 3600.0).expect("fit"), 76.81818181818181);
    // a window of 50m (left-open) at 50m holds the last ten samples
    let mut w = LinearWindow::new(64, Duration::from_secs(3000));
    for (i, &v) in values.iter().enumerate() {
        w.push(300.0 * i as f64, v);
    }
    assert_eq!(w.len(), 10);
    assert_close(w.predict(3000.0, 3600.0).expect("fit"), 70.0);
}

#[test]
fn streaming_window_stays_exact_after_many_evictions() {
    let mut w = LinearWindow::new(8, Duration::from_secs(1_000_000));
    for i in 0..100_000u32 {
        w.push(f64::from(i) * 15.0, 3.0 * f64::from(i) + 7.0);
    }
    assert_eq!(w.len(), 8);
    assert_close(w.slope().expect("fit") * 15.0, 3.0);
}

/// `load 10s` series for the double_exponential_smoothing tests.
fn des_at(values: &[f64], at: f64) -> f64 {
    let pts: Vec<f64> = range(values, 10.0, at, M)
        .into_iter()
        .map(|p| p.1)
        .collect();
    let pure = double_exponential_smoothing(&pts, 0.01, 0.1)
        .expect("factors")
        .expect("two samples");
    let mut h = Holt::new(0.01, 0.1).expect("factors");
    for &x in &pts {
        h.update(x);
    }
    assert_eq!(h.level(), Some(pure), "streaming equals pure");
    pure
}

#[test]
fn double_exponential_smoothing_positive_trends() {
    // eval instant at 8000s double_exponential_smoothing(http_requests[1m], 0.01, 0.1)
    let cases: [(&[Segment], f64); 4] = [
        (&[(0.0, 10.0, 1000), (100.0, 30.0, 1000)], 8000.0),
        (&[(0.0, 20.0, 1000), (200.0, 30.0, 1000)], 16000.0),
        (&[(0.0, 30.0, 1000), (300.0, 80.0, 1000)], 24000.0),
        (&[(0.0, 40.0, 2000)], 32000.0),
    ];
    for (series, expected) in cases {
        assert_close(des_at(&expand(series), 8000.0), expected);
    }
}

#[test]
fn double_exponential_smoothing_mix_ignores_histograms() {
    // eval instant at 20010s double_exponential_smoothing(http_requests_mix[1m], 0.01, 0.1)
    // (the float parts below, followed by {{schema:0 count:1 sum:2}}x1000, which are ignored)
    let cases: [(&[Segment], f64); 4] = [
        (&[(0.0, 10.0, 1000), (100.0, 30.0, 1000)], 30100.0),
        (&[(0.0, 20.0, 1000), (200.0, 30.0, 1000)], 30200.0),
        (&[(0.0, 30.0, 1000), (300.0, 80.0, 1000)], 80300.0),
        (&[(0.0, 40.0, 2000)], 80000.0),
    ];
    for (series, expected) in cases {
        assert_close(des_at(&expand(series), 20010.0), expected);
    }
}

#[test]
fn double_exponential_smoothing_negative_trends() {
    // eval instant at 8000s double_exponential_smoothing(http_requests[1m], 0.01, 0.1)
    let cases: [(&[Segment], f64); 4] = [
        (&[(8000.0, -10.0, 1000)], 0.0),
        (&[(0.0, -20.0, 1000)], -16000.0),
        (&[(0.0, 30.0, 1000), (300.0, -80.0, 1000)], 24000.0),
        (&[(0.0, -40.0, 1000), (0.0, 40.0, 1000)], -32000.0),
    ];
    for (series, expected) in cases {
        assert_close(des_at(&expand(series), 8000.0), expected);
    }
}

#[test]
fn double_exponential_smoothing_needs_two_samples_and_valid_factors() {
    assert_eq!(double_exponential_smoothing(&[1.0], 0.5, 0.5), Ok(None));
    assert!(double_exponential_smoothing(&[1.0, 2.0], 1.0, 0.5).is_err());
    assert!(double_exponential_smoothing(&[1.0, 2.0], 0.5, 0.0).is_err());
}
