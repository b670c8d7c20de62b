//! The transparency-log layer: RFC 6962 / RFC 9162 Merkle trees and the C2SP text formats that
//! carry their signed heads and proofs. Pure functions and types — no I/O, no clock, no
//! randomness — so the audit stores, the CLI, the C ABI and fuzzers share one implementation.
//!
//! | concern | items | specification |
//! |---|---|---|
//! | hashing | [`Hash`](struct@Hash), [`leaf_hash`], [`node_hash`], [`empty_root`] | RFC 6962 §2.1 |
//! | appending | [`CompactRange`] (right border, persistable), [`NodeId`] | transparency-dev/merkle `compact` |
//! | proofs | [`NodeSource`], [`inclusion_proof`], [`consistency_proof`], [`ProofPlan`], [`MemoryTree`] | RFC 6962 §2.1.1–2.1.2 |
//! | verification | [`verify_inclusion`], [`verify_consistency`] (+ `_bytes` forms) | RFC 9162 §2.1.3.2, §2.1.4.2 |
//! | signed notes | [`Note`], [`Ed25519Signer`], [`Ed25519Verifier`], [`VerifierKey`] | c2sp.org/signed-note |
//! | checkpoints | [`Checkpoint`], [`SignedCheckpoint`] | c2sp.org/tlog-checkpoint |
//! | witnesses | [`CosignatureSigner`], [`CosignatureVerifier`], [`verify_cosignatures`] | c2sp.org/tlog-cosignature (v1, Ed25519) |
//! | offline proofs | [`ProofBundle`] | c2sp.org/tlog-proof |
//!
//! Every parser returns a typed error that says where the input is wrong, and never panics on
//! any input (property-tested). biv's use of the formats — origin names, when checkpoints are
//! signed — is specified in `docs/formats/checkpoint.md` and `docs/formats/tlog-proof.md`.
//!
//! ```
//! use biv_integrity::tlog::{Checkpoint, Ed25519Signer, MemoryTree, ProofBundle};
//!
//! // A log appends entries, then signs a checkpoint for the batch (never per entry).
//! let origin = "biv.zorg-noord/ehr/audit";
//! let log_key = Ed25519Signer::from_seed(origin, &[42; 32])?;
//! let mut tree = MemoryTree::new();
//! for entry in [&b"event 0"[..], b"event 1", b"event 2"] {
//!     tree.push_entry(entry)?;
//! }
//! let checkpoint = Checkpoint::new(origin, tree.size(), tree.root())?.sign(&[&log_key])?;
//!
//! // An auditor checks an offline proof with nothing but the log's verifier key.
//! let proof = ProofBundle::new(1, tree.inclusion_proof(1, tree.size())?, checkpoint);
//! let auditor_key = biv_integrity::tlog::Ed25519Verifier::from_vkey(&log_key.verifier().to_vkey())?;
//! ProofBundle::parse(&proof.to_bytes())?.verify_entry(origin, &[&auditor_key], b"event 1")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
mod compact;
mod cosignature;
mod encoding;
mod hash;
mod keys;
mod memory;
mod node;
mod note;
mod proof;
mod proof_bundle;
mod verify;

pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointOpenError, CheckpointParseError, SignedCheckpoint,
};
pub use compact::{CompactRange, CompactRangeError};
pub use cosignature::{
    CosignatureError, CosignatureSigner, CosignatureVerifier, MAX_COSIGNATURE_TIMESTAMP,
    TimestampedCosigner, VerifiedCosignature, cosignature_message, cosignature_timestamp,
    verify_cosignatures,
};
pub use hash::{HASH_SIZE, Hash, HashParseError, empty_root, hash_children, leaf_hash, node_hash};
pub use keys::{
    Ed25519Signer, Ed25519Verifier, KeyParseError, NoteSigner, NoteVerifier,
    SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, SignError, VerifierKey, is_valid_key_name, key_id,
};
pub use memory::MemoryTree;
pub use node::NodeId;
pub use note::{
    MAX_SIGNATURES, Note, NoteOpenError, NoteParseError, NoteSignError, NoteSignature,
    NoteTextError, VerifiedNote,
};
pub use proof::{
    NodeSource, NodeSourceError, ProofError, ProofPlan, consistency_plan, consistency_proof,
    inclusion_plan, inclusion_proof, tree_root,
};
pub use proof_bundle::{
    MAX_PROOF_HASHES, ProofBundle, ProofBundleError, ProofBundleParseError, TLOG_PROOF_HEADER,
    VerifiedProof,
};
pub use verify::{
    ConsistencyError, HashRole, InclusionError, consistency_proof_len, inclusion_proof_len,
    root_from_inclusion_proof, verify_consistency, verify_consistency_bytes, verify_inclusion,
    verify_inclusion_bytes,
};
