//! Prometheus on 127.0.0.1, scraping itself every second and sending alerts to the harness's
//! Alertmanager; `promtool` is handed to the tests too.
//!
//! Note: the first sample appears only after ~5 s (the scrape manager's reload tick), so tests
//! that query data must poll `/api/v1/query`, not sleep.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::alertmanager::Alertmanager;
use super::{EnvVar, READY_TIMEOUT, Summary, http_ok, loopback, write_file};
use crate::error::Result;
use crate::process::{Daemon, first_line, require_program, run, wait_until};

/// A running Prometheus; dropping it stops the process.
#[derive(Debug)]
pub(crate) struct Prometheus {
    daemon: Daemon,
    addr: SocketAddr,
    promtool: PathBuf,
    version: String,
}

impl Prometheus {
    /// Writes and checks the config, then starts Prometheus on 127.0.0.1:`port`.
    pub(crate) fn start(dir: &Path, port: u16, alertmanager: &Alertmanager) -> Result<Self> {
        let binary = require_program("prometheus")?;
        let promtool = require_program("promtool")?;
        let version = first_line(Command::new(&binary).arg("--version"))?;
        let addr = loopback(port);
        let config = dir.join("prometheus.yml");
        write_file(&config, &self::config(addr, alertmanager.addr()))?;
        run(Command::new(&promtool)
            .arg("check")
            .arg("config")
            .arg(&config))?;

        let mut daemon = Daemon::spawn(
            "prometheus",
            Command::new(&binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .current_dir(dir),
            &dir.join("prometheus.log"),
        )?;
        let log = daemon.log().to_path_buf();
        wait_until("prometheus", READY_TIMEOUT, &log, || {
            daemon.check_running()?;
            Ok(http_ok(addr, "/-/ready").unwrap_or(false))
        })?;
        Ok(Self {
            daemon,
            addr,
            promtool,
            version,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "prometheus",
            version: self.version.clone(),
            address: format!("{} (promtool {})", self.url(), self.promtool.display()),
        }
    }

    /// `BIV_TEST_PROMETHEUS_URL`, `BIV_TEST_PROMTOOL`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![
            ("BIV_TEST_PROMETHEUS_URL", self.url()),
            ("BIV_TEST_PROMTOOL", self.promtool.display().to_string()),
        ]
    }

    /// Stops Prometheus (SIGTERM, then SIGKILL).
    pub(crate) fn stop(&mut self) -> Result<()> {
        self.daemon.stop()
    }
}

/// Self-scrape every second, alerts to Alertmanager.
fn config(own: SocketAddr, alertmanager: SocketAddr) -> String {
    format!(
        r#"# Written by `cargo xtask test`; see docs/testing.md.
global:
  scrape_interval: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['{alertmanager}']
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['{own}']
"#
    )
}
