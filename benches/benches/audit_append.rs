//! Durable audit appends: the file store's group commit under 64 concurrent writers, against the
//! baseline of writing each framed entry and calling fsync for it (what a naive durable log does).

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use biv_core::EventId;
use biv_integrity::audit::encode_entry;
use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions};
use biv_integrity::tlog::Ed25519Signer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const WRITERS: u64 = 64;

fn unique_event(n: u64) -> biv_core::AuditEvent {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let mut e = biv_testkit::sample_event(n);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&RUN.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    id[8..].copy_from_slice(&std::process::id().to_be_bytes().repeat(2));
    e.id = EventId::from_bytes(id);
    e
}

fn bench_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("audit_append");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));

    let dir = bench_dir("group");
    let log =
        Arc::new(FileLog::create(&dir, test_key(), FileLogOptions::default()).expect("create log"));
    group.bench_function("file_log_group_commit_64_writers", |b| {
        b.iter_custom(|iters| {
            let per_writer = iters.div_ceil(WRITERS);
            let events: Vec<Vec<_>> = (0..WRITERS)
                .map(|w| {
                    (0..per_writer)
                        .map(|i| unique_event(w * 1_000_000 + i))
                        .collect()
                })
                .collect();
            let start = Instant::now();
            std::thread::scope(|s| {
                for batch in &events {
                    let log = Arc::clone(&log);
                    s.spawn(move || {
                        for e in batch {
                            log.append_blocking(e).expect("append");
                        }
                    });
                }
            });
            start
                .elapsed()
                .mul_f64(iters as f64 / (per_writer * WRITERS) as f64)
        })
    });
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);

    let dir = bench_dir("fsync");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("baseline.log"))
        .expect("open");
    group.bench_function("baseline_fsync_per_record", |b| {
        b.iter_custom(|iters| {
            let entries: Vec<Vec<u8>> = (0..iters)
                .map(|i| encode_entry(&unique_event(i)).expect("encode"))
                .collect();
            let start = Instant::now();
            for entry in &entries {
                let mut frame = Vec::with_capacity(entry.len() + 8);
                frame.extend_from_slice(&(entry.len() as u32).to_be_bytes());
                frame.extend_from_slice(&crc32c_stub(entry).to_be_bytes());
                frame.extend_from_slice(entry);
                file.write_all(&frame).expect("write");
                file.sync_data().expect("fsync");
            }
            start.elapsed()
        })
    });
    let _ = std::fs::remove_dir_all(&dir);

    // PostgreSQL: only when a server is given (e.g. `BIV_TEST_PG_URL=postgresql://…`).
    match std::env::var("BIV_TEST_PG_URL") {
        Ok(url) => bench_postgres(&mut group, &url),
        Err(_) => eprintln!("audit_append: BIV_TEST_PG_URL not set, PostgreSQL benches not run"),
    }
    group.finish();
}

fn bench_postgres(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    url: &str,
) {
    use biv_core::AuditSink;
    use biv_integrity::store::{PgLog, PgLogOptions};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let log_id = format!(
        "bench/{}/{}",
        std::process::id(),
        RUN_SALT.fetch_add(1, Ordering::Relaxed)
    );
    let log = Arc::new(
        rt.block_on(PgLog::connect(
            url,
            &log_id,
            test_key(),
            PgLogOptions::default(),
        ))
        .expect("connect"),
    );
    group.bench_function("pg_log_batched_64_writers", |b| {
        b.iter_custom(|iters| {
            let per_writer = iters.div_ceil(WRITERS);
            rt.block_on(async {
                let start = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for w in 0..WRITERS {
                    let log = Arc::clone(&log);
                    tasks.spawn(async move {
                        for i in 0..per_writer {
                            log.append(&unique_event(w * 1_000_000 + i))
                                .await
                                .expect("append");
                        }
                    });
                }
                while tasks.join_next().await.is_some() {}
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per_writer * WRITERS) as f64)
            })
        })
    });
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
        .expect("connect");
    rt.spawn(conn);
    rt.block_on(client.batch_execute(
        "CREATE TABLE IF NOT EXISTS bench_audit_rows (id bigserial PRIMARY KEY, event_id bytea UNIQUE, entry bytea)",
    ))
    .expect("baseline table");
    let client = Arc::new(client);
    group.bench_function("baseline_pg_insert_per_record_64_writers", |b| {
        b.iter_custom(|iters| {
            let per_writer = iters.div_ceil(WRITERS);
            rt.block_on(async {
                let start = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for w in 0..WRITERS {
                    let client = Arc::clone(&client);
                    tasks.spawn(async move {
                        for i in 0..per_writer {
                            let e = unique_event(w * 1_000_000 + i);
                            let entry = encode_entry(&e).expect("encode");
                            client
                                .execute("INSERT INTO bench_audit_rows (event_id, entry) VALUES ($1, $2)", &[&e.id.as_bytes().as_slice(), &entry])
                                .await
                                .expect("insert");
                        }
                    });
                }
                while tasks.join_next().await.is_some() {}
                start.elapsed().mul_f64(iters as f64 / (per_writer * WRITERS) as f64)
            })
        })
    });
}

static RUN_SALT: AtomicU64 = AtomicU64::new(0);

/// The baseline frames like the store does; a checksum's cost is negligible beside an fsync, so
/// a cheap stand-in keeps the bench free of another dependency.
fn crc32c_stub(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0u32, |acc, &b| acc.rotate_left(5) ^ u32::from(b))
}

criterion_group!(benches, bench);
criterion_main!(benches);

fn test_key() -> CheckpointKey {
    CheckpointKey::ed25519(
        Ed25519Signer::from_seed("biv.test/audit", &[7; 32]).expect("valid key name"),
    )
}
