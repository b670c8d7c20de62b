//! [`BulkShipper`]: drains a spool into Elasticsearch with `_bulk` `create` requests.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use biv_core::Clock;

use super::backoff::{Backoff, Jitter, parse_retry_after};
use super::bulk::{Class, Item, classify, id_hex, parse_response, push_create};
use super::client::{BulkClient, ElasticConfig, ElasticConfigError};
use super::dead_letter::DeadLetters;
use super::spool::{Position, ReadBatch, SpoolReader, SpooledRecord};
use super::stats::{RetryReason, ShipperStats, SpoolStats};

/// The file name of the dead-letter file inside the spool directory (the default).
pub const DEAD_LETTER_FILE: &str = "dead-letter.ndjson";

/// How a [`BulkShipper`] batches, waits and retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShipperConfig {
    /// A batch holds about this many bytes of record lines at most (default 5 MiB; the reader
    /// returns at least one record however large).
    pub batch_bytes: usize,
    /// A batch holds at most this many records (default 10,000).
    pub batch_records: usize,
    /// In [`BulkShipper::run`], a batch smaller than the limits waits at most this long for
    /// more records before it is sent (default 1 s).
    pub linger: Duration,
    /// How often an idle shipper looks for new records (default 100 ms).
    pub poll: Duration,
    /// The longest a request may take, connecting included (default 30 s).
    pub request_timeout: Duration,
    /// Backoff between retries.
    pub backoff: Backoff,
    /// Where dead letters go (default `<spool>/dead-letter.ndjson`).
    pub dead_letter: Option<PathBuf>,
    /// In [`BulkShipper::run`], how long a batch in flight at shutdown may still take to be
    /// answered and acknowledged (default 5 s).
    pub shutdown_grace: Duration,
}

impl Default for ShipperConfig {
    fn default() -> Self {
        ShipperConfig {
            batch_bytes: 5 << 20,
            batch_records: 10_000,
            linger: Duration::from_secs(1),
            poll: Duration::from_millis(100),
            request_timeout: Duration::from_secs(30),
            backoff: Backoff::default(),
            dead_letter: None,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl ShipperConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the batch limits.
    #[must_use]
    pub fn with_batch(mut self, bytes: usize, records: usize) -> Self {
        self.batch_bytes = bytes;
        self.batch_records = records.max(1);
        self
    }

    /// Sets [`ShipperConfig::linger`] and [`ShipperConfig::poll`].
    #[must_use]
    pub fn with_timing(mut self, linger: Duration, poll: Duration) -> Self {
        self.linger = linger;
        self.poll = poll;
        self
    }

    /// Sets [`ShipperConfig::request_timeout`].
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`ShipperConfig::backoff`].
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`ShipperConfig::shutdown_grace`].
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Sets [`ShipperConfig::dead_letter`].
    #[must_use]
    pub fn with_dead_letter(mut self, path: impl Into<PathBuf>) -> Self {
        self.dead_letter = Some(path.into());
        self
    }
}

/// What a shipper has done since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShipReport {
    /// Records Elasticsearch stored.
    pub delivered: u64,
    /// Records Elasticsearch already held (409): delivered before the last acknowledgement.
    pub conflicts: u64,
    /// Records refused for good and written to the dead-letter file.
    pub dead_lettered: u64,
    /// Damaged spool regions skipped and written to the dead-letter file.
    pub corrupt_regions: u64,
    /// The acknowledged position.
    pub acked: Position,
}

/// Why shipping stopped. Records stay in the spool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShipError {
    /// 401 or 403 for the whole request: the credentials are missing or wrong.
    #[error("Elasticsearch refused the credentials (HTTP {status}); records stay spooled")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
    },
    /// Another status for the whole request that retrying cannot fix (404, 405, …): the URL
    /// is probably wrong.
    #[error(
        "Elasticsearch answered HTTP {status} to the _bulk request; check the URL; records stay spooled"
    )]
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// Answers with status 200 that are not a `_bulk` response to the request (an HTML page,
    /// another server or a proxy at that URL), several times in a row.
    #[error(
        "HTTP 200 answers that are not _bulk responses to the request, {answers} in a row; check the URL; records stay spooled"
    )]
    NotBulk {
        /// Such answers in a row.
        answers: u32,
    },
    /// Reading or acknowledging the spool failed.
    #[error("spool: {0}")]
    Spool(#[source] std::io::Error),
    /// [`BulkShipper::ship_available_blocking`] ran out of time; what was shipped is
    /// acknowledged, the rest stays spooled.
    #[error("not drained within {0:?}; the rest stays spooled")]
    TimedOut(Duration),
    /// [`BulkShipper::ship_available_blocking`] was called inside an async runtime, or its own
    /// runtime could not be started.
    #[error("cannot run the blocking shipper: {0}")]
    Runtime(String),
    /// The dead-letter file could not be written; nothing past the refused records was
    /// acknowledged.
    #[error("dead-letter file {path}: {source}")]
    DeadLetter {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Ships a spool to Elasticsearch, at least once per record over the wire and exactly once in
/// the index: every record is sent as `create` with its record id as `_id`, so a record sent
/// again after a crash or a lost answer is refused with 409 and counted as delivered.
///
/// Per item: 200/201 delivered; 409 already there; 429, 5xx (and 401/403/404/408 per item)
/// sent again after a backoff with full jitter that honours `Retry-After`; other 4xx written to
/// the dead-letter file. A whole request answered 413 (or 400) is split in halves; a single
/// record refused that way is dead-lettered. Connection failures and timeouts are retried; so
/// is a 200 that is not a bulk response to the request, three times in a row at most
/// ([`ShipError::NotBulk`]).
/// The acknowledged position moves only past records delivered, already there or
/// dead-lettered, and is stored durably before the segments behind it are deleted.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::shipping::{BulkShipper, ElasticConfig, ShipperConfig, Spool, SpoolConfig, SpoolReader};
/// use biv_core::SystemClock;
/// use biv_testkit::elastic::ElasticReceiver;
///
/// let receiver = ElasticReceiver::start()?; // a stand-in for Elasticsearch's _bulk API
/// let dir = std::env::temp_dir().join(format!("biv-doc-ship-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let spool = Spool::open(&dir, SpoolConfig::new())?;
/// for n in 0..3 {
///     spool.append(&biv_testkit::sample_log_record(n))?;
/// }
/// let elastic = ElasticConfig::new(&receiver.url(), "biv-logs")?;
/// let mut shipper = BulkShipper::new(SpoolReader::open(&dir)?, elastic, ShipperConfig::new(), Arc::new(SystemClock::new()))?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let report = rt.block_on(shipper.ship_available())?;
/// assert_eq!(report.delivered, 3);
/// assert_eq!(receiver.documents("biv-logs").len(), 3);
/// # drop(shipper); drop(spool); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BulkShipper {
    reader: SpoolReader,
    elastic: ElasticConfig,
    client: BulkClient,
    config: ShipperConfig,
    stats: Arc<ShipperStats>,
    dead: DeadLetters,
    clock: Arc<dyn Clock>,
    jitter: Jitter,
    report: ShipReport,
    waiting_since: Option<tokio::time::Instant>,
    /// Damaged regions already written to the dead-letter file, by (segment, offset): a region
    /// comes back with every read until the ack passes it. Pruned on ack.
    dead_lettered: std::collections::BTreeSet<Position>,
}

impl std::fmt::Debug for BulkShipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkShipper")
            .field("reader", &self.reader)
            .field("elastic", &self.elastic)
            .field("config", &self.config)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// What became of one group of records.
enum Group {
    /// Every record is delivered, already there or dead-lettered.
    Done,
    /// The receiver wants smaller requests: these records are to be split.
    Split(Vec<usize>),
}

impl BulkShipper {
    /// A shipper reading from `reader` and posting to `elastic`.
    ///
    /// # Errors
    /// [`ElasticConfigError::Credential`] when the credentials cannot be sent in a header.
    pub fn new(
        reader: SpoolReader,
        elastic: ElasticConfig,
        config: ShipperConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ElasticConfigError> {
        let client = BulkClient::new(&elastic, config.request_timeout)?;
        let dead_path = config
            .dead_letter
            .clone()
            .unwrap_or_else(|| reader.dir().join(DEAD_LETTER_FILE));
        let report = ShipReport {
            acked: reader.acked(),
            ..ShipReport::default()
        };
        Ok(BulkShipper {
            reader,
            elastic,
            client,
            config,
            stats: Arc::new(ShipperStats::default()),
            dead: DeadLetters::new(dead_path),
            clock,
            jitter: Jitter::from_os(),
            report,
            waiting_since: None,
            dead_lettered: std::collections::BTreeSet::new(),
        })
    }

    /// The shipper's counters (register them with a metrics registry).
    pub fn stats(&self) -> Arc<ShipperStats> {
        Arc::clone(&self.stats)
    }

    /// The spool reader's counters (damaged frames).
    pub fn spool_stats(&self) -> Arc<SpoolStats> {
        self.reader.stats()
    }

    /// What has been shipped so far.
    pub fn report(&self) -> ShipReport {
        self.report
    }

    /// The dead-letter file.
    pub fn dead_letter_path(&self) -> &std::path::Path {
        self.dead.path()
    }

    /// Ships every record in the spool now, retrying failures without end; returns when a read
    /// finds nothing more. Bound it with `tokio::time::timeout`: dropping the future loses
    /// nothing, as only fully shipped batches are acknowledged.
    ///
    /// # Errors
    /// [`ShipError`]: credentials refused, the URL wrong, the spool or dead-letter file failing.
    pub async fn ship_available(&mut self) -> Result<ShipReport, ShipError> {
        loop {
            let batch = self.read()?;
            if batch.records.is_empty() && batch.corrupt.is_empty() {
                self.ack(batch.next)?;
                self.stats.set_lag(0.0);
                return Ok(self.report);
            }
            self.ship_batch(batch).await?;
        }
    }

    /// The blocking form of [`BulkShipper::ship_available`], for callers without an async
    /// runtime (the C ABI, scripts): runs it on a runtime of its own for at most `timeout`.
    ///
    /// # Errors
    /// As [`BulkShipper::ship_available`]; [`ShipError::TimedOut`] when `timeout` passes first;
    /// [`ShipError::Runtime`] when called from inside an async runtime (use the async form
    /// there) or when the runtime cannot start.
    pub fn ship_available_blocking(&mut self, timeout: Duration) -> Result<ShipReport, ShipError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(ShipError::Runtime(
                "called inside an async runtime; await ship_available instead".to_owned(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ShipError::Runtime(e.to_string()))?;
        runtime
            .block_on(async { tokio::time::timeout(timeout, self.ship_available()).await })
            .unwrap_or(Err(ShipError::TimedOut(timeout)))
    }

    /// Ships until `shutdown` completes, waiting for new records between batches. A batch
    /// smaller than the limits waits up to [`ShipperConfig::linger`] for more. On shutdown a
    /// batch in flight gets [`ShipperConfig::shutdown_grace`] to finish; after that it is
    /// abandoned unacknowledged (and sent again, answered with 409s, by the next run).
    ///
    /// # Errors
    /// As [`BulkShipper::ship_available`].
    pub async fn run(
        &mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ShipReport, ShipError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let grace = self.config.shutdown_grace;
        loop {
            let outcome = {
                let mut step = std::pin::pin!(self.step());
                tokio::select! {
                    biased;
                    () = &mut shutdown => {
                        let _ = tokio::time::timeout(grace, &mut step).await;
                        None
                    }
                    result = &mut step => Some(result),
                }
            };
            match outcome {
                Some(result) => result?,
                None => return Ok(self.report),
            }
        }
    }

    async fn step(&mut self) -> Result<(), ShipError> {
        let batch = self.read()?;
        if batch.records.is_empty() && batch.corrupt.is_empty() {
            self.ack(batch.next)?;
            self.stats.set_lag(0.0);
            self.waiting_since = None;
            tokio::time::sleep(self.config.poll).await;
            return Ok(());
        }
        let full = batch.records.len() >= self.config.batch_records
            || batch.line_bytes as usize >= self.config.batch_bytes;
        let since = *self
            .waiting_since
            .get_or_insert_with(tokio::time::Instant::now);
        let waited = since.elapsed();
        if !full && waited < self.config.linger {
            tokio::time::sleep(self.config.poll.min(self.config.linger - waited)).await;
            return Ok(());
        }
        self.waiting_since = None;
        self.ship_batch(batch).await
    }

    fn read(&mut self) -> Result<ReadBatch, ShipError> {
        let from = self.reader.acked();
        self.reader
            .read(from, self.config.batch_bytes, self.config.batch_records)
            .map_err(ShipError::Spool)
    }

    fn ack(&mut self, pos: Position) -> Result<(), ShipError> {
        self.reader.ack(pos).map_err(ShipError::Spool)?;
        self.report.acked = self.reader.acked();
        let acked = self.report.acked;
        self.dead_lettered.retain(|at| *at >= acked);
        Ok(())
    }

    fn dead_letter_error(&self, source: std::io::Error) -> ShipError {
        ShipError::DeadLetter {
            path: self.dead.path().to_path_buf(),
            source,
        }
    }

    async fn ship_batch(&mut self, batch: ReadBatch) -> Result<(), ShipError> {
        let now = self.clock.now();
        if let Some(first) = batch.records.first() {
            let lag = now
                .duration_since(first.record.time())
                .map_or(0.0, |d| d.as_secs_f64());
            self.stats.set_lag(lag);
        }
        for region in &batch.corrupt {
            let at = Position {
                segment: region.segment,
                offset: region.offset,
            };
            if self.dead_lettered.contains(&at) {
                continue;
            }
            self.dead
                .corrupt(now, region)
                .map_err(|e| self.dead_letter_error(e))?;
            self.dead_lettered.insert(at);
            self.report.corrupt_regions += 1;
        }
        let mut work: Vec<Vec<usize>> = vec![(0..batch.records.len()).collect()];
        while let Some(group) = work.pop() {
            if group.is_empty() {
                continue;
            }
            match self.ship_group(&batch.records, group).await? {
                Group::Done => {}
                Group::Split(rest) if rest.len() == 1 => {
                    let error = (
                        "request_entity_too_large".to_owned(),
                        "a single record is larger than the receiver accepts".to_owned(),
                    );
                    self.dead_letter(&batch.records[rest[0]], 413, Some(&error))?;
                }
                Group::Split(mut rest) => {
                    self.stats.add_split();
                    let second = rest.split_off(rest.len() / 2);
                    work.push(second);
                    work.push(rest);
                }
            }
        }
        self.dead.sync().map_err(|e| self.dead_letter_error(e))?;
        self.ack(batch.next)
    }

    fn dead_letter(
        &mut self,
        record: &SpooledRecord,
        status: u16,
        error: Option<&(String, String)>,
    ) -> Result<(), ShipError> {
        let now = self.clock.now();
        self.dead
            .record(now, self.elastic.index(), &record.record, status, error)
            .map_err(|e| self.dead_letter_error(e))?;
        self.stats.add_dead_lettered(1);
        self.report.dead_lettered += 1;
        Ok(())
    }

    /// Sends `pending` (indices into `records`) until each is resolved or the receiver asks
    /// for smaller requests.
    async fn ship_group(
        &mut self,
        records: &[SpooledRecord],
        mut pending: Vec<usize>,
    ) -> Result<Group, ShipError> {
        let index = self.elastic.index().to_owned();
        let mut attempt = 0u32;
        // A 200 that is no bulk response can be a glitch (a truncated answer), so it is tried
        // again like a transport error — but not forever: a URL pointing at another server
        // answers the same every time.
        let mut not_bulk = 0u32;
        loop {
            let mut body = Vec::with_capacity(
                pending
                    .iter()
                    .map(|&i| records[i].record.line().len() + 80)
                    .sum(),
            );
            for &i in &pending {
                push_create(&index, &records[i].record, &mut body);
            }
            self.stats.add_request(body.len() as u64);
            let not_bulk_before = not_bulk;
            let (reason, retry_after) = match self.client.post(body).await {
                Err(_) => (RetryReason::Transport, None),
                Ok(answer) => match answer.status {
                    200 => match parse_response(&answer.body)
                        .filter(|items| matches_request(items, records, &pending))
                    {
                        Some(items) => {
                            let before = pending.len();
                            let (still, reason) = self.resolve(records, &pending, &items)?;
                            if still.is_empty() {
                                return Ok(Group::Done);
                            }
                            if still.len() < before {
                                attempt = 0;
                            }
                            pending = still;
                            (reason, answer.retry_after)
                        }
                        None => {
                            not_bulk += 1;
                            if not_bulk >= NOT_BULK_LIMIT {
                                return Err(ShipError::NotBulk { answers: not_bulk });
                            }
                            (RetryReason::Transport, None)
                        }
                    },
                    413 => return Ok(Group::Split(pending)),
                    // A 400 without Elasticsearch's error document (a proxy answering "plain
                    // HTTP sent to an HTTPS port", a wrong path) says nothing about the
                    // records: stop instead of dead-lettering the whole spool.
                    400 if whole_request_error(&answer.body).is_none() => {
                        return Err(ShipError::Rejected { status: 400 });
                    }
                    400 if pending.len() > 1 => return Ok(Group::Split(pending)),
                    400 => {
                        let error = whole_request_error(&answer.body);
                        self.dead_letter(&records[pending[0]], 400, error.as_ref())?;
                        return Ok(Group::Done);
                    }
                    401 | 403 => {
                        return Err(ShipError::Unauthorized {
                            status: answer.status,
                        });
                    }
                    429 => (RetryReason::Throttled, answer.retry_after),
                    408 => (RetryReason::Transport, answer.retry_after),
                    500..=599 => (RetryReason::ServerError, answer.retry_after),
                    status => return Err(ShipError::Rejected { status }),
                },
            };
            if not_bulk == not_bulk_before {
                // Any other answer (or none) breaks the run.
                not_bulk = 0;
            }
            self.stats.add_retry(reason);
            let after = retry_after.and_then(|v| parse_retry_after(&v, self.clock.now()));
            let wait = self
                .config
                .backoff
                .delay(attempt, after, self.jitter.next());
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(wait).await;
        }
    }

    /// Applies item results; returns the records to send again and why.
    fn resolve(
        &mut self,
        records: &[SpooledRecord],
        pending: &[usize],
        items: &[Item],
    ) -> Result<(Vec<usize>, RetryReason), ShipError> {
        let mut still = Vec::new();
        let mut reason = RetryReason::ServerError;
        for (&i, item) in pending.iter().zip(items) {
            match classify(item.status) {
                Class::Delivered => {
                    self.stats.add_delivered(1);
                    self.report.delivered += 1;
                }
                Class::Conflict => {
                    self.stats.add_conflicts(1);
                    self.report.conflicts += 1;
                }
                Class::DeadLetter => {
                    self.dead_letter(&records[i], item.status, item.error.as_ref())?;
                }
                Class::Retry(r) => {
                    still.push(i);
                    reason = r;
                }
            }
        }
        Ok((still, reason))
    }
}

/// Answers with status 200 that are not a bulk response to the request, in a row, after which
/// shipping stops with [`ShipError::NotBulk`].
const NOT_BULK_LIMIT: u32 = 3;

/// Whether the response's items answer the request: as many, and each `_id` (when given) the
/// record's.
fn matches_request(items: &[Item], records: &[SpooledRecord], pending: &[usize]) -> bool {
    items.len() == pending.len()
        && pending.iter().zip(items).all(|(&i, item)| {
            item.id
                .as_deref()
                .is_none_or(|id| id.as_bytes() == id_hex(&records[i].record.id()))
        })
}

/// `error.type` and `error.reason` of a whole-request error body.
fn whole_request_error(body: &[u8]) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let text = |k: &str| {
        error
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Some((text("type"), text("reason")))
}
