//! Audit stores: where the Merkle log's entries and tree live.

mod file;

pub use file::{FileLog, FileLogOptions, OpenError, ReadError};
