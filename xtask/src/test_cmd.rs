//! `cargo xtask test`: packages → temp dir → servers → `cargo test` → stop → report.
//!
//! Guards own every server and the temp dir, so an error at any step (or a panic) still stops
//! what was started; the report is printed only after everything is stopped, so that its
//! last line is the closing `N passed, M failed` line.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cargo_test::{self, Totals};
use crate::cli::TestOptions;
use crate::error::{Context, Error, Result};
use crate::packages;
use crate::servers::{EnvVar, Servers, Summary};
use crate::tempdir::TempDir;

/// The workspace root: the parent of this package's directory.
fn workspace_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("xtask's manifest directory has no parent")
}

/// How long each phase took.
#[derive(Debug, Default)]
struct Timings {
    install: Duration,
    start: Duration,
    tests: Duration,
    stop: Duration,
}

/// Runs the test command; `Ok(true)` when every test passed and at least one ran.
pub(crate) fn run(options: &TestOptions) -> Result<bool> {
    let root = workspace_root()?;
    if options.no_servers {
        return run_without_servers(&root, options);
    }
    let mut timings = Timings::default();

    let began = Instant::now();
    let installed = packages::ensure_installed()?;
    timings.install = began.elapsed();
    if installed.is_empty() {
        println!("xtask: all required Debian packages are installed");
    } else {
        println!(
            "xtask: installed {} in {:.1} s",
            installed.join(" "),
            timings.install.as_secs_f64()
        );
    }

    crate::interrupt::check()?;
    let temp = TempDir::create(options.keep)?;
    let began = Instant::now();
    let servers = Servers::start(temp.path()).map_err(|err| {
        if options.keep {
            err
        } else {
            Error::msg(format!(
                "{err}\n(the temp dir is removed on exit; `cargo xtask test --keep` keeps the \
                 servers' configs and logs)"
            ))
        }
    })?;
    timings.start = began.elapsed();
    let summaries = servers.summaries();
    println!("xtask: servers up in {:.1} s:", timings.start.as_secs_f64());
    print_servers(&summaries);

    let tests_dir = temp.path().join("tests");
    std::fs::create_dir_all(&tests_dir)
        .with_context(|| format!("creating {}", tests_dir.display()))?;
    let mut env = servers.env();
    env.push(("BIV_TEST_TMPDIR", tests_dir.display().to_string()));
    env.push(("BIV_TEST_SERVERS", "1".to_owned()));
    print_env(&env);

    let began = Instant::now();
    let outcome = cargo_test::run(&root, true, &options.test_args, &env);
    timings.tests = began.elapsed();

    let began = Instant::now();
    let mut problems = servers.stop();
    if let Err(err) = temp.finish() {
        problems.push(err.to_string());
    }
    timings.stop = began.elapsed();
    let outcome = outcome?;

    println!();
    println!("== cargo xtask test: what ran ==");
    println!("servers (127.0.0.1 only; all stopped):");
    print_servers(&summaries);
    println!(
        "time: install {:.1} s, start {:.1} s, tests {:.1} s, stop {:.1} s",
        timings.install.as_secs_f64(),
        timings.start.as_secs_f64(),
        timings.tests.as_secs_f64(),
        timings.stop.as_secs_f64()
    );
    Ok(report(&outcome, &problems))
}

/// `--no-servers`: plain `cargo test --workspace`, with a warning that cannot be missed.
fn run_without_servers(root: &Path, options: &TestOptions) -> Result<bool> {
    const WARNING: &str = "xtask: WARNING: --no-servers: no test servers were started; \
                           server-backed tests were NOT run (they count as skipped)";
    println!("{WARNING}");
    let outcome = cargo_test::run(root, false, &options.test_args, &[])?;
    println!();
    println!("== cargo xtask test --no-servers: what ran ==");
    println!("{WARNING}");
    Ok(report(&outcome, &[]))
}

/// Prints the totals and the verdict, ending with the closing line; returns success.
fn report(outcome: &cargo_test::Outcome, problems: &[String]) -> bool {
    let Totals {
        passed,
        failed,
        ignored,
        filtered_out,
        suites,
        failed_suites,
        ..
    } = outcome.totals;
    println!(
        "tests: {suites} suites ({failed_suites} failed) with {passed} passed, {failed} failed, \
         {ignored} ignored, {filtered_out} filtered out"
    );
    let mut ok = true;
    if crate::interrupt::interrupted() {
        println!("xtask: FAILED: interrupted");
        ok = false;
    }
    for problem in problems {
        println!("xtask: FAILED step: {problem}");
        ok = false;
    }
    if failed > 0 {
        ok = false;
    }
    if passed + failed == 0 {
        println!("xtask: FAILED: no test ran");
        ok = false;
    }
    if !outcome.status.success() && failed == 0 && !crate::interrupt::interrupted() {
        println!(
            "xtask: FAILED: cargo test exited with {} although no test failed \
             (a build error or a crashed test binary: see above)",
            outcome.status
        );
        ok = false;
    }
    println!("{}", outcome.totals.closing_line());
    ok
}

/// Prints one line per server.
fn print_servers(summaries: &[Summary]) {
    for Summary {
        name,
        version,
        address,
    } in summaries
    {
        println!("  {name:<13} {version}");
        println!("  {:<13} {address}", "");
    }
}

/// Prints the environment handed to the tests (PIN values included: they are test values).
fn print_env(env: &[EnvVar]) {
    println!("xtask: test environment:");
    for (name, value) in env {
        println!("  {name}={value}");
    }
}
