//! Publishes the PostgreSQL log's checkpoints to its anchor off the writer task, with
//! consistency proofs read over a connection of its own — so a slow or unreachable anchor (a
//! witness) never holds up sequencing, and a witness gets the proof it needs.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use biv_core::BackendError;
use tokio_postgres::Client;

use crate::store::checkpoint_key::{CheckpointAnchor, ConsistencyProver};
use crate::store::file::publisher::Publisher;
use crate::tlog::{Hash, SignedCheckpoint, consistency_plan};

/// Reads consistency proofs from the log's tables, on the publishing thread (outside any async
/// runtime): it keeps a runtime and a connection of its own, both made on first use.
struct PgProver {
    conninfo: String,
    log_id: String,
    runtime: OnceLock<tokio::runtime::Runtime>,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PgProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password: never printed.
        f.debug_struct("PgProver")
            .field("log_id", &self.log_id)
            .finish_non_exhaustive()
    }
}

impl ConsistencyProver for PgProver {
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, BackendError> {
        let plan = consistency_plan(old, new).map_err(BackendError::new)?;
        let runtime = match self.runtime.get() {
            Some(rt) => rt,
            None => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(BackendError::new)?;
                self.runtime.get_or_init(|| rt)
            }
        };
        let taken = self
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Bounded: a black-holed connection must not stall the publishing thread for good (the
        // connection is dropped and made again next time).
        let (client, hashes) = runtime
            .block_on(async {
                tokio::time::timeout(PROOF_TIMEOUT, async {
                    let client = match taken {
                        Some(c) if !c.is_closed() => c,
                        _ => super::connect(&self.conninfo)
                            .await
                            .map_err(BackendError::new)?,
                    };
                    let hashes = super::nodes(&client, &self.log_id, plan.nodes())
                        .await
                        .map_err(BackendError::new);
                    Ok::<_, BackendError>((client, hashes))
                })
                .await
            })
            .map_err(|_| {
                BackendError::msg(format!(
                    "reading a consistency proof took longer than {PROOF_TIMEOUT:?}"
                ))
            })??;
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) = Some(client);
        plan.assemble(&hashes?).map_err(BackendError::new)
    }
}

/// Longest a consistency proof may take to read (connecting included).
const PROOF_TIMEOUT: Duration = Duration::from_secs(10);

/// The anchor the writer is given: publishing hands the checkpoint to the publishing thread and
/// returns at once; reading asks the real anchor.
#[derive(Debug)]
struct Background {
    anchor: Arc<dyn CheckpointAnchor>,
    publisher: Publisher,
}

impl CheckpointAnchor for Background {
    fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), BackendError> {
        self.publisher.publish(checkpoint.clone());
        Ok(())
    }

    fn latest(&self) -> Result<Option<Vec<u8>>, BackendError> {
        self.anchor.latest()
    }
}

/// Wraps `anchor` so that the writer publishes to it from a thread of its own, with proofs from
/// the log `log_id` at `conninfo`, and returns the publisher's live failure counter. When that
/// thread cannot be started the anchor is used as is (and publishes inline).
pub(super) fn in_background(
    anchor: Arc<dyn CheckpointAnchor>,
    conninfo: &str,
    log_id: &str,
) -> (Arc<dyn CheckpointAnchor>, Option<Arc<AtomicU64>>) {
    let prover = Arc::new(PgProver {
        conninfo: conninfo.to_owned(),
        log_id: log_id.to_owned(),
        runtime: OnceLock::new(),
        client: Mutex::new(None),
    });
    match Publisher::start(Arc::clone(&anchor), prover) {
        Some(publisher) => {
            let failures = publisher.failure_counter();
            (Arc::new(Background { anchor, publisher }), Some(failures))
        }
        None => (anchor, None),
    }
}
