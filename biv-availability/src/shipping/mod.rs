//! Loss-free shipping of log records to Elasticsearch: a durable on-disk spool and a `_bulk`
//! shipper (issue 7, the "direct" path of `docs/adr/0005-availability-telemetry.md`).
//!
//! - [`Spool`]: CRC-32C framed, append-only segment files; crash recovery cuts a torn tail;
//!   a byte cap whose drops are counted. Layout: `docs/formats/log-spool.md`.
//! - [`SpoolSink`]: the [`LogSink`](biv_core::LogSink) the host's `EcsLayer` writes into; the
//!   application thread waits at most its budget, drops are counted.
//! - [`SpoolReader`]: reads from the acknowledged position, reports damaged frames instead of
//!   shipping them, stores the position durably before deleting shipped segments.
//! - [`BulkShipper`]: `_bulk` with `create` and the record id as `_id` (a retry never
//!   duplicates), per-item handling of 201/409/429/5xx/400, batch splitting on 413,
//!   exponential backoff with full jitter honouring `Retry-After`, a dead-letter file.
//! - [`SpoolStats`], [`ShipperStats`]: the counters, as metrics
//!   (`biv_spool_records_dropped_total{reason}`, `biv_logship_records_total{outcome}`, …).
//!
//! Transport is plain HTTP/1.1 (hyper): biv has no TLS crate yet, so a remote cluster sits
//! behind a local TLS-terminating proxy. The tests run against
//! `biv_testkit::elastic::ElasticReceiver`, a stand-in implementing the documented `_bulk`
//! contract, because Elasticsearch itself cannot be installed in the test environment.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use biv_availability::shipping::{BulkShipper, ElasticConfig, ShipperConfig, Spool, SpoolConfig, SpoolReader, SpoolSink, SpoolSinkConfig};
//! use biv_core::{LogSink, SystemClock};
//!
//! let dir = std::env::temp_dir().join(format!("biv-doc-shipping-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! // In the host: the ECS layer's sink.
//! let sink = SpoolSink::new(Arc::new(Spool::open(&dir, SpoolConfig::new())?), SpoolSinkConfig::new())?;
//! sink.submit(biv_testkit::sample_log_record(1))?;
//! sink.flush(Duration::from_secs(5))?;
//!
//! // In the shipper (this process or `biv logs ship`).
//! let receiver = biv_testkit::elastic::ElasticReceiver::start()?;
//! let elastic = ElasticConfig::new(&receiver.url(), "biv-logs")?;
//! let mut shipper = BulkShipper::new(SpoolReader::open(&dir)?, elastic, ShipperConfig::new(), Arc::new(SystemClock::new()))?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! assert_eq!(rt.block_on(shipper.ship_available())?.delivered, 1);
//! # drop(shipper); drop(sink); std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backoff;
mod bulk;
mod client;
mod dead_letter;
mod shipper;
mod sink;
mod spool;
mod stats;

pub use backoff::{Backoff, parse_retry_after};
pub use bulk::valid_index_name;
pub use client::{Auth, ElasticConfig, ElasticConfigError, Secret};
pub use shipper::{BulkShipper, DEAD_LETTER_FILE, ShipError, ShipReport, ShipperConfig};
pub use sink::{SpoolSink, SpoolSinkConfig};
pub use spool::{
    AppendError, AppendOutcome, CorruptRegion, FsyncPolicy, Position, ReadBatch, Spool,
    SpoolConfig, SpoolOpenError, SpoolReader, SpooledRecord,
};
pub use stats::{DropReason, RetryReason, ShipperStats, SpoolStats};
