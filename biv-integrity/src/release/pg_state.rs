//! The gate's state in PostgreSQL: the option next to the state file, for deployers on several
//! hosts.
//!
//! ```text
//! biv_gate_state   (gate_id PK, revision, state JSONB, updated_at)     one row per gate
//! biv_gate_history (gate_id, revision) PK, state JSONB, decision JSONB, every revision, append-only
//!                  recorded_at
//! ```
//! A change runs in one transaction: `SELECT … FOR UPDATE` of the gate's row (or, while the gate
//! has no row yet, a transaction-scoped advisory lock on its id), the decision on the state read,
//! then an `UPDATE … WHERE revision = <read>` that bumps the revision, and the new revision's
//! history row. Two deployers therefore queue on the row: the second decides on the state the
//! first committed. Triggers refuse UPDATE, DELETE and TRUNCATE of the history, DELETE and
//! TRUNCATE of the state, and any UPDATE of the state that does not advance its revision by one.

use biv_core::{BackendError, Timestamp};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Transaction};

use super::gate::{GateState, PromotionDecision, PromotionRequest, decide};
use super::model::GatePolicy;
use super::state::parse_state;

/// The DDL, idempotent.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS biv_gate_state (
    gate_id    text        PRIMARY KEY,
    revision   bigint      NOT NULL CHECK (revision >= 1),
    state      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS biv_gate_history (
    gate_id     text        NOT NULL REFERENCES biv_gate_state (gate_id),
    revision    bigint      NOT NULL CHECK (revision >= 1),
    state       jsonb       NOT NULL,
    decision    jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gate_id, revision)
);
CREATE OR REPLACE FUNCTION biv_gate_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'biv gate history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE FUNCTION biv_gate_state_advances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.gate_id <> OLD.gate_id OR NEW.revision <> OLD.revision + 1 THEN
        RAISE EXCEPTION 'biv gate state revision must advance by one: % -> % refused',
            OLD.revision, NEW.revision
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'biv_gate_history_append_only') THEN
        CREATE TRIGGER biv_gate_history_append_only BEFORE UPDATE OR DELETE ON biv_gate_history
            FOR EACH ROW EXECUTE FUNCTION biv_gate_refuse();
        CREATE TRIGGER biv_gate_history_no_truncate BEFORE TRUNCATE ON biv_gate_history
            FOR EACH STATEMENT EXECUTE FUNCTION biv_gate_refuse();
        CREATE TRIGGER biv_gate_state_no_delete BEFORE DELETE ON biv_gate_state
            FOR EACH ROW EXECUTE FUNCTION biv_gate_refuse();
        CREATE TRIGGER biv_gate_state_no_truncate BEFORE TRUNCATE ON biv_gate_state
            FOR EACH STATEMENT EXECUTE FUNCTION biv_gate_refuse();
        CREATE TRIGGER biv_gate_state_advances BEFORE UPDATE ON biv_gate_state
            FOR EACH ROW EXECUTE FUNCTION biv_gate_state_advances();
    END IF;
END $$;
"#;

/// Serialises concurrent schema installers (the audit store uses 7340512).
const INSTALL_LOCK: i64 = 7_340_513;

/// The triggers that must exist and fire for the tables to be protected.
const TRIGGERS: [&str; 5] = [
    "biv_gate_history_append_only",
    "biv_gate_history_no_truncate",
    "biv_gate_state_no_delete",
    "biv_gate_state_no_truncate",
    "biv_gate_state_advances",
];

/// Why a PostgreSQL gate state operation failed.
///
/// Each operation's `# Errors` section names the variants it returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgGateStateError {
    /// The database could not be reached or refused a statement.
    #[error("gate state database: {0}")]
    Database(#[source] BackendError),
    /// The stored row is not a gate state (bad JSON, unknown members, another version, an
    /// invalid policy, a negative revision).
    #[error("gate {gate_id:?} revision {revision}: not a release gate state: {message}")]
    Format {
        /// The gate.
        gate_id: String,
        /// The stored revision.
        revision: i64,
        /// What is wrong.
        message: String,
    },
    /// The state to be written is not a valid gate state; nothing was written.
    #[error("gate {gate_id:?}: refusing to store an invalid state: {message}")]
    Invalid {
        /// The gate.
        gate_id: String,
        /// What is wrong.
        message: String,
    },
    /// The stored revision is not the one the write expected: another writer came first.
    /// Nothing was written.
    #[error("gate {gate_id:?}: expected revision {expected:?}, found {found:?}")]
    Conflict {
        /// The gate.
        gate_id: String,
        /// The revision the writer read (`None`: it expected no row).
        expected: Option<u64>,
        /// The revision stored now (`None`: no row).
        found: Option<u64>,
    },
    /// A protecting trigger is missing or disabled.
    #[error("the gate state tables are not protected: {0}")]
    NotAppendOnly(String),
    /// The decision could not be recorded (e.g. the audit log refused the append); the
    /// transaction was rolled back and nothing changed.
    #[error("gate {gate_id:?}: the decision was not recorded, nothing changed: {message}")]
    NotRecorded {
        /// The gate.
        gate_id: String,
        /// Why the recorder failed.
        message: String,
    },
    /// The decision was recorded, but writing or committing the state failed: the record
    /// stands for a decision that was **not** applied. Promote again to decide (and record)
    /// anew.
    #[error("gate {gate_id:?}: the decision was recorded but not applied: {message}")]
    RecordedNotApplied {
        /// The gate.
        gate_id: String,
        /// Why the write or commit failed.
        message: String,
    },
}

fn db(e: tokio_postgres::Error) -> PgGateStateError {
    PgGateStateError::Database(BackendError::new(e))
}

/// A gate state as stored: the state and its revision (1 for the first write, then one more
/// per change).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredGateState {
    /// The state.
    pub state: GateState,
    /// Its revision.
    pub revision: u64,
}

/// What [`PgGateStateStore::update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GateUpdate<T> {
    /// What the closure returned.
    pub value: T,
    /// The revision after the transaction (0: the gate still has no row).
    pub revision: u64,
    /// Whether the closure changed the state, so a new revision was written.
    pub changed: bool,
}

/// What [`PgGateStateStore::promote`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GatePromotion {
    /// The decision, taken on the state as locked.
    pub decision: PromotionDecision,
    /// The revision after the transaction (0: the gate still has no row).
    pub revision: u64,
    /// Whether the arrival was recorded (exactly when the decision allowed it).
    pub recorded: bool,
}

/// The gate's state in PostgreSQL, one row per gate id, with an append-only history of every
/// revision. See the module documentation and `docs/formats/release-gate.md` §5.1.
///
/// Holds one connection; operations on one store run one after the other. Its futures must
/// run inside a Tokio runtime (the connection is driven by a spawned task).
#[derive(Debug)]
pub struct PgGateStateStore {
    gate_id: String,
    lock_key: i64,
    client: Mutex<Client>,
}

fn check_state(state: &GateState) -> Result<(), String> {
    if state.version != 1 {
        return Err(format!("version {} is not 1", state.version));
    }
    state.policy.validate().map_err(|e| e.to_string())
}

fn revision_u64(gate_id: &str, revision: i64) -> Result<u64, PgGateStateError> {
    u64::try_from(revision).map_err(|_| PgGateStateError::Format {
        gate_id: gate_id.to_owned(),
        revision,
        message: "negative revision".into(),
    })
}

fn revision_i64(gate_id: &str, revision: u64) -> Result<i64, PgGateStateError> {
    i64::try_from(revision).map_err(|_| PgGateStateError::Conflict {
        gate_id: gate_id.to_owned(),
        expected: Some(revision),
        found: None,
    })
}

impl PgGateStateStore {
    /// Connects, installs the schema if needed (idempotent; concurrent installers serialise on
    /// an advisory lock) and checks that the protecting triggers exist and fire. The gate's row
    /// is created by its first write.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use biv_integrity::release::PgGateStateStore;
    /// let store = PgGateStateStore::connect("postgresql://biv@127.0.0.1/biv", "shop/dtap").await?;
    /// assert_eq!(store.gate_id(), "shop/dtap");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`PgGateStateError::Database`] when the server cannot be reached or the schema not
    /// installed, [`PgGateStateError::NotAppendOnly`] when a trigger is missing or disabled.
    pub async fn connect(conninfo: &str, gate_id: &str) -> Result<Self, PgGateStateError> {
        let (client, connection) = tokio_postgres::connect(conninfo, NoTls).await.map_err(db)?;
        tokio::spawn(async move {
            // Ends when the client is dropped; errors surface on the client's calls.
            let _ = connection.await;
        });
        install(&client).await.map_err(db)?;
        check_triggers(&client).await?;
        let digest = Sha256::digest(format!("biv-gate:{gate_id}").as_bytes());
        let lock_key = i64::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ]);
        Ok(PgGateStateStore {
            gate_id: gate_id.to_owned(),
            lock_key,
            client: Mutex::new(client),
        })
    }

    /// The gate's id.
    pub fn gate_id(&self) -> &str {
        &self.gate_id
    }

    /// Reads the state and its revision; `Ok(None)` when the gate has no row yet (as
    /// [`super::load_state`] for a missing file).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use biv_integrity::release::{GatePolicy, GateState, PgGateStateStore};
    /// let store = PgGateStateStore::connect("postgresql://biv@127.0.0.1/biv", "shop/dtap").await?;
    /// let state = match store.load().await? {
    ///     Some(stored) => stored.state,
    ///     None => GateState::new(GatePolicy::dtap()),
    /// };
    /// println!("{} arrivals", state.history.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`PgGateStateError::Database`], or [`PgGateStateError::Format`] when the row is not a
    /// valid gate state.
    pub async fn load(&self) -> Result<Option<StoredGateState>, PgGateStateError> {
        let client = self.client.lock().await;
        let row = client
            .query_opt(
                "SELECT revision, state::text FROM biv_gate_state WHERE gate_id = $1",
                &[&self.gate_id],
            )
            .await
            .map_err(db)?;
        row.map(|r| self.stored_row(&r)).transpose()
    }

    fn stored_row(&self, row: &tokio_postgres::Row) -> Result<StoredGateState, PgGateStateError> {
        let revision: i64 = row.try_get(0).map_err(db)?;
        let json: String = row.try_get(1).map_err(db)?;
        self.stored(revision, json)
    }

    fn stored(&self, revision: i64, json: String) -> Result<StoredGateState, PgGateStateError> {
        let state = parse_state(json.as_bytes()).map_err(|message| PgGateStateError::Format {
            gate_id: self.gate_id.clone(),
            revision,
            message,
        })?;
        Ok(StoredGateState {
            state,
            revision: revision_u64(&self.gate_id, revision)?,
        })
    }

    /// Writes `state` if the stored revision is still `expected` (`None`: the gate has no row
    /// yet) — an optimistic write for a state read with [`Self::load`]. Returns the new
    /// revision. Prefer [`Self::update`] or [`Self::promote`], which decide under the row lock.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use biv_integrity::release::{GatePolicy, GateState, PgGateStateStore};
    /// let store = PgGateStateStore::connect("postgresql://biv@127.0.0.1/biv", "shop/dtap").await?;
    /// let revision = store.save(&GateState::new(GatePolicy::otap()), None).await?;
    /// assert_eq!(revision, 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`PgGateStateError::Conflict`] when the stored revision differs,
    /// [`PgGateStateError::Invalid`] when `state` is not valid, [`PgGateStateError::Database`].
    pub async fn save(
        &self,
        state: &GateState,
        expected: Option<u64>,
    ) -> Result<u64, PgGateStateError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(db)?;
        let revision = self.write(&tx, state, expected, None).await?;
        tx.commit().await.map_err(db)?;
        Ok(revision)
    }

    /// Changes the state in one transaction: locks the gate's row (`SELECT … FOR UPDATE`; while
    /// it has none, an advisory lock on the gate id), runs `f` on the stored state — or on
    /// `if_absent` when there is none — and writes a new revision and its history row when `f`
    /// changed the state. A concurrent writer waits for the commit and then sees this change.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use biv_integrity::release::{GatePolicy, GateState, PgGateStateStore};
    /// let store = PgGateStateStore::connect("postgresql://biv@127.0.0.1/biv", "shop/dtap").await?;
    /// let done = store
    ///     .update(&GateState::new(GatePolicy::dtap()), |state| {
    ///         state.policy.max_skipped_percent = 5;
    ///     })
    ///     .await?;
    /// assert!(done.changed);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`PgGateStateError::Database`]; [`PgGateStateError::Format`] when the stored row is
    /// not valid; [`PgGateStateError::Invalid`] when `f` left an invalid state;
    /// [`PgGateStateError::Conflict`] when the revision moved despite the lock (a writer that
    /// bypassed it). Nothing is written on error.
    pub async fn update<T, F>(
        &self,
        if_absent: &GateState,
        f: F,
    ) -> Result<GateUpdate<T>, PgGateStateError>
    where
        F: FnOnce(&mut GateState) -> T + Send,
        T: Send,
    {
        self.transact(if_absent, |state| Ok((f(state), None))).await
    }

    /// Decides a promotion under the row lock and records it when allowed: [`decide`] on the
    /// stored state (or an empty state with `policy_if_new` when the gate has no row, as
    /// `biv release promote` does with a missing state file), [`GateState::apply`], and the new
    /// revision with the decision in its history row. A refused decision writes nothing.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use biv_core::Timestamp;
    /// use biv_integrity::release::{Artifact, GatePolicy, PgGateStateStore, PromotionRequest};
    /// let store = PgGateStateStore::connect("postgresql://biv@127.0.0.1/biv", "shop/dtap").await?;
    /// let artifact = Artifact::new(format!("sha256:{}", "ab".repeat(32)), "c".repeat(40))?;
    /// let request = PromotionRequest::new(artifact, "development", "dave");
    /// let now = Timestamp::from_unix_seconds(1_790_000_000, 0)?;
    /// let done = store.promote(&GatePolicy::dtap(), &request, now).await?;
    /// assert_eq!(done.recorded, done.decision.allowed);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Self::update`]; a refused decision is `Ok` with `recorded: false`.
    pub async fn promote(
        &self,
        policy_if_new: &GatePolicy,
        request: &PromotionRequest,
        now: Timestamp,
    ) -> Result<GatePromotion, PgGateStateError> {
        self.promote_recorded(policy_if_new, request, now, |_| async {
            Ok::<(), std::convert::Infallible>(())
        })
        .await
    }

    /// As [`Self::promote`], but first hands the decision to `record` — typically an append to
    /// the audit log, e.g. through an async `AuditSink` — while the gate's row is locked, and
    /// writes the arrival only when `record` succeeded. Since the state cannot move under the
    /// lock, the decision recorded is the one applied, and **no decision is applied without
    /// being recorded**. The converse has a window: when the write or the commit fails after
    /// `record` succeeded, the record stands for a decision that was not applied, and the error
    /// says so ([`PgGateStateError::RecordedNotApplied`]); deciding again records again.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use biv_core::Timestamp;
    /// use biv_integrity::release::{Artifact, GatePolicy, PgGateStateStore, PromotionRequest};
    /// let store = PgGateStateStore::connect("postgresql://biv@127.0.0.1/biv", "shop/dtap").await?;
    /// let artifact = Artifact::new(format!("sha256:{}", "ab".repeat(32)), "c".repeat(40))?;
    /// let request = PromotionRequest::new(artifact, "development", "dave");
    /// let now = Timestamp::from_unix_seconds(1_790_000_000, 0)?;
    /// let done = store
    ///     .promote_recorded(&GatePolicy::dtap(), &request, now, |decision| async move {
    ///         println!("recording {}", decision.allowed);
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .await?;
    /// assert_eq!(done.recorded, done.decision.allowed);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Self::update`]; [`PgGateStateError::NotRecorded`] when `record` fails (nothing
    /// changed); [`PgGateStateError::RecordedNotApplied`] when the state could not be written
    /// after `record` succeeded.
    pub async fn promote_recorded<F, Fut, E>(
        &self,
        policy_if_new: &GatePolicy,
        request: &PromotionRequest,
        now: Timestamp,
        record: F,
    ) -> Result<GatePromotion, PgGateStateError>
    where
        F: FnOnce(PromotionDecision) -> Fut + Send,
        Fut: std::future::Future<Output = Result<(), E>> + Send,
        E: std::fmt::Display,
    {
        let gate_id = &self.gate_id;
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(db)?;
        let (mut state, revision) = self
            .locked_state(&tx, &GateState::new(policy_if_new.clone()))
            .await?;
        let decision = decide(&state, request, now);
        record(decision.clone())
            .await
            .map_err(|e| PgGateStateError::NotRecorded {
                gate_id: gate_id.clone(),
                message: e.to_string(),
            })?;
        // From here on a failure leaves a record of a decision that was not applied.
        let not_applied = |e: PgGateStateError| PgGateStateError::RecordedNotApplied {
            gate_id: gate_id.clone(),
            message: e.to_string(),
        };
        if !state.apply(&decision, now) {
            tx.commit().await.map_err(db).map_err(not_applied)?;
            return Ok(GatePromotion {
                decision,
                revision: revision.unwrap_or(0),
                recorded: false,
            });
        }
        let json = serde_json::to_string(&decision).map_err(|e| {
            not_applied(PgGateStateError::Invalid {
                gate_id: gate_id.clone(),
                message: format!("decision: {e}"),
            })
        })?;
        let new_revision = self
            .write(&tx, &state, revision, Some(&json))
            .await
            .map_err(not_applied)?;
        tx.commit().await.map_err(db).map_err(not_applied)?;
        Ok(GatePromotion {
            decision,
            revision: new_revision,
            recorded: true,
        })
    }

    async fn transact<T, F>(
        &self,
        if_absent: &GateState,
        f: F,
    ) -> Result<GateUpdate<T>, PgGateStateError>
    where
        F: FnOnce(&mut GateState) -> Result<(T, Option<String>), PgGateStateError> + Send,
        T: Send,
    {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(db)?;
        let (mut state, revision) = self.locked_state(&tx, if_absent).await?;
        let before = state.clone();
        let (value, decision) = f(&mut state)?;
        if state == before {
            tx.commit().await.map_err(db)?;
            return Ok(GateUpdate {
                value,
                revision: revision.unwrap_or(0),
                changed: false,
            });
        }
        let new_revision = self
            .write(&tx, &state, revision, decision.as_deref())
            .await?;
        tx.commit().await.map_err(db)?;
        Ok(GateUpdate {
            value,
            revision: new_revision,
            changed: true,
        })
    }

    /// The gate's state with its row locked for this transaction, and its revision; while the
    /// gate has no row, `if_absent` under the gate's advisory lock.
    async fn locked_state(
        &self,
        tx: &Transaction<'_>,
        if_absent: &GateState,
    ) -> Result<(GateState, Option<u64>), PgGateStateError> {
        let mut stored = self.lock_row(tx).await?;
        if stored.is_none() {
            // No row to lock: first writers serialise on the gate's advisory lock (released at
            // commit), then look again, since one may have created the row meanwhile.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock_key])
                .await
                .map_err(db)?;
            stored = self.lock_row(tx).await?;
        }
        Ok(match stored {
            Some(s) => (s.state, Some(s.revision)),
            None => (if_absent.clone(), None),
        })
    }

    async fn lock_row(
        &self,
        tx: &Transaction<'_>,
    ) -> Result<Option<StoredGateState>, PgGateStateError> {
        let row = tx
            .query_opt(
                "SELECT revision, state::text FROM biv_gate_state WHERE gate_id = $1 FOR UPDATE",
                &[&self.gate_id],
            )
            .await
            .map_err(db)?;
        row.map(|r| self.stored_row(&r)).transpose()
    }

    /// Writes `state` as the revision after `expected`, and its history row.
    async fn write(
        &self,
        tx: &Transaction<'_>,
        state: &GateState,
        expected: Option<u64>,
        decision: Option<&str>,
    ) -> Result<u64, PgGateStateError> {
        let invalid = |message: String| PgGateStateError::Invalid {
            gate_id: self.gate_id.clone(),
            message,
        };
        check_state(state).map_err(invalid)?;
        let json = serde_json::to_string(state).map_err(|e| invalid(e.to_string()))?;
        let written = match expected {
            None => {
                tx.query_opt(
                    "INSERT INTO biv_gate_state (gate_id, revision, state) VALUES ($1, 1, $2::text::jsonb)
                     ON CONFLICT (gate_id) DO NOTHING RETURNING revision",
                    &[&self.gate_id, &json],
                )
                .await
            }
            Some(r) => {
                let r = revision_i64(&self.gate_id, r)?;
                tx.query_opt(
                    "UPDATE biv_gate_state SET revision = revision + 1, state = $2::text::jsonb, updated_at = now()
                     WHERE gate_id = $1 AND revision = $3 RETURNING revision",
                    &[&self.gate_id, &json, &r],
                )
                .await
            }
        }
        .map_err(db)?;
        let Some(row) = written else {
            let found = tx
                .query_opt(
                    "SELECT revision FROM biv_gate_state WHERE gate_id = $1",
                    &[&self.gate_id],
                )
                .await
                .map_err(db)?
                .map(|r| r.try_get::<_, i64>(0).map_err(db))
                .transpose()?
                .map(|r| revision_u64(&self.gate_id, r))
                .transpose()?;
            return Err(PgGateStateError::Conflict {
                gate_id: self.gate_id.clone(),
                expected,
                found,
            });
        };
        let revision: i64 = row.try_get(0).map_err(db)?;
        tx.execute(
            "INSERT INTO biv_gate_history (gate_id, revision, state, decision)
             VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb)",
            &[&self.gate_id, &revision, &json, &decision],
        )
        .await
        .map_err(db)?;
        revision_u64(&self.gate_id, revision)
    }
}

/// Installs the schema unless it is complete already, under an advisory lock.
async fn install(client: &Client) -> Result<(), tokio_postgres::Error> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('biv_gate_history') IS NOT NULL
                AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'biv_gate_history_append_only')",
            &[],
        )
        .await?
        .try_get(0)?;
    if exists {
        return Ok(());
    }
    client
        .execute("SELECT pg_advisory_lock($1)", &[&INSTALL_LOCK])
        .await?;
    let result = client.batch_execute(SCHEMA).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&INSTALL_LOCK])
        .await?;
    result
}

async fn check_triggers(client: &Client) -> Result<(), PgGateStateError> {
    let tables = ["biv_gate_state", "biv_gate_history"];
    match crate::pg_triggers::trigger_problem(client, &tables, &TRIGGERS)
        .await
        .map_err(db)?
    {
        Some(problem) => Err(PgGateStateError::NotAppendOnly(problem)),
        None => Ok(()),
    }
}
