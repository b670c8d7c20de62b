//! Holt's double exponential smoothing (level + trend), as PromQL's
//! `double_exponential_smoothing` (called `holt_winters` before Prometheus 3).

use super::{Detector, Limit, Reading};

/// Why smoothing factors were refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HoltError {
    /// The smoothing factor is not in the open interval (0, 1).
    #[error("smoothing factor {0} is not in (0, 1)")]
    SmoothingFactor(f64),
    /// The trend factor is not in the open interval (0, 1).
    #[error("trend factor {0} is not in (0, 1)")]
    TrendFactor(f64),
}

fn check(sf: f64, tf: f64) -> Result<(), HoltError> {
    if !(sf > 0.0 && sf < 1.0) {
        return Err(HoltError::SmoothingFactor(sf));
    }
    if !(tf > 0.0 && tf < 1.0) {
        return Err(HoltError::TrendFactor(tf));
    }
    Ok(())
}

/// Streaming Holt smoothing with Prometheus' update order: the trend is updated from the previous
/// level change before the level absorbs the new sample, so after the same samples
/// [`Holt::level`] equals `double_exponential_smoothing(x[..], sf, tf)`. Allocation-free.
///
/// ```
/// use biv_availability::anomaly::Holt;
/// let mut h = Holt::new(0.5, 0.5)?;
/// for x in [10.0, 20.0, 30.0] {
///     h.update(x);
/// }
/// assert_eq!(h.level(), Some(30.0));
/// assert_eq!(h.forecast(2.0), Some(50.0));
/// # Ok::<(), biv_availability::anomaly::HoltError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Holt {
    sf: f64,
    tf: f64,
    prev_level: f64,
    level: f64,
    trend: f64,
    count: u64,
}

impl Holt {
    /// A smoother with smoothing factor `sf` and trend factor `tf`, both in (0, 1).
    ///
    /// # Errors
    /// [`HoltError`] for a factor outside (0, 1).
    pub fn new(sf: f64, tf: f64) -> Result<Self, HoltError> {
        check(sf, tf)?;
        Ok(Holt {
            sf,
            tf,
            prev_level: 0.0,
            level: 0.0,
            trend: 0.0,
            count: 0,
        })
    }

    /// Absorbs one sample; non-finite samples are ignored.
    pub fn update(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        match self.count {
            0 => self.level = x,
            1 => {
                self.trend = x - self.level;
                self.step(x);
            }
            _ => {
                self.trend =
                    self.tf * (self.level - self.prev_level) + (1.0 - self.tf) * self.trend;
                self.step(x);
            }
        }
        self.count += 1;
    }

    fn step(&mut self, x: f64) {
        let next = self.sf * x + (1.0 - self.sf) * (self.level + self.trend);
        self.prev_level = self.level;
        self.level = next;
    }

    /// The smoothed level, once two samples were seen (PromQL needs two).
    pub fn level(&self) -> Option<f64> {
        (self.count >= 2).then_some(self.level)
    }

    /// The trend per step, updated with the latest level change.
    pub fn trend(&self) -> Option<f64> {
        (self.count >= 2)
            .then_some(self.tf * (self.level - self.prev_level) + (1.0 - self.tf) * self.trend)
    }

    /// The level forecast `steps` samples ahead: `level + steps × trend`.
    pub fn forecast(&self, steps: f64) -> Option<f64> {
        Some(self.level()? + steps * self.trend()?)
    }

    /// Samples seen.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// PromQL `double_exponential_smoothing(v[..], sf, tf)` over the samples of one range: `None`
/// with fewer than two samples.
///
/// ```
/// use biv_availability::anomaly::double_exponential_smoothing;
/// assert_eq!(double_exponential_smoothing(&[10.0, 20.0, 30.0], 0.5, 0.5)?, Some(30.0));
/// # Ok::<(), biv_availability::anomaly::HoltError>(())
/// ```
///
/// # Errors
/// [`HoltError`] for a factor outside (0, 1).
pub fn double_exponential_smoothing(
    samples: &[f64],
    sf: f64,
    tf: f64,
) -> Result<Option<f64>, HoltError> {
    let mut h = Holt::new(sf, tf)?;
    for &x in samples {
        h.update(x);
    }
    Ok(h.level())
}

/// A detector on a Holt forecast: scores how far the level forecast `steps` samples ahead lies
/// past a [`Limit`] (`>= 0`: the limit is forecast to be reached).
///
/// ```
/// use biv_availability::anomaly::{Detector, HoltForecast, Limit};
/// let mut d = HoltForecast::new(0.5, 0.3, 10.0, Limit::Above(100.0))?;
/// d.update(0.0, 50.0);
/// let r = d.update(1.0, 60.0).expect("two samples");
/// assert!(r.forecast().expect("forecast") > 100.0);
/// # Ok::<(), biv_availability::anomaly::HoltError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HoltForecast {
    holt: Holt,
    steps: f64,
    limit: Limit,
}

impl HoltForecast {
    /// Holt smoothing with `sf`/`tf`, forecasting `steps` samples ahead against `limit`.
    ///
    /// # Errors
    /// [`HoltError`] for a factor outside (0, 1).
    pub fn new(sf: f64, tf: f64, steps: f64, limit: Limit) -> Result<Self, HoltError> {
        Ok(HoltForecast {
            holt: Holt::new(sf, tf)?,
            steps,
            limit,
        })
    }

    /// The smoother.
    pub fn holt(&self) -> &Holt {
        &self.holt
    }
}

impl Detector for HoltForecast {
    fn kind(&self) -> &'static str {
        "holt"
    }

    fn update(&mut self, _t: f64, value: f64) -> Option<Reading> {
        if !value.is_finite() {
            return None;
        }
        self.holt.update(value);
        let forecast = self.holt.forecast(self.steps)?;
        Some(Reading::new(self.limit.past(forecast), value).with_forecast(forecast))
    }
}
