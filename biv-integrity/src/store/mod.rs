//! Audit stores: where the Merkle log's entries and tree live.

mod checkpoint_key;
mod file;
mod postgres;
mod witness;

pub use checkpoint_key::{
    CheckpointAnchor, CheckpointKey, CheckpointSignError, ConsistencyProver, DirectoryAnchor,
};
pub use file::{
    DirVerifyError, FileLog, FileLogOptions, FileLogReader, OpenError, ProveError, ReadError,
    Recovery, VerifyError, VerifyReport, verify_dir,
};
pub use postgres::{PgLog, PgLogError, PgLogOptions};
pub use witness::{WitnessAnchor, WitnessError};
