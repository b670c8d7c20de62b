//! EWMA mean/variance z-score.

use super::{Detector, Reading};

/// Why an EWMA factor was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EwmaError {
    /// `alpha` is not in the interval (0, 1].
    #[error("EWMA alpha {0} is not in (0, 1]")]
    Alpha(f64),
}

/// Exponentially weighted mean and variance (West's incremental form) and the z-score of each new
/// sample against the baseline *before* it is absorbed, so an outlier does not hide itself.
///
/// The score is `|z|`; alert at `|z| > 3` (GitLab's recipe). A sample equal to a constant
/// baseline scores 0, a different one against zero variance scores `+∞` (unless
/// [`EwmaZScore::with_min_stddev`] sets a floor). Allocation-free.
///
/// ```
/// use biv_availability::anomaly::{Detector, EwmaZScore};
/// let mut d = EwmaZScore::new(0.1)?;
/// for i in 0..100 {
///     d.update(f64::from(i), if i % 2 == 0 { 9.0 } else { 11.0 });
/// }
/// let r = d.update(100.0, 30.0).expect("baseline");
/// assert!(r.score() > 3.0);
/// # Ok::<(), biv_availability::anomaly::EwmaError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EwmaZScore {
    alpha: f64,
    mean: f64,
    var: f64,
    count: u64,
    min_stddev: f64,
}

impl EwmaZScore {
    /// A z-score detector with weight `alpha` for each new sample (e.g. `2 / (N + 1)` for an
    /// N-sample span).
    ///
    /// # Errors
    /// [`EwmaError::Alpha`] for `alpha` outside (0, 1].
    pub fn new(alpha: f64) -> Result<Self, EwmaError> {
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(EwmaError::Alpha(alpha));
        }
        Ok(EwmaZScore {
            alpha,
            mean: 0.0,
            var: 0.0,
            count: 0,
            min_stddev: 0.0,
        })
    }

    /// Uses at least `sd` as the standard deviation, so a quantised or nearly constant signal
    /// does not turn its smallest step into an infinite z-score.
    #[must_use]
    pub fn with_min_stddev(mut self, sd: f64) -> Self {
        self.min_stddev = if sd.is_finite() { sd.max(0.0) } else { 0.0 };
        self
    }

    /// The baseline mean, after the first sample.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// The baseline standard deviation, after the first sample.
    pub fn stddev(&self) -> Option<f64> {
        (self.count > 0).then(|| self.var.sqrt())
    }

    /// Samples absorbed.
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl Detector for EwmaZScore {
    fn kind(&self) -> &'static str {
        "ewma_zscore"
    }

    fn update(&mut self, _t: f64, value: f64) -> Option<Reading> {
        if !value.is_finite() {
            return None;
        }
        if self.count == 0 {
            self.mean = value;
            self.count = 1;
            return None;
        }
        let diff = value - self.mean;
        let sd = self.var.sqrt().max(self.min_stddev);
        let z = if diff == 0.0 {
            0.0
        } else if sd > 0.0 {
            diff / sd
        } else {
            f64::INFINITY.copysign(diff)
        };
        let forecast = self.mean;
        let incr = self.alpha * diff;
        self.mean += incr;
        self.var = (1.0 - self.alpha) * (self.var + diff * incr);
        self.count += 1;
        if !self.mean.is_finite() || !self.var.is_finite() {
            // A sample so large the statistics overflowed would blind the detector for good
            // (an infinite deviation scores every later sample 0): start afresh from it.
            self.mean = value;
            self.var = 0.0;
            self.count = 1;
        }
        Some(Reading::new(z.abs(), value).with_forecast(forecast))
    }
}
