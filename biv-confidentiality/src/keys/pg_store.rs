//! A key store in PostgreSQL: wrapped data keys in a table, per-subject writes serialised on a
//! subject row lock, rewrap as a compare-and-swap `UPDATE … WHERE wrapped = $old`.
//!
//! ```text
//! <schema>.biv_key_subjects (tenant, subject) PK, shredded_at     one row per subject: lock + tombstone
//! <schema>.biv_data_keys    key_id PK (bigint: the u64 id's bits), tenant, subject, version,
//!                           state active|retired|destroyed, kek_id, kek_version, wrapped,
//!                           created_at, updated_at; UNIQUE (tenant, subject, version)
//! <schema>.biv_key_jobs     job PK, cursor, updated_at           re-encryption job checkpoints
//! ```

use std::fmt;

use async_trait::async_trait;
use biv_core::{BackendError, WrappedKey};
use tokio_postgres::{Client, NoTls, Row, Transaction};

use super::reencrypt::JobCheckpoint;
use super::store::{
    Index, InsertOutcome, KeyState, KeyStore, KeyStoreError, MinVersionOutcome, ReplaceOutcome,
    StoredKey, SubjectKey,
};

/// The DDL, idempotent; `{schema}` is replaced by the quoted schema name.
const SCHEMA: &str = r#"
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.biv_key_subjects (
    tenant      bytea NOT NULL,
    subject     bytea NOT NULL,
    shredded_at timestamptz,
    PRIMARY KEY (tenant, subject)
);
CREATE TABLE IF NOT EXISTS {schema}.biv_data_keys (
    key_id      bigint  PRIMARY KEY,
    tenant      bytea   NOT NULL,
    subject     bytea   NOT NULL,
    version     integer NOT NULL CHECK (version >= 0),
    state       text    NOT NULL CHECK (state IN ('active', 'retired', 'destroyed')),
    kek_id      text,
    kek_version bigint  CHECK (kek_version BETWEEN 0 AND 4294967295),
    wrapped     bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, subject, version),
    FOREIGN KEY (tenant, subject) REFERENCES {schema}.biv_key_subjects (tenant, subject),
    CHECK ((state = 'destroyed') = (wrapped IS NULL)),
    CHECK ((wrapped IS NULL) = (kek_id IS NULL) AND (wrapped IS NULL) = (kek_version IS NULL))
);
CREATE TABLE IF NOT EXISTS {schema}.biv_key_jobs (
    job        text  PRIMARY KEY,
    cursor     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"#;

const COLUMNS: &str = "key_id, tenant, subject, version, state, kek_id, kek_version, wrapped";

/// Why the PostgreSQL key store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgKeyStoreError {
    /// The schema name is not a plain lower-case SQL identifier.
    #[error("invalid schema name {0:?}: use 1-63 of a-z, 0-9 and _, not starting with a digit")]
    InvalidSchema(String),
    /// The server could not be reached, or a statement failed.
    #[error("postgresql: {0}")]
    Database(#[from] tokio_postgres::Error),
}

/// How long one key-store operation (connecting included) may take before the connection is
/// dropped and the operation fails with a backend error.
pub const PG_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A [`KeyStore`] in PostgreSQL, for many subjects and many processes.
///
/// Every write that concerns one subject (a first key, a rotation, a shred, a minimum
/// version) runs in a transaction that first locks the subject's row in `biv_key_subjects`,
/// so concurrent processes serialise per subject and no key is made after a shred. A rewrap is
/// one `UPDATE … WHERE key_id = $1 AND wrapped = $old` (a compare-and-swap). Shredding sets
/// `state = 'destroyed'` and `wrapped`, `kek_id`, `kek_version` to `NULL` and marks the subject
/// row: the wrapped key is gone from the live table. (PostgreSQL keeps the old row version until
/// `VACUUM` reclaims it, and backups keep it for their retention: shred epochs cover both, see
/// `docs/key-management.md`.)
///
/// One connection, used by one operation at a time and re-opened when it was closed; the tables
/// live in the schema given to [`connect`](PgKeyStore::connect), created by
/// [`ensure_schema`](PgKeyStore::ensure_schema). It also keeps re-encryption job checkpoints
/// ([`JobCheckpoint`]).
///
/// ```no_run
/// use biv_confidentiality::keys::{KeyStore, PgKeyStore, SubjectKey};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PgKeyStore::connect("postgresql://biv@127.0.0.1/biv", "biv_keys").await?;
/// assert_eq!(store.current_for(b"t1", b"p-1").await?, SubjectKey::None);
/// # Ok(()) }
/// ```
pub struct PgKeyStore {
    conninfo: String,
    schema: String,
    client: tokio::sync::Mutex<Option<Client>>,
}

impl fmt::Debug for PgKeyStore {
    // The connection string may hold a password: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgKeyStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn valid_schema(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> KeyStoreError {
    KeyStoreError::Backend(BackendError::new(e))
}

/// The u64 key id as the bigint with the same bits.
fn to_db(id: u64) -> i64 {
    i64::from_be_bytes(id.to_be_bytes())
}

fn from_db(id: i64) -> u64 {
    u64::from_be_bytes(id.to_be_bytes())
}

fn state_name(state: &KeyState) -> &'static str {
    match state {
        KeyState::Active(_) => "active",
        KeyState::Retired(_) => "retired",
        _ => "destroyed",
    }
}

fn key_from_row(row: &Row) -> Result<StoredKey, KeyStoreError> {
    let key_id = from_db(row.try_get(0).map_err(backend)?);
    let malformed = || KeyStoreError::Malformed(format!("biv_data_keys row {key_id:016x}"));
    let version: i32 = row.try_get(3).map_err(backend)?;
    let state: String = row.try_get(4).map_err(backend)?;
    let kek_id: Option<String> = row.try_get(5).map_err(backend)?;
    let kek_version: Option<i64> = row.try_get(6).map_err(backend)?;
    let wrapped: Option<Vec<u8>> = row.try_get(7).map_err(backend)?;
    let wrapping = || -> Result<WrappedKey, KeyStoreError> {
        match (&kek_id, kek_version, &wrapped) {
            (Some(id), Some(v), Some(blob)) => Ok(WrappedKey::new(
                id.clone(),
                u32::try_from(v).map_err(|_| malformed())?,
                blob.clone(),
            )),
            _ => Err(malformed()),
        }
    };
    let state = match state.as_str() {
        "active" => KeyState::Active(wrapping()?),
        "retired" => KeyState::Retired(wrapping()?),
        "destroyed" => KeyState::Destroyed,
        _ => return Err(malformed()),
    };
    Ok(StoredKey {
        key_id,
        tenant: row.try_get(1).map_err(backend)?,
        subject: row.try_get(2).map_err(backend)?,
        version: u32::try_from(version).map_err(|_| malformed())?,
        state,
    })
}

impl PgKeyStore {
    /// Connects to `conninfo` and creates the tables in `schema` if they are missing.
    ///
    /// # Errors
    /// [`PgKeyStoreError`].
    pub async fn connect(conninfo: &str, schema: &str) -> Result<Self, PgKeyStoreError> {
        if !valid_schema(schema) {
            return Err(PgKeyStoreError::InvalidSchema(schema.to_owned()));
        }
        let store = PgKeyStore {
            conninfo: conninfo.to_owned(),
            schema: schema.to_owned(),
            client: tokio::sync::Mutex::new(None),
        };
        store.ensure_schema().await?;
        Ok(store)
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Creates the schema and tables if they do not exist (idempotent; concurrent callers
    /// serialise on an advisory lock).
    ///
    /// # Errors
    /// [`PgKeyStoreError::Database`].
    pub async fn ensure_schema(&self) -> Result<(), PgKeyStoreError> {
        let client = self.connect_client().await?;
        client
            .batch_execute("SELECT pg_advisory_lock(7340513)")
            .await?;
        let ddl = SCHEMA.replace("{schema}", &format!("\"{}\"", self.schema));
        let result = client.batch_execute(&ddl).await;
        let unlock = client
            .batch_execute("SELECT pg_advisory_unlock(7340513)")
            .await;
        result?;
        unlock?;
        Ok(())
    }

    /// A new connection with the search path set to the store's schema.
    async fn connect_client(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::connect(&self.conninfo, NoTls).await?;
        tokio::spawn(async move {
            // Ends when the client is dropped; errors surface on the client's calls.
            let _ = connection.await;
        });
        client
            .batch_execute(&format!("SET search_path TO \"{}\"", self.schema))
            .await?;
        Ok(client)
    }

    /// Runs `f` on the (re-opened if needed) connection, within [`PG_OPERATION_TIMEOUT`]: a
    /// half-open connection must not stall every key-cache miss of the process. On a timeout
    /// the connection is dropped (an open transaction with it is rolled back by the server)
    /// and the next call opens a new one.
    async fn with_client<T>(
        &self,
        f: impl AsyncFnOnce(&mut Client) -> Result<T, KeyStoreError>,
    ) -> Result<T, KeyStoreError> {
        let mut slot = self.client.lock().await;
        let run = async {
            if slot.as_ref().is_none_or(Client::is_closed) {
                *slot = Some(self.connect_client().await.map_err(backend)?);
            }
            let client = slot
                .as_mut()
                .ok_or_else(|| KeyStoreError::Backend(BackendError::msg("no connection")))?;
            f(client).await
        };
        match tokio::time::timeout(PG_OPERATION_TIMEOUT, run).await {
            Ok(result) => result,
            Err(_) => {
                *slot = None;
                Err(KeyStoreError::Backend(BackendError::msg(format!(
                    "the key store did not answer within {} s",
                    PG_OPERATION_TIMEOUT.as_secs()
                ))))
            }
        }
    }

    /// Runs `f` in a transaction that holds the subject's row lock (creating the row), with
    /// whether the subject was shredded; commits if `f` succeeds.
    async fn with_subject<T>(
        &self,
        tenant: &[u8],
        subject: &[u8],
        f: impl AsyncFnOnce(&Transaction<'_>, bool) -> Result<T, KeyStoreError>,
    ) -> Result<T, KeyStoreError> {
        self.with_client(async |client| {
            let tx = client.transaction().await.map_err(backend)?;
            tx.execute(
                "INSERT INTO biv_key_subjects (tenant, subject) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[&tenant, &subject],
            )
            .await
            .map_err(backend)?;
            let shredded: bool = tx
                .query_one(
                    "SELECT shredded_at IS NOT NULL FROM biv_key_subjects \
                     WHERE tenant = $1 AND subject = $2 FOR UPDATE",
                    &[&tenant, &subject],
                )
                .await
                .map_err(backend)?
                .get(0);
            let out = f(&tx, shredded).await?;
            tx.commit().await.map_err(backend)?;
            Ok(out)
        })
        .await
    }
}

/// The subject's keys as an [`Index`] (for the same decisions as the in-memory stores).
async fn subject_index(
    tx: &Transaction<'_>,
    tenant: &[u8],
    subject: &[u8],
) -> Result<Index, KeyStoreError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM biv_data_keys WHERE tenant = $1 AND subject = $2 \
                 ORDER BY version"
            ),
            &[&tenant, &subject],
        )
        .await
        .map_err(backend)?;
    let mut index = Index::default();
    for row in &rows {
        index.put(key_from_row(row)?);
    }
    Ok(index)
}

async fn id_taken(tx: &Transaction<'_>, key_id: u64) -> Result<bool, KeyStoreError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM biv_data_keys WHERE key_id = $1",
            &[&to_db(key_id)],
        )
        .await
        .map_err(backend)?
        .is_some())
}

async fn insert_key(tx: &Transaction<'_>, key: &StoredKey) -> Result<(), KeyStoreError> {
    let w = key.state.wrapped();
    let version = i32::try_from(key.version)
        .map_err(|_| KeyStoreError::Malformed(format!("version {}", key.version)))?;
    tx.execute(
        "INSERT INTO biv_data_keys (key_id, tenant, subject, version, state, kek_id, \
         kek_version, wrapped) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &to_db(key.key_id),
            &key.tenant,
            &key.subject,
            &version,
            &state_name(&key.state),
            &w.map(WrappedKey::kek_id),
            &w.map(|w| i64::from(w.kek_version())),
            &w.map(WrappedKey::blob),
        ],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

async fn set_state(tx: &Transaction<'_>, key: &StoredKey) -> Result<(), KeyStoreError> {
    tx.execute(
        "UPDATE biv_data_keys SET state = $2, updated_at = now() WHERE key_id = $1",
        &[&to_db(key.key_id), &state_name(&key.state)],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl KeyStore for PgKeyStore {
    async fn get(&self, key_id: u64) -> Result<Option<StoredKey>, KeyStoreError> {
        self.with_client(async |c| {
            c.query_opt(
                &format!("SELECT {COLUMNS} FROM biv_data_keys WHERE key_id = $1"),
                &[&to_db(key_id)],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(key_from_row)
            .transpose()
        })
        .await
    }

    async fn current_for(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<SubjectKey, KeyStoreError> {
        self.with_client(async |c| {
            let Some(s) = c
                .query_opt(
                    "SELECT shredded_at IS NOT NULL FROM biv_key_subjects \
                     WHERE tenant = $1 AND subject = $2",
                    &[&tenant, &subject],
                )
                .await
                .map_err(backend)?
            else {
                return Ok(SubjectKey::None);
            };
            if s.get::<_, bool>(0) {
                return Ok(SubjectKey::Destroyed);
            }
            let row = c
                .query_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM biv_data_keys WHERE tenant = $1 AND subject = $2 \
                         AND state = 'active' ORDER BY version DESC LIMIT 1"
                    ),
                    &[&tenant, &subject],
                )
                .await
                .map_err(backend)?;
            match row {
                Some(r) => Ok(SubjectKey::Active(key_from_row(&r)?)),
                None => Ok(SubjectKey::None),
            }
        })
        .await
    }

    async fn insert_if_absent(&self, key: StoredKey) -> Result<InsertOutcome, KeyStoreError> {
        let (tenant, subject) = (key.tenant.clone(), key.subject.clone());
        self.with_subject(&tenant, &subject, async |tx, shredded| {
            if shredded {
                return Ok(InsertOutcome::Destroyed);
            }
            if id_taken(tx, key.key_id).await? {
                return Ok(InsertOutcome::KeyIdTaken);
            }
            let outcome = subject_index(tx, &tenant, &subject)
                .await?
                .check_insert(&key);
            if outcome == InsertOutcome::Inserted {
                insert_key(tx, &key).await?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn destroy_subject(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<u64>, KeyStoreError> {
        self.with_subject(tenant, subject, async |tx, _| {
            let rows = tx
                .query(
                    "UPDATE biv_data_keys SET state = 'destroyed', wrapped = NULL, kek_id = NULL, \
                     kek_version = NULL, updated_at = now() \
                     WHERE tenant = $1 AND subject = $2 AND state <> 'destroyed' RETURNING key_id",
                    &[&tenant, &subject],
                )
                .await
                .map_err(backend)?;
            tx.execute(
                "UPDATE biv_key_subjects SET shredded_at = coalesce(shredded_at, now()) \
                 WHERE tenant = $1 AND subject = $2",
                &[&tenant, &subject],
            )
            .await
            .map_err(backend)?;
            let mut ids: Vec<u64> = rows.iter().map(|r| from_db(r.get(0))).collect();
            ids.sort_unstable();
            Ok(ids)
        })
        .await
    }

    async fn insert_rotated(
        &self,
        previous_key_id: u64,
        key: StoredKey,
    ) -> Result<InsertOutcome, KeyStoreError> {
        let (tenant, subject) = (key.tenant.clone(), key.subject.clone());
        self.with_subject(&tenant, &subject, async |tx, shredded| {
            if shredded {
                return Ok(InsertOutcome::Destroyed);
            }
            if id_taken(tx, key.key_id).await? {
                return Ok(InsertOutcome::KeyIdTaken);
            }
            let outcome = subject_index(tx, &tenant, &subject)
                .await?
                .check_rotate(previous_key_id, &key);
            if outcome == InsertOutcome::Inserted {
                insert_key(tx, &key).await?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn replace_wrapping(
        &self,
        key_id: u64,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> Result<ReplaceOutcome, KeyStoreError> {
        self.with_client(async |c| {
            let n = c
                .execute(
                    "UPDATE biv_data_keys SET kek_id = $2, kek_version = $3, wrapped = $4, \
                     updated_at = now() WHERE key_id = $1 AND state <> 'destroyed' \
                     AND kek_id = $5 AND kek_version = $6 AND wrapped = $7",
                    &[
                        &to_db(key_id),
                        &new.kek_id(),
                        &i64::from(new.kek_version()),
                        &new.blob(),
                        &old.kek_id(),
                        &i64::from(old.kek_version()),
                        &old.blob(),
                    ],
                )
                .await
                .map_err(backend)?;
            if n == 1 {
                return Ok(ReplaceOutcome::Replaced);
            }
            let state: Option<String> = c
                .query_opt(
                    "SELECT state FROM biv_data_keys WHERE key_id = $1",
                    &[&to_db(key_id)],
                )
                .await
                .map_err(backend)?
                .map(|r| r.get(0));
            Ok(match state.as_deref() {
                None => ReplaceOutcome::Missing,
                Some("destroyed") => ReplaceOutcome::Destroyed,
                Some(_) => ReplaceOutcome::Changed,
            })
        })
        .await
    }

    async fn scan(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredKey>, KeyStoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(async |c| {
            let rows = match after {
                Some(a) => {
                    c.query(
                        &format!(
                            "SELECT {COLUMNS} FROM biv_data_keys WHERE key_id > $1 \
                             ORDER BY key_id LIMIT $2"
                        ),
                        &[&to_db(a), &limit],
                    )
                    .await
                }
                None => {
                    c.query(
                        &format!("SELECT {COLUMNS} FROM biv_data_keys ORDER BY key_id LIMIT $1"),
                        &[&limit],
                    )
                    .await
                }
            }
            .map_err(backend)?;
            rows.iter().map(key_from_row).collect()
        })
        .await
    }

    async fn subject_keys(
        &self,
        tenant: &[u8],
        subject: &[u8],
    ) -> Result<Vec<StoredKey>, KeyStoreError> {
        self.with_client(async |c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM biv_data_keys WHERE tenant = $1 AND subject = $2 \
                         ORDER BY version"
                    ),
                    &[&tenant, &subject],
                )
                .await
                .map_err(backend)?;
            rows.iter().map(key_from_row).collect()
        })
        .await
    }

    async fn set_min_version(
        &self,
        tenant: &[u8],
        subject: &[u8],
        min_version: u32,
    ) -> Result<MinVersionOutcome, KeyStoreError> {
        self.with_subject(tenant, subject, async |tx, shredded| {
            if shredded {
                return Ok(MinVersionOutcome::Destroyed);
            }
            let (outcome, writes) = subject_index(tx, tenant, subject).await?.plan_min_version(
                tenant,
                subject,
                min_version,
            );
            for k in &writes {
                set_state(tx, k).await?;
            }
            Ok(outcome)
        })
        .await
    }
}

#[async_trait]
impl JobCheckpoint for PgKeyStore {
    async fn load(&self, job: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.with_client(async |c| {
            Ok(
                c.query_opt("SELECT cursor FROM biv_key_jobs WHERE job = $1", &[&job])
                    .await
                    .map_err(backend)?
                    .map(|r| r.get(0)),
            )
        })
        .await
        .map_err(BackendError::new)
    }

    async fn save(&self, job: &str, cursor: &[u8]) -> Result<(), BackendError> {
        self.with_client(async |c| {
            c.execute(
                "INSERT INTO biv_key_jobs (job, cursor) VALUES ($1, $2) ON CONFLICT (job) \
                 DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()",
                &[&job, &cursor],
            )
            .await
            .map_err(backend)?;
            Ok(())
        })
        .await
        .map_err(BackendError::new)
    }
    async fn clear(&self, job: &str) -> Result<(), BackendError> {
        self.with_client(async |c| {
            c.execute("DELETE FROM biv_key_jobs WHERE job = $1", &[&job])
                .await
                .map_err(backend)?;
            Ok(())
        })
        .await
        .map_err(BackendError::new)
    }
}
