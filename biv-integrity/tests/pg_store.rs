//! The PostgreSQL store against a real PostgreSQL 15 (started by `cargo xtask test`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use biv_core::{AuditAppendError, AuditSink, EventId};
use biv_integrity::audit::decode_entry;
use biv_integrity::store::{CheckpointKey, PgLog, PgLogError, PgLogOptions};
use biv_integrity::tlog::{Ed25519Signer, Hash, verify_consistency, verify_inclusion};
use biv_testkit::{audit_sink_conformance, sample_event, servers};
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

fn unique_log_id(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("test/{tag}/{nanos}/{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&servers::postgres_url(), NoTls)
        .await
        .expect("connect as admin");
    tokio::spawn(conn);
    client
}

fn event(n: u64, salt: u64) -> biv_core::AuditEvent {
    let mut e = sample_event(n);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&salt.to_be_bytes());
    id[8..].copy_from_slice(&n.to_be_bytes());
    e.id = EventId::from_bytes(id);
    e
}

fn naive_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            Sha256::digest(
                [
                    &[1u8][..],
                    &naive_root(&leaves[..k]),
                    &naive_root(&leaves[k..]),
                ]
                .concat(),
            )
            .into()
        }
    }
}

audit_sink_conformance!(
    PgLog::connect(&servers::postgres_url(), &unique_log_id("conformance"), key(), PgLogOptions::default())
        .await
        .expect("connect"),
    #[ignore = "server: postgresql; run `cargo xtask test`"]
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn roots_entries_and_ranges_match_a_naive_tree() {
    let log = PgLog::connect(
        &servers::postgres_url(),
        &unique_log_id("roots"),
        key(),
        PgLogOptions::default(),
    )
    .await
    .unwrap();
    let mut leaves = Vec::new();
    for n in 0..33u64 {
        let e = event(n, 1);
        let r = log.append(&e).await.unwrap();
        assert_eq!(r.index(), n);
        let entry = log.entry(n).await.unwrap();
        assert_eq!(decode_entry(&entry).unwrap(), e);
        leaves.push(Sha256::digest([&[0u8][..], &entry].concat()).into());
        let (size, root) = log.size_and_root().await.unwrap();
        assert_eq!((size, root), (n + 1, naive_root(&leaves)));
    }
    let root = Hash::from_bytes(naive_root(&leaves));
    for old in [1u64, 2, 7, 8, 16, 31, 33] {
        let old_root = log.root_at(old).await.unwrap();
        assert_eq!(
            old_root.to_bytes(),
            naive_root(&leaves[..old as usize]),
            "root at {old}"
        );
        let proof = log.consistency_proof(old, 33).await.unwrap();
        verify_consistency(old, 33, &proof, &old_root, &root).unwrap();
    }
    for index in [0u64, 5, 16, 31, 32] {
        let proof = log.inclusion_proof(index, 33).await.unwrap();
        verify_inclusion(
            index,
            33,
            &Hash::from_bytes(leaves[index as usize]),
            &proof,
            &root,
        )
        .unwrap();
    }
    assert!(matches!(
        log.inclusion_proof(0, 34).await,
        Err(PgLogError::OutOfRange { .. })
    ));
    assert_eq!(log.verify_full().await.unwrap(), 33);
    assert!(matches!(
        log.entry(33).await,
        Err(PgLogError::OutOfRange {
            index: 33,
            size: 33
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn two_writers_on_one_log_keep_it_dense_and_consistent() {
    let id = unique_log_id("replicas");
    let a = Arc::new(
        PgLog::connect(
            &servers::postgres_url(),
            &id,
            key(),
            PgLogOptions::default(),
        )
        .await
        .unwrap(),
    );
    let b = Arc::new(
        PgLog::connect(
            &servers::postgres_url(),
            &id,
            key(),
            PgLogOptions::default(),
        )
        .await
        .unwrap(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8u64 {
        let log = if t % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        tasks.spawn(async move {
            let mut got = Vec::new();
            for i in 0..25 {
                got.push(log.append(&event(t * 100 + i, 2)).await.unwrap().index());
            }
            got
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (0..200).collect::<Vec<_>>());
    assert_eq!(a.verify_full().await.unwrap(), 200);
    // A replay through the other writer is still a duplicate.
    assert!(matches!(
        b.append(&event(0, 2)).await,
        Err(AuditAppendError::Duplicate)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn the_tables_are_append_only_even_for_their_owner() {
    let id = unique_log_id("append-only");
    let log = PgLog::connect(
        &servers::postgres_url(),
        &id,
        key(),
        PgLogOptions::default(),
    )
    .await
    .unwrap();
    for n in 0..3 {
        log.append(&event(n, 3)).await.unwrap();
    }
    let admin = admin().await;
    for sql in [
        "UPDATE biv_audit_entries SET entry = 'x' WHERE log_id = $1",
        "DELETE FROM biv_audit_entries WHERE log_id = $1",
        "UPDATE biv_audit_nodes SET hash = hash WHERE log_id = $1",
        "DELETE FROM biv_audit_state WHERE log_id = $1",
        "UPDATE biv_audit_state SET size = 1 WHERE log_id = $1",
    ] {
        let err = admin.execute(sql, &[&id]).await.expect_err(sql);
        assert!(
            err.to_string().contains("biv audit log")
                || format!("{err:?}").contains("biv audit log"),
            "{sql}: {err:?}"
        );
    }
    assert!(
        admin
            .batch_execute("TRUNCATE biv_audit_nodes")
            .await
            .is_err()
    );
    assert_eq!(log.verify_full().await.unwrap(), 3);
}

/// A log installed by the owner with `role` (created afresh) as its writer role, and the same
/// log opened as that role: `(log id, the role's URL, the role's log, the owner's log)`.
async fn log_with_writer_role(role: &str, tag: &str) -> (String, String, PgLog, PgLog) {
    admin()
        .await
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"
        ))
        .await
        .expect("create the writer role");
    let id = unique_log_id(tag);
    let owner = PgLog::connect(
        &servers::postgres_url(),
        &id,
        key(),
        PgLogOptions::default().with_writer_role(role),
    )
    .await
    .expect("the owner installs the log");
    let url =
        servers::postgres_url().replacen("postgresql://biv@", &format!("postgresql://{role}@"), 1);
    let writer = PgLog::connect(&url, &id, key(), PgLogOptions::default())
        .await
        .expect("the writer role connects");
    (id, url, writer, owner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn a_writer_role_may_insert_and_select_only() {
    let role = format!("biv_writer_{}", std::process::id());
    let (_id, url, writer, _owner) = log_with_writer_role(&role, "role").await;
    assert_eq!(writer.append(&event(1, 4)).await.unwrap().index(), 0);
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let denied = client
        .batch_execute("DROP TRIGGER biv_audit_entries_append_only ON biv_audit_entries")
        .await;
    assert!(
        denied.is_err(),
        "the writer role must not be able to drop the append-only trigger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn a_superuser_edit_behind_the_triggers_is_found_by_verification() {
    let id = unique_log_id("tamper");
    let log = PgLog::connect(
        &servers::postgres_url(),
        &id,
        key(),
        PgLogOptions::default(),
    )
    .await
    .unwrap();
    for n in 0..10 {
        log.append(&event(n, 5)).await.unwrap();
    }
    let admin = admin().await;
    // An insider with superuser rights switches the triggers off for their session and edits entry 6.
    let forged = log
        .entry(6)
        .await
        .unwrap()
        .iter()
        .map(|&b| if b == b'u' { b'U' } else { b })
        .collect::<Vec<u8>>();
    admin
        .batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE biv_audit_entries SET entry = $2 WHERE log_id = $1 AND idx = 6",
            &[&id, &forged],
        )
        .await
        .unwrap();
    match log.verify_full().await {
        Err(PgLogError::Corrupt { index: 6, .. }) => {}
        other => panic!("expected entry 6 to fail verification, got {other:?}"),
    }
    assert!(matches!(
        log.entry(6).await,
        Err(PgLogError::Corrupt { index: 6, .. })
    ));
    // A stronger insider also rewrites the leaf hash and the state's root; the stored tree
    // nodes stay. Only the signed checkpoint (made when the log closed) still tells.
    log.close().await;
    let log = PgLog::connect(
        &servers::postgres_url(),
        &id,
        key(),
        PgLogOptions::default(),
    )
    .await
    .unwrap();
    let mut entries: Vec<Vec<u8>> = (0..10)
        .map(|n| biv_integrity::audit::encode_entry(&event(n, 5)).unwrap())
        .collect();
    // A forgery that still decodes: another user id for entry 6.
    let text =
        String::from_utf8(entries[6].clone())
            .unwrap()
            .replacen("\"id\":\"u-", "\"id\":\"x-", 1);
    assert!(biv_integrity::audit::decode_entry(text.as_bytes()).is_ok());
    entries[6] = text.into_bytes();
    admin
        .execute(
            "UPDATE biv_audit_entries SET entry = $2 WHERE log_id = $1 AND idx = 6",
            &[&id, &entries[6]],
        )
        .await
        .unwrap();
    let leaf = biv_integrity::tlog::leaf_hash(&entries[6]);
    let mut range = biv_integrity::tlog::CompactRange::new();
    for e in &entries {
        range.push(biv_integrity::tlog::leaf_hash(e)).unwrap();
    }
    admin
        .execute(
            "UPDATE biv_audit_entries SET leaf_hash = $2 WHERE log_id = $1 AND idx = 6",
            &[&id, &leaf.as_bytes().as_slice()],
        )
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE biv_audit_state SET root = $2 WHERE log_id = $1",
            &[&id, &range.root().as_bytes().as_slice()],
        )
        .await
        .unwrap();
    match log.verify_full().await {
        Err(PgLogError::Checkpoint(why)) => assert!(why.contains("rewritten"), "{why}"),
        other => panic!("expected the signed checkpoint to expose the rewrite, got {other:?}"),
    }
}

fn key() -> CheckpointKey {
    CheckpointKey::ed25519(Ed25519Signer::from_seed("biv.test/pg", &[3; 32]).expect("key"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn checkpoints_are_signed_and_a_rewound_log_is_refused() {
    let id = unique_log_id("checkpoints");
    let options =
        || PgLogOptions::default().with_checkpoints(std::time::Duration::from_secs(3600), 10);
    let log = PgLog::connect(&servers::postgres_url(), &id, key(), options())
        .await
        .unwrap();
    for n in 0..25 {
        log.append(&event(n, 6)).await.unwrap();
    }
    log.close().await; // the writer signs the final state as it stops
    let log = PgLog::connect(&servers::postgres_url(), &id, key(), options())
        .await
        .unwrap();
    let cp = log
        .latest_checkpoint()
        .await
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(cp.checkpoint().size(), 25);
    assert_eq!(log.root_at(25).await.unwrap(), *cp.checkpoint().root());
    log.close().await;

    // An insider rewinds the log to 20 entries behind the triggers' back.
    let admin = admin().await;
    admin
        .batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    admin
        .execute(
            "DELETE FROM biv_audit_entries WHERE log_id = $1 AND idx >= 20",
            &[&id],
        )
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE biv_audit_state SET size = 20 WHERE log_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    match PgLog::connect(&servers::postgres_url(), &id, key(), options()).await {
        Err(PgLogError::Checkpoint(why)) => {
            assert!(why.contains("truncated or rolled back"), "{why}")
        }
        other => panic!("expected the rewound log to be refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn a_disabled_append_only_trigger_refuses_to_connect() {
    // In a database of its own: the other tests run in parallel and need the triggers.
    let admin = admin().await;
    let db = format!("biv_trigger_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let base = servers::postgres_url();
    let url = format!("{}/{db}", &base[..base.rfind('/').unwrap()]);
    let id = unique_log_id("trigger");
    let log = PgLog::connect(&url, &id, key(), PgLogOptions::default())
        .await
        .unwrap();
    log.close().await;
    let (owner, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    owner
        .batch_execute("ALTER TABLE biv_audit_nodes DISABLE TRIGGER biv_audit_nodes_append_only")
        .await
        .unwrap();
    match PgLog::connect(&url, &id, key(), PgLogOptions::default()).await {
        Err(PgLogError::NotAppendOnly(why)) => assert!(
            why.contains("biv_audit_nodes_append_only is disabled"),
            "{why}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    owner
        .batch_execute("ALTER TABLE biv_audit_nodes ENABLE TRIGGER biv_audit_nodes_append_only")
        .await
        .unwrap();
    let log = PgLog::connect(&url, &id, key(), PgLogOptions::default())
        .await
        .unwrap();
    log.close().await;
    drop(owner);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn a_forged_state_row_is_never_signed_and_stops_the_log() {
    let id = unique_log_id("forged-state");
    let every =
        || PgLogOptions::default().with_checkpoints(std::time::Duration::from_secs(3600), 1);
    let log = PgLog::connect(&servers::postgres_url(), &id, key(), every())
        .await
        .unwrap();
    for n in 0..4 {
        log.append(&event(n, 7)).await.unwrap();
    }
    // Signing follows the commit; wait (bounded) for the checkpoint at 4.
    let mut signed_size = 0;
    for _ in 0..100 {
        signed_size = log
            .latest_checkpoint()
            .await
            .unwrap()
            .map_or(0, |c| c.checkpoint().size());
        if signed_size == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(signed_size, 4);
    // An insider with the triggers switched off (a superuser) replaces the compact range
    // (border) with hashes of their choosing, so new nodes would hang off a forged tree.
    let admin = admin().await;
    admin
        .batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE biv_audit_state SET border = decode(repeat('ab', 32), 'hex') WHERE log_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    // The next commit goes through, but its checkpoint is refused, and the log stops.
    let _ = log.append(&event(4, 7)).await;
    assert!(matches!(
        log.append(&event(5, 7)).await,
        Err(AuditAppendError::Backend(_))
    ));
    assert_eq!(
        log.latest_checkpoint()
            .await
            .unwrap()
            .unwrap()
            .checkpoint()
            .size(),
        4,
        "nothing forged was signed"
    );
}

async fn state_row(client: &tokio_postgres::Client, id: &str) -> (i64, Vec<u8>, Vec<u8>) {
    let row = client
        .query_one(
            "SELECT size, root, border FROM biv_audit_state WHERE log_id = $1",
            &[&id],
        )
        .await
        .expect("the state row");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn the_writer_role_cannot_rewrite_the_state_row_to_a_forged_tree() {
    let admin = admin().await;
    let role = format!("biv_state_writer_{}", std::process::id());
    let (id, url, writer, _owner) = log_with_writer_role(&role, "state-row").await;
    for n in 0..11 {
        writer.append(&event(n, 11)).await.unwrap();
    }
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let (size, root, border) = state_row(&client, &id).await;
    assert_eq!(size, 11);
    // 11 = 8 + 2 + 1: three border hashes.
    assert_eq!(border.len(), 3 * 32);
    let mut other_root = root.clone();
    other_root[0] ^= 1;
    let mut other_border = border.clone();
    other_border[40] ^= 1;
    let refused = [
        // Same size, another root or border.
        (
            "UPDATE biv_audit_state SET root = $2 WHERE log_id = $1",
            other_root.clone(),
            "may not change",
        ),
        (
            "UPDATE biv_audit_state SET border = $2 WHERE log_id = $1",
            other_border.clone(),
            "may not change",
        ),
        // A size with no entries behind it.
        (
            "UPDATE biv_audit_state SET size = size + 5, root = $2 WHERE log_id = $1",
            other_root.clone(),
            "does not match the stored entries",
        ),
        // Shrinking.
        (
            "UPDATE biv_audit_state SET size = 8, border = substring($2::bytea FROM 1 FOR 32) WHERE log_id = $1",
            border.clone(),
            "may only grow",
        ),
    ];
    for (sql, value, why) in refused {
        let err = client.execute(sql, &[&id, &value]).await.expect_err(sql);
        let text = format!("{err:?}");
        assert!(text.contains(why), "{sql}: {text}");
    }
    // Rows appended by hand (the role may insert) with a state row that does not describe the
    // Merkle tree of the stored entries: each refused, and the rows go with the rolled-back
    // transaction.
    let mut tx_client = client;
    let entry = b"forged entry".to_vec();
    let leaf: Vec<u8> = Sha256::digest([&[0u8][..], &entry].concat()).to_vec();
    let node =
        |l: &[u8], r: &[u8]| -> Vec<u8> { Sha256::digest([&[1u8][..], l, r].concat()).to_vec() };
    // The honest tree of size 12: node (1,5) = H(leaf 10, leaf 11), node (2,2) = H(node (1,4),
    // node (1,5)); border [node (3,0), node (2,2)].
    let leaf10 = Sha256::digest([&[0u8][..], &writer.entry(10).await.unwrap()].concat()).to_vec();
    let (n30, n14) = (border[..32].to_vec(), border[32..64].to_vec());
    let n15 = node(&leaf10, &leaf);
    let n22 = node(&n14, &n15);
    let honest_border = [n30.clone(), n22.clone()].concat();
    let honest_root = node(&n30, &n22);
    let bogus = vec![0xab; 32];
    /// One forged append: the new entry's leaf hash, the nodes inserted as (level, index,
    /// hash), the size claimed, and the error expected.
    struct Forgery {
        what: &'static str,
        leaf_hash: Vec<u8>,
        nodes: Vec<(i32, i64, Vec<u8>)>,
        size: i64,
        why: &'static str,
    }
    let forgery = |what, leaf_hash: &Vec<u8>, nodes: Vec<(i32, i64, Vec<u8>)>, size, why| Forgery {
        what,
        leaf_hash: leaf_hash.clone(),
        nodes,
        size,
        why,
    };
    let honest_nodes = || vec![(1, 5, n15.clone()), (2, 2, n22.clone())];
    let cases = [
        forgery(
            "a leaf hash that is not SHA-256(0x00 || entry)",
            &bogus,
            honest_nodes(),
            12,
            "does not match its leaf hash",
        ),
        forgery(
            "the new nodes missing",
            &leaf,
            vec![],
            12,
            "nodes do not match",
        ),
        forgery(
            "forged nodes with a border and root built on them",
            &leaf,
            vec![(1, 5, bogus.clone()), (2, 2, bogus.clone())],
            12,
            "nodes do not match",
        ),
        forgery(
            "a size past the entries",
            &leaf,
            honest_nodes(),
            13,
            "does not match the stored entries",
        ),
        forgery(
            "an entry left out (index 12 only)",
            &leaf,
            vec![],
            13,
            "does not match the stored entries",
        ),
    ];
    for Forgery {
        what,
        leaf_hash,
        nodes,
        size,
        why,
    } in cases
    {
        let tx = tx_client.transaction().await.unwrap();
        let idx: i64 = if what.starts_with("an entry left out") {
            12
        } else {
            11
        };
        tx.execute(
            "INSERT INTO biv_audit_entries (log_id, idx, event_id, entry, leaf_hash) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &idx, &vec![0xeeu8; 16], &entry, &leaf_hash],
        )
        .await
        .unwrap();
        for (level, index, hash) in &nodes {
            tx.execute(
                "INSERT INTO biv_audit_nodes (log_id, level, idx, hash) VALUES ($1, $2, $3, $4)",
                &[&id, level, index, hash],
            )
            .await
            .unwrap();
        }
        let (forged_border, forged_root) = if nodes.iter().any(|(_, _, h)| *h == bogus) {
            ([n30.clone(), bogus.clone()].concat(), node(&n30, &bogus))
        } else {
            (honest_border.clone(), honest_root.clone())
        };
        let err = tx
            .execute(
                "UPDATE biv_audit_state SET size = $2, root = $3, border = $4 WHERE log_id = $1",
                &[&id, &size, &forged_root, &forged_border],
            )
            .await
            .expect_err(what);
        assert!(format!("{err:?}").contains(why), "{what}: {err:?}");
        drop(tx);
    }
    // The same rows done honestly are an append the role may make: accepted.
    let tx = tx_client.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO biv_audit_entries (log_id, idx, event_id, entry, leaf_hash) VALUES ($1, 11, $2, $3, $4)",
        &[&id, &vec![0xeeu8; 16], &entry, &leaf],
    )
    .await
    .unwrap();
    tx.execute(
        "INSERT INTO biv_audit_nodes (log_id, level, idx, hash) VALUES ($1, 1, 5, $2), ($1, 2, 2, $3)",
        &[&id, &n15, &n22],
    )
    .await
    .unwrap();
    tx.execute(
        "UPDATE biv_audit_state SET size = 12, root = $2, border = $3 WHERE log_id = $1",
        &[&id, &honest_root, &honest_border],
    )
    .await
    .expect("an honest append by hand is accepted");
    tx.rollback().await.unwrap();
    // Nothing changed; the log goes on and verifies.
    let (size_after, root_after, _) = state_row(&tx_client, &id).await;
    assert_eq!((size_after, &root_after), (11, &root));
    assert_eq!(writer.append(&event(11, 11)).await.unwrap().index(), 11);
    assert_eq!(writer.verify_full().await.unwrap(), 12);
    writer.close().await;
    drop(tx_client);
    admin
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .await
        .unwrap();
}
