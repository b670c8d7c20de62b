//! Alert delivery: [`AlertmanagerNotifier`] sends biv-core [`Alert`](biv_core::Alert)s — from the
//! deviation detectors, configuration drift, a failing audit sink — to Prometheus Alertmanager
//! through its API v2, re-sending firing alerts until they resolve; [`LogNotifier`] writes them
//! into the central log instead, for hosts without an Alertmanager.
//!
//! The request body is specified in `docs/formats/alertmanager.md`.

mod alertmanager;
mod log;
mod payload;

pub use alertmanager::{
    AlertmanagerConfigError, AlertmanagerNotifier, AlertmanagerNotifierBuilder,
    DEFAULT_RESEND_INTERVAL, DEFAULT_TIMEOUT, MAX_ACTIVE_ALERTS, ResendTask,
};
pub use log::LogNotifier;
