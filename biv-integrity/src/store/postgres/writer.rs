//! The PostgreSQL writer task: batched sequencing under an advisory lock.

use std::collections::HashSet;

use biv_core::{AuditAppendError, AuditReceipt, BackendError};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Statement};

use crate::store::checkpoint_key::{CheckpointAnchor, CheckpointKey};
use crate::tlog::{CompactRange, Hash, consistency_plan, verify_consistency};

/// One append waiting for its commit.
pub(crate) struct Request {
    pub(crate) event_id: [u8; 16],
    pub(crate) entry: Vec<u8>,
    pub(crate) leaf_hash: [u8; 32],
    pub(crate) reply: oneshot::Sender<Result<AuditReceipt, AuditAppendError>>,
}

pub(crate) struct PgWriter {
    pub(crate) client: Client,
    pub(crate) log_id: String,
    pub(crate) lock_key: i64,
    pub(crate) max_batch: usize,
    pub(crate) statements: Statements,
    pub(crate) checkpoints: Checkpointing,
    /// Set when the stored state no longer extends the last signed checkpoint: every later
    /// append fails (fail closed) until an operator has looked.
    pub(crate) poisoned: Option<String>,
}

/// Why a checkpoint was not signed.
enum CheckpointFailure {
    /// The stored state does not extend the last signed checkpoint.
    Inconsistent(String),
    /// Anything else (the database, the signer); retried with the next commit.
    Other,
}

impl From<BackendError> for CheckpointFailure {
    fn from(_: BackendError) -> Self {
        CheckpointFailure::Other
    }
}

/// When and with which key the writer signs checkpoints (per interval or count, never per event).
pub(crate) struct Checkpointing {
    pub(crate) key: CheckpointKey,
    pub(crate) interval: std::time::Duration,
    pub(crate) every: u64,
    pub(crate) anchor: Option<std::sync::Arc<dyn CheckpointAnchor>>,
    /// The anchor publisher's live failure counter (read by `PgLog::anchor_failures`).
    pub(crate) anchor_failures: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    pub(crate) last_size: Option<u64>,
    pub(crate) last_root: Option<Hash>,
    pub(crate) last_at: std::time::Instant,
}

/// The writer's statements, prepared once: every batch then costs three round trips
/// (BEGIN; lock + state pipelined; inserts + update pipelined; COMMIT).
pub(crate) struct Statements {
    lock: Statement,
    state: Statement,
    insert_entries: Statement,
    insert_nodes: Statement,
    update_state: Statement,
}

impl Statements {
    pub(crate) async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        Ok(Statements {
            lock: client.prepare("SELECT pg_advisory_xact_lock($1)").await?,
            state: client.prepare("SELECT size, border FROM biv_audit_state WHERE log_id = $1 FOR UPDATE").await?,
            insert_entries: client
                .prepare(
                    "INSERT INTO biv_audit_entries (log_id, idx, event_id, entry, leaf_hash)
                     SELECT $1, * FROM UNNEST($2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[])
                     ON CONFLICT (log_id, event_id) DO NOTHING RETURNING event_id",
                )
                .await?,
            insert_nodes: client
                .prepare(
                    "INSERT INTO biv_audit_nodes (log_id, level, idx, hash)
                     SELECT $1, * FROM UNNEST($2::int[], $3::bigint[], $4::bytea[])",
                )
                .await?,
            update_state: client
                .prepare("UPDATE biv_audit_state SET size = $2, root = $3, border = $4 WHERE log_id = $1")
                .await?,
        })
    }
}

fn backend(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> BackendError {
    BackendError::new(e)
}

impl PgWriter {
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        // A new log gets its first checkpoint (of the empty tree) at once.
        if self.checkpoints.last_size.is_none()
            && let Err(CheckpointFailure::Inconsistent(why)) = self.checkpoint(true).await
        {
            self.poisoned = Some(why);
        }
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if let Some(why) = &self.poisoned {
                for r in batch {
                    let _ = r
                        .reply
                        .send(Err(AuditAppendError::Backend(BackendError::msg(format!(
                            "audit log refuses appends: {why}"
                        )))));
                }
                continue;
            }
            match self.commit(&batch).await {
                Ok(results) => {
                    for (r, result) in batch.into_iter().zip(results) {
                        let _ = r.reply.send(result);
                    }
                    // A failed checkpoint does not undo the commit; the next one retries — unless
                    // the state no longer extends what was signed.
                    if let Err(CheckpointFailure::Inconsistent(why)) = self.checkpoint(false).await
                    {
                        self.poisoned = Some(why);
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    for r in batch {
                        let _ = r
                            .reply
                            .send(Err(AuditAppendError::Backend(BackendError::msg(format!(
                                "audit commit failed: {text}"
                            )))));
                    }
                }
            }
        }
        // The final state gets a signature when the log closes.
        if self.poisoned.is_none() {
            let _ = self.checkpoint(true).await;
        }
    }

    /// Signs a checkpoint of the committed state when one is due (or `force`d) and the log grew,
    /// stores it, and publishes it to the anchor. Only committed states are signed.
    async fn checkpoint(&mut self, force: bool) -> Result<(), CheckpointFailure> {
        let row = self
            .client
            .query_one(
                "SELECT size, root FROM biv_audit_state WHERE log_id = $1",
                &[&self.log_id],
            )
            .await
            .map_err(backend)?;
        let size = u64::try_from(row.get::<_, i64>(0)).map_err(|_| backend("negative log size"))?;
        let root = Hash::from_slice(&row.get::<_, Vec<u8>>(1))
            .map_err(|_| backend("stored root is not 32 bytes"))?;
        let c = &mut self.checkpoints;
        let grown = c.last_size.is_none_or(|last| size > last);
        let due = force
            || c.last_at.elapsed() >= c.interval
            || size - c.last_size.unwrap_or(0) >= c.every;
        if !grown || !due {
            return Ok(());
        }
        // Never sign a state that does not extend the last signed one: the application role can
        // write the state row, so check it against the stored tree with a consistency proof.
        if let (Some(last_size), Some(last_root)) = (c.last_size, c.last_root)
            && last_size > 0
        {
            let plan = consistency_plan(last_size, size).map_err(backend)?;
            let hashes = super::nodes(&self.client, &self.log_id, plan.nodes())
                .await
                .map_err(backend)?;
            let proof = plan.assemble(&hashes).map_err(backend)?;
            verify_consistency(last_size, size, &proof, &last_root, &root).map_err(|e| {
                CheckpointFailure::Inconsistent(format!(
                    "the stored state at size {size} does not extend the checkpoint signed at size {last_size}: {e}"
                ))
            })?;
        }
        let signed = c.key.sign(size, root).map_err(backend)?;
        let size_i64 = i64::try_from(size).map_err(|_| backend("log too large"))?;
        self.client
            .execute(
                "INSERT INTO biv_audit_checkpoints (log_id, size, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&self.log_id, &size_i64, &signed.to_bytes()],
            )
            .await
            .map_err(backend)?;
        if let Some(anchor) = &c.anchor {
            let _ = anchor.publish(&signed);
        }
        c.last_size = Some(size);
        c.last_root = Some(root);
        c.last_at = std::time::Instant::now();
        Ok(())
    }

    /// One transaction for the whole batch; every answer is sent only after COMMIT succeeded.
    async fn commit(
        &mut self,
        batch: &[Request],
    ) -> Result<Vec<Result<AuditReceipt, AuditAppendError>>, BackendError> {
        // The happy path asks nothing about duplicates: the unique index refuses them inside
        // the insert (ON CONFLICT DO NOTHING), and a batch that met one is rolled back and
        // retried without the ids already recorded, so indices stay dense.
        let mut known = HashSet::new();
        for _ in 0..3 {
            match self.attempt(batch, &known).await? {
                Attempt::Committed(results) => return Ok(results),
                Attempt::Duplicates(ids) => known.extend(ids),
            }
        }
        Err(backend(
            "duplicate event ids kept appearing while sequencing the batch",
        ))
    }

    /// One transaction for the batch minus `known` duplicates.
    async fn attempt(
        &mut self,
        batch: &[Request],
        known: &HashSet<[u8; 16]>,
    ) -> Result<Attempt, BackendError> {
        let st = &self.statements;
        let tx = self.client.transaction().await.map_err(backend)?;
        // Pipelined: the server runs them in order, so the state is read under the lock.
        let (lock, row) = tokio::join!(
            async { tx.query_one(&st.lock, &[&self.lock_key]).await },
            async { tx.query_one(&st.state, &[&self.log_id]).await },
        );
        lock.map_err(backend)?;
        let row = row.map_err(backend)?;
        let size: i64 = row.get(0);
        let border_bytes: Vec<u8> = row.get(1);
        let hashes: Vec<Hash> = border_bytes
            .chunks(32)
            .map(|c| {
                Hash::from_slice(c).map_err(|_| backend("border is not a list of 32-byte hashes"))
            })
            .collect::<Result<_, _>>()?;
        let size = u64::try_from(size).map_err(|_| backend("negative log size"))?;
        let mut border = CompactRange::from_parts(size, hashes).map_err(backend)?;

        let mut seen = HashSet::new();
        let mut results = Vec::with_capacity(batch.len());
        let (mut idxs, mut event_ids, mut entries, mut leaves) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut node_levels, mut node_idxs, mut node_hashes) =
            (Vec::new(), Vec::new(), Vec::new());
        for r in batch {
            if known.contains(&r.event_id) || !seen.insert(r.event_id) {
                results.push(Err(AuditAppendError::Duplicate));
                continue;
            }
            let index = border.size();
            border
                .push_with(Hash::from_bytes(r.leaf_hash), |node, hash| {
                    if node.level > 0 {
                        node_levels.push(i32::from(node.level));
                        node_idxs.push(i64::try_from(node.index).unwrap_or(i64::MAX));
                        node_hashes.push(hash.as_bytes().to_vec());
                    }
                })
                .map_err(backend)?;
            idxs.push(i64::try_from(index).map_err(|_| backend("log too large"))?);
            event_ids.push(r.event_id.to_vec());
            entries.push(r.entry.as_slice());
            leaves.push(r.leaf_hash.to_vec());
            results.push(Ok(AuditReceipt::new(index, r.leaf_hash)));
        }
        if !idxs.is_empty() {
            let new_size = i64::try_from(border.size()).map_err(|_| backend("log too large"))?;
            let root = border.root();
            let border_bytes: Vec<u8> = border.hashes().iter().flat_map(|h| h.to_bytes()).collect();
            let (inserted, nodes_done, state_done) = tokio::join!(
                async {
                    tx.query(
                        &st.insert_entries,
                        &[&self.log_id, &idxs, &event_ids, &entries, &leaves],
                    )
                    .await
                },
                async {
                    if node_levels.is_empty() {
                        Ok(0)
                    } else {
                        tx.execute(
                            &st.insert_nodes,
                            &[&self.log_id, &node_levels, &node_idxs, &node_hashes],
                        )
                        .await
                    }
                },
                async {
                    tx.execute(
                        &st.update_state,
                        &[
                            &self.log_id,
                            &new_size,
                            &root.as_bytes().as_slice(),
                            &border_bytes,
                        ],
                    )
                    .await
                },
            );
            let inserted: HashSet<Vec<u8>> = inserted
                .map_err(backend)?
                .into_iter()
                .map(|row| row.get::<_, Vec<u8>>(0))
                .collect();
            // A batch that met recorded ids is retried without them. Its state update was then
            // refused by the state trigger (the indices it counted are not all stored), so the
            // duplicates are looked at before the other results.
            if inserted.len() < event_ids.len() {
                tx.rollback().await.map_err(backend)?;
                let duplicates = event_ids
                    .iter()
                    .filter(|id| !inserted.contains(*id))
                    .filter_map(|id| <[u8; 16]>::try_from(id.as_slice()).ok())
                    .collect();
                return Ok(Attempt::Duplicates(duplicates));
            }
            nodes_done.map_err(backend)?;
            state_done.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Attempt::Committed(results))
    }
}

/// How one sequencing transaction ended.
enum Attempt {
    /// Committed; one answer per request.
    Committed(Vec<Result<AuditReceipt, AuditAppendError>>),
    /// Rolled back: these ids are already in the log.
    Duplicates(Vec<[u8; 16]>),
}
