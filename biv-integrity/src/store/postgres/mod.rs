//! The PostgreSQL audit store: the same tree, entries and proofs as the file store, in tables
//! that the application may only append to.
//!
//! Any number of processes may append to one log: each batch is sequenced in one transaction
//! under a per-log advisory lock, so indices stay dense and the tree consistent.

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
use crate::store::border::Border;
use crate::store::hashing::{empty_root, leaf_hash, node_hash};
use writer::{PgWriter, Request};

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
}

impl Default for PgLogOptions {
    fn default() -> Self {
        PgLogOptions {
            append_timeout: Duration::from_secs(2),
            max_batch: 1024,
            queue_capacity: 65_536,
            writer_role: None,
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
    /// # Errors
    /// [`PgLogError::Database`] when the server cannot be reached or the schema not installed.
    pub async fn connect(
        conninfo: &str,
        log_id: &str,
        options: PgLogOptions,
    ) -> Result<PgLog, PgLogError> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
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
                    match start(&conninfo_owned, &log_id_owned, &opts).await {
                        Ok((reader, writer, tx, rx)) => {
                            if ready_tx.send(Ok((reader, tx))).is_ok() {
                                writer.run(rx).await;
                            }
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
        let (reader, tx) = ready_rx.await.map_err(|_| {
            PgLogError::Database(BackendError::msg(
                "the audit log thread stopped while connecting",
            ))
        })??;
        Ok(PgLog {
            log_id: log_id.to_owned(),
            options,
            reader: Arc::new(reader),
            tx,
        })
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
        if leaf_hash(&entry).as_slice() != stored.as_slice() {
            return Err(PgLogError::Corrupt {
                index,
                what: "entry does not match its leaf hash".into(),
            });
        }
        Ok(entry)
    }

    async fn node(&self, level: u32, index: u64) -> Result<[u8; 32], PgLogError> {
        let idx = i64::try_from(index).map_err(|_| PgLogError::OutOfRange { index, size: 0 })?;
        let row = if level == 0 {
            self.reader
                .query_opt("SELECT leaf_hash FROM biv_audit_entries WHERE log_id = $1 AND idx = $2", &[&self.log_id, &idx])
                .await
        } else {
            let level = i32::try_from(level).unwrap_or(i32::MAX);
            self.reader
                .query_opt("SELECT hash FROM biv_audit_nodes WHERE log_id = $1 AND level = $2 AND idx = $3", &[&self.log_id, &level, &idx])
                .await
        }
        .map_err(db)?;
        let hash: Vec<u8> = row.ok_or(PgLogError::OutOfRange { index, size: 0 })?.get(0);
        <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| PgLogError::Corrupt {
            index,
            what: "stored hash is not 32 bytes".into(),
        })
    }

    /// MTH of leaves `[start, end)` from the stored perfect-subtree hashes.
    ///
    /// # Errors
    /// [`PgLogError`] if the range is past the committed size.
    pub async fn range_hash(&self, start: u64, end: u64) -> Result<[u8; 32], PgLogError> {
        if start >= end {
            return Err(PgLogError::OutOfRange {
                index: start,
                size: end,
            });
        }
        // Iterative RFC 6962 split: collect the perfect pieces left to right, then fold.
        let mut pieces = Vec::new();
        let mut stack = vec![(start, end)];
        while let Some((s, e)) = stack.pop() {
            let n = e - s;
            if n.is_power_of_two() && s.is_multiple_of(n) {
                pieces.push((s, e, self.node(n.trailing_zeros(), s / n).await?));
            } else {
                let k = 1u64 << (63 - (n - 1).leading_zeros());
                stack.push((s + k, e));
                stack.push((s, s + k));
            }
        }
        fold(start, end, &pieces)
    }

    /// Re-hashes every entry, checks each against its stored leaf hash and the event format,
    /// rebuilds the tree and compares the root: the `verify --full` of this store.
    ///
    /// # Errors
    /// [`PgLogError::Corrupt`] with the first failing index, or [`PgLogError::RootMismatch`].
    pub async fn verify_full(&self) -> Result<u64, PgLogError> {
        let (size, root) = self.size_and_root().await?;
        let mut border = Border::default();
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
                if leaf.as_slice() != stored.as_slice() {
                    return Err(PgLogError::Corrupt {
                        index: idx,
                        what: "entry does not match its leaf hash".into(),
                    });
                }
                decode_entry(&entry).map_err(|e| PgLogError::Corrupt {
                    index: idx,
                    what: e.to_string(),
                })?;
                border.append(leaf, |_, _, _| {});
                next += 1;
            }
        }
        if border.root() != root {
            return Err(PgLogError::RootMismatch { size });
        }
        Ok(size)
    }
}

/// Connects both clients, installs the schema and prepares the writer (on the log's own runtime).
async fn start(
    conninfo: &str,
    log_id: &str,
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
        &empty_root(),
        options.writer_role.as_deref(),
    )
    .await
    .map_err(db)?;
    let writer_client = connect(conninfo).await?;
    let digest = Sha256::digest(format!("biv-audit:{log_id}").as_bytes());
    let lock_key = i64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    let statements = writer::Statements::prepare(&writer_client)
        .await
        .map_err(db)?;
    let writer = PgWriter {
        client: writer_client,
        log_id: log_id.to_owned(),
        lock_key,
        max_batch: options.max_batch.max(1),
        statements,
    };
    let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
    Ok((reader, writer, tx, rx))
}

/// Folds the perfect pieces of `[start, end)` (left to right) into MTH by the RFC 6962 split.
fn fold(start: u64, end: u64, pieces: &[(u64, u64, [u8; 32])]) -> Result<[u8; 32], PgLogError> {
    if let Some((_, _, h)) = pieces.iter().find(|(s, e, _)| *s == start && *e == end) {
        return Ok(*h);
    }
    let n = end - start;
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    Ok(node_hash(
        &fold(start, start + k, pieces)?,
        &fold(start + k, end, pieces)?,
    ))
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
            leaf_hash: leaf_hash(&entry),
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
