//! Six-eyes review of code and configuration changes, decided from real GitHub data.
//!
//! | module | what it holds |
//! |---|---|
//! | [`github`] | builds a [`biv_core::Change`] from raw GitHub REST payloads, with their digests |
//! | [`six_eyes`] | the [`SixEyes`] reviewer: two approvals on the head from non-contributors |
//! | [`settings`] | findings on a repository's branch protection and rulesets |
//! | [`record`] | the audit event of a verdict, recorded through an `AuditSink` |
//!
//! The library makes no network calls: a host or CI job fetches the payloads and passes the
//! bytes. The verdict is a pure function of them.

pub mod github;
pub(crate) mod glob;
mod policy;
pub mod record;
pub mod settings;
pub mod six_eyes;

pub use policy::{CodeOwnerRule, SixEyesPolicy};
pub use record::{
    RecordVerdictError, VerdictRecord, record_verdict, verdict_digest, verdict_event,
};
pub use six_eyes::SixEyes;
