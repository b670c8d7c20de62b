//! One behaviour suite for every in-tree key store: memory, file and PostgreSQL (the last
//! against the server `cargo xtask test` starts).

#![allow(
    clippy::unwrap_used,
    reason = "shared test helpers: a failed unwrap is a failed test with its location"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use biv_confidentiality::keys::{
    FileKeyStore, InsertOutcome, KeyState, KeyStore, MemoryKeyStore, MinVersionOutcome, PgKeyStore,
    ReplaceOutcome, StoredKey, SubjectKey,
};
use biv_core::WrappedKey;

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

fn memory() -> Arc<dyn KeyStore> {
    Arc::new(MemoryKeyStore::new())
}

fn file() -> Arc<dyn KeyStore> {
    let dir = std::env::temp_dir().join(unique("biv-keystore"));
    Arc::new(FileKeyStore::open(dir).expect("open file store"))
}

async fn pg() -> Arc<dyn KeyStore> {
    Arc::new(pg_store().await)
}

async fn pg_store() -> PgKeyStore {
    PgKeyStore::connect(&biv_testkit::servers::postgres_url(), &unique("keys"))
        .await
        .expect("connect to postgresql")
}

fn wrapped(version: u32, fill: u8) -> WrappedKey {
    WrappedKey::new("local:test", version, vec![fill; 60])
}

fn key(id: u64, subject: &[u8], version: u32, fill: u8) -> StoredKey {
    StoredKey::active_version(id, b"t1", subject, version, wrapped(1, fill))
}

async fn first_key_then_conflicts(store: Arc<dyn KeyStore>) {
    assert_eq!(
        store.current_for(b"t1", b"p-1").await.unwrap(),
        SubjectKey::None
    );
    assert_eq!(
        store.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap(),
        InsertOutcome::Inserted
    );
    // A racing second writer gets the first key back.
    match store.insert_if_absent(key(11, b"p-1", 1, 2)).await.unwrap() {
        InsertOutcome::Existing(k) => assert_eq!((k.key_id, k.version), (10, 1)),
        other => panic!("expected Existing, got {other:?}"),
    }
    // An id taken by another subject must be redrawn.
    assert_eq!(
        store.insert_if_absent(key(10, b"p-2", 1, 3)).await.unwrap(),
        InsertOutcome::KeyIdTaken
    );
    assert_eq!(store.get(11).await.unwrap(), None);
    let got = store.get(10).await.unwrap().expect("stored");
    assert_eq!(got.state, KeyState::Active(wrapped(1, 1)));
    assert_eq!(
        (got.tenant.as_slice(), got.subject.as_slice()),
        (&b"t1"[..], &b"p-1"[..])
    );
}

async fn rotation_is_a_compare_and_swap(store: Arc<dyn KeyStore>) {
    assert_eq!(
        store
            .insert_rotated(10, key(20, b"p-1", 2, 2))
            .await
            .unwrap(),
        InsertOutcome::NoCurrentKey
    );
    store.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap();
    assert_eq!(
        store
            .insert_rotated(10, key(20, b"p-1", 2, 2))
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    match store.current_for(b"t1", b"p-1").await.unwrap() {
        SubjectKey::Active(k) => assert_eq!((k.key_id, k.version), (20, 2)),
        other => panic!("expected version 2, got {other:?}"),
    }
    // A second rotation based on the stale key 10 loses and sees key 20.
    match store
        .insert_rotated(10, key(21, b"p-1", 2, 3))
        .await
        .unwrap()
    {
        InsertOutcome::Existing(k) => assert_eq!(k.key_id, 20),
        other => panic!("expected Existing, got {other:?}"),
    }
    // A version that does not follow the current one is refused too.
    assert!(matches!(
        store
            .insert_rotated(20, key(22, b"p-1", 5, 3))
            .await
            .unwrap(),
        InsertOutcome::Existing(_)
    ));
    assert_eq!(
        store
            .insert_rotated(20, key(10, b"p-1", 3, 3))
            .await
            .unwrap(),
        InsertOutcome::KeyIdTaken
    );
    // Old versions stay readable.
    assert!(matches!(
        store.get(10).await.unwrap().map(|k| k.state),
        Some(KeyState::Active(_))
    ));
    let versions: Vec<u32> = store
        .subject_keys(b"t1", b"p-1")
        .await
        .unwrap()
        .iter()
        .map(|k| k.version)
        .collect();
    assert_eq!(versions, vec![1, 2]);
}

async fn replace_wrapping_is_a_compare_and_swap(store: Arc<dyn KeyStore>) {
    store.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap();
    let new = WrappedKey::new("local:test", 2, vec![9; 60]);
    let newer = WrappedKey::new("local:test", 3, vec![8; 60]);
    assert_eq!(
        store
            .replace_wrapping(10, &wrapped(1, 1), &new)
            .await
            .unwrap(),
        ReplaceOutcome::Replaced
    );
    assert_eq!(
        store.get(10).await.unwrap().map(|k| k.state),
        Some(KeyState::Active(new.clone()))
    );
    // A second rewrap that read the old wrapping loses; the first one's result stays.
    assert_eq!(
        store
            .replace_wrapping(10, &wrapped(1, 1), &newer)
            .await
            .unwrap(),
        ReplaceOutcome::Changed
    );
    assert_eq!(
        store.get(10).await.unwrap().map(|k| k.state),
        Some(KeyState::Active(new.clone()))
    );
    assert_eq!(
        store.replace_wrapping(99, &new, &newer).await.unwrap(),
        ReplaceOutcome::Missing
    );
    // A shred between scan and swap wins: the key stays destroyed.
    store.destroy_subject(b"t1", b"p-1").await.unwrap();
    assert_eq!(
        store.replace_wrapping(10, &new, &newer).await.unwrap(),
        ReplaceOutcome::Destroyed
    );
    assert_eq!(
        store.get(10).await.unwrap().map(|k| k.state),
        Some(KeyState::Destroyed)
    );
}

async fn shred_destroys_every_version(store: Arc<dyn KeyStore>) {
    store.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap();
    store
        .insert_rotated(10, key(20, b"p-1", 2, 2))
        .await
        .unwrap();
    store.insert_if_absent(key(30, b"p-2", 1, 3)).await.unwrap();
    let mut ids = store.destroy_subject(b"t1", b"p-1").await.unwrap();
    ids.sort_unstable();
    assert_eq!(ids, vec![10, 20]);
    for id in [10, 20] {
        let k = store.get(id).await.unwrap().expect("tombstone");
        assert_eq!(k.state, KeyState::Destroyed);
        assert_eq!(k.state.wrapped(), None);
    }
    assert_eq!(
        store.current_for(b"t1", b"p-1").await.unwrap(),
        SubjectKey::Destroyed
    );
    // Nothing new for a shredded subject, neither a first key nor a rotation.
    assert_eq!(
        store.insert_if_absent(key(40, b"p-1", 1, 4)).await.unwrap(),
        InsertOutcome::Destroyed
    );
    assert_eq!(
        store
            .insert_rotated(20, key(41, b"p-1", 3, 4))
            .await
            .unwrap(),
        InsertOutcome::Destroyed
    );
    // Shredding again destroys nothing new.
    assert_eq!(
        store.destroy_subject(b"t1", b"p-1").await.unwrap(),
        Vec::<u64>::new()
    );
    // Other subjects are untouched.
    assert!(matches!(
        store.current_for(b"t1", b"p-2").await.unwrap(),
        SubjectKey::Active(_)
    ));
    // A subject shredded before it had any key gets none later.
    assert_eq!(
        store.destroy_subject(b"t1", b"p-3").await.unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        store.current_for(b"t1", b"p-3").await.unwrap(),
        SubjectKey::Destroyed
    );
    assert_eq!(
        store.insert_if_absent(key(50, b"p-3", 1, 5)).await.unwrap(),
        InsertOutcome::Destroyed
    );
    // The same subject name in another tenant is another subject.
    assert_eq!(
        store
            .insert_if_absent(StoredKey::active(60, b"t2", b"p-1", wrapped(1, 6)))
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
}

async fn min_version_retires_and_reactivates(store: Arc<dyn KeyStore>) {
    assert_eq!(
        store.set_min_version(b"t1", b"p-1", 1).await.unwrap(),
        MinVersionOutcome::NoKeys
    );
    store.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap();
    store
        .insert_rotated(10, key(20, b"p-1", 2, 2))
        .await
        .unwrap();
    store
        .insert_rotated(20, key(30, b"p-1", 3, 3))
        .await
        .unwrap();
    assert_eq!(
        store.set_min_version(b"t1", b"p-1", 4).await.unwrap(),
        MinVersionOutcome::AboveCurrent { current: 3 }
    );
    match store.set_min_version(b"t1", b"p-1", 3).await.unwrap() {
        MinVersionOutcome::Set {
            mut retired,
            reactivated,
        } => {
            retired.sort_unstable();
            assert_eq!((retired, reactivated), (vec![10, 20], vec![]));
        }
        other => panic!("expected Set, got {other:?}"),
    }
    assert_eq!(
        store.get(10).await.unwrap().map(|k| k.state),
        Some(KeyState::Retired(wrapped(1, 1)))
    );
    match store.current_for(b"t1", b"p-1").await.unwrap() {
        SubjectKey::Active(k) => assert_eq!(k.key_id, 30),
        other => panic!("expected key 30, got {other:?}"),
    }
    // A retired key is still rewrapped (its wrapping is kept).
    let new = WrappedKey::new("local:test", 2, vec![7; 60]);
    assert_eq!(
        store
            .replace_wrapping(10, &wrapped(1, 1), &new)
            .await
            .unwrap(),
        ReplaceOutcome::Replaced
    );
    assert_eq!(
        store.get(10).await.unwrap().map(|k| k.state),
        Some(KeyState::Retired(new.clone()))
    );
    match store.set_min_version(b"t1", b"p-1", 2).await.unwrap() {
        MinVersionOutcome::Set {
            retired,
            reactivated,
        } => assert_eq!((retired, reactivated), (vec![], vec![20])),
        other => panic!("expected Set, got {other:?}"),
    }
    store.destroy_subject(b"t1", b"p-1").await.unwrap();
    assert_eq!(
        store.set_min_version(b"t1", b"p-1", 1).await.unwrap(),
        MinVersionOutcome::Destroyed
    );
    assert_eq!(
        store.get(10).await.unwrap().map(|k| k.state),
        Some(KeyState::Destroyed)
    );
}

async fn scan_pages_through_every_key(store: Arc<dyn KeyStore>) {
    let mut expected = Vec::new();
    for i in 0..23u64 {
        // Spread ids over the whole u64 range, high bit set or not.
        let id = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let subject = format!("p-{i}");
        store
            .insert_if_absent(key(id, subject.as_bytes(), 1, 1))
            .await
            .unwrap();
        expected.push(id);
    }
    store.destroy_subject(b"t1", b"p-3").await.unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.scan(after, 5).await.unwrap();
        assert!(page.len() <= 5);
        let Some(last) = page.last() else { break };
        after = Some(last.key_id);
        seen.extend(page.iter().map(|k| k.key_id));
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort_unstable();
    sorted_seen.dedup();
    assert_eq!(sorted_seen.len(), seen.len(), "no key twice");
    expected.sort_unstable();
    assert_eq!(sorted_seen, expected);
}

macro_rules! store_behaviour {
    ($name:ident, $make:expr $(, #[$attr:meta])?) => {
        mod $name {
            use super::*;

            #[tokio::test]
            $(#[$attr])?
            async fn first_key_then_conflicts() {
                super::first_key_then_conflicts($make).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn rotation_is_a_compare_and_swap() {
                super::rotation_is_a_compare_and_swap($make).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn replace_wrapping_is_a_compare_and_swap() {
                super::replace_wrapping_is_a_compare_and_swap($make).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn shred_destroys_every_version() {
                super::shred_destroys_every_version($make).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn min_version_retires_and_reactivates() {
                super::min_version_retires_and_reactivates($make).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn scan_pages_through_every_key() {
                super::scan_pages_through_every_key($make).await;
            }
        }
    };
}

store_behaviour!(memory_store, memory());
store_behaviour!(file_store, file());
store_behaviour!(
    pg_store,
    pg().await,
    #[ignore = "server: postgresql; run by cargo xtask test"]
);

#[tokio::test]
async fn file_store_keeps_versions_and_states_across_reopen() {
    let dir = std::env::temp_dir().join(unique("biv-keystore-reopen"));
    {
        let store = FileKeyStore::open(&dir).unwrap();
        store.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap();
        store
            .insert_rotated(10, key(20, b"p-1", 2, 2))
            .await
            .unwrap();
        store.set_min_version(b"t1", b"p-1", 2).await.unwrap();
        store.insert_if_absent(key(30, b"p-2", 1, 3)).await.unwrap();
        store.destroy_subject(b"t1", b"p-2").await.unwrap();
    }
    let store = FileKeyStore::open(&dir).unwrap();
    let keys = store.subject_keys(b"t1", b"p-1").await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].state, KeyState::Retired(wrapped(1, 1)));
    assert_eq!((keys[1].version, keys[1].key_id), (2, 20));
    assert_eq!(
        store.current_for(b"t1", b"p-2").await.unwrap(),
        SubjectKey::Destroyed
    );
    // The destroyed key's file holds no wrapped key any more.
    let text = std::fs::read_to_string(dir.join(format!("{:016x}.json", 30))).unwrap();
    assert!(!text.contains("wrapped"), "{text}");
    assert!(text.contains("\"destroyed\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn file_store_reads_records_written_before_versions() {
    let dir = std::env::temp_dir().join(unique("biv-keystore-old"));
    std::fs::create_dir_all(&dir).unwrap();
    let record = r#"{"format":"biv.data-key.v1","key_id":"000000000000000a","tenant":"dDE","subject":"cC0x","state":"active","kek_id":"local:test","kek_version":1,"wrapped":"AQID"}"#;
    std::fs::write(dir.join("000000000000000a.json"), record).unwrap();
    let store = FileKeyStore::open(&dir).unwrap();
    let k = store.get(10).await.unwrap().expect("record");
    assert_eq!(k.version, 1);
    assert_eq!(
        k.state,
        KeyState::Active(WrappedKey::new("local:test", 1, vec![1, 2, 3]))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) =
        tokio_postgres::connect(&biv_testkit::servers::postgres_url(), tokio_postgres::NoTls)
            .await
            .expect("connect as admin");
    tokio::spawn(conn);
    client
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn pg_shred_removes_the_wrapped_key_from_the_table() {
    let store = pg_store().await;
    store.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap();
    store
        .insert_rotated(10, key(20, b"p-1", 2, 2))
        .await
        .unwrap();
    store.insert_if_absent(key(30, b"p-2", 1, 3)).await.unwrap();
    let db = admin().await;
    let count = async |sql: &str| -> i64 {
        db.query_one(&sql.replace("{s}", &format!("\"{}\"", store.schema())), &[])
            .await
            .expect("query")
            .get(0)
    };
    let wrapped_of_p1 = "SELECT count(*) FROM {s}.biv_data_keys WHERE subject = 'p-1'::bytea AND wrapped IS NOT NULL";
    assert_eq!(count(wrapped_of_p1).await, 2);
    store.destroy_subject(b"t1", b"p-1").await.unwrap();
    assert_eq!(count(wrapped_of_p1).await, 0);
    assert_eq!(
        count(
            "SELECT count(*) FROM {s}.biv_data_keys WHERE subject = 'p-1'::bytea \
             AND state = 'destroyed' AND kek_id IS NULL AND kek_version IS NULL"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM {s}.biv_key_subjects WHERE subject = 'p-1'::bytea \
             AND shredded_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM {s}.biv_data_keys WHERE wrapped IS NOT NULL").await,
        1
    );
}

#[tokio::test]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn pg_schema_is_idempotent_and_names_are_checked() {
    let url = biv_testkit::servers::postgres_url();
    let schema = unique("keys");
    let a = PgKeyStore::connect(&url, &schema).await.unwrap();
    a.insert_if_absent(key(10, b"p-1", 1, 1)).await.unwrap();
    // A second store on the same schema sees the same keys; ensure_schema again is harmless.
    let b = PgKeyStore::connect(&url, &schema).await.unwrap();
    b.ensure_schema().await.unwrap();
    assert!(matches!(
        b.current_for(b"t1", b"p-1").await.unwrap(),
        SubjectKey::Active(k) if k.key_id == 10
    ));
    for bad in ["", "Keys", "1keys", "keys;drop", "a\"b"] {
        assert!(
            PgKeyStore::connect(&url, bad).await.is_err(),
            "schema {bad:?} must be refused"
        );
    }
    // The password-free Debug names the schema only.
    assert_eq!(
        format!("{a:?}"),
        format!("PgKeyStore {{ schema: {schema:?}, .. }}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run by cargo xtask test"]
async fn pg_concurrent_first_keys_and_rotations_end_with_one_winner() {
    let url = biv_testkit::servers::postgres_url();
    let schema = unique("keys");
    let stores: Vec<Arc<PgKeyStore>> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(Arc::new(PgKeyStore::connect(&url, &schema).await.unwrap()));
        }
        v
    };
    let mut tasks = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        let s = Arc::clone(s);
        tasks.push(tokio::spawn(async move {
            s.insert_if_absent(key(100 + i as u64, b"p-1", 1, 1))
                .await
                .unwrap()
        }));
    }
    let mut inserted = 0;
    for t in tasks {
        if t.await.unwrap() == InsertOutcome::Inserted {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1);
    let SubjectKey::Active(first) = stores[0].current_for(b"t1", b"p-1").await.unwrap() else {
        panic!("no key");
    };
    let mut tasks = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        let s = Arc::clone(s);
        let prev = first.key_id;
        tasks.push(tokio::spawn(async move {
            s.insert_rotated(prev, key(200 + i as u64, b"p-1", 2, 2))
                .await
                .unwrap()
        }));
    }
    let mut inserted = 0;
    for t in tasks {
        if t.await.unwrap() == InsertOutcome::Inserted {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1);
    assert_eq!(
        stores[1].subject_keys(b"t1", b"p-1").await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn debug_output_names_no_subject_and_no_wrapped_key() {
    let dir = std::env::temp_dir().join(unique("biv-keystore-debug"));
    let file = FileKeyStore::open(&dir).unwrap();
    let memory = MemoryKeyStore::new();
    for store in [&file as &dyn KeyStore, &memory] {
        store
            .insert_if_absent(key(7, b"p-secret-subject", 1, 0x5a))
            .await
            .unwrap();
    }
    for text in [format!("{file:?}"), format!("{memory:?}")] {
        // Neither as text nor as the byte list a derived Debug prints.
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("112, 45, 115"), "{text}");
        assert!(!text.contains("90, 90"), "{text}");
        assert!(text.contains("keys: 1"), "{text}");
    }
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}
