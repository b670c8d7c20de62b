//! Conformance checks for [`LogSink`] implementations.

use std::sync::Arc;
use std::time::Duration;

use biv_core::LogSink;

use crate::samples::sample_log_record;

const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// A burst of 100 records is accepted and flushed (any sink must buffer that much).
pub async fn accepts_a_burst_and_flushes(sink: Arc<dyn LogSink>) {
    for n in 0..100 {
        if let Err(e) = sink.submit(sample_log_record(n)) {
            panic!("record {n} of a 100-record burst was refused: {e}");
        }
    }
    if let Err(e) = sink.flush(FLUSH_TIMEOUT) {
        panic!("flush after a burst failed: {e}");
    }
}

/// Flushing an idle sink succeeds at once.
pub async fn flush_with_nothing_pending_succeeds(sink: Arc<dyn LogSink>) {
    if let Err(e) = sink.flush(FLUSH_TIMEOUT) {
        panic!("flush of an idle sink failed: {e}");
    }
}

/// Four threads submitting 50 records each are all accepted, then flushed.
pub async fn concurrent_submits_are_accepted(sink: Arc<dyn LogSink>) {
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                (0..50)
                    .filter(|i| sink.submit(sample_log_record(t * 1000 + i)).is_err())
                    .count()
            })
        })
        .collect();
    for handle in threads {
        match handle.join() {
            Ok(0) => {}
            Ok(refused) => panic!("{refused} of 50 concurrently submitted records were refused"),
            Err(_) => panic!("a submitting thread panicked"),
        }
    }
    if let Err(e) = sink.flush(FLUSH_TIMEOUT) {
        panic!("flush after concurrent submits failed: {e}");
    }
}
