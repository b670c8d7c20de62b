//! Configuration drift: is what is deployed what version control holds?
//!
//! A [`Manifest`] lists every file of one commit of the configuration repository — path, git
//! mode and SHA-256 of the content; files matching secret patterns are stored as HMAC-SHA256
//! under a caller-supplied [`SecretKey`], never as a plain hash, so a low-entropy secret cannot
//! be guessed from the manifest. [`manifest_from_git`] generates it by running `git`;
//! [`check_dir`] compares it with a live directory and returns a [`DriftReport`] (added,
//! removed, changed, mode changed, not regular). [`record_drift`] writes the check to the audit
//! log, [`drift_alert`] builds the alert, and [`DriftMonitor`] puts it into the health report.
//!
//! Format: `docs/formats/drift-manifest.md`.

mod compare;
mod git;
mod manifest;
mod monitor;
mod record;

pub use compare::{CheckError, CheckOptions, DriftReport, ModeChange, check_dir};
pub use git::{GitManifestError, ManifestOptions, manifest_from_git};
pub use manifest::{
    MANIFEST_VERSION, MIN_SECRET_KEY_LEN, MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Manifest,
    ManifestEntry, ManifestError, ManifestSource, PathPatterns, SecretKey, SecretKeyError,
    valid_path,
};
pub use monitor::DriftMonitor;
pub use record::{
    DRIFT_ACTION, DRIFT_ALERT, DriftRecord, RecordDriftError, drift_alert, drift_event,
    drift_resolved, record_drift,
};
