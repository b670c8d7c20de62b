//! `cargo xtask`: project automation for biv, written in Rust so it needs nothing but cargo.
//!
//! `cargo xtask test` is the README's test command: it installs the Debian packages the tests
//! need, starts PostgreSQL, rsyslog, Alertmanager (with a webhook receiver), Prometheus, a
//! SoftHSM2 token and checks PHP with FFI, all on 127.0.0.1 under one temp dir; runs
//! `cargo test --workspace --all-features --no-fail-fast -- --include-ignored`; stops every server; and ends
//! with the line `N passed, M failed`. See `docs/testing.md`.

mod cargo_test;
mod cli;
mod error;
mod http;
mod interrupt;
mod packages;
mod process;
mod servers;
mod tempdir;
mod test_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = match cli::parse(&args) {
        Ok(task) => task,
        Err(err) => {
            eprintln!("xtask: {err}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match task {
        cli::Task::Help => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        cli::Task::Test(options) => {
            match interrupt::install().and_then(|()| test_cmd::run(&options)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(err) => {
                    eprintln!("xtask: error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
