//! Least-squares linear regression: PromQL's `deriv` and `predict_linear`, and a streaming
//! window with time-to-exhaustion.

use std::time::Duration;

use super::{Detector, Limit, Reading};

/// Slope and intercept of a least-squares line through `(seconds, value)` points.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Regression {
    /// Change of the value per second (`deriv`).
    pub slope: f64,
    /// The line's value at the intercept time.
    pub intercept: f64,
}

/// Fits a least-squares line through `points` (`(seconds, value)`), with the intercept at
/// `intercept_time`, as Prometheus' `linearRegression` (`promql/functions.go`) does: a constant
/// series has slope 0; an infinite constant gives NaN. `None` for fewer than two points or when
/// all points share one timestamp.
///
/// ```
/// use biv_availability::anomaly::linear_regression;
/// let r = linear_regression(&[(0.0, 1.0), (10.0, 3.0)], 10.0).expect("two points");
/// assert_eq!((r.slope, r.intercept), (0.2, 3.0));
/// ```
pub fn linear_regression(points: &[(f64, f64)], intercept_time: f64) -> Option<Regression> {
    let first = points.first()?;
    if points.len() < 2 {
        return None;
    }
    let init_y = first.1;
    let const_y = points.iter().all(|p| p.1 == init_y);
    if const_y {
        return Some(if init_y.is_infinite() {
            Regression {
                slope: f64::NAN,
                intercept: f64::NAN,
            }
        } else {
            Regression {
                slope: 0.0,
                intercept: init_y,
            }
        });
    }
    let mut sums = Sums::default();
    for &(t, v) in points {
        sums.add(t - intercept_time, v);
    }
    let slope = sums.slope()?;
    let n = sums.n;
    Some(Regression {
        slope,
        intercept: sums.y / n - slope * sums.x / n,
    })
}

/// PromQL `deriv`: the per-second slope of a least-squares line through the points.
///
/// ```
/// use biv_availability::anomaly::deriv;
/// assert_eq!(deriv(&[(0.0, 0.0), (300.0, 80.0), (600.0, 160.0)]), Some(80.0 / 300.0));
/// ```
pub fn deriv(points: &[(f64, f64)]) -> Option<f64> {
    let origin = points.first()?.0;
    linear_regression(points, origin).map(|r| r.slope)
}

/// PromQL `predict_linear`: the value the least-squares line predicts `ahead_seconds` after
/// `eval_time` (the evaluation time, not the last sample's time).
///
/// ```
/// use biv_availability::anomaly::predict_linear;
/// let p = predict_linear(&[(0.0, 0.0), (60.0, 10.0)], 60.0, 60.0).expect("two points");
/// assert_eq!(p, 20.0);
/// ```
pub fn predict_linear(points: &[(f64, f64)], eval_time: f64, ahead_seconds: f64) -> Option<f64> {
    linear_regression(points, eval_time).map(|r| r.slope * ahead_seconds + r.intercept)
}

/// Running sums for the least-squares fit.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: f64,
    x: f64,
    y: f64,
    xy: f64,
    x2: f64,
}

impl Sums {
    fn add(&mut self, x: f64, y: f64) {
        self.n += 1.0;
        self.x += x;
        self.y += y;
        self.xy += x * y;
        self.x2 += x * x;
    }

    fn remove(&mut self, x: f64, y: f64) {
        self.n -= 1.0;
        self.x -= x;
        self.y -= y;
        self.xy -= x * y;
        self.x2 -= x * x;
    }

    fn slope(&self) -> Option<f64> {
        if self.n < 2.0 {
            return None;
        }
        let cov_xy = self.xy - self.x * self.y / self.n;
        let var_x = self.x2 - self.x * self.x / self.n;
        if var_x <= 0.0 || !var_x.is_finite() {
            return None;
        }
        Some(cov_xy / var_x)
    }
}

/// A sliding window of samples with a streaming least-squares fit: `O(1)` and allocation-free
/// per sample (the buffer is allocated once, at construction).
///
/// Samples older than `range` before the newest one leave the window (left-open, as a PromQL
/// range selector), and so does the oldest when the window holds `capacity` samples. The sums are
/// rebuilt from the buffer every `capacity` evictions so rounding errors do not accumulate.
///
/// ```
/// use std::time::Duration;
/// use biv_availability::anomaly::LinearWindow;
///
/// let mut w = LinearWindow::new(16, Duration::from_secs(3600));
/// for i in 0..4 {
///     w.push(f64::from(i) * 60.0, 100.0 - 5.0 * f64::from(i));
/// }
/// let slope = w.slope().expect("enough points");
/// assert!((slope + 5.0 / 60.0).abs() < 1e-12);
/// assert!((w.predict(180.0, 60.0).expect("fit") - 80.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone)]
pub struct LinearWindow {
    buf: Box<[(f64, f64)]>,
    head: usize,
    len: usize,
    range: f64,
    origin: f64,
    sums: Sums,
    evictions: usize,
}

impl LinearWindow {
    /// A window of at most `capacity` samples (at least 2) spanning at most `range`.
    pub fn new(capacity: usize, range: Duration) -> Self {
        let capacity = capacity.max(2);
        LinearWindow {
            buf: vec![(0.0, 0.0); capacity].into_boxed_slice(),
            head: 0,
            len: 0,
            range: range.as_secs_f64(),
            origin: 0.0,
            sums: Sums::default(),
            evictions: 0,
        }
    }

    /// Adds a sample at `t` seconds. Non-finite values and samples older than the newest are
    /// ignored (returns `false`).
    pub fn push(&mut self, t: f64, value: f64) -> bool {
        if !t.is_finite() || !value.is_finite() {
            return false;
        }
        if let Some((last_t, _)) = self.newest()
            && t < last_t
        {
            return false;
        }
        if self.len == 0 {
            self.origin = t;
        }
        while self.len > 0 && (self.len == self.buf.len() || self.oldest_t() <= t - self.range) {
            self.evict();
        }
        let cap = self.buf.len();
        let idx = (self.head + self.len) % cap;
        self.buf[idx] = (t, value);
        self.len += 1;
        self.sums.add(t - self.origin, value);
        if self.evictions >= cap {
            self.rebuild();
        }
        true
    }

    fn oldest_t(&self) -> f64 {
        self.buf[self.head].0
    }

    fn newest(&self) -> Option<(f64, f64)> {
        (self.len > 0).then(|| self.buf[(self.head + self.len - 1) % self.buf.len()])
    }

    fn evict(&mut self) {
        let (t, v) = self.buf[self.head];
        self.sums.remove(t - self.origin, v);
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
        self.evictions += 1;
        if self.len == 0 {
            self.sums = Sums::default();
        }
    }

    fn rebuild(&mut self) {
        self.evictions = 0;
        self.origin = self.oldest_t();
        self.sums = Sums::default();
        let cap = self.buf.len();
        for i in 0..self.len {
            let (t, v) = self.buf[(self.head + i) % cap];
            self.sums.add(t - self.origin, v);
        }
    }

    /// Number of samples in the window.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slope per second (`deriv`), with at least two samples at distinct times.
    pub fn slope(&self) -> Option<f64> {
        self.sums.slope()
    }

    /// The fitted value `ahead` seconds after time `at` (`predict_linear` evaluated at `at`).
    pub fn predict(&self, at: f64, ahead: f64) -> Option<f64> {
        let slope = self.sums.slope()?;
        let n = self.sums.n;
        let mean_x = self.sums.x / n;
        let mean_y = self.sums.y / n;
        Some(mean_y + slope * (at - self.origin + ahead - mean_x))
    }

    /// Clears the window.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.sums = Sums::default();
        self.evictions = 0;
    }
}

/// Time-to-exhaustion: fits a line over a sliding window and scores how far the value predicted
/// `horizon` ahead lies past a [`Limit`] (PromQL: `predict_linear(x[range], horizon) < limit`).
///
/// The score is the signed distance past the limit in the value's unit: `>= 0` means the limit is
/// predicted to be reached within the horizon. [`Reading::time_to_limit`] is the predicted number
/// of seconds until then (0 when already past).
///
/// ```
/// use std::time::Duration;
/// use biv_availability::anomaly::{Detector, Exhaustion, Limit};
///
/// // free disk bytes, falling 1 GB a minute; alert when empty within two hours
/// let mut d = Exhaustion::new(Limit::Below(0.0), Duration::from_secs(7200), 60, Duration::from_secs(1800));
/// d.update(0.0, 100e9);
/// let r = d.update(60.0, 99e9).expect("two samples");
/// assert!(r.score() >= 0.0);
/// assert!((r.time_to_limit().expect("falling") - 5940.0).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct Exhaustion {
    window: LinearWindow,
    limit: Limit,
    horizon: f64,
}

impl Exhaustion {
    /// Alerts when `limit` is predicted within `horizon`, from a fit over the last `range`
    /// (at most `capacity` samples).
    pub fn new(limit: Limit, horizon: Duration, capacity: usize, range: Duration) -> Self {
        Exhaustion {
            window: LinearWindow::new(capacity, range),
            limit,
            horizon: horizon.as_secs_f64(),
        }
    }

    /// The window the fit runs over.
    pub fn window(&self) -> &LinearWindow {
        &self.window
    }
}

impl Detector for Exhaustion {
    fn kind(&self) -> &'static str {
        "linear_exhaustion"
    }

    fn update(&mut self, t: f64, value: f64) -> Option<Reading> {
        if !self.window.push(t, value) {
            return None;
        }
        let slope = self.window.slope()?;
        let now_fit = self.window.predict(t, 0.0)?;
        let forecast = self.window.predict(t, self.horizon)?;
        let score = self.limit.past(forecast);
        let ttl = match self.limit {
            Limit::Above(l) if now_fit >= l => Some(0.0),
            Limit::Below(l) if now_fit <= l => Some(0.0),
            Limit::Above(l) if slope > 0.0 => Some((l - now_fit) / slope),
            Limit::Below(l) if slope < 0.0 => Some((l - now_fit) / slope),
            _ => None,
        };
        let mut r = Reading::new(score, value).with_forecast(forecast);
        if let Some(ttl) = ttl {
            r = r.with_time_to_limit(ttl);
        }
        Some(r)
    }
}
