//! The resumable re-encryption job: moves stored fields to their subject's current data key,
//! batch by batch, checkpointing a cursor so a crash resumes where it stopped.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use biv_core::{BackendError, Context, DecryptError, EncryptError, Encryptor};

use super::atomic::write_atomic;
use super::encryptor::EnvelopeEncryptor;
use super::rotation::{NeedsReencryptError, key_retired};

/// One stored field the job may re-encrypt: where it is (the host's cursor), its ciphertext and
/// the context it is bound to.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReencryptRow {
    /// The row's position in the host's order (e.g. the primary key, big-endian): rows are
    /// read in ascending cursor order and the job checkpoints the last one it finished.
    pub cursor: Vec<u8>,
    /// The binary v1 ciphertext as stored.
    pub ciphertext: Vec<u8>,
    /// The field's context (tenant, table, column, subject, row).
    pub context: Context,
}

impl ReencryptRow {
    /// A row.
    pub fn new(cursor: impl Into<Vec<u8>>, ciphertext: Vec<u8>, context: Context) -> Self {
        ReencryptRow {
            cursor: cursor.into(),
            ciphertext,
            context,
        }
    }
}

impl fmt::Debug for ReencryptRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReencryptRow")
            .field("cursor", &self.cursor)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// The host's table (or column) the job walks: rows in cursor order, and a compare-and-swap
/// write of one field.
#[async_trait]
pub trait ReencryptSource: Send + Sync + fmt::Debug {
    /// Up to `limit` rows with a cursor strictly above `after` (from the start for `None`),
    /// in ascending cursor order.
    ///
    /// # Errors
    /// A [`BackendError`] when the rows cannot be read.
    async fn rows_after(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ReencryptRow>, BackendError>;

    /// Replaces the field of `row` with `new_ciphertext` only if it still holds
    /// `row.ciphertext` (e.g. `UPDATE … SET f = $new WHERE id = $id AND f = $old`); returns
    /// whether it was replaced. A concurrent application write wins (it used the current key).
    ///
    /// # Errors
    /// A [`BackendError`] when the write fails.
    async fn replace(
        &self,
        row: &ReencryptRow,
        new_ciphertext: &[u8],
    ) -> Result<bool, BackendError>;
}

/// Where a job keeps its cursor between batches and across crashes.
#[async_trait]
pub trait JobCheckpoint: Send + Sync + fmt::Debug {
    /// The last saved cursor of `job`, if any.
    ///
    /// # Errors
    /// A [`BackendError`] when the checkpoint cannot be read.
    async fn load(&self, job: &str) -> Result<Option<Vec<u8>>, BackendError>;

    /// Saves `cursor` as the last finished row of `job`, durably.
    ///
    /// # Errors
    /// A [`BackendError`] when the checkpoint cannot be written.
    async fn save(&self, job: &str, cursor: &[u8]) -> Result<(), BackendError>;

    /// Forgets `job`'s cursor, durably: its next run starts at the first row. A job clears its
    /// checkpoint when it reaches the end, so the run after the next rotation scans the table
    /// again instead of finding nothing after the old cursor.
    ///
    /// # Errors
    /// A [`BackendError`] when the checkpoint cannot be removed.
    async fn clear(&self, job: &str) -> Result<(), BackendError>;
}

/// Checkpoints in memory (tests, and jobs that need not survive the process).
#[derive(Debug, Default)]
pub struct MemoryCheckpoint {
    cursors: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryCheckpoint {
    /// No checkpoints yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn cursors(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl JobCheckpoint for MemoryCheckpoint {
    async fn load(&self, job: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.cursors().get(job).cloned())
    }

    async fn save(&self, job: &str, cursor: &[u8]) -> Result<(), BackendError> {
        self.cursors().insert(job.to_owned(), cursor.to_vec());
        Ok(())
    }

    async fn clear(&self, job: &str) -> Result<(), BackendError> {
        self.cursors().remove(job);
        Ok(())
    }
}

/// Checkpoints in a directory: one file per job (`<hex of the job name>.cursor`), replaced
/// atomically and fsynced.
#[derive(Debug)]
pub struct FileCheckpoint {
    dir: PathBuf,
}

impl FileCheckpoint {
    /// Checkpoints in `dir` (created if needed).
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.as_ref())?;
        Ok(FileCheckpoint {
            dir: dir.as_ref().to_path_buf(),
        })
    }

    fn path(&self, job: &str) -> PathBuf {
        let name: String = job.bytes().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.cursor"))
    }
}

#[async_trait]
impl JobCheckpoint for FileCheckpoint {
    async fn load(&self, job: &str) -> Result<Option<Vec<u8>>, BackendError> {
        match std::fs::read(self.path(job)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BackendError::new(e)),
        }
    }

    async fn save(&self, job: &str, cursor: &[u8]) -> Result<(), BackendError> {
        write_atomic(&self.path(job), cursor).map_err(BackendError::new)
    }

    async fn clear(&self, job: &str) -> Result<(), BackendError> {
        match std::fs::remove_file(self.path(job)) {
            Ok(()) => {
                // The removal is durable once the directory is.
                std::fs::File::open(&self.dir)
                    .and_then(|d| d.sync_all())
                    .map_err(BackendError::new)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BackendError::new(e)),
        }
    }
}

/// What a run (or one step) of a [`ReencryptJob`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReencryptReport {
    /// Rows read.
    pub scanned: u64,
    /// Rows re-encrypted under the subject's current key and written.
    pub reencrypted: u64,
    /// Rows already under the current key (header check only).
    pub already_current: u64,
    /// Rows whose compare-and-swap lost to a concurrent write.
    pub conflicts: u64,
    /// Rows of shredded subjects (nothing to do: they can never be read again).
    pub shredded: u64,
    /// Rows that could not be decrypted (malformed, wrong context, or a retired key): left as
    /// they are. Do not raise a minimum decryption version while this is not zero.
    pub failed: u64,
    /// The cursors of the first failed rows (at most 64).
    pub failed_cursors: Vec<Vec<u8>>,
    /// Whether the source had no more rows.
    pub done: bool,
}

impl ReencryptReport {
    fn add(&mut self, o: &ReencryptReport) {
        self.scanned += o.scanned;
        self.reencrypted += o.reencrypted;
        self.already_current += o.already_current;
        self.conflicts += o.conflicts;
        self.shredded += o.shredded;
        self.failed += o.failed;
        for c in &o.failed_cursors {
            if self.failed_cursors.len() < MAX_FAILED_CURSORS {
                self.failed_cursors.push(c.clone());
            }
        }
        self.done = o.done;
    }

    fn fail(&mut self, cursor: &[u8]) {
        self.failed += 1;
        if self.failed_cursors.len() < MAX_FAILED_CURSORS {
            self.failed_cursors.push(cursor.to_vec());
        }
    }
}

const MAX_FAILED_CURSORS: usize = 64;

/// Why a job step stopped. The checkpoint is not advanced past unfinished rows, so running the
/// job again redoes at most one batch (rows already re-encrypted are recognised by their header
/// and skipped).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReencryptError {
    /// The source could not be read or written.
    #[error("re-encryption source: {0}")]
    Source(#[source] BackendError),
    /// The checkpoint could not be read or saved.
    #[error("re-encryption checkpoint: {0}")]
    Checkpoint(#[source] BackendError),
    /// The key store or key provider could not be reached.
    #[error("key unavailable: {0}")]
    KeyUnavailable(#[source] BackendError),
}

/// Re-encrypts a host's stored fields under each subject's current data key, resumably and
/// idempotently: after a subject's data key was rotated
/// ([`EnvelopeEncryptor::rotate_subject`]), and before its minimum decryption version is
/// raised.
///
/// Each step reads a batch after the checkpointed cursor, skips rows already under the current
/// key (a header check), decrypts and re-encrypts the others, writes each with the source's
/// compare-and-swap, and then saves the batch's last cursor. A crash anywhere loses at most the
/// checkpoint of one batch; the rerun skips what was done.
///
/// The job decrypts as a system process, not for a person: it records no NEN 7513 read
/// events, and the plaintext lives only in zeroized buffers between decrypt and encrypt.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use biv_confidentiality::keys::*;
/// use biv_core::{BackendError, Context, Encryptor, SystemClock};
///
/// #[derive(Debug, Default)]
/// struct Table(Mutex<Vec<(u64, Vec<u8>, Context)>>);
///
/// #[async_trait::async_trait]
/// impl ReencryptSource for Table {
///     async fn rows_after(&self, after: Option<&[u8]>, limit: usize) -> Result<Vec<ReencryptRow>, BackendError> {
///         let after = after.map(|a| u64::from_be_bytes(a.try_into().unwrap_or([0; 8])));
///         Ok(self.0.lock().unwrap().iter().filter(|r| after.map_or(true, |a| r.0 > a)).take(limit)
///             .map(|(id, ct, ctx)| ReencryptRow::new(id.to_be_bytes(), ct.clone(), ctx.clone())).collect())
///     }
///     async fn replace(&self, row: &ReencryptRow, new: &[u8]) -> Result<bool, BackendError> {
///         let mut rows = self.0.lock().unwrap();
///         let r = rows.iter_mut().find(|r| r.0.to_be_bytes().as_slice() == row.cursor.as_slice());
///         Ok(match r { Some(r) if r.1 == row.ciphertext => { r.1 = new.to_vec(); true } _ => false })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// # let dir = std::env::temp_dir().join(format!("biv-doc-job-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
/// let ring = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::development())?;
/// let enc = Arc::new(EnvelopeEncryptor::new(Arc::new(ring), Arc::new(MemoryKeyStore::new()),
///     Arc::new(SystemClock::new()), CacheConfig::default()));
/// let ctx = Context::new().with("tenant", "t1")?.with("subject", "p-1")?;
/// let table = Arc::new(Table::default());
/// table.0.lock().unwrap().push((1, enc.encrypt(b"A+", &ctx).await?, ctx.clone()));
///
/// enc.rotate_subject(b"t1", b"p-1").await?;
/// let job = ReencryptJob::new("patients.blood_type", Arc::clone(&enc), table.clone(),
///     Arc::new(MemoryCheckpoint::new()));
/// let report = job.run().await?;
/// assert_eq!((report.reencrypted, report.failed, report.done), (1, 0, true));
/// assert_eq!(job.run().await?.reencrypted, 0); // idempotent
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReencryptJob {
    name: String,
    encryptor: Arc<EnvelopeEncryptor>,
    source: Arc<dyn ReencryptSource>,
    checkpoint: Arc<dyn JobCheckpoint>,
    batch_size: usize,
}

impl fmt::Debug for ReencryptJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReencryptJob")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("checkpoint", &self.checkpoint)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl ReencryptJob {
    /// A job named `name` (the checkpoint key: one name per table and column) over `source`.
    pub fn new(
        name: impl Into<String>,
        encryptor: Arc<EnvelopeEncryptor>,
        source: Arc<dyn ReencryptSource>,
        checkpoint: Arc<dyn JobCheckpoint>,
    ) -> Self {
        ReencryptJob {
            name: name.into(),
            encryptor,
            source,
            checkpoint,
            batch_size: 256,
        }
    }

    /// Rows per batch (and per checkpoint); default 256.
    #[must_use]
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Runs steps until the source has no more rows.
    ///
    /// # Errors
    /// [`ReencryptError`]; run again to resume.
    pub async fn run(&self) -> Result<ReencryptReport, ReencryptError> {
        let mut total = ReencryptReport::default();
        loop {
            let step = self.step().await?;
            total.add(&step);
            if step.done {
                return Ok(total);
            }
        }
    }

    /// One batch: read, re-encrypt, write, checkpoint.
    ///
    /// # Errors
    /// [`ReencryptError`]; the checkpoint then still points before this batch.
    pub async fn step(&self) -> Result<ReencryptReport, ReencryptError> {
        let cursor = self
            .checkpoint
            .load(&self.name)
            .await
            .map_err(ReencryptError::Checkpoint)?;
        let rows = self
            .source
            .rows_after(cursor.as_deref(), self.batch_size)
            .await
            .map_err(ReencryptError::Source)?;
        let mut report = ReencryptReport {
            done: rows.len() < self.batch_size,
            ..ReencryptReport::default()
        };
        for row in &rows {
            report.scanned += 1;
            self.one(row, &mut report).await?;
        }
        if report.done {
            // The end: the next run (after the next rotation) starts at the first row again.
            self.checkpoint
                .clear(&self.name)
                .await
                .map_err(ReencryptError::Checkpoint)?;
        } else if let Some(last) = rows.last() {
            self.checkpoint
                .save(&self.name, &last.cursor)
                .await
                .map_err(ReencryptError::Checkpoint)?;
        }
        Ok(report)
    }

    /// Encrypts under the subject's current key; `None` when the subject was shredded.
    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Option<Vec<u8>>, ReencryptError> {
        match self.encryptor.encrypt(plaintext, context).await {
            Ok(ct) => Ok(Some(ct)),
            Err(EncryptError::KeyDestroyed) => Ok(None),
            Err(e) => Err(ReencryptError::KeyUnavailable(BackendError::new(e))),
        }
    }

    async fn one(
        &self,
        row: &ReencryptRow,
        report: &mut ReencryptReport,
    ) -> Result<(), ReencryptError> {
        let enc = &self.encryptor;
        match enc.needs_reencrypt(&row.ciphertext, &row.context).await {
            Ok(false) => {
                report.already_current += 1;
                return Ok(());
            }
            Ok(true) => {}
            Err(NeedsReencryptError::KeyDestroyed) => {
                report.shredded += 1;
                return Ok(());
            }
            Err(NeedsReencryptError::Store(e)) => {
                return Err(ReencryptError::KeyUnavailable(BackendError::new(e)));
            }
            Err(_) => {
                report.fail(&row.cursor);
                return Ok(());
            }
        }
        let plain = match enc.decrypt(&row.ciphertext, &row.context).await {
            Ok(p) => p,
            Err(DecryptError::KeyDestroyed) => {
                report.shredded += 1;
                return Ok(());
            }
            Err(e) if key_retired(&e).is_some() => {
                report.fail(&row.cursor);
                return Ok(());
            }
            Err(DecryptError::KeyUnavailable(e)) => return Err(ReencryptError::KeyUnavailable(e)),
            Err(_) => {
                report.fail(&row.cursor);
                return Ok(());
            }
        };
        let mut new = self.encrypt(plain.expose_secret(), &row.context).await?;
        // A rotation by another process is in the store before it reaches this encryptor's
        // cache: if the new ciphertext is not under the stored current key, drop the cached
        // key and encrypt once more.
        if let Some(ct) = &new
            && matches!(enc.needs_reencrypt(ct, &row.context).await, Ok(true))
            && let (Some(tenant), Some(subject)) =
                (row.context.get("tenant"), row.context.get("subject"))
        {
            enc.cache.purge_subject(tenant, subject, &[]);
            new = self.encrypt(plain.expose_secret(), &row.context).await?;
        }
        drop(plain);
        let Some(new) = new else {
            report.shredded += 1;
            return Ok(());
        };
        if self
            .source
            .replace(row, &new)
            .await
            .map_err(ReencryptError::Source)?
        {
            report.reencrypted += 1;
        } else {
            report.conflicts += 1;
        }
        Ok(())
    }
}
