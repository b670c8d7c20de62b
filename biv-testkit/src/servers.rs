//! Where the loopback test servers are, for server-backed tests.
//!
//! `cargo xtask test` (the README's test command) starts PostgreSQL, rsyslog (plain TCP and
//! TLS inputs), Alertmanager with a webhook receiver, Prometheus and a SoftHSM2 token on
//! 127.0.0.1, checks PHP, and passes their addresses to the tests in `BIV_TEST_*` environment
//! variables. The functions here read those variables.
//!
//! A test that needs a server is marked ignored, so that a plain `cargo test` reports it as
//! ignored instead of passing it silently, and `cargo xtask test` runs it with
//! `--include-ignored`:
//!
//! ```no_run
//! #[test]
//! #[ignore = "server: postgresql; run `cargo xtask test`"]
//! fn stores_entries_in_postgres() {
//!     let url = biv_testkit::servers::postgres_url();
//!     // connect to `url` …
//! #   let _ = url;
//! }
//! ```
//!
//! Every function **panics** with a message naming the missing variable when the harness did
//! not start the servers, so an ignored test run by hand (`cargo test -- --ignored`) fails
//! loudly instead of passing. See `docs/testing.md` for the whole convention.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Reads a variable set by `cargo xtask test`; panics with a clear message if it is missing.
fn required(name: &str, server: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: this test needs the {server} that `cargo xtask test` starts \
             (server-backed tests are #[ignore]d; run them with `cargo xtask test`, \
             see docs/testing.md)"
        ),
    }
}

/// Whether the test servers are running (`BIV_TEST_SERVERS=1`, set by `cargo xtask test`).
///
/// Server-backed tests should not branch on this: they are `#[ignore]`d and call the
/// functions below, which panic without the servers. It is for helpers that want to say so.
pub fn available() -> bool {
    std::env::var("BIV_TEST_SERVERS").is_ok_and(|value| value == "1")
}

/// The PostgreSQL 15 connection URL (`BIV_TEST_PG_URL`), e.g.
/// `postgresql://biv@127.0.0.1:PORT/postgres`.
///
/// The user `biv` is a superuser with trust authentication; the server runs with
/// `fsync=off`. Create your own schema or temporary tables: all tests share one cluster.
pub fn postgres_url() -> String {
    required("BIV_TEST_PG_URL", "PostgreSQL server")
}

/// The rsyslog receiver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rsyslog {
    /// TCP address (`BIV_TEST_RSYSLOG_ADDR`); accepts octet-counted (RFC 6587) and
    /// LF-terminated RFC 5424 messages.
    pub addr: SocketAddr,
    /// The file every received message is appended to, one per line in RFC 5424 form
    /// (`BIV_TEST_RSYSLOG_OUTPUT`). Shared by all tests: look for a unique marker.
    pub output: PathBuf,
}

/// The rsyslog TCP receiver (`BIV_TEST_RSYSLOG_ADDR`, `BIV_TEST_RSYSLOG_OUTPUT`).
pub fn rsyslog() -> Rsyslog {
    let server = "rsyslog receiver";
    let addr = required("BIV_TEST_RSYSLOG_ADDR", server);
    Rsyslog {
        addr: addr.parse().unwrap_or_else(|err| {
            panic!("BIV_TEST_RSYSLOG_ADDR={addr:?} is not an address: {err}")
        }),
        output: PathBuf::from(required("BIV_TEST_RSYSLOG_OUTPUT", server)),
    }
}

/// The rsyslog receiver's TLS input (RFC 5425), writing to the same output file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RsyslogTls {
    /// TLS address (`BIV_TEST_RSYSLOG_TLS_ADDR`); octet-counted RFC 5424 messages over TLS
    /// 1.2 or 1.3; no client certificate is asked for.
    pub addr: SocketAddr,
    /// The PEM file of the throwaway CA that issued the input's certificate
    /// (`BIV_TEST_RSYSLOG_TLS_CA`), made fresh by each `cargo xtask test`.
    pub ca_file: PathBuf,
    /// The name the input's certificate carries, [`RSYSLOG_TLS_SERVER_NAME`] (its IP SAN
    /// also holds 127.0.0.1).
    pub server_name: String,
    /// The file every received message is appended to (`BIV_TEST_RSYSLOG_OUTPUT`, shared
    /// with the plain TCP input): look for a unique marker.
    pub output: PathBuf,
}

/// The DNS name in the certificate of the rsyslog TLS input.
pub const RSYSLOG_TLS_SERVER_NAME: &str = "localhost";

/// The rsyslog TLS receiver (`BIV_TEST_RSYSLOG_TLS_ADDR`, `BIV_TEST_RSYSLOG_TLS_CA`,
/// `BIV_TEST_RSYSLOG_OUTPUT`).
pub fn rsyslog_tls() -> RsyslogTls {
    let server = "rsyslog TLS receiver";
    let addr = required("BIV_TEST_RSYSLOG_TLS_ADDR", server);
    RsyslogTls {
        addr: addr.parse().unwrap_or_else(|err| {
            panic!("BIV_TEST_RSYSLOG_TLS_ADDR={addr:?} is not an address: {err}")
        }),
        ca_file: PathBuf::from(required("BIV_TEST_RSYSLOG_TLS_CA", server)),
        server_name: RSYSLOG_TLS_SERVER_NAME.to_owned(),
        output: PathBuf::from(required("BIV_TEST_RSYSLOG_OUTPUT", server)),
    }
}

/// Alertmanager and the webhook receiver it notifies.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Alertmanager {
    /// Base URL (`BIV_TEST_ALERTMANAGER_URL`), e.g. `http://127.0.0.1:PORT`; post alerts to
    /// `{url}/api/v2/alerts`.
    pub url: String,
    /// The file the webhook receiver appends each notification body to, one JSON object per
    /// line (`BIV_TEST_WEBHOOK_LOG`). Notifications arrive after `group_wait` (1 s); use a
    /// unique `alertname` and poll with a bound.
    pub webhook_log: PathBuf,
}

impl Alertmanager {
    /// Every notification the webhook receiver has logged so far, oldest first (lines that are
    /// not JSON, e.g. one being written, are left out). Poll it with a bound.
    pub fn notifications(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.webhook_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The notifications of the group whose `alertname` is `alertname`.
    pub fn notifications_for(&self, alertname: &str) -> Vec<serde_json::Value> {
        self.notifications()
            .into_iter()
            .filter(|n| n["groupLabels"]["alertname"] == alertname)
            .collect()
    }
}

/// Alertmanager (`BIV_TEST_ALERTMANAGER_URL`, `BIV_TEST_WEBHOOK_LOG`).
pub fn alertmanager() -> Alertmanager {
    let server = "Alertmanager";
    Alertmanager {
        url: required("BIV_TEST_ALERTMANAGER_URL", server),
        webhook_log: PathBuf::from(required("BIV_TEST_WEBHOOK_LOG", server)),
    }
}

/// Prometheus and its `promtool`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Prometheus {
    /// Base URL (`BIV_TEST_PROMETHEUS_URL`), e.g. `http://127.0.0.1:PORT`. It scrapes itself
    /// every second, but the first sample appears only after ~5 s: poll, don't sleep.
    pub url: String,
    /// Path of `promtool` (`BIV_TEST_PROMTOOL`), for `check rules`, `check metrics`,
    /// `test rules`.
    pub promtool: PathBuf,
}

/// Prometheus (`BIV_TEST_PROMETHEUS_URL`, `BIV_TEST_PROMTOOL`).
pub fn prometheus() -> Prometheus {
    let server = "Prometheus server";
    Prometheus {
        url: required("BIV_TEST_PROMETHEUS_URL", server),
        promtool: PathBuf::from(required("BIV_TEST_PROMTOOL", server)),
    }
}

/// An initialised SoftHSM2 token. `Debug` does not print the PINs.
#[derive(Clone)]
#[non_exhaustive]
pub struct SoftHsm2 {
    /// The PKCS#11 module to load (`BIV_TEST_SOFTHSM2_MODULE`).
    pub module: PathBuf,
    /// The token label (`BIV_TEST_SOFTHSM2_TOKEN`), `biv-test`.
    pub token_label: String,
    /// The user PIN (`BIV_TEST_SOFTHSM2_PIN`).
    pub user_pin: String,
    /// The security-officer PIN (`BIV_TEST_SOFTHSM2_SO_PIN`).
    pub so_pin: String,
    /// The SoftHSM2 configuration file (`SOFTHSM2_CONF`); the module reads it from the
    /// environment, which the harness has already set for every test process.
    pub conf: PathBuf,
}

impl fmt::Debug for SoftHsm2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftHsm2")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("user_pin", &"<redacted>")
            .field("so_pin", &"<redacted>")
            .field("conf", &self.conf)
            .finish()
    }
}

/// The SoftHSM2 token (`BIV_TEST_SOFTHSM2_*`, `SOFTHSM2_CONF`).
///
/// All tests share one token: give the objects you create unique labels or ids.
pub fn softhsm2() -> SoftHsm2 {
    let server = "SoftHSM2 token";
    SoftHsm2 {
        module: PathBuf::from(required("BIV_TEST_SOFTHSM2_MODULE", server)),
        token_label: required("BIV_TEST_SOFTHSM2_TOKEN", server),
        user_pin: required("BIV_TEST_SOFTHSM2_PIN", server),
        so_pin: required("BIV_TEST_SOFTHSM2_SO_PIN", server),
        conf: PathBuf::from(required("SOFTHSM2_CONF", server)),
    }
}

/// The PHP command-line tools.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Php {
    /// The `php` CLI, with the FFI extension (`BIV_TEST_PHP`).
    pub php: PathBuf,
    /// `phpunit` (`BIV_TEST_PHPUNIT`).
    pub phpunit: PathBuf,
}

/// PHP with FFI, and PHPUnit (`BIV_TEST_PHP`, `BIV_TEST_PHPUNIT`).
pub fn php() -> Php {
    let server = "PHP CLI";
    Php {
        php: PathBuf::from(required("BIV_TEST_PHP", server)),
        phpunit: PathBuf::from(required("BIV_TEST_PHPUNIT", server)),
    }
}

/// A directory for server-backed tests' files (`BIV_TEST_TMPDIR`), removed after the run.
///
/// It is shared: prefer [`scratch_dir`], which makes a fresh subdirectory.
pub fn tmpdir() -> PathBuf {
    PathBuf::from(required("BIV_TEST_TMPDIR", "test temp dir"))
}

/// Creates and returns a fresh, empty directory `<BIV_TEST_TMPDIR>/<name>-<unique>`.
///
/// # Panics
/// If `BIV_TEST_TMPDIR` is not set or the directory cannot be created.
pub fn scratch_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = tmpdir().join(format!("{name}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("creating {}: {err}", dir.display()));
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softhsm2_debug_redacts_the_pins() {
        let token = SoftHsm2 {
            module: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
            token_label: "biv-test".to_owned(),
            user_pin: "user-secret-1234".to_owned(),
            so_pin: "so-secret-5678".to_owned(),
            conf: PathBuf::from("/tmp/softhsm2.conf"),
        };
        let debug = format!("{token:?}");
        assert!(!debug.contains("user-secret-1234"), "{debug}");
        assert!(!debug.contains("so-secret-5678"), "{debug}");
        assert!(debug.contains("biv-test"), "{debug}");
    }

    #[test]
    #[should_panic(expected = "BIV_TEST_NO_SUCH_VARIABLE is not set")]
    fn missing_variable_panics_with_its_name() {
        let _ = required("BIV_TEST_NO_SUCH_VARIABLE", "test server");
    }
}
