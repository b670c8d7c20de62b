//! Deviation detection: streaming detectors that signal a deviation *before* a hard limit is
//! crossed, and a [`DeviationMonitor`] that turns their scores into [`biv_core::Alert`]s.
//!
//! - [`EwmaZScore`]: exponentially weighted mean/variance and the z-score of each sample.
//! - [`Holt`] / [`HoltForecast`]: Holt's double exponential smoothing (level + trend), equal to
//!   PromQL's `double_exponential_smoothing` (`holt_winters` before Prometheus 3).
//! - [`LinearWindow`] / [`Exhaustion`]: a streaming least-squares fit over a sliding window,
//!   PromQL's `deriv` and `predict_linear`, and time-to-exhaustion for disk, memory, pools and
//!   error budget. [`deriv`], [`predict_linear`] and [`double_exponential_smoothing`] are the pure
//!   functions over one range, checked against Prometheus' `functions.test`.
//! - [`Gate`]: warm-up, hysteresis (separate enter and exit thresholds, N consecutive samples) and
//!   cooldown.
//!
//! Every detector's `update` is `O(1)` and allocation-free; an alert is built only on a
//! transition.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use biv_availability::anomaly::{AlertTemplate, DeviationMonitor, Exhaustion, GateConfig, Limit};
//! use biv_core::{Severity, SystemClock};
//! # use biv_core::{Alert, Notifier, NotifyError};
//! # #[derive(Debug)] struct Log;
//! # #[async_trait::async_trait] impl Notifier for Log {
//! #     async fn notify(&self, _a: &Alert) -> Result<(), NotifyError> { Ok(()) } }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let detector = Exhaustion::new(
//!     Limit::Below(0.0),                 // free bytes reach zero …
//!     Duration::from_secs(4 * 3600),     // … within four hours
//!     120,
//!     Duration::from_secs(3600),         // fitted over the last hour
//! );
//! let gate = GateConfig::new(0.0, -1e9)?.with_warm_up(5);
//! let template = AlertTemplate::new("BivDiskWillFill", Severity::Warning, "disk_free_bytes")?;
//! let mut monitor = DeviationMonitor::new(
//!     detector, gate, template, Arc::new(Log), Arc::new(SystemClock::new()),
//! );
//! monitor.observe(52e9).await?;
//! # Ok(()) }
//! ```

mod ewma;
mod gate;
mod holt;
mod monitor;
mod regression;

pub use ewma::{EwmaError, EwmaZScore};
pub use gate::{Gate, GateConfig, GateConfigError, Transition};
pub use holt::{Holt, HoltError, HoltForecast, double_exponential_smoothing};
pub use monitor::{AlertTemplate, DeviationMonitor, ObserveError, Outcome};
pub use regression::{
    Exhaustion, LinearWindow, Regression, deriv, linear_regression, predict_linear,
};

use std::fmt::Debug;

/// A hard limit a forecast is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Limit {
    /// The value must stay below this (used bytes, queue depth, pool in use).
    Above(f64),
    /// The value must stay above this (free bytes, remaining error budget).
    Below(f64),
}

impl Limit {
    /// Signed distance of `value` past the limit: `>= 0` when the limit is reached.
    pub fn past(&self, value: f64) -> f64 {
        match *self {
            Limit::Above(l) => value - l,
            Limit::Below(l) => l - value,
        }
    }
}

/// One detector output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    score: f64,
    value: f64,
    forecast: Option<f64>,
    time_to_limit: Option<f64>,
}

impl Reading {
    /// A reading with a score (larger is worse) for the sample `value`.
    pub fn new(score: f64, value: f64) -> Self {
        Reading {
            score,
            value,
            forecast: None,
            time_to_limit: None,
        }
    }

    /// Adds the forecast (or baseline) the sample was compared with.
    #[must_use]
    pub fn with_forecast(mut self, forecast: f64) -> Self {
        self.forecast = Some(forecast);
        self
    }

    /// Adds the predicted seconds until the limit is reached.
    #[must_use]
    pub fn with_time_to_limit(mut self, seconds: f64) -> Self {
        self.time_to_limit = Some(seconds);
        self
    }

    /// The score compared with the gate's thresholds.
    pub fn score(&self) -> f64 {
        self.score
    }

    /// The sample.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The forecast or baseline, if the detector has one.
    pub fn forecast(&self) -> Option<f64> {
        self.forecast
    }

    /// Predicted seconds until the limit is reached, if it is approached.
    pub fn time_to_limit(&self) -> Option<f64> {
        self.time_to_limit
    }
}

/// A streaming detector: one sample in, at most one [`Reading`] out (`None` while it lacks
/// data). Implementations must not allocate per sample.
pub trait Detector: Send + Debug {
    /// A short name for the `detector` label (`ewma_zscore`, `holt`, `linear_exhaustion`).
    fn kind(&self) -> &'static str;

    /// Absorbs `value` observed at `t` seconds (any fixed origin) and scores it.
    fn update(&mut self, t: f64, value: f64) -> Option<Reading>;
}
