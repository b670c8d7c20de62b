//! Test helper for the crash-safety test: appends to a file log from four threads until it is
//! killed, printing one line per durable receipt (`<index> <leaf hash hex>`).
//!
//! Usage: `crash_child DIR SEED` (creates the log if DIR holds none).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use biv_core::EventId;
use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions};
use biv_integrity::tlog::Ed25519Signer;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next()) else {
        eprintln!("usage: crash_child DIR SEED");
        std::process::exit(2);
    };
    let seed: u64 = seed.parse().unwrap_or(0);
    let dir = std::path::PathBuf::from(dir);
    let options = FileLogOptions::default().with_segment_bytes(16 * 1024);
    let log = match FileLog::open(&dir, test_key(), options.clone()) {
        Ok(log) => log,
        Err(biv_integrity::store::OpenError::NotALog(_)) => {
            FileLog::create(&dir, test_key(), options).unwrap_or_else(|e| {
                eprintln!("cannot create the log: {e}");
                std::process::exit(1);
            })
        }
        Err(e) => {
            eprintln!("cannot open the log: {e}");
            std::process::exit(1);
        }
    };
    let log = Arc::new(log);
    let counter = Arc::new(AtomicU64::new(0));
    let stdout = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (log, counter, stdout) =
                (Arc::clone(&log), Arc::clone(&counter), Arc::clone(&stdout));
            std::thread::spawn(move || {
                loop {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let mut event = biv_testkit::sample_event(n);
                    let mut id = [0u8; 16];
                    id[..8].copy_from_slice(&seed.to_be_bytes());
                    id[8..].copy_from_slice(&n.to_be_bytes());
                    event.id = EventId::from_bytes(id);
                    match log.append_blocking(&event) {
                        Ok(receipt) => {
                            let hex: String = receipt
                                .entry_digest()
                                .iter()
                                .map(|b| format!("{b:02x}"))
                                .collect();
                            let mut out = stdout
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            let _ = writeln!(out, "{} {hex}", receipt.index());
                            let _ = out.flush();
                        }
                        Err(e) => {
                            eprintln!("append failed: {e}");
                            std::process::exit(1);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

fn test_key() -> CheckpointKey {
    CheckpointKey::ed25519(
        Ed25519Signer::from_seed("biv.test/audit", &[7; 32]).expect("valid key name"),
    )
}
