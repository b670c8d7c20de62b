//! The errors of the review operations, one type per operation.

use std::path::PathBuf;

use biv_core::{AuditAppendError, AuditEventError, Timestamp};

/// Why a [`ReviewWindow`](super::ReviewWindow) could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowError {
    /// The end is not after the start.
    #[error("review window is reversed or empty: end {end} is not after start {start}")]
    Reversed {
        /// The requested start.
        start: Timestamp,
        /// The requested end.
        end: Timestamp,
    },
    /// The window or its baseline (seven periods of the window's length before it) falls outside
    /// the years 0001–9999.
    #[error("review window or its baseline falls outside the years 0001 to 9999")]
    OutOfRange,
}

/// Why [`WorkingHours`](super::WorkingHours) could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkingHoursError {
    /// The start is not before the end, or the end lies after midnight (24:00).
    #[error(
        "working hours must start before they end, within one day: {start_minute} to {end_minute} minutes after midnight"
    )]
    Span {
        /// Minutes after local midnight at which working hours start.
        start_minute: u16,
        /// Minutes after local midnight at which working hours end.
        end_minute: u16,
    },
    /// A fixed UTC offset of 24 hours or more.
    #[error("UTC offset of {0} minutes is not within ±24 hours")]
    Offset(i16),
}

/// Why a digest could not be built. Lines that are not ECS JSON never cause an error: they are
/// counted as unparseable in the digest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// A log, audit or counter file (or directory) could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file or directory (or the name given to a reader).
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// Why a digest could not be written as JSON (or its hash computed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// serde_json refused the digest.
    #[error("digest could not be encoded as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Why a digest could not be read back from its JSON form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text is not a digest's JSON form.
    #[error("not a log review digest: {0}")]
    Json(#[from] serde_json::Error),
    /// The digest declares a format this version does not know.
    #[error("unsupported digest format {found:?} (expected {expected:?})")]
    Format {
        /// The format found.
        found: String,
        /// The format this version writes.
        expected: &'static str,
    },
}

/// Why a sign-off was refused or not recorded. Nothing was recorded unless the variant says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignOffError {
    /// The hash the reviewer quoted is not 64 hexadecimal digits.
    #[error("the quoted digest hash is not 64 hexadecimal digits")]
    MalformedHash,
    /// The digest's SHA-256 is not the one the reviewer quoted: they reviewed something else.
    #[error("the digest's SHA-256 is {actual}, not the {expected} the reviewer signed")]
    DigestMismatch {
        /// The hash the reviewer quoted (lower case).
        expected: String,
        /// The digest's actual hash.
        actual: String,
    },
    /// The reviewer id is empty or white space.
    #[error("the reviewer id must not be empty")]
    EmptyReviewer,
    /// The sign-off is dated before the end of the window it reviews.
    #[error("a sign-off at {signed_at} cannot review a window that ends at {window_end}")]
    BeforeWindowEnd {
        /// When the reviewer signed.
        signed_at: Timestamp,
        /// The end of the digest's window.
        window_end: Timestamp,
    },
    /// The digest's hash could not be computed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The sign-off does not make a valid audit event (e.g. a malformed role code).
    #[error("sign-off is not a valid audit event: {0}")]
    Event(#[from] AuditEventError),
    /// The audit sink did not record the event; the sign-off did not happen.
    #[error("sign-off was not recorded: {0}")]
    Append(#[from] AuditAppendError),
}
