//! What the `biv audit` test files share: running the real binary with input on its stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `command` with `stdin` on its standard input and waits for it. A command that refuses
/// its arguments may exit before it reads: a broken pipe while writing is not the test's
/// concern, the exit status and the output are.
pub(crate) fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    let mut input = child.stdin.take().expect("stdin");
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("the command finishes")
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
