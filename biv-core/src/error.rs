//! The escape hatch for errors that come from an implementation's backend.

use std::error::Error as StdError;
use std::fmt;

/// An error from the storage, network or device behind a plug-in (a database, an HSM, a socket).
///
/// Operation errors such as [`AuditAppendError`](crate::AuditAppendError) carry one of these as
/// their source when the cause lies outside biv, so the host can log it or downcast it
/// (like sqlx's `BoxDynError` or rustls's `OtherError`). Its `Display` is the inner error's;
/// implementations must not put secrets in it.
///
/// # Example
/// ```
/// use biv_core::BackendError;
///
/// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "fsync took too long");
/// let err = BackendError::new(io);
/// assert_eq!(err.to_string(), "fsync took too long");
/// assert!(err.downcast_ref::<std::io::Error>().is_some());
/// ```
pub struct BackendError(Box<dyn StdError + Send + Sync + 'static>);

impl BackendError {
    /// Wraps any error.
    pub fn new(err: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        BackendError(err.into())
    }

    /// A backend error that is only a message.
    pub fn msg(message: impl Into<String>) -> Self {
        BackendError(message.into().into())
    }

    /// The wrapped error, if it is a `T`.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }

    /// Gives back the boxed inner error.
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.0
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BackendError").field(&self.0).finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// A name that biv validates before it reaches a store, a log or a wire format.
///
/// Names (action names, label names, context field names, key ids) are ASCII and short so that
/// every format biv writes can carry them unescaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {rule}")]
pub struct InvalidName {
    /// Which kind of name it was ("action name", "label name", …).
    pub what: &'static str,
    /// The rejected value, cut to 64 characters.
    pub value: String,
    /// The rule it broke.
    pub rule: &'static str,
}

impl InvalidName {
    pub(crate) fn new(what: &'static str, value: &str, rule: &'static str) -> Self {
        InvalidName {
            what,
            value: value.chars().take(64).collect(),
            rule,
        }
    }
}

/// Checks `value` against `[first][rest]{0,max-1}` where `first`/`rest` are predicates.
pub(crate) fn check_name(
    what: &'static str,
    value: &str,
    max: usize,
    first: fn(u8) -> bool,
    rest: fn(u8) -> bool,
    rule: &'static str,
) -> Result<(), InvalidName> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= max
        && first(bytes[0])
        && bytes[1..].iter().all(|&b| rest(b));
    if ok {
        Ok(())
    } else {
        Err(InvalidName::new(what, value, rule))
    }
}
