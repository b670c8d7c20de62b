//! A small error type with context, so every failure says what the harness was doing.
//!
//! The harness is std-only; this replaces `anyhow` with the two things it needs: a message
//! chain (`context: cause`) and the `?` operator on I/O results.

use std::fmt;

/// An error message with the chain of contexts that led to it, outermost first.
#[derive(Debug)]
pub(crate) struct Error {
    message: String,
}

/// The harness's result type.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with a plain message.
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::msg(err.to_string())
    }
}

/// Adds context to the error of a `Result` or to a `None`.
pub(crate) trait Context<T> {
    /// Prefixes the error with `context`.
    fn context(self, context: impl fmt::Display) -> Result<T>;
    /// Prefixes the error with the context `f` computes (only on failure).
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|err| Error::msg(format!("{context}: {err}")))
    }

    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|err| Error::msg(format!("{}: {err}", f())))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.ok_or_else(|| Error::msg(context.to_string()))
    }

    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::msg(f().to_string()))
    }
}

/// Returns early with an error built like `format!`.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::msg(format!($($arg)*)))
    };
}
pub(crate) use bail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_prefixes_the_cause() {
        let err = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing webhook.jsonl")
            .unwrap_err();
        assert_eq!(err.to_string(), "writing webhook.jsonl: disk full");
    }

    #[test]
    fn option_context_becomes_the_message() {
        let err = None::<u8>.with_context(|| "no php on PATH").unwrap_err();
        assert_eq!(err.to_string(), "no php on PATH");
    }
}
