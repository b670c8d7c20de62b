//! Command-line and environment configuration of `biv-reference`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The address the service listens on when neither `--listen` nor `BIV_LISTEN` is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The environment variable that sets the listen address; `--listen` wins over it.
pub const LISTEN_ENV: &str = "BIV_LISTEN";

/// The environment variable that sets the data directory; `--data-dir` wins over it.
pub const DATA_DIR_ENV: &str = "BIV_DATA_DIR";

/// The environment variable that sets the drain grace; `--drain-grace-ms` wins over it.
pub const DRAIN_GRACE_ENV: &str = "BIV_DRAIN_GRACE_MS";

/// The data directory when neither `--data-dir` nor `BIV_DATA_DIR` is given:
/// `<temp dir>/biv-reference`.
pub fn default_data_dir() -> PathBuf {
    std::env::temp_dir().join("biv-reference")
}

/// The configuration of `biv-reference`, read from the command line and the environment.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "biv-reference",
    version,
    about = "The reference deployment of biv: a small HTTP service showing biv's controls wired into a host",
    after_help = "Exit status: 0 after a clean shutdown (SIGINT or SIGTERM), 1 when the service \
                  cannot listen or serve, 2 for a usage error."
)]
pub struct Config {
    /// The IP address and port to listen on; port 0 picks a free port (the real one is logged).
    #[arg(long, value_name = "ADDR", env = LISTEN_ENV, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The data directory (created if missing); the health checks require it to be writable and
    /// its file system to have free space.
    #[arg(long, value_name = "DIR", env = DATA_DIR_ENV, default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// How long readiness fails before the server stops accepting after SIGINT or SIGTERM, in
    /// milliseconds, so load balancers stop routing here first.
    #[arg(long, value_name = "MS", env = DRAIN_GRACE_ENV, default_value_t = 5000)]
    pub drain_grace_ms: u64,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Config, DEFAULT_LISTEN};

    #[test]
    fn the_command_definition_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn listen_flag_parses_an_ip_and_port() {
        let config = Config::try_parse_from(["biv-reference", "--listen", "[::1]:9000"])
            .expect("a valid address");
        assert_eq!(config.listen.to_string(), "[::1]:9000");
    }

    #[test]
    fn the_default_is_a_valid_loopback_address() {
        let addr: std::net::SocketAddr = DEFAULT_LISTEN.parse().expect("a valid address");
        assert!(addr.ip().is_loopback());
    }

    #[test]
    fn a_host_name_is_a_usage_error() {
        let err = Config::try_parse_from(["biv-reference", "--listen", "localhost"])
            .expect_err("not an IP address and port");
        assert_eq!(err.exit_code(), 2);
    }
}
