//! The DTAP (OTAP) promotion gate: an artifact moves unchanged through a chain of stages, each
//! step decided from test evidence, six-eyes verdicts and the product owner's approval.
//!
//! | module | what it holds |
//! |---|---|
//! | `model` | [`Artifact`] (digest + commit), [`StageSpec`] and the chain, [`GatePolicy`] |
//! | `junit` | [`parse_junit`]: JUnit XML from PHPUnit, Dusk and jest-junit, bound to an artifact as [`TestEvidence`] |
//! | `otr` | [`parse_otr`]: PHPUnit's Open Test Reporting XML, which names the commit it tested |
//! | `gate` | [`GateState`], [`PromotionRequest`] and the pure [`decide`] |
//! | `state` | the state as a JSON file, replaced atomically, and its writer's lock |
//! | `pg_state` | the state in PostgreSQL as an option: [`PgGateStateStore`], row-locked promotions |
//! | `record` | the audit event of a decision, recorded through an `AuditSink` |
//!
//! Formats: `docs/formats/release-gate.md`.

mod gate;
mod junit;
mod model;
mod otr;
mod pg_state;
mod record;
mod state;

pub use gate::{
    GateCheck, GateReason, GateState, PromotionDecision, PromotionKind, PromotionRequest,
    StageEntry, VerdictEvidence, decide,
};
pub use junit::{JunitError, JunitReport, SuiteCounts, TestCounts, TestEvidence, parse_junit};
pub use model::{Artifact, GatePolicy, ModelError, StageSpec};
pub use otr::parse_otr;
pub use pg_state::{
    GatePromotion, GateUpdate, PgGateStateError, PgGateStateStore, StoredGateState,
};
pub use record::{
    DecisionRecord, GATE_PROTOCOL, PROMOTE_ACTION, ROLLBACK_ACTION, RecordDecisionError,
    decision_event, record_decision,
};
pub use state::{StateFileError, StateLock, load_state, lock_state, save_state};
