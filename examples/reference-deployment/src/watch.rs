//! Deviation detection in the reference deployment: the data directory's available bytes feed a
//! time-to-exhaustion detector (PromQL's `predict_linear`), so the team is warned hours before
//! the disk is full, not when it is.
//!
//! | what | value |
//! |---|---|
//! | sample | bytes available on the data directory's file system, every [`WATCH_INTERVAL`] |
//! | detector | least-squares line over the last [`FIT_RANGE`] (6 h); fires when the line reaches 0 bytes within [`HORIZON`] (4 h) |
//! | gate | [`WARM_UP`] readings (30 min) before it may fire, [`CONSECUTIVE`] in a row (5 min) to fire, resolves once the forecast is 1 GiB clear of empty; 10 minutes cooldown |
//! | alert | `BivDataDiskFilling` (warning) with labels `service`, `signal`, `detector` |
//! | delivery | Alertmanager when `--alertmanager` is given (re-sent every minute while firing), the ECS log otherwise |
//! | metric | `biv_anomaly_score{signal="disk_available_bytes"}`: the detector's score (≥ 0 means "full within the horizon") |

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use biv_availability::anomaly::{
    AlertTemplate, DeviationMonitor, Exhaustion, GateConfig, GateConfigError, Limit,
};
use biv_availability::metrics::{Gauge, MetricsError, Registry};
use biv_core::{AlertError, Clock, Notifier};

/// How often the available bytes are sampled.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(10);

/// How far ahead the detector looks for an empty disk.
pub const HORIZON: Duration = Duration::from_secs(4 * 3600);

/// The window the line is fitted over: long, like node-mixin's `predict_linear(…[6h], 4h)`, so a
/// burst of writes does not look like a trend.
pub const FIT_RANGE: Duration = Duration::from_secs(6 * 3600);

/// Readings before the gate may fire (30 minutes of samples).
pub const WARM_UP: u64 = 180;

/// Readings in a row past the limit that fire the alert (5 minutes of samples).
pub const CONSECUTIVE: u32 = 30;

/// The signal name in the alert and the score metric.
pub const SIGNAL: &str = "disk_available_bytes";

/// Why the watch could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The alert template was refused.
    #[error("alert template: {0}")]
    Alert(#[from] AlertError),
    /// The gate configuration was refused.
    #[error("gate: {0}")]
    Gate(#[from] GateConfigError),
    /// The score metric could not be registered.
    #[error("score metric: {0}")]
    Metrics(#[from] MetricsError),
}

/// The deviation monitor for the data disk: detector, gate and alert as the module table says,
/// with the score written to `score`.
///
/// # Errors
/// [`WatchError`] when a part is refused (not with these constants).
pub fn disk_exhaustion_monitor(
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    score: Gauge,
) -> Result<DeviationMonitor<Exhaustion>, WatchError> {
    let samples = usize::try_from(FIT_RANGE.as_secs() / WATCH_INTERVAL.as_secs()).unwrap_or(2160);
    let detector = Exhaustion::new(Limit::Below(0.0), HORIZON, samples, FIT_RANGE);
    let gate = GateConfig::new(0.0, -1024.0 * 1024.0 * 1024.0)?
        .with_warm_up(WARM_UP)
        .with_consecutive(CONSECUTIVE)?
        .with_cooldown(Duration::from_secs(600));
    let template = AlertTemplate::new("BivDataDiskFilling", biv_core::Severity::Warning, SIGNAL)?
        .with_label("service", env!("CARGO_PKG_NAME"))?;
    Ok(DeviationMonitor::new(detector, gate, template, notifier, clock).with_score_gauge(score))
}

/// The `biv_anomaly_score{signal}` gauge child for [`SIGNAL`] in `registry`.
///
/// # Errors
/// [`MetricsError`] when the registry already has a `biv_anomaly_score` family.
pub fn score_gauge(registry: &Registry) -> Result<Gauge, MetricsError> {
    registry
        .gauge_vec(
            "biv_anomaly_score",
            "The deviation detectors' scores; for time-to-exhaustion, >= 0 means the limit is reached within the horizon.",
            &["signal"],
        )?
        .with_label_values(&[SIGNAL])
}

/// Samples the available bytes of `data_dir` every `interval` and feeds them to `monitor`,
/// until the task is aborted. A sample that cannot be taken, or an alert that cannot be
/// delivered, is logged and the watch goes on.
pub fn spawn_disk_watch(
    mut monitor: DeviationMonitor<Exhaustion>,
    data_dir: PathBuf,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let dir = data_dir.clone();
            let sample = tokio::task::spawn_blocking(move || {
                biv_availability::health::available_bytes(&dir)
            })
            .await;
            let bytes = match sample {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(e)) => {
                    tracing::warn!(event.dataset = "system", error.message = %e, "cannot sample the data disk");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(event.dataset = "system", error.message = %e, "disk sampling task failed");
                    continue;
                }
            };
            #[expect(
                clippy::cast_precision_loss,
                reason = "byte counts up to 2^53 are exact in f64"
            )]
            let value = bytes as f64;
            if let Err(e) = monitor.observe(value).await {
                tracing::warn!(event.dataset = "system", error.message = %e, "the disk alert was not delivered");
            }
        }
    })
}
