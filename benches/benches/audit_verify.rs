//! Reading a large file log back: full verification and inclusion proofs in a 1,000,000-entry
//! log, against the raw primitive (SHA-256 over the same bytes) in the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use biv_core::EventId;
use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions, FileLogReader, verify_dir};
use biv_integrity::tlog::{Ed25519Signer, NoteVerifier, leaf_hash, verify_inclusion};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ENTRIES: u64 = 1_000_000;
const ORIGIN: &str = "biv.bench/verify";

fn key() -> CheckpointKey {
    CheckpointKey::ed25519(Ed25519Signer::from_seed(ORIGIN, &[5; 32]).expect("key"))
}

/// Builds (once) a log of ENTRIES sample events with 64 appending threads.
fn build(dir: &std::path::Path) {
    let log = Arc::new(FileLog::create(dir, key(), FileLogOptions::default()).expect("create"));
    let next = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..64 {
            let (log, next) = (Arc::clone(&log), Arc::clone(&next));
            s.spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= ENTRIES {
                        break;
                    }
                    let mut e = biv_testkit::sample_event(n);
                    let mut id = [0u8; 16];
                    id[8..].copy_from_slice(&n.to_be_bytes());
                    e.id = EventId::from_bytes(id);
                    log.append_blocking(&e).expect("append");
                }
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join("biv-bench-verify-1m");
    if FileLogReader::open(&dir).map(|r| r.size()).ok() != Some(ENTRIES) {
        let _ = std::fs::remove_dir_all(&dir);
        let started = Instant::now();
        build(&dir);
        eprintln!("built a {ENTRIES}-entry log in {:?}", started.elapsed());
    }
    let signer = Ed25519Signer::from_seed(ORIGIN, &[5; 32]).expect("key");
    let verifier = signer.verifier();
    let reader = FileLogReader::open(&dir).expect("reader");
    let mut entries = Vec::with_capacity(ENTRIES as usize);
    FileLog::read_entries(&dir, |_, e| entries.push(e.to_vec())).expect("read entries");

    let mut group = c.benchmark_group("audit_verify_1m");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(ENTRIES));
    group.bench_function("verify_full_1m", |b| {
        b.iter(|| verify_dir(&dir, verifier.name(), &verifier, true, None).expect("valid"))
    });
    group.bench_function("baseline_sha256_leaf_hashes_1m_in_memory", |b| {
        b.iter(|| {
            entries
                .iter()
                .fold(0u8, |acc, e| acc ^ leaf_hash(e).as_bytes()[0])
        })
    });
    group.finish();

    let mut group = c.benchmark_group("audit_prove_1m");
    let root = reader.root().expect("root");
    let mut i = 0u64;
    group.bench_function("file_inclusion_proof_generate_and_verify", |b| {
        b.iter(|| {
            i = (i + 7919) % ENTRIES;
            let proof = reader.inclusion_proof(i, ENTRIES).expect("proof");
            verify_inclusion(i, ENTRIES, &leaf_hash(&entries[i as usize]), &proof, &root)
                .expect("verifies");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
