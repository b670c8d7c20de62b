//! Prometheus Alertmanager on 127.0.0.1, routing every alert to the built-in webhook receiver.
//!
//! Grouping is fast for tests (`group_wait` 1 s, `group_interval` 5 s), gossip is off
//! (`--cluster.listen-address=` empty, so nothing binds 0.0.0.0:9094) and resolved
//! notifications are sent too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::webhook::Webhook;
use super::{EnvVar, READY_TIMEOUT, Summary, http_ok, loopback, write_file};
use crate::error::Result;
use crate::process::{Daemon, first_line, require_program, run, wait_until};

/// A running Alertmanager; dropping it stops the process.
#[derive(Debug)]
pub(crate) struct Alertmanager {
    daemon: Daemon,
    addr: SocketAddr,
    version: String,
    config: PathBuf,
}

impl Alertmanager {
    /// Writes and checks the config, then starts Alertmanager on 127.0.0.1:`port`.
    pub(crate) fn start(dir: &Path, port: u16, webhook: &Webhook) -> Result<Self> {
        let binary = require_program("prometheus-alertmanager")?;
        let amtool = require_program("amtool")?;
        let version = first_line(Command::new(&binary).arg("--version"))?;
        let config = dir.join("alertmanager.yml");
        write_file(&config, &self::config(&webhook.url()))?;
        run(Command::new(&amtool).arg("check-config").arg(&config))?;

        let addr = loopback(port);
        let mut daemon = Daemon::spawn(
            "alertmanager",
            Command::new(&binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--cluster.listen-address=")
                .current_dir(dir),
            &dir.join("alertmanager.log"),
        )?;
        let log = daemon.log().to_path_buf();
        wait_until("alertmanager", READY_TIMEOUT, &log, || {
            daemon.check_running()?;
            Ok(http_ok(addr, "/-/ready").unwrap_or(false))
        })?;
        Ok(Self {
            daemon,
            addr,
            version,
            config,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` Prometheus sends alerts to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "alertmanager",
            version: self.version.clone(),
            address: format!("{} (config {})", self.url(), self.config.display()),
        }
    }

    /// `BIV_TEST_ALERTMANAGER_URL`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![("BIV_TEST_ALERTMANAGER_URL", self.url())]
    }

    /// Stops Alertmanager (SIGTERM, then SIGKILL).
    pub(crate) fn stop(&mut self) -> Result<()> {
        self.daemon.stop()
    }
}

/// One route, one webhook receiver.
fn config(webhook_url: &str) -> String {
    format!(
        r#"# Written by `cargo xtask test`; see docs/testing.md.
route:
  receiver: hook
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: '{webhook_url}'
        send_resolved: true
"#
    )
}
