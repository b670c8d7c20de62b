//! Shipping throughput: a spool on disk drained by `BulkShipper` into a loopback `_bulk`
//! endpoint, against the baseline of writing the same NDJSON bytes raw into a loopback TCP
//! socket, in the same run; and spool appends per record.
//!
//! The endpoint here is a minimal axum handler that answers every action with 201 without
//! parsing the sources (the point is the shipper's cost, not a receiver's); the behaviour tests
//! use `biv_testkit::elastic::ElasticReceiver` instead.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use biv_availability::shipping::{
    BulkShipper, ElasticConfig, FsyncPolicy, ShipperConfig, Spool, SpoolConfig, SpoolReader,
};
use biv_core::{LogRecord, SystemClock};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Records per shipped spool: about 8 MiB of ECS lines.
const RECORDS: u64 = 30_000;

fn records() -> Vec<LogRecord> {
    (0..RECORDS).map(biv_testkit::sample_log_record).collect()
}

fn line_bytes(records: &[LogRecord]) -> u64 {
    records.iter().map(|r| r.line().len() as u64 + 1).sum()
}

/// Answers a `_bulk` body with one `{"create":{"status":201}}` per action line.
async fn bulk(body: Bytes) -> String {
    let actions = body.iter().filter(|&&b| b == b'\n').count() / 2;
    let mut out = String::with_capacity(40 + actions * 28);
    out.push_str(r#"{"took":0,"errors":false,"items":["#);
    for i in 0..actions {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"create":{"status":201}}"#);
    }
    out.push_str("]}");
    out
}

fn start_endpoint(rt: &tokio::runtime::Runtime) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().route("/_bulk", post(bulk));
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn shipping(c: &mut Criterion) {
    let recs = records();
    let bytes = line_bytes(&recs);
    let mut group = c.benchmark_group("shipping");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(bytes));

    // Baseline: the same bytes (lines plus their newlines) into a loopback socket that a
    // thread reads and discards.
    let sink = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = sink.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in sink.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = vec![0u8; 1 << 20];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    let mut raw = Vec::with_capacity(bytes as usize);
    for r in &recs {
        raw.extend_from_slice(r.line().as_bytes());
        raw.push(b'\n');
    }
    group.bench_function("baseline_raw_tcp_write", |b| {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        b.iter(|| stream.write_all(black_box(&raw)).expect("write"));
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let url = start_endpoint(&rt);
    let ship_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    group.bench_function("bulk_shipper_spool_to_loopback", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = fresh("ship");
                let spool =
                    Spool::open(&dir, SpoolConfig::new().with_fsync(FsyncPolicy::OsManaged))
                        .expect("spool");
                spool.append_batch(&recs).expect("fill");
                spool.sync().expect("sync");
                drop(spool);
                let mut shipper = BulkShipper::new(
                    SpoolReader::open(&dir).expect("reader"),
                    ElasticConfig::new(&url, "bench").expect("config"),
                    ShipperConfig::new(),
                    Arc::new(SystemClock::new()),
                )
                .expect("shipper");
                let started = Instant::now();
                let report = ship_rt.block_on(shipper.ship_available()).expect("ship");
                total += started.elapsed();
                assert_eq!(report.delivered, RECORDS);
                drop(shipper);
                let _ = std::fs::remove_dir_all(&dir);
            }
            total
        });
    });

    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("spool_append_batch_per_record", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = fresh("append");
                let spool = Spool::open(&dir, SpoolConfig::new()).expect("spool");
                let started = Instant::now();
                for chunk in recs.chunks(256) {
                    spool.append_batch(black_box(chunk)).expect("append");
                }
                total += started.elapsed();
                drop(spool);
                let _ = std::fs::remove_dir_all(&dir);
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, shipping);
criterion_main!(benches);
