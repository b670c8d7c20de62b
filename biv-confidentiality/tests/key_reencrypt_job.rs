//! The resumable re-encryption job: idempotent, resumes after a crash at any point, counts what
//! it could not do, and leaves every row readable.

#![allow(
    clippy::unwrap_used,
    reason = "shared test helpers: a failed unwrap is a failed test with its location"
)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use biv_confidentiality::envelope::inspect;
use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, FileCheckpoint, JobCheckpoint, KeyStore, KeyringPolicy,
    LocalKeyring, MemoryCheckpoint, MemoryKeyStore, PgKeyStore, ReencryptError, ReencryptJob,
    ReencryptRow, ReencryptSource, key_retired,
};
use biv_core::{BackendError, Context, Encryptor, SystemClock};
use proptest::prelude::*;

fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{tag}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn keyring() -> Arc<LocalKeyring> {
    let dir = std::env::temp_dir().join(unique("biv-job"));
    std::fs::create_dir_all(&dir).expect("dir");
    Arc::new(
        LocalKeyring::create(
            dir.join("root.json"),
            "local:test",
            &KeyringPolicy::development(),
        )
        .expect("keyring"),
    )
}

fn encryptor_with(ring: Arc<LocalKeyring>, store: Arc<dyn KeyStore>) -> Arc<EnvelopeEncryptor> {
    Arc::new(EnvelopeEncryptor::new(
        ring,
        store,
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    ))
}

fn encryptor(store: Arc<dyn KeyStore>) -> Arc<EnvelopeEncryptor> {
    encryptor_with(keyring(), store)
}

fn ctx(subject: &str, row: u64) -> Context {
    Context::new()
        .with("tenant", "t1")
        .and_then(|c| c.with("table", "notes"))
        .and_then(|c| c.with("column", "body"))
        .and_then(|c| c.with("subject", subject))
        .and_then(|c| c.with("row", row.to_string()))
        .expect("context")
}

/// A host table `notes(id, subject, body)` with fault injection.
#[derive(Debug, Default)]
struct Notes {
    rows: Mutex<Vec<(u64, String, Vec<u8>)>>,
    replaces: AtomicUsize,
    /// The replace call (1-based) that applies its write and then reports an error, as a crash
    /// after the commit but before the acknowledgement.
    crash_after_replace: AtomicUsize,
    /// Replace calls that find the row changed by the application.
    concurrent_write_at: AtomicUsize,
}

impl Notes {
    fn body(&self, id: u64) -> Vec<u8> {
        self.rows
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.0 == id)
            .map(|r| r.2.clone())
            .unwrap()
    }
}

#[async_trait]
impl ReencryptSource for Notes {
    async fn rows_after(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ReencryptRow>, BackendError> {
        let after = match after {
            Some(a) => Some(u64::from_be_bytes(
                a.try_into().map_err(|_| BackendError::msg("bad cursor"))?,
            )),
            None => None,
        };
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|r| after.is_none_or(|a| r.0 > a))
            .take(limit)
            .map(|(id, subject, body)| {
                ReencryptRow::new(id.to_be_bytes(), body.clone(), ctx(subject, *id))
            })
            .collect())
    }

    async fn replace(&self, row: &ReencryptRow, new: &[u8]) -> Result<bool, BackendError> {
        let n = self.replaces.fetch_add(1, Ordering::SeqCst) + 1;
        let id = u64::from_be_bytes(row.cursor.as_slice().try_into().unwrap());
        let mut rows = self.rows.lock().unwrap();
        let r = rows.iter_mut().find(|r| r.0 == id).unwrap();
        if n == self.concurrent_write_at.load(Ordering::SeqCst) {
            // The application wrote the row between read and replace.
            r.2 = b"changed by the app".to_vec();
        }
        if r.2 != row.ciphertext {
            return Ok(false);
        }
        r.2 = new.to_vec();
        if n == self.crash_after_replace.load(Ordering::SeqCst) {
            return Err(BackendError::msg("connection lost after commit"));
        }
        Ok(true)
    }
}

/// A checkpoint that fails its n-th save (1-based) without saving.
#[derive(Debug, Default)]
struct FlakyCheckpoint {
    inner: MemoryCheckpoint,
    saves: AtomicUsize,
    fail_save: AtomicUsize,
}

#[async_trait]
impl JobCheckpoint for FlakyCheckpoint {
    async fn load(&self, job: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.load(job).await
    }
    async fn save(&self, job: &str, cursor: &[u8]) -> Result<(), BackendError> {
        let n = self.saves.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_save.load(Ordering::SeqCst) {
            return Err(BackendError::msg("crash before the checkpoint"));
        }
        self.inner.save(job, cursor).await
    }
    async fn clear(&self, job: &str) -> Result<(), BackendError> {
        self.inner.clear(job).await
    }
}

fn plaintext(id: u64) -> Vec<u8> {
    format!("note {id}: blood pressure 120/80").into_bytes()
}

/// Fills `notes` with `n` rows over three subjects and rotates every subject's key.
async fn setup(enc: &EnvelopeEncryptor, notes: &Notes, n: u64) {
    for id in 1..=n {
        let subject = format!("p-{}", id % 3);
        let ct = enc
            .encrypt(&plaintext(id), &ctx(&subject, id))
            .await
            .unwrap();
        notes.rows.lock().unwrap().push((id, subject, ct));
    }
    let subjects: std::collections::BTreeSet<u64> = (1..=n).map(|id| id % 3).collect();
    for s in subjects {
        enc.rotate_subject(b"t1", format!("p-{s}").as_bytes())
            .await
            .unwrap();
    }
}

async fn assert_all_current_and_intact(enc: &EnvelopeEncryptor, notes: &Notes) {
    let rows = notes.rows.lock().unwrap().clone();
    for (id, subject, body) in rows {
        let c = ctx(&subject, id);
        assert!(!enc.needs_reencrypt(&body, &c).await.unwrap(), "row {id}");
        assert_eq!(
            enc.decrypt(&body, &c).await.unwrap().expose_secret(),
            plaintext(id).as_slice()
        );
    }
}

#[tokio::test]
async fn the_job_moves_every_row_to_the_current_key_once() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let notes = Arc::new(Notes::default());
    setup(&enc, &notes, 10).await;
    let before: Vec<u64> = (1..=10)
        .map(|id| inspect(&notes.body(id)).unwrap().key_id)
        .collect();
    let job = ReencryptJob::new(
        "notes.body",
        enc.clone(),
        notes.clone(),
        Arc::new(MemoryCheckpoint::new()),
    )
    .with_batch_size(3);
    let report = job.run().await.unwrap();
    assert_eq!(
        (
            report.scanned,
            report.reencrypted,
            report.failed,
            report.done
        ),
        (10, 10, 0, true)
    );
    for (i, id) in (1..=10).enumerate() {
        assert_ne!(inspect(&notes.body(id)).unwrap().key_id, before[i]);
    }
    assert_all_current_and_intact(&enc, &notes).await;
    // A finished run starts the next one at the first row; rows already current are only
    // looked at (header check), nothing is redone.
    let ct = enc.encrypt(&plaintext(11), &ctx("p-2", 11)).await.unwrap();
    notes.rows.lock().unwrap().push((11, "p-2".into(), ct));
    let again = job.run().await.unwrap();
    assert_eq!(
        (again.scanned, again.reencrypted, again.already_current),
        (11, 0, 11)
    );
    // A fresh job (new checkpoint) finds everything already current.
    let fresh = ReencryptJob::new(
        "notes.body",
        enc.clone(),
        notes.clone(),
        Arc::new(MemoryCheckpoint::new()),
    );
    let r = fresh.run().await.unwrap();
    assert_eq!((r.reencrypted, r.already_current), (0, 11));
    // Now the old versions can be retired, and reading still works.
    assert_eq!(enc.retire_superseded(b"t1").await.unwrap(), 3);
    assert_all_current_and_intact(&enc, &notes).await;
}

#[tokio::test]
async fn shredded_failed_and_conflicting_rows_are_counted_not_fatal() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let notes = Arc::new(Notes::default());
    setup(&enc, &notes, 9).await;
    // p-0 (rows 3, 6, 9) is shredded; row 1 is corrupted; row 2 was written with another
    // context (copied from another row); row 4 changes under the job.
    enc.shred(b"t1", b"p-0").await.unwrap();
    {
        let mut rows = notes.rows.lock().unwrap();
        let last = rows[0].2.len() - 1;
        rows[0].2[last] ^= 1;
        rows[1].2 = rows[4].2.clone();
    }
    // The first replace is row 4's (rows 1 and 2 fail, 3 is shredded).
    notes.concurrent_write_at.store(1, Ordering::SeqCst);
    let job = ReencryptJob::new(
        "notes.body",
        enc.clone(),
        notes.clone(),
        Arc::new(MemoryCheckpoint::new()),
    );
    let r = job.run().await.unwrap();
    assert_eq!(r.scanned, 9);
    assert_eq!(r.shredded, 3);
    assert_eq!(r.failed, 2);
    assert_eq!(
        r.failed_cursors,
        vec![1u64.to_be_bytes().to_vec(), 2u64.to_be_bytes().to_vec()]
    );
    assert_eq!(r.conflicts, 1);
    assert_eq!(r.reencrypted, 3);
    assert_eq!(notes.body(4), b"changed by the app");
}

#[tokio::test]
async fn rows_under_a_retired_key_fail_and_say_so() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let notes = Arc::new(Notes::default());
    setup(&enc, &notes, 3).await;
    // Raising the minimum before the job ran is the mistake the report must show.
    enc.retire_superseded(b"t1").await.unwrap();
    let c = ctx("p-1", 1);
    assert!(key_retired(&enc.decrypt(&notes.body(1), &c).await.unwrap_err()).is_some());
    let job = ReencryptJob::new(
        "notes.body",
        enc.clone(),
        notes.clone(),
        Arc::new(MemoryCheckpoint::new()),
    );
    let r = job.run().await.unwrap();
    assert_eq!((r.failed, r.reencrypted), (3, 0));
}

#[tokio::test]
async fn the_cursor_survives_in_a_file_checkpoint() {
    let dir = std::env::temp_dir().join(unique("biv-job-ckpt"));
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let notes = Arc::new(Notes::default());
    setup(&enc, &notes, 6).await;
    let job = |ckpt: FileCheckpoint| {
        ReencryptJob::new("notes.body", enc.clone(), notes.clone(), Arc::new(ckpt))
            .with_batch_size(4)
    };
    let first = job(FileCheckpoint::open(&dir).unwrap())
        .step()
        .await
        .unwrap();
    assert_eq!((first.scanned, first.done), (4, false));
    // A new process: the checkpoint file says where to go on.
    let ckpt = FileCheckpoint::open(&dir).unwrap();
    assert_eq!(
        ckpt.load("notes.body").await.unwrap(),
        Some(4u64.to_be_bytes().to_vec())
    );
    let rest = job(ckpt).run().await.unwrap();
    assert_eq!((rest.scanned, rest.reencrypted, rest.done), (2, 2, true));
    assert_all_current_and_intact(&enc, &notes).await;
    // The end cleared the checkpoint.
    let ckpt = FileCheckpoint::open(&dir).unwrap();
    assert_eq!(ckpt.load("notes.body").await.unwrap(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_job_after_the_next_rotation_reencrypts_again() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let notes = Arc::new(Notes::default());
    setup(&enc, &notes, 6).await;
    let checkpoint = Arc::new(MemoryCheckpoint::new());
    let job = ReencryptJob::new("notes.body", enc.clone(), notes.clone(), checkpoint.clone())
        .with_batch_size(4);
    assert_eq!(job.run().await.unwrap().reencrypted, 6);
    // The next rotation: every subject gets a new key version.
    for s in 0..3 {
        enc.rotate_subject(b"t1", format!("p-{s}").as_bytes())
            .await
            .unwrap();
    }
    // The same job, the same checkpoint store: every row moves again, so the minimum can be
    // raised after it without making a row unreadable.
    let r = job.run().await.unwrap();
    assert_eq!(
        (r.scanned, r.reencrypted, r.failed, r.done),
        (6, 6, 0, true)
    );
    enc.retire_superseded(b"t1").await.unwrap();
    assert_all_current_and_intact(&enc, &notes).await;
}

#[tokio::test]
async fn a_failing_source_stops_the_step_without_moving_the_checkpoint() {
    let enc = encryptor(Arc::new(MemoryKeyStore::new()));
    let notes = Arc::new(Notes::default());
    setup(&enc, &notes, 5).await;
    notes.crash_after_replace.store(2, Ordering::SeqCst);
    let ckpt = Arc::new(MemoryCheckpoint::new());
    let job = ReencryptJob::new("notes.body", enc.clone(), notes.clone(), ckpt.clone());
    assert!(matches!(job.run().await, Err(ReencryptError::Source(_))));
    assert_eq!(ckpt.load("notes.body").await.unwrap(), None);
    let r = job.run().await.unwrap();
    // Rows 1 and 2 were written before the crash: found current, not redone.
    assert_eq!((r.already_current, r.reencrypted), (2, 3));
    assert_all_current_and_intact(&enc, &notes).await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Crash the job at any replace (after its commit) or any checkpoint save, then resume with
    /// a new job: every row ends under the current key with its plaintext intact, and no row is
    /// re-encrypted twice.
    #[test]
    fn the_job_resumes_after_a_crash_anywhere(rows in 1u64..25, batch in 1usize..7,
                                              crash_replace in 0usize..30,
                                              crash_save in 0usize..8) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let enc = encryptor(Arc::new(MemoryKeyStore::new()));
            let notes = Arc::new(Notes::default());
            setup(&enc, &notes, rows).await;
            notes.crash_after_replace.store(crash_replace, Ordering::SeqCst);
            let ckpt = Arc::new(FlakyCheckpoint::default());
            ckpt.fail_save.store(crash_save, Ordering::SeqCst);
            let job = ReencryptJob::new("notes.body", enc.clone(), notes.clone(), ckpt.clone())
                .with_batch_size(batch);
            let mut reencrypted = 0;
            let mut attempts = 0;
            let total = loop {
                attempts += 1;
                prop_assert!(attempts <= 3, "at most two crashes");
                match job.run().await {
                    Ok(r) => break r,
                    Err(ReencryptError::Source(_) | ReencryptError::Checkpoint(_)) => {
                        // What the crashed run did is visible in the table only.
                        continue;
                    }
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            };
            reencrypted += total.reencrypted;
            prop_assert!(total.done);
            prop_assert_eq!(total.failed, 0);
            // Every replace call that committed counts once: no row was written twice.
            let committed = notes.replaces.load(Ordering::SeqCst) as u64;
            prop_assert_eq!(committed, rows);
            prop_assert!(reencrypted <= rows);
            assert_all_current_and_intact(&enc, &notes).await;
            Ok(())
        })?;
    }
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn end_to_end_on_postgresql_with_its_checkpoint_table() {
    let url = biv_testkit::servers::postgres_url();
    let store = Arc::new(PgKeyStore::connect(&url, &unique("keys")).await.unwrap());
    let enc = encryptor(store.clone());
    let notes = Arc::new(Notes::default());
    setup(&enc, &notes, 8).await;
    let ckpt: Arc<dyn JobCheckpoint> = store.clone();
    let job = ReencryptJob::new("notes.body", enc.clone(), notes.clone(), ckpt.clone())
        .with_batch_size(3);
    let first = job.step().await.unwrap();
    assert_eq!(first.reencrypted, 3);
    assert_eq!(
        ckpt.load("notes.body").await.unwrap(),
        Some(3u64.to_be_bytes().to_vec())
    );
    // Another process resumes from the table.
    let other = Arc::new(PgKeyStore::connect(&url, store.schema()).await.unwrap());
    let job2 = ReencryptJob::new("notes.body", enc.clone(), notes.clone(), other);
    let rest = job2.run().await.unwrap();
    assert_eq!((rest.scanned, rest.reencrypted), (5, 5));
    assert_eq!(enc.retire_superseded(b"t1").await.unwrap(), 3);
    assert_all_current_and_intact(&enc, &notes).await;
}

#[tokio::test]
async fn a_rotation_by_another_process_is_followed_despite_the_cache() {
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let ring = keyring();
    let job_side = encryptor_with(ring.clone(), store.clone());
    let notes = Arc::new(Notes::default());
    let c = ctx("p-1", 1);
    // The job's encryptor has p-1's current key cached ...
    let ct = job_side.encrypt(&plaintext(1), &c).await.unwrap();
    notes.rows.lock().unwrap().push((1, "p-1".into(), ct));
    // ... when another process (same root key and store) rotates it.
    let other = encryptor_with(ring, store.clone());
    other.rotate_subject(b"t1", b"p-1").await.unwrap();
    let job = ReencryptJob::new(
        "notes.body",
        job_side.clone(),
        notes.clone(),
        Arc::new(MemoryCheckpoint::new()),
    );
    assert_eq!(job.run().await.unwrap().reencrypted, 1);
    assert_all_current_and_intact(&job_side, &notes).await;
}
