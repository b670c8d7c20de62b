//! The audit-sink, log-sink, notifier and clock checks catch broken implementations.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{
    Alert, AuditAppendError, AuditEvent, AuditReceipt, AuditSink, Clock, LogFlushError, LogRecord,
    LogSink, LogSubmitError, Notifier, NotifyError, Timestamp,
};
use biv_testkit::conformance::{self, audit_sink, clock, log_sink, notifier};

/// Skips an index now and then, accepts everything, never validates.
#[derive(Debug, Default)]
struct GappySink(AtomicU64);

#[async_trait]
impl AuditSink for GappySink {
    async fn append(&self, _event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let index = n + n / 5;
        Ok(AuditReceipt::new(
            index,
            [u8::try_from(index % 256).unwrap_or(0); 32],
        ))
    }
}

#[test]
#[should_panic(expected = "consecutive")]
fn gaps_in_indices_are_caught() {
    conformance::run(audit_sink::receipts_are_dense_and_increasing(Arc::new(
        GappySink::default(),
    )));
}

#[test]
#[should_panic(expected = "must be Invalid")]
fn skipping_validation_is_caught() {
    conformance::run(audit_sink::invalid_events_are_rejected_and_not_recorded(
        Arc::new(GappySink::default()),
    ));
}

#[test]
#[should_panic(expected = "must be Duplicate")]
fn accepting_replays_is_caught() {
    conformance::run(audit_sink::duplicate_event_ids_are_rejected(Arc::new(
        GappySink::default(),
    )));
}

/// Holds ten records, then refuses.
#[derive(Debug, Default)]
struct TinySink(Mutex<usize>);

impl LogSink for TinySink {
    fn submit(&self, _record: LogRecord) -> Result<(), LogSubmitError> {
        let mut n = self.0.lock().expect("lock");
        if *n >= 10 {
            return Err(LogSubmitError::Full);
        }
        *n += 1;
        Ok(())
    }
    fn flush(&self, _timeout: Duration) -> Result<(), LogFlushError> {
        Ok(())
    }
}

#[test]
#[should_panic(expected = "was refused")]
fn a_sink_that_cannot_take_a_burst_is_caught() {
    conformance::run(log_sink::accepts_a_burst_and_flushes(Arc::new(
        TinySink::default(),
    )));
}

#[derive(Debug)]
struct Down;

#[async_trait]
impl Notifier for Down {
    async fn notify(&self, _alert: &Alert) -> Result<(), NotifyError> {
        Err(NotifyError::Closed)
    }
}

#[test]
#[should_panic(expected = "refused")]
fn a_notifier_that_refuses_is_caught() {
    conformance::run(notifier::accepts_firing_then_resolved(Arc::new(Down)));
}

/// Goes back one second on every read.
#[derive(Debug, Default)]
struct Backwards(AtomicU64);

impl Clock for Backwards {
    fn now(&self) -> Timestamp {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Timestamp::from_unix_seconds(1_000_000 - i64::try_from(n).expect("small"), 0)
            .expect("in range")
    }
}

#[test]
#[should_panic(expected = "went backwards")]
fn a_clock_that_goes_backwards_is_caught() {
    conformance::run(clock::never_goes_backwards_between_reads(Arc::new(
        Backwards::default(),
    )));
}
