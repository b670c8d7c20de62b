//! The `_bulk` shipper against the stand-in receiver (biv_testkit::elastic, implementing
//! Elasticsearch's documented `_bulk` contract): 201, 409, 429 with Retry-After, 5xx, hang-ups,
//! 400 dead-lettered, 413 split, 401 stops.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use biv_availability::shipping::{
    Auth, Backoff, BulkShipper, ElasticConfig, RetryReason, Secret, ShipError, ShipReport,
    ShipperConfig, Spool, SpoolConfig, SpoolReader,
};
use biv_core::{Dataset, Level, LogRecord, RecordId, SystemClock, Timestamp};
use biv_testkit::elastic::{ElasticReceiver, Scripted};
use biv_testkit::sample_log_record;

const INDEX: &str = "biv-logs";
/// Every test finishes well within this; a hang fails instead of blocking the run.
const BOUND: Duration = Duration::from_secs(60);

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-shipping-bulk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A spool holding records 0..n; the writer stays open while the test holds it, so the
/// segment is not finished (and not deleted once shipped).
fn fill(dir: &PathBuf, n: u64) -> Spool {
    let spool = Spool::open(dir, SpoolConfig::new()).expect("open spool");
    for i in 0..n {
        spool.append(&sample_log_record(i)).expect("append");
    }
    spool.sync().expect("sync");
    spool
}

fn fast() -> ShipperConfig {
    ShipperConfig::new()
        .with_backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(20),
            Duration::from_secs(5),
        ))
        .with_request_timeout(Duration::from_secs(5))
}

fn shipper(dir: &PathBuf, es: &ElasticReceiver, config: ShipperConfig) -> BulkShipper {
    let elastic = ElasticConfig::new(&es.url(), INDEX).expect("config");
    BulkShipper::new(
        SpoolReader::open(dir).expect("reader"),
        elastic,
        config,
        Arc::new(SystemClock::new()),
    )
    .expect("shipper")
}

async fn ship(s: &mut BulkShipper) -> Result<ShipReport, ShipError> {
    tokio::time::timeout(BOUND, s.ship_available())
        .await
        .expect("shipping finished within the bound")
}

/// Runs the shipper until `n` records are delivered (bounded by [`BOUND`]), lets it go on for
/// `settle`, stops it and returns its report.
async fn run_until_delivered(mut s: BulkShipper, n: u64, settle: Duration) -> ShipReport {
    let stats = s.stats();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        s.run(async {
            let _ = stop_rx.await;
        })
        .await
    });
    let deadline = Instant::now() + BOUND;
    while stats.delivered() < n {
        assert!(Instant::now() < deadline, "delivered in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(settle).await;
    stop_tx.send(()).expect("stop");
    task.await.expect("join").expect("run")
}

fn ids(n: u64) -> HashSet<String> {
    (0..n)
        .map(|i| sample_log_record(i).id().to_string())
        .collect()
}

fn stored_ids(es: &ElasticReceiver) -> Vec<String> {
    es.documents(INDEX).into_iter().map(|(id, _)| id).collect()
}

fn assert_exactly_once(es: &ElasticReceiver, n: u64) {
    let stored = stored_ids(es);
    let unique: HashSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), unique.len(), "no _id twice");
    assert_eq!(unique, ids(n), "every record, and only those");
}

#[tokio::test]
async fn every_record_arrives_once_with_its_id_and_a_replay_is_409_and_acknowledged() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("replay");
    let _spool = fill(&dir, 50);
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("ship");
    assert_eq!(report.delivered, 50);
    assert_eq!(report.conflicts, 0);
    assert_exactly_once(&es, 50);
    // The source is the record's line, byte for byte.
    let docs = es.documents(INDEX);
    assert_eq!(docs[7].1, sample_log_record(7).line());
    drop(s);

    // Lose the acknowledgement (as after a crash between delivery and ack): everything is sent
    // again and refused as already there.
    std::fs::remove_file(dir.join("ack")).expect("remove ack");
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("ship again");
    assert_eq!(report.delivered, 0);
    assert_eq!(report.conflicts, 50);
    assert_eq!(s.stats().conflicts(), 50);
    assert_eq!(es.stats().items.get(&409), Some(&50));
    assert_exactly_once(&es, 50);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn a_throttled_request_waits_for_retry_after_and_throttled_items_are_retried() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("429");
    let _spool = fill(&dir, 10);
    es.respond_next(Scripted::status_retry_after(429, "1"));
    es.fail_items("request 3 served", 429, 2);
    let mut s = shipper(&dir, &es, fast());
    let started = Instant::now();
    let report = ship(&mut s).await.expect("ship");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured ({:?})",
        started.elapsed()
    );
    assert_eq!(report.delivered, 10);
    assert_eq!(es.stats().responses.get(&429), Some(&1));
    assert_eq!(es.stats().retry_after_sent, vec!["1".to_owned()]);
    assert_eq!(es.stats().items.get(&429), Some(&2));
    // One whole-request 429 and two rounds for the throttled item.
    assert_eq!(s.stats().retries(RetryReason::Throttled), 3);
    assert_exactly_once(&es, 10);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn server_errors_and_hang_ups_are_retried_with_backoff() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("5xx");
    let _spool = fill(&dir, 20);
    es.respond_next(Scripted::status(503));
    es.respond_next(Scripted::HangUp);
    es.respond_next(Scripted::status(500));
    es.fail_items("request 11 served", 503, 1);
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("ship");
    assert_eq!(report.delivered, 20);
    assert_eq!(s.stats().retries(RetryReason::ServerError), 3);
    assert_eq!(s.stats().retries(RetryReason::Transport), 1);
    assert_eq!(es.stats().responses.get(&503), Some(&1));
    assert_eq!(es.stats().responses.get(&500), Some(&1));
    assert_exactly_once(&es, 20);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn a_record_refused_with_400_is_dead_lettered_and_acknowledged() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("400");
    let _spool = fill(&dir, 10);
    es.fail_items("request 7 served", 400, u64::MAX);
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("ship");
    assert_eq!(report.delivered, 9);
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(s.stats().dead_lettered(), 1);
    let letters = std::fs::read_to_string(s.dead_letter_path()).expect("dead letters");
    let lines: Vec<serde_json::Value> = letters
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    let rec = sample_log_record(7);
    assert_eq!(lines[0]["_id"], rec.id().to_string());
    assert_eq!(lines[0]["status"], 400);
    assert_eq!(lines[0]["error"]["type"], "mapper_parsing_exception");
    assert_eq!(lines[0]["line"], rec.line());
    let stored: HashSet<String> = stored_ids(&es).into_iter().collect();
    assert!(!stored.contains(&rec.id().to_string()));
    assert_eq!(stored.len(), 9);
    // Acknowledged: another run sends nothing.
    let requests = es.stats().requests;
    drop(s);
    let mut s = shipper(&dir, &es, fast());
    let again = ship(&mut s).await.expect("ship again");
    assert_eq!((again.delivered, again.dead_lettered), (0, 0));
    assert_eq!(es.stats().requests, requests);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn a_400_from_a_proxy_stops_the_shipper_and_dead_letters_nothing() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("proxy-400");
    let _spool = fill(&dir, 10);
    es.respond_next(biv_testkit::elastic::Scripted::Proxy {
        status: 400,
        body: "<html>400 The plain HTTP request was sent to HTTPS port</html>".to_owned(),
    });
    let mut s = shipper(&dir, &es, fast());
    let err = ship(&mut s)
        .await
        .expect_err("a proxy's 400 is not about the records");
    assert!(
        matches!(err, ShipError::Rejected { status: 400 }),
        "{err:?}"
    );
    assert_eq!(s.stats().dead_lettered(), 0);
    assert!(!s.dead_letter_path().exists(), "nothing dead-lettered");
    // Nothing was acknowledged: once the path is right, every record is delivered.
    drop(s);
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("ship");
    assert_eq!((report.delivered, report.dead_lettered), (10, 0));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn not_bulk() -> Scripted {
    Scripted::Proxy {
        status: 200,
        body: "<html>Welcome to nginx!</html>".to_owned(),
    }
}

#[tokio::test]
async fn a_200_that_is_no_bulk_response_is_tried_again_but_not_forever() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("not-bulk");
    let _spool = fill(&dir, 10);
    // Once: a glitch, tried again, and everything is delivered.
    es.respond_next(not_bulk());
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("one odd answer is tried again");
    assert_eq!((report.delivered, report.dead_lettered), (10, 0));
    drop(s);
    std::fs::remove_dir_all(&dir).expect("cleanup");

    // Three, but not in a row: still glitches.
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("not-bulk-apart");
    let _spool = fill(&dir, 5);
    for _ in 0..2 {
        es.respond_next(not_bulk());
        es.respond_next(Scripted::status(503));
    }
    es.respond_next(not_bulk());
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s)
        .await
        .expect("odd answers apart are tried again");
    assert_eq!((report.delivered, report.dead_lettered), (5, 0));
    drop(s);
    std::fs::remove_dir_all(&dir).expect("cleanup");

    // Every time: another server at that URL. The shipper stops and says so.
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("not-bulk-always");
    let _spool = fill(&dir, 5);
    for _ in 0..3 {
        es.respond_next(not_bulk());
    }
    let mut s = shipper(&dir, &es, fast());
    let err = ship(&mut s).await.expect_err("not a bulk endpoint");
    assert!(matches!(err, ShipError::NotBulk { answers: 3 }), "{err:?}");
    assert_eq!(s.stats().dead_lettered(), 0);
    assert!(stored_ids(&es).is_empty());
    drop(s);
    // Nothing was acknowledged: the next run delivers the five.
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("ship");
    assert_eq!((report.delivered, report.dead_lettered), (5, 0));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn big_record(n: u64, bytes: usize) -> LogRecord {
    let mut id = [0xee; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    LogRecord::new(
        RecordId::from_bytes(id),
        Timestamp::UNIX_EPOCH,
        Level::Info,
        Dataset::Application,
        format!(r#"{{"message":"{}"}}"#, "x".repeat(bytes)),
    )
    .expect("record")
}

#[tokio::test]
async fn a_413_splits_the_batch_until_it_fits_and_a_record_too_large_alone_is_dead_lettered() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("413");
    let spool = Spool::open(&dir, SpoolConfig::new()).expect("open spool");
    for i in 0..32 {
        spool.append(&sample_log_record(i)).expect("append");
    }
    let huge = big_record(1, 6000);
    spool.append(&huge).expect("append huge");
    for i in 32..64 {
        spool.append(&sample_log_record(i)).expect("append");
    }
    spool.sync().expect("sync");
    let limit = 4096;
    es.set_max_content_length(Some(limit));
    let mut s = shipper(&dir, &es, fast());
    let report = ship(&mut s).await.expect("ship");
    assert_eq!(report.delivered, 64);
    assert_eq!(report.dead_lettered, 1);
    assert!(s.stats().splits() >= 4, "splits: {}", s.stats().splits());
    assert!(es.stats().responses.get(&413).copied().unwrap_or(0) >= 4);
    assert_exactly_once(&es, 64);
    let letters = std::fs::read_to_string(s.dead_letter_path()).expect("dead letters");
    let line: serde_json::Value =
        serde_json::from_str(letters.lines().next().expect("one line")).expect("json");
    assert_eq!(line["_id"], huge.id().to_string());
    assert_eq!(line["status"], 413);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn connection_refused_is_retried_until_the_receiver_is_back() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("refused");
    let _spool = fill(&dir, 30);
    es.stop();
    let mut s = shipper(&dir, &es, fast());
    let stats = s.stats();
    let task = tokio::spawn(async move {
        let r = ship(&mut s).await;
        (r, s)
    });
    let deadline = Instant::now() + BOUND;
    while stats.retries(RetryReason::Transport) < 5 {
        assert!(
            Instant::now() < deadline,
            "the shipper retried: {} requests, {:?}",
            stats.requests(),
            RetryReason::ALL.map(|r| stats.retries(r))
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(es.count(INDEX), 0);
    es.resume();
    let (report, _s) = task.await.expect("task");
    assert_eq!(report.expect("ship").delivered, 30);
    assert_exactly_once(&es, 30);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn refused_credentials_stop_the_shipper_and_nothing_is_acknowledged() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("401");
    let _spool = fill(&dir, 5);
    es.respond_next(Scripted::status(401));
    let mut s = shipper(&dir, &es, fast());
    let err = ship(&mut s).await.expect_err("401 stops");
    assert!(
        matches!(err, ShipError::Unauthorized { status: 401 }),
        "{err}"
    );
    drop(s);
    let reader = SpoolReader::open(&dir).expect("reader");
    assert_eq!(
        reader.acked(),
        biv_availability::shipping::Position::default()
    );
    drop(reader);
    // The records are still there for the next run.
    let mut s = shipper(&dir, &es, fast());
    assert_eq!(ship(&mut s).await.expect("ship").delivered, 5);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn credentials_are_sent_in_the_header_and_never_printed() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("auth");
    let _spool = fill(&dir, 2);
    let secret = "s3cr3t-api-key-value";
    let elastic = ElasticConfig::new(&es.url(), INDEX)
        .expect("config")
        .with_auth(Auth::ApiKey(Secret::new(secret)));
    let mut s = BulkShipper::new(
        SpoolReader::open(&dir).expect("reader"),
        elastic.clone(),
        fast(),
        Arc::new(SystemClock::new()),
    )
    .expect("shipper");
    assert!(!format!("{elastic:?}").contains(secret));
    assert!(!format!("{s:?}").contains(secret));
    ship(&mut s).await.expect("ship");
    assert_eq!(
        es.stats().last_authorization.as_deref(),
        Some(format!("ApiKey {secret}").as_str())
    );
    drop(s);

    let dir2 = fresh("basic");
    let _spool2 = fill(&dir2, 1);
    let elastic = ElasticConfig::new(&es.url(), INDEX)
        .expect("config")
        .with_auth(Auth::Basic {
            user: "elastic".into(),
            password: Secret::new("changeme"),
        });
    let mut s = BulkShipper::new(
        SpoolReader::open(&dir2).expect("reader"),
        elastic,
        fast(),
        Arc::new(SystemClock::new()),
    )
    .expect("shipper");
    ship(&mut s).await.expect("ship");
    // base64("elastic:changeme")
    assert_eq!(
        es.stats().last_authorization.as_deref(),
        Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
    );
    // Credentials in the URL are refused without echoing them.
    let err = ElasticConfig::new("http://elastic:changeme@127.0.0.1:9200", INDEX)
        .expect_err("userinfo refused");
    assert!(!err.to_string().contains("changeme"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
    std::fs::remove_dir_all(&dir2).expect("cleanup");
}

#[tokio::test]
async fn batches_are_bounded_by_records_and_by_bytes() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("bounds");
    let _spool = fill(&dir, 25);
    let mut s = shipper(&dir, &es, fast().with_batch(1 << 20, 4));
    ship(&mut s).await.expect("ship");
    assert_eq!(es.stats().items_per_request, vec![4, 4, 4, 4, 4, 4, 1]);
    drop(s);

    let es = ElasticReceiver::start().expect("receiver");
    let dir2 = fresh("bounds-bytes");
    let _spool2 = fill(&dir2, 25);
    let line = sample_log_record(0).line().len();
    // Room for three lines and a bit: a batch closes once it holds at least that many bytes.
    let mut s = shipper(&dir2, &es, fast().with_batch(3 * line + 1, 1000));
    ship(&mut s).await.expect("ship");
    let sizes = es.stats().items_per_request;
    assert_eq!(sizes.iter().sum::<usize>(), 25);
    assert!(sizes.iter().all(|&n| n <= 4), "{sizes:?}");
    assert!(sizes.len() >= 7, "{sizes:?}");
    assert_exactly_once(&es, 25);
    std::fs::remove_dir_all(&dir).expect("cleanup");
    std::fs::remove_dir_all(&dir2).expect("cleanup");
}

#[tokio::test]
async fn a_small_batch_waits_for_the_linger_and_goes_out_in_one_request() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("linger");
    let _spool = fill(&dir, 10);
    let s = shipper(
        &dir,
        &es,
        fast().with_timing(Duration::from_millis(200), Duration::from_millis(5)),
    );
    let report = run_until_delivered(s, 10, Duration::ZERO).await;
    assert_eq!(report.delivered, 10);
    // Polled every 5 ms, but held back until the linger passed: one request, not one per poll.
    assert_eq!(es.stats().items_per_request, vec![10]);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn the_lag_gauge_is_the_age_of_the_oldest_record_being_shipped() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("lag");
    let _spool = fill(&dir, 3);
    let record_time = sample_log_record(0).time();
    let clock = Arc::new(biv_testkit::ManualClock::new(
        record_time
            .checked_add(Duration::from_secs(3600))
            .expect("time"),
    ));
    es.respond_next(Scripted::status(401));
    let mut s = BulkShipper::new(
        SpoolReader::open(&dir).expect("reader"),
        ElasticConfig::new(&es.url(), INDEX).expect("config"),
        fast(),
        clock,
    )
    .expect("shipper");
    assert!(ship(&mut s).await.is_err());
    assert_eq!(s.stats().lag_seconds(), 3600.0);
    ship(&mut s).await.expect("ship");
    assert_eq!(s.stats().lag_seconds(), 0.0);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn the_blocking_form_ships_without_a_runtime_and_refuses_inside_one() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("blocking");
    let _spool = fill(&dir, 7);
    let mut s = shipper(&dir, &es, fast());
    let report = s
        .ship_available_blocking(Duration::from_secs(30))
        .expect("ship");
    assert_eq!(report.delivered, 7);
    assert_exactly_once(&es, 7);

    es.stop();
    let _more = {
        drop(_spool);
        fill(&dir, 9)
    };
    let err = s
        .ship_available_blocking(Duration::from_millis(300))
        .expect_err("the receiver is down");
    assert!(matches!(err, ShipError::TimedOut(_)), "{err}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = rt.block_on(async { s.ship_available_blocking(Duration::from_secs(1)) });
    assert!(matches!(err, Err(ShipError::Runtime(_))));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn a_damaged_frame_is_dead_lettered_once_while_the_lingering_shipper_reads_it_again() {
    let es = ElasticReceiver::start().expect("receiver");
    let dir = fresh("damaged-linger");
    // A finished segment (the writer is closed) with one damaged frame in the middle.
    drop(fill(&dir, 10));
    let seg = std::fs::read_dir(&dir)
        .expect("spool dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .expect("a segment");
    let mut bytes = std::fs::read(&seg).expect("segment");
    let frame_len = 8 + 32 + sample_log_record(0).line().len();
    bytes[16 + 4 * frame_len + 8 + 32 + 10] ^= 0x20;
    std::fs::write(&seg, &bytes).expect("damage");

    // Polled every 5 ms, lingering 200 ms: the damaged region is read again and again before
    // the batch goes out.
    let s = shipper(
        &dir,
        &es,
        fast().with_timing(Duration::from_millis(200), Duration::from_millis(5)),
    );
    let dead_letter = s.dead_letter_path().to_path_buf();
    // A few more polls past the ack (100 ms): nothing is written twice.
    let report = run_until_delivered(s, 9, Duration::from_millis(100)).await;
    assert_eq!(report.delivered, 9, "every record but the damaged one");
    assert_eq!(report.corrupt_regions, 1);
    let lines = std::fs::read_to_string(&dead_letter).expect("dead-letter file");
    let corrupt: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("\"corrupt_frame\""))
        .collect();
    assert_eq!(corrupt.len(), 1, "{lines}");
    let stored = stored_ids(&es);
    assert_eq!(stored.len(), 9);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
