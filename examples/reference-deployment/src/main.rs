//! `biv-reference`: the reference deployment of biv (see the library docs of `biv_reference`).
//!
//! Reads the configuration, starts a multi-threaded Tokio runtime and serves until SIGINT or
//! SIGTERM. Exit status: 0 after a clean shutdown, 1 when the service cannot listen or serve, 2
//! for a usage error.

use std::process::ExitCode;

use biv_reference::config::Config;
use biv_reference::server;
use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit with status 2 inside `parse`; `--help` and `--version` with 0.
    let config = Config::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!(
                "{}: cannot start the Tokio runtime: {err}",
                env!("CARGO_PKG_NAME")
            );
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: {err}", env!("CARGO_PKG_NAME"));
            ExitCode::FAILURE
        }
    }
}
