//! The in-memory implementations pass the conformance checks they ship.

use biv_core::SystemClock;
use biv_testkit::{
    InMemoryAuditSink, InMemoryLogSink, InMemoryNotifier, ManualClock, audit_sink_conformance,
    clock_conformance, log_sink_conformance, notifier_conformance,
};

audit_sink_conformance!(InMemoryAuditSink::new());
log_sink_conformance!(InMemoryLogSink::new());
notifier_conformance!(InMemoryNotifier::new());
clock_conformance!(ManualClock::default());

mod system_clock {
    use super::*;
    clock_conformance!(SystemClock::new());
}
