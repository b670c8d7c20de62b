//! Running `cargo test` while streaming its output, and adding up libtest's result lines.
//!
//! Every test binary (unit, integration and doctests) ends with a line such as
//! `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 3 filtered out; finished in 0.02s`;
//! the totals are the sums of those lines.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Context, Result};
use crate::servers::EnvVar;

/// The sums over all `test result:` lines of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Tests that passed.
    pub(crate) passed: u64,
    /// Tests that failed.
    pub(crate) failed: u64,
    /// Tests that were ignored (not run).
    pub(crate) ignored: u64,
    /// Benchmarks run in test mode.
    pub(crate) measured: u64,
    /// Tests left out by a name filter.
    pub(crate) filtered_out: u64,
    /// Number of `test result:` lines, i.e. test binaries and doctest runs.
    pub(crate) suites: u64,
    /// Suites whose result was `FAILED`.
    pub(crate) failed_suites: u64,
}

impl Totals {
    /// Adds one parsed result line.
    fn add(&mut self, other: Self) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.measured += other.measured;
        self.filtered_out += other.filtered_out;
        self.suites += other.suites;
        self.failed_suites += other.failed_suites;
    }

    /// The closing line: `N passed, M failed`, plus `, K skipped` when tests were ignored.
    pub(crate) fn closing_line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.failed);
        if self.ignored > 0 {
            line.push_str(&format!(", {} skipped", self.ignored));
        }
        line
    }
}

/// What one `cargo test` run produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Cargo's exit status (non-zero on a failing test, a crash or a build error).
    pub(crate) status: ExitStatus,
    /// The summed result lines.
    pub(crate) totals: Totals,
}

/// Runs `cargo test --workspace --all-features --no-fail-fast [-- [--include-ignored] FILTER…]`
/// in `root` (every optional feature, e.g. biv-availability's `otel`, is tested),
/// with `env` added to the environment, echoing its stdout line by line while parsing it.
pub(crate) fn run(
    root: &Path,
    include_ignored: bool,
    filter: &[String],
    env: &[EnvVar],
) -> Result<Outcome> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["test", "--workspace", "--all-features", "--no-fail-fast"]);
    let mut test_args: Vec<&str> = Vec::new();
    if include_ignored {
        test_args.push("--include-ignored");
    }
    if std::io::stdout().is_terminal() {
        // Our stdout is a terminal but the test binaries write into a pipe: keep the colours.
        test_args.push("--color=always");
    }
    test_args.extend(filter.iter().map(String::as_str));
    if !test_args.is_empty() {
        cmd.arg("--").args(&test_args);
    }
    cmd.envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group: on Ctrl-C the harness interrupts cargo *and* the test binary
        // it runs (cargo does not pass signals on), then still stops the servers.
        .process_group(0);
    println!("xtask: $ {}", crate::process::describe(&cmd));

    let mut child = cmd.spawn().context("could not start `cargo test`")?;
    let watcher = InterruptForwarder::start(child.id());
    let stdout = child
        .stdout
        .take()
        .context("cargo test has no stdout pipe")?;
    let mut totals = Totals::default();
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let mut out = std::io::stdout();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        out.write_all(&line)?;
        out.flush()?;
        if let Some(result) = parse_result_line(&String::from_utf8_lossy(&line)) {
            totals.add(result);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    watcher.finish();
    Ok(Outcome { status, totals })
}

/// A thread that sends SIGINT to a process group once the harness is interrupted.
#[derive(Debug)]
struct InterruptForwarder {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl InterruptForwarder {
    fn start(pgid: u32) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("interrupt-forwarder".into())
            .spawn({
                let done = Arc::clone(&done);
                move || {
                    while !done.load(Ordering::SeqCst) {
                        if crate::interrupt::interrupted() {
                            eprintln!("xtask: interrupted: stopping cargo test");
                            let _ = crate::process::signal_group(pgid, "INT");
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
            .ok();
        Self { done, thread }
    }

    fn finish(mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Parses one libtest `test result:` line (ANSI colours allowed); `None` for any other line.
pub(crate) fn parse_result_line(line: &str) -> Option<Totals> {
    let plain = strip_ansi(line);
    let rest = plain.trim().strip_prefix("test result: ")?;
    let (verdict, counts) = rest.split_once(". ")?;
    let mut totals = Totals {
        suites: 1,
        failed_suites: u64::from(verdict == "FAILED"),
        ..Totals::default()
    };
    if verdict != "ok" && verdict != "FAILED" {
        return None;
    }
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(number), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match label {
            "passed" => totals.passed = number,
            "failed" => totals.failed = number,
            "ignored" => totals.ignored = number,
            "measured" => totals.measured = number,
            "filtered" => totals.filtered_out = number,
            _ => {}
        }
    }
    Some(totals)
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_ok_line() {
        let totals = parse_result_line(
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 3 filtered out; \
             finished in 0.02s\n",
        )
        .unwrap();
        assert_eq!(
            totals,
            Totals {
                passed: 12,
                ignored: 1,
                filtered_out: 3,
                suites: 1,
                ..Totals::default()
            }
        );
    }

    #[test]
    fn parses_a_failed_line() {
        let totals = parse_result_line(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; \
             finished in 1.50s",
        )
        .unwrap();
        assert_eq!((totals.passed, totals.failed), (3, 2));
        assert_eq!(totals.failed_suites, 1);
    }

    #[test]
    fn parses_a_coloured_line() {
        let line = "test result: \u{1b}[32mok\u{1b}[0m. 4 passed; 0 failed; 0 ignored; \
                    0 measured; 0 filtered out; finished in 0.00s";
        assert_eq!(parse_result_line(line).unwrap().passed, 4);
    }

    #[test]
    fn parses_a_doctest_line_with_merged_time() {
        let line = "test result: ok. 7 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; \
                    all doctests ran in 0.61s; merged doctests compilation took 0.55s";
        let totals = parse_result_line(line).unwrap();
        assert_eq!((totals.passed, totals.ignored), (7, 2));
    }

    #[test]
    fn ignores_other_lines() {
        for line in [
            "",
            "running 3 tests",
            "test tests::parses_an_ok_line ... ok",
            "test result: maybe. 1 passed",
            "   Doc-tests biv_core",
        ] {
            assert_eq!(parse_result_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn sums_and_closing_line() {
        let mut totals = Totals::default();
        for line in [
            "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ] {
            totals.add(parse_result_line(line).unwrap());
        }
        assert_eq!(totals.suites, 2);
        assert_eq!(totals.closing_line(), "3 passed, 1 failed");
        totals.ignored = 4;
        assert_eq!(totals.closing_line(), "3 passed, 1 failed, 4 skipped");
    }
}
