//! Loss-free under trouble: the receiver goes away under load and comes back; the shipper is
//! killed in mid-stream and restarted. Afterwards the receiver holds every record exactly once
//! by `_id`. (The process-level kill, `biv logs ship` under SIGKILL, is in biv-cli/tests/logs.rs.)

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use biv_availability::shipping::{
    Backoff, BulkShipper, ElasticConfig, RetryReason, ShipperConfig, Spool, SpoolConfig,
    SpoolReader, SpoolSink, SpoolSinkConfig,
};
use biv_core::{LogSink, SystemClock};
use biv_testkit::elastic::ElasticReceiver;
use biv_testkit::sample_log_record;

const INDEX: &str = "biv-logs";
const BOUND: Duration = Duration::from_secs(60);

fn fresh(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("biv-shipping-outage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config() -> ShipperConfig {
    ShipperConfig::new()
        .with_batch(64 << 10, 50)
        .with_timing(Duration::from_millis(5), Duration::from_millis(5))
        .with_backoff(Backoff::new(
            Duration::from_millis(2),
            Duration::from_millis(50),
            Duration::from_secs(5),
        ))
        .with_request_timeout(Duration::from_secs(5))
}

fn shipper(dir: &PathBuf, es: &ElasticReceiver) -> BulkShipper {
    BulkShipper::new(
        SpoolReader::open(dir).expect("reader"),
        ElasticConfig::new(&es.url(), INDEX).expect("config"),
        config(),
        Arc::new(SystemClock::new()),
    )
    .expect("shipper")
}

/// Polls `cond` every few milliseconds; fails the test after [`BOUND`].
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn assert_exactly_once(es: &ElasticReceiver, n: u64) {
    let stored: Vec<String> = es.documents(INDEX).into_iter().map(|(id, _)| id).collect();
    let unique: HashSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), unique.len(), "an _id stored twice");
    let expected: HashSet<String> = (0..n)
        .map(|i| sample_log_record(i).id().to_string())
        .collect();
    assert_eq!(unique.len(), expected.len());
    assert_eq!(unique, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_goes_away_under_load_and_every_record_arrives_exactly_once() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("away");
    let spool = Arc::new(
        Spool::open(&dir, SpoolConfig::new().with_segment_bytes(64 << 10)).expect("spool"),
    );
    let sink = SpoolSink::new(Arc::clone(&spool), SpoolSinkConfig::new()).expect("sink");
    let mut s = shipper(&dir, &es);
    let stats = s.stats();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let report = s
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
        (report, s)
    });

    let per_phase = 1500u64;
    let mut next = 0u64;
    let mut produce = |n: u64| {
        for _ in 0..n {
            sink.submit(sample_log_record(next)).expect("submit");
            next += 1;
        }
    };
    produce(per_phase);
    wait_until("first deliveries", || es.count(INDEX) >= 200).await;

    // Outage: connections are dropped and refused; records keep coming.
    es.stop();
    produce(per_phase);
    let before = stats.retries(RetryReason::Transport);
    wait_until("retries during the outage", || {
        stats.retries(RetryReason::Transport) >= before + 5
    })
    .await;
    let during = es.count(INDEX);
    produce(per_phase);
    es.resume();
    produce(per_phase);
    sink.flush(Duration::from_secs(10)).expect("flush");
    let total = next;
    wait_until("every record answered", || {
        stats.delivered() + stats.conflicts() >= total
    })
    .await;
    stop_tx.send(()).expect("stop shipper");
    let (report, _s) = task.await.expect("join");
    let report = report.expect("run");

    assert!(during < total as usize, "the outage happened mid-stream");
    assert_exactly_once(&es, total);
    // A request whose answer was lost in the outage is sent again and answered 409.
    assert!(report.delivered <= total);
    assert!(report.delivered + report.conflicts >= total);
    assert_eq!(spool.stats().dropped_total(), 0, "nothing dropped");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shipper_cancelled_in_mid_stream_and_restarted_leaves_every_record_exactly_once() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("cancel");
    let total = 2000u64;
    let spool = Spool::open(&dir, SpoolConfig::new().with_segment_bytes(32 << 10)).expect("spool");
    for i in 0..total {
        spool.append(&sample_log_record(i)).expect("append");
    }
    spool.sync().expect("sync");
    // A slow cluster, so the cancellation lands while requests are in flight.
    es.set_delay(Duration::from_millis(15));
    let mut s = shipper(&dir, &es);
    let task = tokio::spawn(async move { s.ship_available().await });
    wait_until("some deliveries", || es.count(INDEX) >= 300).await;
    task.abort();
    let _ = task.await; // the shipper (and its reader lock) is dropped
    // A request the receiver had already taken, or that still sat in the socket, may still be
    // applied: wait until the aborted shipper's connections are closed and nothing is in flight.
    wait_until("the aborted shipper's connections closed", || {
        es.open_connections() == 0 && es.in_flight() == 0
    })
    .await;
    let at_kill = es.count(INDEX);
    assert!(
        at_kill < total as usize,
        "cancelled in mid-stream ({at_kill})"
    );

    es.set_delay(Duration::ZERO);
    let mut s = shipper(&dir, &es);
    let report = tokio::time::timeout(BOUND, s.ship_available())
        .await
        .expect("bounded")
        .expect("ship");
    // Records the receiver already had and the lost acknowledgement did not cover come back
    // as 409; every other one is stored now.
    assert_eq!(report.delivered, total - at_kill as u64);
    assert!(report.conflicts <= at_kill as u64);
    assert_exactly_once(&es, total);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
