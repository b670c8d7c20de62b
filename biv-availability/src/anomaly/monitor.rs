//! A detector, a gate and a notifier: deviations become alerts.

use std::sync::Arc;

use biv_core::{Alert, AlertError, Clock, Notifier, NotifyError, Severity, Timestamp};

use super::{Detector, Gate, GateConfig, Reading, Transition};
use crate::metrics::Gauge;

/// How the alerts of one [`DeviationMonitor`] look.
///
/// ```
/// use biv_availability::anomaly::AlertTemplate;
/// use biv_core::Severity;
/// let t = AlertTemplate::new("BivPoolExhaustion", Severity::Warning, "db_pool_in_use")?
///     .with_label("service", "ehr-api")?;
/// assert_eq!(t.signal(), "db_pool_in_use");
/// # Ok::<(), biv_core::AlertError>(())
/// ```
#[derive(Debug, Clone)]
pub struct AlertTemplate {
    base: Alert,
    signal: String,
}

impl AlertTemplate {
    /// Alerts named `alertname` with `severity`, about the signal `signal` (label `signal`).
    ///
    /// # Errors
    /// [`AlertError`] for an invalid name or an empty signal.
    pub fn new(
        alertname: &str,
        severity: Severity,
        signal: impl Into<String>,
    ) -> Result<Self, AlertError> {
        let signal = signal.into();
        let base = Alert::new(alertname, severity, Timestamp::UNIX_EPOCH)?
            .with_label("signal", signal.clone())?;
        Ok(AlertTemplate { base, signal })
    }

    /// Adds a label to every alert.
    ///
    /// # Errors
    /// [`AlertError`] for an invalid or reserved name, or an empty value.
    pub fn with_label(mut self, name: &str, value: impl Into<String>) -> Result<Self, AlertError> {
        self.base = self.base.with_label(name, value)?;
        Ok(self)
    }

    /// The signal's name.
    pub fn signal(&self) -> &str {
        &self.signal
    }

    fn build(
        &self,
        kind: &str,
        reading: &Reading,
        starts_at: Timestamp,
    ) -> Result<Alert, AlertError> {
        let mut alert = Alert::new(self.base.name(), self.base.severity(), starts_at)?;
        for (k, v) in self.base.labels() {
            if k != "alertname" && k != "severity" {
                alert = alert.with_label(k, v.clone())?;
            }
        }
        alert = alert.with_label("detector", kind)?;
        let mut description = format!(
            "{} = {} (score {:.3})",
            self.signal,
            reading.value(),
            reading.score()
        );
        if let Some(f) = reading.forecast() {
            description.push_str(&format!("; forecast {f}"));
        }
        if let Some(s) = reading.time_to_limit() {
            description.push_str(&format!("; limit reached in {s:.0} s"));
        }
        Ok(alert
            .with_annotation("summary", format!("{} deviates ({kind})", self.signal))
            .with_annotation("description", description)
            .with_annotation("value", reading.value().to_string())
            .with_annotation(
                "forecast",
                reading
                    .forecast()
                    .map_or_else(String::new, |f| f.to_string()),
            ))
    }
}

/// Why an observation could not be handled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObserveError {
    /// The alert could not be built from the template.
    #[error("alert: {0}")]
    Alert(#[from] AlertError),
    /// The notifier did not accept the alert. The monitor's state has moved on (the alert is
    /// active or resolved as the transition says); the caller counts and may resend
    /// [`DeviationMonitor::active_alert`].
    #[error("notify: {0}")]
    Notify(#[from] NotifyError),
}

/// What one observation did.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The detector's reading, if it had enough data.
    pub reading: Option<Reading>,
    /// The gate's transition.
    pub transition: Transition,
}

/// A detector behind a [`Gate`]: a firing transition sends a firing [`Alert`] through the
/// notifier, a resolving one sends the same alert with `ends_at`. Time comes from the injected
/// [`Clock`].
///
/// See the [module example](super).
#[derive(Debug)]
pub struct DeviationMonitor<D> {
    detector: D,
    gate: Gate,
    template: AlertTemplate,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    active: Option<Alert>,
    score_gauge: Option<Gauge>,
}

impl<D: Detector> DeviationMonitor<D> {
    /// Wires a detector, gate configuration, alert template, notifier and clock.
    pub fn new(
        detector: D,
        gate: GateConfig,
        template: AlertTemplate,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        DeviationMonitor {
            detector,
            gate: Gate::new(gate),
            template,
            notifier,
            clock,
            active: None,
            score_gauge: None,
        }
    }

    /// Also sets `gauge` to each reading's score, e.g. a child of a `biv_anomaly_score{signal}`
    /// gauge family, so dashboards and Prometheus rules see the detector's view.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use biv_availability::anomaly::{AlertTemplate, DeviationMonitor, EwmaZScore, GateConfig};
    /// use biv_availability::metrics::Registry;
    /// use biv_core::{Severity, SystemClock};
    /// # #[derive(Debug)] struct Drop;
    /// # #[async_trait::async_trait] impl biv_core::Notifier for Drop {
    /// #     async fn notify(&self, _a: &biv_core::Alert) -> Result<(), biv_core::NotifyError> { Ok(()) } }
    /// let registry = Registry::new();
    /// let scores = registry.gauge_vec("biv_anomaly_score", "Detector score.", &["signal"])?;
    /// let monitor = DeviationMonitor::new(
    ///     EwmaZScore::new(0.1)?,
    ///     GateConfig::new(3.0, 2.0)?,
    ///     AlertTemplate::new("BivLatencyDeviates", Severity::Warning, "latency")?,
    ///     Arc::new(Drop),
    ///     Arc::new(SystemClock::new()),
    /// )
    /// .with_score_gauge(scores.with_label_values(&["latency"])?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_score_gauge(mut self, gauge: Gauge) -> Self {
        self.score_gauge = Some(gauge);
        self
    }

    /// Feeds one sample taken now.
    ///
    /// # Errors
    /// [`ObserveError`] when an alert cannot be built or delivered.
    pub async fn observe(&mut self, value: f64) -> Result<Outcome, ObserveError> {
        let now = self.clock.now();
        // f64 seconds keep sub-microsecond precision for present-day timestamps.
        #[allow(clippy::cast_precision_loss)]
        let t = now.unix_nanos() as f64 / 1e9;
        let Some(reading) = self.detector.update(t, value) else {
            return Ok(Outcome {
                reading: None,
                transition: Transition::None,
            });
        };
        if let Some(g) = &self.score_gauge {
            g.set(reading.score());
        }
        let transition = self.gate.observe(reading.score(), now);
        match transition {
            Transition::Fire => {
                let alert = self.template.build(self.detector.kind(), &reading, now)?;
                self.active = Some(alert.clone());
                self.notifier.notify(&alert).await?;
            }
            Transition::Resolve => {
                if let Some(alert) = self.active.clone() {
                    // A clock stepped back (NTP) must not lose the resolution: it ends no
                    // earlier than it started.
                    let ends_at = now.max(alert.starts_at());
                    let resolved = alert.resolved_at(ends_at)?;
                    // Kept active until the notifier took the resolution, so `active_alert` does
                    // not claim a resolution nobody received.
                    self.notifier.notify(&resolved).await?;
                    self.active = None;
                }
            }
            _ => {}
        }
        Ok(Outcome {
            reading: Some(reading),
            transition,
        })
    }

    /// The firing alert, if any.
    pub fn active_alert(&self) -> Option<&Alert> {
        self.active.as_ref()
    }

    /// The detector.
    pub fn detector(&self) -> &D {
        &self.detector
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }
}
