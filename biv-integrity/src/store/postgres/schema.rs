//! The PostgreSQL schema of the audit log, and its installation.
//!
//! ```text
//! biv_audit_state   (log_id PK, size, root, border)            one row per log; size only grows
//! biv_audit_entries (log_id, idx) PK, event_id UNIQUE per log,  the entries, append-only
//!                   entry, leaf_hash
//! biv_audit_nodes   (log_id, level, idx) PK, hash                perfect-subtree hashes, level ≥ 1
//! biv_audit_checkpoints (log_id, size) PK, note                  every signed checkpoint
//! ```
//! Triggers refuse UPDATE, DELETE and TRUNCATE on entries and nodes, DELETE and TRUNCATE on
//! the state, and any UPDATE of the state that does not extend the tree it held by exactly the
//! stored entries: the trigger replays the new entries onto the old compact range (border) as
//! RFC 6962 leaves — each leaf hash must be SHA-256(0x00 ‖ entry), the indices dense up to the
//! new size — requires every perfect subtree completed on the way to be stored with that hash,
//! and the new border and root to be what the replay gives. So the writer role, which gets
//! INSERT and SELECT plus UPDATE of the state row, can append entries but cannot move the state
//! to a tree that is not the Merkle tree of the entries. (It can still insert rows the state does
//! not cover yet; the next honest batch then fails on them, which stops the log rather than
//! forging it.) A superuser can still disable triggers: the Merkle tree and the signed
//! checkpoints published outside the database are what catch that.

use tokio_postgres::Client;

/// The DDL, idempotent.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS biv_audit_state (
    log_id  text PRIMARY KEY,
    size    bigint NOT NULL CHECK (size >= 0),
    root    bytea  NOT NULL CHECK (length(root) = 32),
    border  bytea  NOT NULL
);
CREATE TABLE IF NOT EXISTS biv_audit_entries (
    log_id    text   NOT NULL REFERENCES biv_audit_state (log_id),
    idx       bigint NOT NULL CHECK (idx >= 0),
    event_id  bytea  NOT NULL CHECK (length(event_id) = 16),
    entry     bytea  NOT NULL CHECK (length(entry) <= 65535),
    leaf_hash bytea  NOT NULL CHECK (length(leaf_hash) = 32),
    PRIMARY KEY (log_id, idx),
    UNIQUE (log_id, event_id)
);
CREATE TABLE IF NOT EXISTS biv_audit_nodes (
    log_id text   NOT NULL REFERENCES biv_audit_state (log_id),
    level  int    NOT NULL CHECK (level >= 1),
    idx    bigint NOT NULL CHECK (idx >= 0),
    hash   bytea  NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (log_id, level, idx)
);
CREATE TABLE IF NOT EXISTS biv_audit_checkpoints (
    log_id text   NOT NULL REFERENCES biv_audit_state (log_id),
    size   bigint NOT NULL CHECK (size >= 0),
    note   bytea  NOT NULL,
    PRIMARY KEY (log_id, size)
);
CREATE OR REPLACE FUNCTION biv_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'biv audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE FUNCTION biv_audit_state_grows() RETURNS trigger LANGUAGE plpgsql
-- Planned per call: a cached generic plan for `idx >= $2` could scan a whole log.
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    n        bigint  := NEW.size;
    s        bigint  := OLD.size;
    border   bytea[] := '{}';
    h        bytea;
    k        int;
    e        record;
    levels   int[]    := '{}';
    indices  bigint[] := '{}';
    hashes   bytea[]  := '{}';
    matched  bigint;
    packed   bytea := ''::bytea;
BEGIN
    IF NEW.log_id <> OLD.log_id OR NEW.size < OLD.size THEN
        RAISE EXCEPTION 'biv audit log state may only grow: % -> % refused', OLD.size, NEW.size
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.size = OLD.size THEN
        IF NEW.root <> OLD.root OR NEW.border <> OLD.border THEN
            RAISE EXCEPTION 'biv audit log state of size % may not change', OLD.size
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    -- The old compact range (checked by this trigger when it was written).
    FOR i IN 0 .. length(OLD.border) / 32 - 1 LOOP
        border := array_append(border, substring(OLD.border FROM i * 32 + 1 FOR 32));
    END LOOP;
    -- Append the new entries as RFC 6962 leaves: each leaf hash must be SHA-256(0x00 || entry),
    -- the indices dense from the old size to the new one, and every perfect subtree completed
    -- on the way is remembered to be matched against the stored nodes.
    FOR e IN SELECT idx, entry, leaf_hash FROM biv_audit_entries
             WHERE log_id = NEW.log_id AND idx >= OLD.size ORDER BY idx LOOP
        IF e.idx <> s OR e.idx >= n THEN
            RAISE EXCEPTION 'biv audit log state size % does not match the stored entries (entry % where % was expected)', n, e.idx, s
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF e.leaf_hash <> sha256('\x00'::bytea || e.entry) THEN
            RAISE EXCEPTION 'biv audit log entry % does not match its leaf hash', e.idx
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        h := e.leaf_hash;
        k := 0;
        WHILE (s >> k) & 1 = 1 LOOP
            h := sha256('\x01'::bytea || border[array_length(border, 1)] || h);
            border := border[1 : array_length(border, 1) - 1];
            k := k + 1;
            levels := array_append(levels, k);
            indices := array_append(indices, s >> k);
            hashes := array_append(hashes, h);
        END LOOP;
        border := array_append(border, h);
        s := s + 1;
    END LOOP;
    IF s <> n THEN
        RAISE EXCEPTION 'biv audit log state size % does not match the stored entries (they end at %)', n, s
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF cardinality(levels) > 0 THEN
        -- One key lookup per new node (LATERAL): a join could read every node of the log.
        SELECT count(*) INTO matched
            FROM unnest(levels, indices, hashes) AS made(level, idx, hash)
            CROSS JOIN LATERAL (
                SELECT 1 FROM biv_audit_nodes AS stored
                 WHERE stored.log_id = NEW.log_id AND stored.level = made.level
                   AND stored.idx = made.idx AND stored.hash = made.hash
                 LIMIT 1) AS found;
        IF matched <> cardinality(levels) THEN
            RAISE EXCEPTION 'biv audit log nodes do not match the tree of the stored entries at size %', n
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    FOR i IN 1 .. cardinality(border) LOOP
        packed := packed || border[i];
    END LOOP;
    IF NEW.border <> packed THEN
        RAISE EXCEPTION 'biv audit log state border does not match the tree of the stored entries at size %', n
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    h := border[cardinality(border)];
    FOR i IN REVERSE cardinality(border) - 1 .. 1 LOOP
        h := sha256('\x01'::bytea || border[i] || h);
    END LOOP;
    IF h <> NEW.root THEN
        RAISE EXCEPTION 'biv audit log state root does not match the tree of the stored entries at size %', n
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'biv_audit_entries_append_only') THEN
        CREATE TRIGGER biv_audit_entries_append_only BEFORE UPDATE OR DELETE ON biv_audit_entries
            FOR EACH ROW EXECUTE FUNCTION biv_audit_refuse();
        CREATE TRIGGER biv_audit_entries_no_truncate BEFORE TRUNCATE ON biv_audit_entries
            FOR EACH STATEMENT EXECUTE FUNCTION biv_audit_refuse();
        CREATE TRIGGER biv_audit_nodes_append_only BEFORE UPDATE OR DELETE ON biv_audit_nodes
            FOR EACH ROW EXECUTE FUNCTION biv_audit_refuse();
        CREATE TRIGGER biv_audit_nodes_no_truncate BEFORE TRUNCATE ON biv_audit_nodes
            FOR EACH STATEMENT EXECUTE FUNCTION biv_audit_refuse();
        CREATE TRIGGER biv_audit_state_no_delete BEFORE DELETE ON biv_audit_state
            FOR EACH ROW EXECUTE FUNCTION biv_audit_refuse();
        CREATE TRIGGER biv_audit_state_no_truncate BEFORE TRUNCATE ON biv_audit_state
            FOR EACH STATEMENT EXECUTE FUNCTION biv_audit_refuse();
        CREATE TRIGGER biv_audit_state_only_grows BEFORE UPDATE ON biv_audit_state
            FOR EACH ROW EXECUTE FUNCTION biv_audit_state_grows();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'biv_audit_checkpoints_append_only') THEN
        CREATE TRIGGER biv_audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON biv_audit_checkpoints
            FOR EACH ROW EXECUTE FUNCTION biv_audit_refuse();
        CREATE TRIGGER biv_audit_checkpoints_no_truncate BEFORE TRUNCATE ON biv_audit_checkpoints
            FOR EACH STATEMENT EXECUTE FUNCTION biv_audit_refuse();
    END IF;
END $$;
"#;

/// Installs the schema (idempotent) and registers `log_id` if it is new. Run it as the tables'
/// owner; pass `writer_role` to grant an application role exactly what appending needs. When the
/// schema and the log exist already and no role is to be granted, it changes nothing, so an
/// append-only role can connect without any DDL rights.
pub(crate) async fn install(
    client: &Client,
    log_id: &str,
    empty_root: &[u8; 32],
    writer_role: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    if writer_role.is_none() {
        // The schema counts as installed only with the current state trigger; an older one is
        // replaced (which takes the tables' owner; a writer role then gets a permission error).
        let exists = client
            .query_one(
                "SELECT to_regclass('biv_audit_checkpoints') IS NOT NULL
                    AND EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'biv_audit_state_grows'
                                AND prosrc LIKE '%does not match its leaf hash%'
                                AND prosrc LIKE '%CROSS JOIN LATERAL%')",
                &[],
            )
            .await?
            .get::<_, bool>(0)
            && client
                .query_opt(
                    "SELECT 1 FROM biv_audit_state WHERE log_id = $1",
                    &[&log_id],
                )
                .await?
                .is_some();
        if exists {
            return Ok(());
        }
    }
    // Concurrent installers serialise on one advisory lock so CREATE … IF NOT EXISTS never races.
    client
        .batch_execute("SELECT pg_advisory_lock(7340512)")
        .await?;
    let result = async {
        client.batch_execute(SCHEMA).await?;
        client
            .execute(
                "INSERT INTO biv_audit_state (log_id, size, root, border) VALUES ($1, 0, $2, '') ON CONFLICT (log_id) DO NOTHING",
                &[&log_id, &empty_root.as_slice()],
            )
            .await?;
        if let Some(role) = writer_role {
            let role = quote_ident(role);
            client
                .batch_execute(&format!(
                    "GRANT SELECT, INSERT ON biv_audit_entries, biv_audit_nodes, biv_audit_checkpoints TO {role};
                     GRANT SELECT, UPDATE ON biv_audit_state TO {role};"
                ))
                .await?;
        }
        Ok(())
    }
    .await;
    client
        .batch_execute("SELECT pg_advisory_unlock(7340512)")
        .await?;
    result
}

/// Quotes an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
