//! # biv-testkit: test doubles and conformance checks for biv
//!
//! For biv's own crates and for hosts that implement or use biv-core's traits:
//!
//! - [`ManualClock`]: time that moves only when the test says so;
//! - [`InMemoryAuditSink`], [`InMemoryLogSink`], [`InMemoryNotifier`]: in-memory
//!   implementations that keep the traits' whole contracts, with switches to simulate outages;
//! - sample values ([`sample_event`], [`sample_log_record`], [`sample_alert`], [`sample_change`]);
//! - conformance macros — [`audit_sink_conformance!`], [`log_sink_conformance!`],
//!   [`notifier_conformance!`], [`clock_conformance!`], [`monitor_conformance!`],
//!   [`redactor_conformance!`], [`reviewer_conformance!`], [`encryptor_conformance!`],
//!   [`key_provider_conformance!`] — that generate one test per rule of
//!   a trait's contract for any implementation (see [`conformance`]);
//! - [`servers`]: where `cargo xtask test` started the loopback servers for server-backed tests.
//!
//! ## Example
//! ```
//! use std::sync::Arc;
//! use biv_core::{AuditSink, Clock};
//! use biv_testkit::{InMemoryAuditSink, ManualClock, sample_event};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = Arc::new(ManualClock::default());
//! let audit = Arc::new(InMemoryAuditSink::new());
//! audit.set_unavailable(true); // the disk is full: the host must refuse the read
//! assert!(audit.append(&sample_event(1)).await.is_err());
//! assert!(audit.events().is_empty());
//! # let _ = clock.now();
//! # });
//! ```

mod audit_sink;
mod clock;
pub mod conformance;
pub mod elastic;
pub mod files;
mod log_sink;
mod loopback;
pub mod net;
mod notifier;
mod samples;
pub mod servers;
pub mod witness;

pub use audit_sink::InMemoryAuditSink;
pub use clock::ManualClock;
pub use log_sink::InMemoryLogSink;
pub use notifier::InMemoryNotifier;
pub use samples::{sample_alert, sample_change, sample_event, sample_log_record};
