//! A flood of records: the spool's byte cap holds, every drop is counted by reason and visible
//! as a metric, the application's `submit` returns within its budget, and space freed by the
//! shipper is used again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use biv_availability::metrics::{Format, Registry};
use biv_availability::shipping::{
    BulkShipper, DropReason, ElasticConfig, FsyncPolicy, ShipperConfig, Spool, SpoolConfig,
    SpoolReader, SpoolSink, SpoolSinkConfig,
};
use biv_core::{LogSink, LogSubmitError, SystemClock};
use biv_testkit::elastic::ElasticReceiver;
use biv_testkit::sample_log_record;

fn fresh(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("biv-shipping-flood-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .map(|p| std::fs::metadata(p).expect("meta").len())
        .sum()
}

/// A fresh sink on a fresh spool, for the `LogSink` conformance tests.
fn conformance_sink() -> SpoolSink {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = fresh(&format!("conformance-{n}"));
    let spool = Spool::open(&dir, SpoolConfig::new()).expect("spool");
    SpoolSink::new(Arc::new(spool), SpoolSinkConfig::new()).expect("sink")
}

biv_testkit::log_sink_conformance!(conformance_sink());

/// Scheduling allowance on top of the budget: the test machine is shared, and a thread can be
/// descheduled for a while between checking the clock and returning.
const SCHEDULING: Duration = Duration::from_millis(250);

#[test]
fn under_a_flood_the_cap_holds_drops_are_counted_and_submit_stays_within_budget() {
    let dir = fresh("cap");
    let cap = 256 << 10;
    let spool = Arc::new(
        Spool::open(
            &dir,
            SpoolConfig::new()
                .with_segment_bytes(32 << 10)
                .with_max_bytes(cap)
                .with_fsync(FsyncPolicy::Always),
        )
        .expect("spool"),
    );
    let registry = Registry::new();
    registry.register_collector(spool.stats());
    let budget = Duration::from_millis(2);
    let sink = Arc::new(
        SpoolSink::new(
            Arc::clone(&spool),
            SpoolSinkConfig::new()
                .with_queue_bytes(16 << 10)
                .with_budget(budget),
        )
        .expect("sink"),
    );
    let threads = 4u64;
    let per_thread = 5000u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                let (mut ok, mut full, mut slowest) = (0u64, 0u64, Duration::ZERO);
                for i in 0..per_thread {
                    let record = sample_log_record(t * per_thread + i);
                    let started = Instant::now();
                    let result = sink.submit(record);
                    slowest = slowest.max(started.elapsed());
                    match result {
                        Ok(()) => ok += 1,
                        Err(LogSubmitError::Full) => full += 1,
                        Err(e) => panic!("unexpected refusal: {e}"),
                    }
                }
                (ok, full, slowest)
            })
        })
        .collect();
    let (mut ok, mut full, mut slowest) = (0u64, 0u64, Duration::ZERO);
    for h in handles {
        let (o, f, s) = h.join().expect("producer");
        ok += o;
        full += f;
        slowest = slowest.max(s);
    }
    sink.flush(Duration::from_secs(30)).expect("flush");
    let stats = spool.stats();
    let total = threads * per_thread;

    assert!(
        slowest <= budget + SCHEDULING,
        "the slowest submit took {slowest:?}"
    );
    assert_eq!(ok + full, total);
    assert_eq!(stats.dropped(DropReason::Budget), full);
    // Every accepted record was either written or refused by the cap, and counted.
    assert_eq!(stats.appended() + stats.dropped(DropReason::Cap), ok);
    assert!(
        stats.dropped(DropReason::Cap) > 0,
        "{total} records of ~200 bytes exceed a 256 KiB cap"
    );
    let on_disk = disk_bytes(&dir);
    assert!(on_disk <= cap, "{on_disk} bytes on disk, cap {cap}");
    assert!(on_disk > cap / 2, "the spool was filled ({on_disk})");
    let text = registry.encode(Format::Prometheus);
    let line = format!(
        "biv_spool_records_dropped_total{{reason=\"cap\"}} {}\n",
        stats.dropped(DropReason::Cap)
    );
    assert!(text.contains(&line), "{text}");

    // Shipping frees the space (another writer lifetime is not needed: the writer recounts).
    let es = ElasticReceiver::start().expect("receiver");
    let mut shipper = BulkShipper::new(
        SpoolReader::open(&dir).expect("reader"),
        ElasticConfig::new(&es.url(), "flood").expect("config"),
        ShipperConfig::new(),
        Arc::new(SystemClock::new()),
    )
    .expect("shipper");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(shipper.ship_available()).expect("ship");
    assert_eq!(report.delivered, stats.appended());
    assert_eq!(es.count("flood") as u64, stats.appended());
    assert!(disk_bytes(&dir) < cap / 4, "shipped segments are deleted");
    let cap_drops = stats.dropped(DropReason::Cap);
    std::thread::sleep(Duration::from_millis(30)); // past the writer's recount interval
    for i in 0..100 {
        spool
            .append(&sample_log_record(1_000_000 + i))
            .expect("room again after shipping");
    }
    assert_eq!(stats.dropped(DropReason::Cap), cap_drops);
    drop(sink);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn with_a_zero_budget_a_full_queue_refuses_at_once_and_every_refusal_is_counted() {
    let dir = fresh("closed");
    let spool = Arc::new(Spool::open(&dir, SpoolConfig::new()).expect("spool"));
    let sink = SpoolSink::new(
        Arc::clone(&spool),
        SpoolSinkConfig::new()
            .with_queue_bytes(1)
            .with_budget(Duration::ZERO),
    )
    .expect("sink");
    let mut refused = 0u64;
    let started = Instant::now();
    for i in 0..2000 {
        if sink.submit(sample_log_record(i)).is_err() {
            refused += 1;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    sink.flush(Duration::from_secs(10)).expect("flush");
    assert_eq!(spool.stats().dropped(DropReason::Budget), refused);
    assert_eq!(spool.stats().appended() + refused, 2000);
    drop(sink);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
