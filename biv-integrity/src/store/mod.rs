//! Audit stores: where the Merkle log's entries and tree live.

mod border;
mod file;
mod hashing;
mod postgres;

pub use file::{FileLog, FileLogOptions, OpenError, ReadError, VerifyError};
pub use postgres::{PgLog, PgLogError, PgLogOptions};
