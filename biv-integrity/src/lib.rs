//! # biv-integrity: the integrity pillar of biv
//!
//! A tamper-evident audit log that an outsider can check: every entry is a leaf of an RFC 6962
//! Merkle tree, the log signs checkpoints of the tree (c2sp.org/tlog-checkpoint) per batch or
//! interval, witnesses cosign them, and any entry can be shown to be in the log with an offline
//! proof (c2sp.org/tlog-proof).
//!
//! | module | what it holds |
//! |---|---|
//! | [`tlog`] | the pure transparency-log layer: hashes, compact ranges, proof generation and RFC 9162 verification, signed notes with Ed25519 keys, checkpoints, witness cosignatures and proof bundles — no I/O |
//! | [`audit`] | the canonical form of an audit entry |
//! | [`store`] | where entries and the tree live |
//! | [`report`] | the NEN 7513 patient access report |
//! | [`review`] | six-eyes review decided from raw GitHub payloads, and repository settings findings |
//! | [`release`] | the DTAP promotion gate: stage chains, JUnit test evidence, decisions, the state file |
//! | [`drift`] | configuration drift: manifests of a git commit (secrets as keyed hashes), comparison with a live directory, audit event, alert and health check |
//!
//! Byte formats are specified under `docs/formats/` (`checkpoint.md`, `tlog-proof.md`) and tested
//! against the upstream vectors of transparency-dev/merkle, golang.org/x/mod/sumdb/note and C2SP.

pub mod audit;
pub mod drift;
mod pg_triggers;
pub mod release;
pub mod report;
pub mod review;
pub mod store;
pub mod tlog;
