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

/// The environment variable that sets the free-space percentage under which `disk:free` warns;
/// `--disk-warn-below-percent` wins over it.
pub const DISK_WARN_ENV: &str = "BIV_DISK_WARN_BELOW_PERCENT";

/// The environment variable that sets the free-space percentage under which `disk:free` fails
/// (and readiness with it); `--disk-fail-below-percent` wins over it.
pub const DISK_FAIL_ENV: &str = "BIV_DISK_FAIL_BELOW_PERCENT";

/// The environment variable that names a file of extra health checks (the JSON of
/// `biv health check --config`); `--health-config` wins over it.
pub const HEALTH_CONFIG_ENV: &str = "BIV_HEALTH_CONFIG";

/// The environment variable that names the Alertmanagers (comma-separated); `--alertmanager`
/// wins over it.
pub const ALERTMANAGER_ENV: &str = "BIV_ALERTMANAGER_URL";

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
                  cannot listen or serve, 2 for a usage error, a refused --health-config file or \
                  --alertmanager URL."
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
    /// `disk:free` warns when less than this percentage of the data directory's file system is
    /// available.
    #[arg(long, value_name = "PERCENT", env = DISK_WARN_ENV, default_value_t = 10.0, value_parser = percent)]
    pub disk_warn_below_percent: f64,
    /// `disk:free` fails, and readiness with it, when less than this percentage of the data
    /// directory's file system is available; 0 turns the failure off.
    #[arg(long, value_name = "PERCENT", env = DISK_FAIL_ENV, default_value_t = 5.0, value_parser = percent)]
    pub disk_fail_below_percent: f64,
    /// A JSON file of checks for the service's dependencies (databases, upstream APIs), in the
    /// format of `biv health check --config`; they join the built-in checks. A file that cannot
    /// be read or parsed stops the start, naming the offending key.
    #[arg(long, value_name = "FILE", env = HEALTH_CONFIG_ENV)]
    pub health_config: Option<PathBuf>,
    /// An Alertmanager base URL (http://host:9093) for the service's alerts; repeat for each
    /// member of an HA cluster. Without one, alerts are written to the log.
    #[arg(long = "alertmanager", value_name = "URL", env = ALERTMANAGER_ENV, value_delimiter = ',')]
    pub alertmanagers: Vec<String>,
}

/// Why the `--health-config` file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthConfigFileError {
    /// The file could not be read.
    #[error("cannot read the health configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a valid health configuration.
    #[error("health configuration {path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending key and what is wrong with it.
        source: biv_availability::health::HealthConfigError,
    },
}

impl Config {
    /// The dependency checks of `--health-config`, or none when it is not given.
    ///
    /// # Errors
    /// [`HealthConfigFileError`] when the file cannot be read or is not a valid configuration.
    pub fn dependency_checks(
        &self,
    ) -> Result<biv_availability::health::HealthConfig, HealthConfigFileError> {
        let Some(path) = &self.health_config else {
            return Ok(biv_availability::health::HealthConfig::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| HealthConfigFileError::Read {
            path: path.clone(),
            source,
        })?;
        biv_availability::health::HealthConfig::from_json(&text).map_err(|source| {
            HealthConfigFileError::Invalid {
                path: path.clone(),
                source,
            }
        })
    }

    /// The `disk:free` thresholds this configuration names.
    pub fn disk_thresholds(&self) -> crate::health::DiskThresholds {
        crate::health::DiskThresholds {
            warn_below_percent: self.disk_warn_below_percent,
            fail_below_percent: self.disk_fail_below_percent,
        }
    }
}

/// Parses a percentage from 0 to 100.
fn percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text} is not a percentage from 0 to 100"))
    }
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
    fn disk_thresholds_default_to_ten_and_five_percent() {
        let config = Config::try_parse_from(["biv-reference"]).expect("the defaults parse");
        let disk = config.disk_thresholds();
        assert_eq!(disk.warn_below_percent, 10.0);
        assert_eq!(disk.fail_below_percent, 5.0);
    }

    #[test]
    fn a_percentage_outside_0_to_100_is_a_usage_error() {
        for bad in ["-1", "100.5", "NaN", "ten"] {
            let err = Config::try_parse_from(["biv-reference", "--disk-fail-below-percent", bad])
                .expect_err("not a percentage");
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn a_host_name_is_a_usage_error() {
        let err = Config::try_parse_from(["biv-reference", "--listen", "localhost"])
            .expect_err("not an IP address and port");
        assert_eq!(err.exit_code(), 2);
    }
}
