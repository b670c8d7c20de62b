//! `biv-reference`: the reference deployment of biv (see the library docs of `biv_reference`).
//!
//! Reads the configuration, starts a multi-threaded Tokio runtime and serves until SIGINT or
//! SIGTERM. Exit status: 0 after a clean shutdown, 1 when the service cannot listen or serve, 2
//! for a usage error, a refused `--health-config` file or `--alertmanager` URL.

use std::process::ExitCode;
use std::sync::Arc;

use biv_availability::metrics::Registry;
use biv_reference::config::Config;
use biv_reference::server;
use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit with status 2 inside `parse`; `--help` and `--version` with 0.
    let config = Config::parse();
    // Standard output carries ECS JSON lines from the first line on, redacted of personal data
    // (Filebeat or rsyslog ship them); human-readable notes go to standard error.
    let log_sink = match biv_reference::logging::install() {
        Ok(sink) => sink,
        Err(err) => {
            eprintln!("{}: cannot set up logging: {err}", env!("CARGO_PKG_NAME"));
            return ExitCode::FAILURE;
        }
    };
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
    // /metrics reports the log records that could not be written, so loss is alertable.
    let metrics = Arc::new(Registry::new());
    for collector in log_sink.collectors() {
        metrics.register_collector(collector);
    }
    match runtime.block_on(server::run_with_metrics(&config, metrics)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: {err}", env!("CARGO_PKG_NAME"));
            if matches!(
                err,
                server::ServeError::HealthConfig(_) | server::ServeError::Alertmanager(_)
            ) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
