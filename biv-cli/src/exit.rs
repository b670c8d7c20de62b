//! The exit statuses of `biv`, documented in the crate docs.

use std::process::ExitCode;

/// How a `biv` invocation ends; converts into the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Status 0: the command succeeded (also `--help` and `--version`).
    Ok,
    /// Status 1: a check or verification ran and found a problem.
    CheckFailed,
    /// Status 2: the command line was not understood, or the command group is not available yet.
    Usage,
}

impl Exit {
    /// The numeric process exit status.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::CheckFailed => 1,
            Self::Usage => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn statuses_are_the_documented_numbers() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::CheckFailed.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
    }
}
