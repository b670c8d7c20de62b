//! The loopback servers behind the server-backed tests: start them all, describe them,
//! hand their addresses to the tests as environment variables, and stop them all.
//!
//! Every server listens on 127.0.0.1 only, on a port picked free at start, and keeps all its
//! state under one temp dir. Each is owned by a guard that stops it when dropped, so a
//! failed start, a failed test run or a panic never leaves a server behind.

pub(crate) mod alertmanager;
pub(crate) mod php;
pub(crate) mod postgres;
pub(crate) mod prometheus;
pub(crate) mod rsyslog;
pub(crate) mod softhsm;
pub(crate) mod webhook;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Context, Result};

/// The longest the harness waits for any one server to become ready.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One line of the "what ran" summary.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    /// Short name, e.g. `postgresql`.
    pub(crate) name: &'static str,
    /// Version as the program reports it.
    pub(crate) version: String,
    /// Where the tests reach it (address, URL or path).
    pub(crate) address: String,
}

/// An environment variable handed to the test processes.
pub(crate) type EnvVar = (&'static str, String);

/// All servers, running. Dropping this stops them (in reverse dependency order).
#[derive(Debug)]
pub(crate) struct Servers {
    // Field order is drop order: Prometheus sends to Alertmanager, which sends to the webhook.
    prometheus: prometheus::Prometheus,
    alertmanager: alertmanager::Alertmanager,
    webhook: webhook::Webhook,
    rsyslog: rsyslog::Rsyslog,
    postgres: postgres::Postgres,
    softhsm: softhsm::SoftHsm,
    php: php::Php,
}

impl Servers {
    /// Starts every server under `root`, each in its own subdirectory.
    pub(crate) fn start(root: &Path) -> Result<Self> {
        let [pg_port, syslog_port, syslog_tls_port, am_port, prom_port] = free_ports()?;

        let php = timed("php", php::Php::locate)?;
        let softhsm = timed("softhsm2", || {
            softhsm::SoftHsm::init(&subdir(root, "softhsm")?)
        })?;
        let postgres = timed("postgresql", || {
            postgres::Postgres::start(&subdir(root, "pg")?, pg_port)
        })?;
        let rsyslog = timed("rsyslog", || {
            rsyslog::Rsyslog::start(&subdir(root, "rsyslog")?, syslog_port, syslog_tls_port)
        })?;
        let webhook = timed("webhook", || {
            webhook::Webhook::start(&subdir(root, "webhook")?)
        })?;
        let alertmanager = timed("alertmanager", || {
            alertmanager::Alertmanager::start(&subdir(root, "alertmanager")?, am_port, &webhook)
        })?;
        let prometheus = timed("prometheus", || {
            prometheus::Prometheus::start(&subdir(root, "prometheus")?, prom_port, &alertmanager)
        })?;
        Ok(Self {
            prometheus,
            alertmanager,
            webhook,
            rsyslog,
            postgres,
            softhsm,
            php,
        })
    }

    /// One summary line per server, in the order they are documented.
    pub(crate) fn summaries(&self) -> Vec<Summary> {
        vec![
            self.postgres.summary(),
            self.rsyslog.summary(),
            self.alertmanager.summary(),
            self.webhook.summary(),
            self.prometheus.summary(),
            self.softhsm.summary(),
            self.php.summary(),
        ]
    }

    /// The environment variables that tell the tests where each server is.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        let mut env = Vec::new();
        env.extend(self.postgres.env());
        env.extend(self.rsyslog.env());
        env.extend(self.alertmanager.env());
        env.extend(self.webhook.env());
        env.extend(self.prometheus.env());
        env.extend(self.softhsm.env());
        env.extend(self.php.env());
        env
    }

    /// Stops every server, even if stopping one fails; returns the failures.
    pub(crate) fn stop(mut self) -> Vec<String> {
        let results = [
            ("prometheus", self.prometheus.stop()),
            ("alertmanager", self.alertmanager.stop()),
            ("webhook", self.webhook.stop()),
            ("rsyslog", self.rsyslog.stop()),
            ("postgresql", self.postgres.stop()),
        ];
        results
            .into_iter()
            .filter_map(|(name, result)| result.err().map(|err| format!("stopping {name}: {err}")))
            .collect()
    }
}

/// Runs one start step and prints how long it took.
fn timed<T>(name: &str, start: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::interrupt::check()?;
    let began = Instant::now();
    let value = start().with_context(|| format!("starting {name}"))?;
    println!(
        "xtask: {name} ready in {:.2} s",
        began.elapsed().as_secs_f64()
    );
    Ok(value)
}

/// Creates `root/name` and returns it.
fn subdir(root: &Path, name: &str) -> Result<PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Picks `N` distinct free TCP ports on 127.0.0.1.
///
/// All listeners are held until every port is chosen, so the ports differ; they are released
/// just before the servers bind them.
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0_u16; N];
    for port in &mut ports {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("picking a free port")?;
        *port = listener.local_addr()?.port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// The loopback address with `port`.
pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Whether something accepts TCP connections at `addr`.
pub(crate) fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Whether `GET http://addr/path` answers 200.
pub(crate) fn http_ok(addr: SocketAddr, path: &str) -> Result<bool> {
    let (status, _) = crate::http::get(addr, path)?;
    Ok(status == 200)
}

/// Writes a config file, with the path in the error.
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let ports = free_ports::<4>().unwrap();
        for (i, a) in ports.iter().enumerate() {
            assert_ne!(*a, 0);
            assert!(ports[i + 1..].iter().all(|b| b != a), "{ports:?}");
        }
        let listener = TcpListener::bind(loopback(ports[0])).unwrap();
        assert!(accepts(listener.local_addr().unwrap()));
    }
}
