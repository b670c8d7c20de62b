//! Warm-up, hysteresis and cooldown: turns a stream of scores into fire and resolve transitions.

use std::time::Duration;

use biv_core::Timestamp;

/// Why a [`GateConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GateConfigError {
    /// A threshold is NaN.
    #[error("threshold is NaN")]
    NanThreshold,
    /// The exit threshold lies above the enter threshold, so the gate would flap.
    #[error("exit threshold {exit} lies above enter threshold {enter}")]
    ExitAboveEnter {
        /// The enter threshold.
        enter: f64,
        /// The exit threshold.
        exit: f64,
    },
    /// `consecutive` is 0.
    #[error("consecutive must be at least 1")]
    ZeroConsecutive,
}

/// When a score raises and clears an alert.
///
/// ```
/// use std::time::Duration;
/// use biv_availability::anomaly::GateConfig;
/// let cfg = GateConfig::new(3.0, 2.0)?
///     .with_warm_up(30)
///     .with_consecutive(2)?
///     .with_cooldown(Duration::from_secs(600));
/// assert_eq!(cfg.enter(), 3.0);
/// # Ok::<(), biv_availability::anomaly::GateConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateConfig {
    enter: f64,
    exit: f64,
    warm_up: u64,
    consecutive: u32,
    cooldown: Duration,
}

impl GateConfig {
    /// Fire when the score is `>= enter`, resolve when it is `< exit` (`exit <= enter`: the gap
    /// is the hysteresis). No warm-up, one sample suffices, no cooldown.
    ///
    /// # Errors
    /// [`GateConfigError`] for NaN thresholds or `exit > enter`.
    pub fn new(enter: f64, exit: f64) -> Result<Self, GateConfigError> {
        if enter.is_nan() || exit.is_nan() {
            return Err(GateConfigError::NanThreshold);
        }
        if exit > enter {
            return Err(GateConfigError::ExitAboveEnter { enter, exit });
        }
        Ok(GateConfig {
            enter,
            exit,
            warm_up: 0,
            consecutive: 1,
            cooldown: Duration::ZERO,
        })
    }

    /// Ignores the first `samples` scored samples (the baseline is still learning).
    #[must_use]
    pub fn with_warm_up(mut self, samples: u64) -> Self {
        self.warm_up = samples;
        self
    }

    /// Requires `n` consecutive samples past a threshold to fire or resolve.
    ///
    /// # Errors
    /// [`GateConfigError::ZeroConsecutive`] for 0.
    pub fn with_consecutive(mut self, n: u32) -> Result<Self, GateConfigError> {
        if n == 0 {
            return Err(GateConfigError::ZeroConsecutive);
        }
        self.consecutive = n;
        Ok(self)
    }

    /// Fires at most once per `cooldown` (measured from the previous firing).
    #[must_use]
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The enter threshold.
    pub fn enter(&self) -> f64 {
        self.enter
    }

    /// The exit threshold.
    pub fn exit(&self) -> f64 {
        self.exit
    }

    /// Warm-up samples.
    pub fn warm_up(&self) -> u64 {
        self.warm_up
    }

    /// Consecutive samples needed.
    pub fn consecutive(&self) -> u32 {
        self.consecutive
    }

    /// The cooldown.
    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }
}

/// What a sample did to the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transition {
    /// No change.
    None,
    /// The alert starts firing.
    Fire,
    /// The alert is resolved.
    Resolve,
    /// The score crossed the enter threshold but the cooldown suppressed a new alert.
    Suppressed,
}

/// The gate's state machine. Pure: time is an argument.
///
/// ```
/// use biv_availability::anomaly::{Gate, GateConfig, Transition};
/// use biv_core::Timestamp;
/// let mut g = Gate::new(GateConfig::new(3.0, 2.0)?);
/// let t = Timestamp::UNIX_EPOCH;
/// assert_eq!(g.observe(3.5, t), Transition::Fire);
/// assert_eq!(g.observe(2.5, t), Transition::None); // inside the hysteresis band
/// assert_eq!(g.observe(1.0, t), Transition::Resolve);
/// # Ok::<(), biv_availability::anomaly::GateConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gate {
    cfg: GateConfig,
    seen: u64,
    firing: bool,
    streak: u32,
    last_fired: Option<Timestamp>,
}

impl Gate {
    /// A gate in the resolved state.
    pub fn new(cfg: GateConfig) -> Self {
        Gate {
            cfg,
            seen: 0,
            firing: false,
            streak: 0,
            last_fired: None,
        }
    }

    /// Whether the alert is firing.
    pub fn is_firing(&self) -> bool {
        self.firing
    }

    /// Whether the warm-up is over.
    pub fn is_warm(&self) -> bool {
        self.seen > self.cfg.warm_up
    }

    /// The configuration.
    pub fn config(&self) -> &GateConfig {
        &self.cfg
    }

    /// Feeds one score observed at `now`. NaN scores are ignored.
    pub fn observe(&mut self, score: f64, now: Timestamp) -> Transition {
        if score.is_nan() {
            return Transition::None;
        }
        self.seen = self.seen.saturating_add(1);
        if self.seen <= self.cfg.warm_up {
            return Transition::None;
        }
        let past = if self.firing {
            score < self.cfg.exit
        } else {
            score >= self.cfg.enter
        };
        if !past {
            self.streak = 0;
            return Transition::None;
        }
        self.streak = self.streak.saturating_add(1);
        if self.streak < self.cfg.consecutive {
            return Transition::None;
        }
        self.streak = 0;
        if self.firing {
            self.firing = false;
            return Transition::Resolve;
        }
        if let Some(last) = self.last_fired
            && now
                .duration_since(last)
                .is_some_and(|since| since < self.cfg.cooldown)
        {
            return Transition::Suppressed;
        }
        self.firing = true;
        self.last_fired = Some(now);
        Transition::Fire
    }
}
