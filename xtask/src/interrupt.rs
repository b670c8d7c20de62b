//! Ctrl-C (SIGINT), SIGTERM and SIGHUP: instead of dying on the spot and leaving servers
//! behind, the harness notes the signal, ends the step it is in, and stops everything.
//!
//! The servers and `cargo test` run in their own process groups, so a Ctrl-C in the
//! terminal reaches only the harness; it forwards the interrupt to `cargo test` itself.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Context, Result, bail};

/// Set once a termination signal has arrived.
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Routes SIGINT, SIGTERM and SIGHUP to the flag (call once, early).
pub(crate) fn install() -> Result<()> {
    let flag = FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(flag))
            .with_context(|| format!("installing a handler for signal {signal}"))?;
    }
    Ok(())
}

/// Whether a termination signal has arrived.
pub(crate) fn interrupted() -> bool {
    FLAG.get().is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// Fails if a termination signal has arrived, so the current step ends.
pub(crate) fn check() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}
