//! The PostgreSQL audit store: the same tree, entries and proofs as the file store, in tables
//! that the application may only append to.
//!
//! Any number of processes may append to one log: each batch is sequenced in one transaction
//! under a per-log advisory lock, so indices stay dense and the tree consistent.

mod anchor;
mod schema;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use biv_core::{AuditAppendError, AuditEvent, AuditReceipt, AuditSink, BackendError};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls};

use crate::audit::{EntryEncodeError, MAX_ENTRY_BYTES, decode_entry, encode_entry};
use crate::tlog::{
    CompactRange, Hash, NodeId, ProofError, ProofPlan, consistency_plan, empty_root,
    inclusion_plan, leaf_hash, node_hash,
};
use writer::{PgWriter, Request};

use crate::store::checkpoint_key::{CheckpointAnchor, CheckpointKey};
use crate::tlog::SignedCheckpoint;

/// Settings of a [`PgLog`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgLogOptions {
    /// Longest an append waits for its commit before failing closed. Default 2 s.
    pub append_timeout: Duration,
    /// Most appends committed in one transaction. Default 1024.
    pub max_batch: usize,
    /// Appends that may wait for the writer; more fail at once. Default 65,536.
    pub queue_capacity: usize,
    /// A role to grant append-only access when the schema is installed.
    pub writer_role: Option<String>,
    /// Sign a checkpoint after a commit once this much time passed since the last. Default 1 s.
    pub checkpoint_interval: Duration,
    /// … or once this many entries were added since the last. Default 1,000.
    pub checkpoint_every: u64,
    /// Where checkpoints are also published, and checked against on connect.
    pub anchor: Option<Arc<dyn CheckpointAnchor>>,
}

impl Default for PgLogOptions {
    fn default() -> Self {
        PgLogOptions {
            append_timeout: Duration::from_secs(2),
            max_batch: 1024,
            queue_capacity: 65_536,
            writer_role: None,
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_every: 1000,
            anchor: None,
        }
    }
}

impl PgLogOptions {
    /// Sets the longest wait for a commit.
    #[must_use]
    pub fn with_append_timeout(mut self, timeout: Duration) -> Self {
        self.append_timeout = timeout;
        self
    }

    /// Grants `role` append-only access when the schema is installed.
    #[must_use]
    pub fn with_writer_role(mut self, role: impl Into<String>) -> Self {
        self.writer_role = Some(role.into());
        self
    }

    /// Sets when checkpoints are signed: after `interval`, or after `every` new entries.
    #[must_use]
    pub fn with_checkpoints(mut self, interval: Duration, every: u64) -> Self {
        self.checkpoint_interval = interval;
        self.checkpoint_every = every.max(1);
        self
    }

    /// Publishes every checkpoint to `anchor` from a thread of its own (with consistency proofs
    /// read over a connection of its own, as a witness needs), and checks the log against it on
    /// connect.
    #[must_use]
    pub fn with_anchor(mut self, anchor: Arc<dyn CheckpointAnchor>) -> Self {
        self.anchor = Some(anchor);
        self
    }

    /// Sets the most appends per transaction.
    #[must_use]
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch;
        self
    }
}

/// Why a PostgreSQL log operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgLogError {
    /// The database could not be reached or refused a statement.
    #[error("audit database: {0}")]
    Database(#[source] BackendError),
    /// The index is at or past the committed size.
    #[error("entry {index} does not exist (log size {size})")]
    OutOfRange {
        /// The requested index.
        index: u64,
        /// The committed size.
        size: u64,
    },
    /// Stored data does not verify; `index` is the first entry that fails.
    #[error("entry {index} fails verification: {what}")]
    Corrupt {
        /// The first failing entry.
        index: u64,
        /// What failed.
        what: String,
    },
    /// A signed checkpoint does not verify, or the stored tree does not match it.
    #[error("{0}")]
    Checkpoint(String),
    /// An append-only trigger is missing or disabled: the tables are not protected.
    #[error("the audit tables are not append-only: {0}")]
    NotAppendOnly(String),
    /// A proof could not be planned (bad index or sizes).
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The tree recomputed from the entries does not have the stored root.
    #[error("recomputed root does not match the stored root at size {size}")]
    RootMismatch {
        /// The stored size.
        size: u64,
    },
}

fn db(e: tokio_postgres::Error) -> PgLogError {
    PgLogError::Database(BackendError::new(e))
}

/// A tamper-evident audit log in PostgreSQL: an [`AuditSink`].
///
/// `append` must be awaited inside a Tokio runtime with the time driver enabled (for its bounded
/// wait); the connections and the writer run on the log's own thread.
#[derive(Debug)]
pub struct PgLog {
    log_id: String,
    options: PgLogOptions,
    reader: Arc<Client>,
    tx: mpsc::Sender<Request>,
    /// Fires when the writer has stopped (after its final checkpoint).
    stopped: tokio::sync::oneshot::Receiver<()>,
    /// Verifies the log's checkpoints.
    key: CheckpointKey,
    /// The anchor publisher's live failure counter, when an anchor is set.
    anchor_failures: Option<Arc<std::sync::atomic::AtomicU64>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("bytes", &self.entry.len())
            .finish_non_exhaustive()
    }
}

async fn connect(conninfo: &str) -> Result<Client, PgLogError> {
    let (client, connection) = tokio_postgres::connect(conninfo, NoTls).await.map_err(db)?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; errors surface on the client's calls.
        let _ = connection.await;
    });
    // Plan every execution with its actual parameters. A generic plan cached while the tables
    // were small (or before autovacuum first analysed them) can be a sequential scan, which
    // turns the per-batch duplicate check into O(n) as the log grows.
    client
        .batch_execute("SET plan_cache_mode = force_custom_plan")
        .await
        .map_err(db)?;
    Ok(client)
}

impl PgLog {
    /// Connects (two connections: one for the writer, one for reads), installs the schema if
    /// needed, registers the log `log_id` if it is new, and starts the writer.
    ///
    /// The connections and the writer run on a thread with its own Tokio runtime, owned by the
    /// `PgLog`: appends never compete with the host's tasks for a worker, the log works from any
    /// runtime, and it stops when the `PgLog` is dropped.
    ///
    /// Upgrading: when the schema's state trigger is older than this version's (which replays
    /// every new entry onto the tree before the state row may move), connecting replaces it,
    /// which takes the tables' owner. Connect once as the owner after an upgrade; until then a
    /// writer-only role gets [`PgLogError::Database`] (permission denied).
    ///
    /// # Errors
    /// [`PgLogError::Database`] when the server cannot be reached or the schema not installed.
    pub async fn connect(
        conninfo: &str,
        log_id: &str,
        key: CheckpointKey,
        options: PgLogOptions,
    ) -> Result<PgLog, PgLogError> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stopped_tx, stopped) = tokio::sync::oneshot::channel();
        let verifying_key = key.clone();
        let (conninfo_owned, log_id_owned, opts) =
            (conninfo.to_owned(), log_id.to_owned(), options.clone());
        let spawned = std::thread::Builder::new()
            .name("biv-audit-pg".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(PgLogError::Database(BackendError::new(e))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match start(&conninfo_owned, &log_id_owned, key, &opts).await {
                        Ok((reader, writer, tx, rx)) => {
                            let failures = writer.checkpoints.anchor_failures.clone();
                            if ready_tx.send(Ok((reader, tx, failures))).is_ok() {
                                writer.run(rx).await;
                            }
                            let _ = stopped_tx.send(());
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            });
        if let Err(e) = spawned {
            return Err(PgLogError::Database(BackendError::new(e)));
        }
        let (reader, tx, anchor_failures) = ready_rx.await.map_err(|_| {
            PgLogError::Database(BackendError::msg(
                "the audit log thread stopped while connecting",
            ))
        })??;
        Ok(PgLog {
            log_id: log_id.to_owned(),
            options,
            reader: Arc::new(reader),
            tx,
            stopped,
            key: verifying_key,
            anchor_failures,
        })
    }

    /// How many publications the anchor (a witness, a directory) refused or could not take,
    /// retries of a failed one included, counted live; 0 without an anchor. A refusal by a
    /// witness (a fork, a rollback) counts here; watch it.
    pub fn anchor_failures(&self) -> u64 {
        self.anchor_failures
            .as_ref()
            .map_or(0, |c| c.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Stops accepting appends, lets the writer commit what is queued and sign a checkpoint of
    /// the final state, and waits for it. (Dropping a `PgLog` does the same without waiting.)
    pub async fn close(self) {
        let PgLog { tx, stopped, .. } = self;
        drop(tx);
        let _ = stopped.await;
    }

    /// The newest signed checkpoint. It may trail the committed size by up to the checkpoint
    /// interval; a checkpoint of the final state is signed when the `PgLog` is dropped.
    ///
    /// # Errors
    /// [`PgLogError`].
    pub async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, PgLogError> {
        match newest_checkpoint(&self.reader, &self.log_id).await? {
            Some(bytes) => SignedCheckpoint::parse(&bytes)
                .map(Some)
                .map_err(|e| PgLogError::Checkpoint(e.to_string())),
            None => Ok(None),
        }
    }

    /// The log's id.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The committed size and root.
    ///
    /// # Errors
    /// [`PgLogError::Database`].
    pub async fn size_and_root(&self) -> Result<(u64, [u8; 32]), PgLogError> {
        let row = self
            .reader
            .query_one(
                "SELECT size, root FROM biv_audit_state WHERE log_id = $1",
                &[&self.log_id],
            )
            .await
            .map_err(db)?;
        let size = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        let root: Vec<u8> = row.get(1);
        let root = <[u8; 32]>::try_from(root.as_slice()).map_err(|_| PgLogError::Corrupt {
            index: size,
            what: "stored root is not 32 bytes".into(),
        })?;
        Ok((size, root))
    }

    /// The entry at `index`, checked against its stored leaf hash.
    ///
    /// # Errors
    /// [`PgLogError`].
    pub async fn entry(&self, index: u64) -> Result<Vec<u8>, PgLogError> {
        let idx = i64::try_from(index).map_err(|_| PgLogError::OutOfRange { index, size: 0 })?;
        let row = self
            .reader
            .query_opt(
                "SELECT entry, leaf_hash FROM biv_audit_entries WHERE log_id = $1 AND idx = $2",
                &[&self.log_id, &idx],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else {
            let (size, _) = self.size_and_root().await?;
            return Err(PgLogError::OutOfRange { index, size });
        };
        let entry: Vec<u8> = row.get(0);
        let stored: Vec<u8> = row.get(1);
        if leaf_hash(&entry).as_bytes().as_slice() != stored.as_slice() {
            return Err(PgLogError::Corrupt {
                index,
                what: "entry does not match its leaf hash".into(),
            });
        }
        Ok(entry)
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, PgLogError> {
        nodes(&self.reader, &self.log_id, ids).await
    }

    async fn check_size(&self, size: u64) -> Result<(), PgLogError> {
        let (committed, _) = self.size_and_root().await?;
        if size > committed {
            return Err(PgLogError::OutOfRange {
                index: size,
                size: committed,
            });
        }
        Ok(())
    }

    async fn prove(&self, plan: ProofPlan) -> Result<Vec<Hash>, PgLogError> {
        let hashes = self.nodes(plan.nodes()).await?;
        Ok(plan.assemble(&hashes)?)
    }

    /// The RFC 6962 inclusion proof of entry `index` in the tree of `size` entries, from one
    /// batch of node reads.
    ///
    /// # Errors
    /// [`PgLogError`].
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, PgLogError> {
        self.check_size(size).await?;
        self.prove(inclusion_plan(index, size)?).await
    }

    /// The RFC 6962 consistency proof from the tree of `old` entries to the tree of `new`.
    ///
    /// # Errors
    /// [`PgLogError`].
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, PgLogError> {
        self.check_size(new).await?;
        self.prove(consistency_plan(old, new)?).await
    }

    /// The root of the tree at `size` (at most the committed size).
    ///
    /// # Errors
    /// [`PgLogError`].
    pub async fn root_at(&self, size: u64) -> Result<Hash, PgLogError> {
        self.check_size(size).await?;
        root_at(&self.reader, &self.log_id, size).await
    }

    /// Re-hashes every entry, checks each against its stored leaf hash and the event format,
    /// rebuilds the tree, and compares the roots recomputed from the entries with every signed
    /// checkpoint and with the stored root: the `verify --full` of this store. Stored tree nodes,
    /// leaf hashes and the state row are not trusted.
    ///
    /// # Errors
    /// [`PgLogError::Corrupt`] with the first failing index, or [`PgLogError::RootMismatch`].
    pub async fn verify_full(&self) -> Result<u64, PgLogError> {
        // Checkpoints first, then the state: only committed states are signed.
        let rows = self
            .reader
            .query(
                "SELECT size, note FROM biv_audit_checkpoints WHERE log_id = $1 ORDER BY size",
                &[&self.log_id],
            )
            .await
            .map_err(db)?;
        let mut checkpoints = Vec::new();
        for row in rows {
            let note: Vec<u8> = row.get(1);
            let cp = self.key.open(&note).map_err(|e| {
                PgLogError::Checkpoint(format!("a stored checkpoint does not verify: {e}"))
            })?;
            checkpoints.push(cp);
        }
        let (size, root) = self.size_and_root().await?;
        if size > 0 && checkpoints.is_empty() {
            return Err(PgLogError::Checkpoint(format!(
                "the log has {size} entries but no signed checkpoint"
            )));
        }
        let mut pending = checkpoints.iter().peekable();
        let mut check_at = |border: &CompactRange| -> Result<(), PgLogError> {
            while let Some(cp) = pending.peek() {
                let at = cp.checkpoint().size();
                if at > border.size() {
                    break;
                }
                if at == border.size() && border.root() != *cp.checkpoint().root() {
                    return Err(PgLogError::Checkpoint(format!(
                        "the entries re-hashed up to size {at} do not have the signed root: the log was rewritten"
                    )));
                }
                pending.next();
            }
            Ok(())
        };
        let mut border = CompactRange::new();
        check_at(&border)?;
        let mut next = 0u64;
        while next < size {
            let from = i64::try_from(next).unwrap_or(i64::MAX);
            let rows = self
                .reader
                .query(
                    "SELECT idx, entry, leaf_hash FROM biv_audit_entries WHERE log_id = $1 AND idx >= $2 ORDER BY idx LIMIT 10000",
                    &[&self.log_id, &from],
                )
                .await
                .map_err(db)?;
            if rows.is_empty() {
                return Err(PgLogError::Corrupt {
                    index: next,
                    what: "entry missing".into(),
                });
            }
            for row in rows {
                let idx = u64::try_from(row.get::<_, i64>(0)).unwrap_or(u64::MAX);
                if idx != next {
                    return Err(PgLogError::Corrupt {
                        index: next,
                        what: "entry missing".into(),
                    });
                }
                if idx >= size {
                    break;
                }
                let entry: Vec<u8> = row.get(1);
                let stored: Vec<u8> = row.get(2);
                let leaf = leaf_hash(&entry);
                if leaf.as_bytes().as_slice() != stored.as_slice() {
                    return Err(PgLogError::Corrupt {
                        index: idx,
                        what: "entry does not match its leaf hash".into(),
                    });
                }
                decode_entry(&entry).map_err(|e| PgLogError::Corrupt {
                    index: idx,
                    what: e.to_string(),
                })?;
                border.push(leaf).map_err(|e| PgLogError::Corrupt {
                    index: idx,
                    what: e.to_string(),
                })?;
                check_at(&border)?;
                next += 1;
            }
        }
        if pending.peek().is_some() {
            return Err(PgLogError::Checkpoint(format!(
                "a signed checkpoint covers more entries than the log holds ({size}): truncated or rolled back"
            )));
        }
        if border.root().to_bytes() != root {
            return Err(PgLogError::RootMismatch { size });
        }
        Ok(size)
    }
}

/// The stored hashes of `ids`, in order: leaves from the entries, higher nodes from the
/// node table, two queries in all.
async fn nodes(client: &Client, log_id: &str, ids: &[NodeId]) -> Result<Vec<Hash>, PgLogError> {
    let leaf_idx: Vec<i64> = ids
        .iter()
        .filter(|n| n.level == 0)
        .map(|n| i64::try_from(n.index).unwrap_or(i64::MAX))
        .collect();
    let (levels, idxs): (Vec<i32>, Vec<i64>) = ids
        .iter()
        .filter(|n| n.level > 0)
        .map(|n| {
            (
                i32::from(n.level),
                i64::try_from(n.index).unwrap_or(i64::MAX),
            )
        })
        .unzip();
    let mut found = std::collections::HashMap::new();
    if !leaf_idx.is_empty() {
        let rows = client
            .query(
                "SELECT idx, leaf_hash FROM biv_audit_entries WHERE log_id = $1 AND idx = ANY($2)",
                &[&log_id, &leaf_idx],
            )
            .await
            .map_err(db)?;
        for row in rows {
            found.insert((0i32, row.get::<_, i64>(0)), row.get::<_, Vec<u8>>(1));
        }
    }
    if !levels.is_empty() {
        let rows = client
            .query(
                "SELECT level, idx, hash FROM biv_audit_nodes WHERE log_id = $1
                 AND (level, idx) IN (SELECT * FROM UNNEST($2::int[], $3::bigint[]))",
                &[&log_id, &levels, &idxs],
            )
            .await
            .map_err(db)?;
        for row in rows {
            found.insert(
                (row.get::<_, i32>(0), row.get::<_, i64>(1)),
                row.get::<_, Vec<u8>>(2),
            );
        }
    }
    ids.iter()
        .map(|n| {
            let key = (
                i32::from(n.level),
                i64::try_from(n.index).unwrap_or(i64::MAX),
            );
            let bytes = found.get(&key).ok_or_else(|| PgLogError::Corrupt {
                index: n.first_leaf().unwrap_or(u64::MAX),
                what: format!(
                    "tree node (level {}, index {}) is missing",
                    n.level, n.index
                ),
            })?;
            Hash::from_slice(bytes).map_err(|_| PgLogError::Corrupt {
                index: n.index,
                what: "stored hash is not 32 bytes".into(),
            })
        })
        .collect()
}

/// The root of the stored tree at `size`, from the perfect subtrees that make up `[0, size)`.
async fn root_at(client: &Client, log_id: &str, size: u64) -> Result<Hash, PgLogError> {
    let mut ids = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size >> level & 1 == 1 {
            ids.push(NodeId::new(level, start >> level));
            start += 1 << level;
        }
    }
    let hashes = nodes(client, log_id, &ids).await?;
    Ok(hashes
        .iter()
        .rev()
        .copied()
        .reduce(|right, left| node_hash(&left, &right))
        .unwrap_or_else(empty_root))
}

/// The newest signed checkpoint of `log_id`, if any.
async fn newest_checkpoint(client: &Client, log_id: &str) -> Result<Option<Vec<u8>>, PgLogError> {
    Ok(client
        .query_opt(
            "SELECT note FROM biv_audit_checkpoints WHERE log_id = $1 ORDER BY size DESC LIMIT 1",
            &[&log_id],
        )
        .await
        .map_err(db)?
        .map(|row| row.get::<_, Vec<u8>>(0)))
}

/// The triggers that make the tables append-only; connecting refuses when one is missing or
/// disabled (a table owner or superuser may have dropped or switched one off).
const APPEND_ONLY_TRIGGERS: [&str; 9] = [
    "biv_audit_entries_append_only",
    "biv_audit_entries_no_truncate",
    "biv_audit_nodes_append_only",
    "biv_audit_nodes_no_truncate",
    "biv_audit_state_no_delete",
    "biv_audit_state_no_truncate",
    "biv_audit_state_only_grows",
    "biv_audit_checkpoints_append_only",
    "biv_audit_checkpoints_no_truncate",
];

async fn check_triggers(client: &Client) -> Result<(), PgLogError> {
    let tables = [
        "biv_audit_entries",
        "biv_audit_nodes",
        "biv_audit_state",
        "biv_audit_checkpoints",
    ];
    match crate::pg_triggers::trigger_problem(client, &tables, &APPEND_ONLY_TRIGGERS)
        .await
        .map_err(db)?
    {
        Some(problem) => Err(PgLogError::NotAppendOnly(problem)),
        None => Ok(()),
    }
}

/// On connect: the newest checkpoint (the log's own, then the anchor's) must verify and match
/// the stored tree; a log without one gets its first.
async fn check_checkpoints(
    client: &Client,
    log_id: &str,
    key: &CheckpointKey,
    anchor: Option<&dyn CheckpointAnchor>,
) -> Result<Option<SignedCheckpoint>, PgLogError> {
    let row = client
        .query_one(
            "SELECT size, root FROM biv_audit_state WHERE log_id = $1",
            &[&log_id],
        )
        .await
        .map_err(db)?;
    let size = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
    let own = newest_checkpoint(client, log_id).await?;
    let anchored = anchor
        .map(|a| a.latest())
        .transpose()
        .map_err(PgLogError::Database)?
        .flatten();
    for (bytes, from_anchor) in [(own.clone(), false), (anchored, true)] {
        let Some(bytes) = bytes else { continue };
        let what = if from_anchor {
            "the anchor's checkpoint"
        } else {
            "the newest checkpoint"
        };
        let cp = key
            .open(&bytes)
            .map_err(|e| PgLogError::Checkpoint(format!("{what} does not verify: {e}")))?;
        let cp_size = cp.checkpoint().size();
        if cp_size > size {
            return Err(PgLogError::Checkpoint(format!(
                "{what} covers {cp_size} entries but the log holds {size}: truncated or rolled back"
            )));
        }
        if &root_at(client, log_id, cp_size).await? != cp.checkpoint().root() {
            return Err(PgLogError::Checkpoint(format!(
                "the tree at size {cp_size} does not match {what}: the log was rewritten"
            )));
        }
    }
    match own {
        Some(bytes) => Ok(SignedCheckpoint::parse(&bytes).ok()),
        None if size == 0 => Ok(None),
        None => Err(PgLogError::Checkpoint(format!(
            "the log has {size} entries but no signed checkpoint"
        ))),
    }
}

/// Connects both clients, installs the schema and prepares the writer (on the log's own runtime).
async fn start(
    conninfo: &str,
    log_id: &str,
    key: CheckpointKey,
    options: &PgLogOptions,
) -> Result<
    (
        Client,
        PgWriter,
        mpsc::Sender<Request>,
        mpsc::Receiver<Request>,
    ),
    PgLogError,
> {
    let reader = connect(conninfo).await?;
    schema::install(
        &reader,
        log_id,
        &empty_root().to_bytes(),
        options.writer_role.as_deref(),
    )
    .await
    .map_err(db)?;
    check_triggers(&reader).await?;
    let last_checkpoint =
        check_checkpoints(&reader, log_id, &key, options.anchor.as_deref()).await?;
    let writer_client = connect(conninfo).await?;
    let digest = Sha256::digest(format!("biv-audit:{log_id}").as_bytes());
    let lock_key = i64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    let statements = writer::Statements::prepare(&writer_client)
        .await
        .map_err(db)?;
    let background = options
        .anchor
        .clone()
        .map(|a| anchor::in_background(a, conninfo, log_id));
    let writer = PgWriter {
        client: writer_client,
        log_id: log_id.to_owned(),
        lock_key,
        max_batch: options.max_batch.max(1),
        statements,
        poisoned: None,
        checkpoints: writer::Checkpointing {
            key,
            interval: options.checkpoint_interval,
            every: options.checkpoint_every.max(1),
            // Published from a thread of its own, with proofs for a witness.
            anchor: background.as_ref().map(|(a, _)| Arc::clone(a)),
            anchor_failures: background.and_then(|(_, failures)| failures),
            last_size: last_checkpoint.as_ref().map(|c| c.checkpoint().size()),
            last_root: last_checkpoint.as_ref().map(|c| *c.checkpoint().root()),
            last_at: std::time::Instant::now(),
        },
    };
    let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
    Ok((reader, writer, tx, rx))
}

#[async_trait]
impl AuditSink for PgLog {
    async fn append(&self, event: &AuditEvent) -> Result<AuditReceipt, AuditAppendError> {
        let entry = encode_entry(event).map_err(|e| match e {
            EntryEncodeError::Invalid(inner) => AuditAppendError::Invalid(inner),
            EntryEncodeError::TooLarge { size } => AuditAppendError::TooLarge {
                size,
                limit: MAX_ENTRY_BYTES,
            },
            other => AuditAppendError::Backend(BackendError::new(other)),
        })?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        let request = Request {
            event_id: *event.id.as_bytes(),
            leaf_hash: leaf_hash(&entry).to_bytes(),
            entry,
            reply,
        };
        self.tx.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => AuditAppendError::Timeout {
                waited: Duration::ZERO,
            },
            mpsc::error::TrySendError::Closed(_) => AuditAppendError::Closed,
        })?;
        match tokio::time::timeout(self.options.append_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AuditAppendError::Closed),
            Err(_) => Err(AuditAppendError::Timeout {
                waited: self.options.append_timeout,
            }),
        }
    }
}
