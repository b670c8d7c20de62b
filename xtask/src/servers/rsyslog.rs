//! rsyslog: a syslog receiver on 127.0.0.1 that writes every message it gets, in RFC 5424
//! form (`RSYSLOG_SyslogProtocol23Format`), to one output file.
//!
//! Two inputs feed that file. The plain TCP input accepts both TCP framings on the same
//! port: octet counting (RFC 6587 §3.4.1) and LF-terminated lines. The TLS input (RFC 5425,
//! rsyslog's GnuTLS stream driver from `rsyslog-gnutls`) presents a server certificate for
//! `localhost` and 127.0.0.1, issued at start by a throwaway CA made with the `openssl` CLI;
//! the tests get the CA file and trust nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{EnvVar, READY_TIMEOUT, Summary, accepts, loopback, write_file};
use crate::error::Result;
use crate::process::{Daemon, first_line, require_program, run, wait_until};

/// The name (DNS SAN, and CN) in the TLS input's certificate; it also holds the IP SAN
/// 127.0.0.1.
pub(crate) const TLS_SERVER_NAME: &str = "localhost";

/// Where rsyslog's loadable modules live (Debian's multiarch directories first).
fn module_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        let mut multiarch: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.to_string_lossy().contains("-linux-"))
            .map(|path| path.join("rsyslog"))
            .collect();
        multiarch.sort();
        dirs.extend(multiarch);
    }
    dirs.extend(["/usr/lib/rsyslog", "/usr/lib64/rsyslog"].map(PathBuf::from));
    dirs
}

/// The path of rsyslog's module `name` (e.g. `lmnsd_gtls.so`), if installed.
pub(crate) fn find_module(name: &str) -> Option<PathBuf> {
    module_dirs()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The throwaway PKI of the TLS input.
#[derive(Debug)]
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// Makes a CA and a server certificate for [`TLS_SERVER_NAME`] / 127.0.0.1 (ECDSA P-256,
/// valid two days) in `dir`, with the `openssl` CLI.
fn make_pki(dir: &Path) -> Result<Pki> {
    let openssl = require_program("openssl")?;
    std::fs::create_dir_all(dir)?;
    let ca_conf = dir.join("ca.cnf");
    write_file(
        &ca_conf,
        "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n\
         [dn]\nCN = biv test CA (cargo xtask test)\n\
         [v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )?;
    let server_conf = dir.join("server.cnf");
    write_file(
        &server_conf,
        &format!(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {TLS_SERVER_NAME}\n\
             [v3_server]\nbasicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:{TLS_SERVER_NAME},IP:127.0.0.1\n\
             subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
        ),
    )?;
    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    let ca_key = dir.join("ca.key");
    let csr = dir.join("server.csr");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(Command::new(&openssl)
        .args(["req", "-x509", "-days", "2", "-config"])
        .arg(&ca_conf)
        .args(ec)
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&pki.ca))?;
    run(Command::new(&openssl)
        .args(["req", "-new", "-config"])
        .arg(&server_conf)
        .args(ec)
        .arg("-keyout")
        .arg(&pki.key)
        .arg("-out")
        .arg(&csr))?;
    run(Command::new(&openssl)
        .args(["x509", "-req", "-days", "2", "-set_serial", "2", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(&pki.ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-extfile")
        .arg(&server_conf)
        .args(["-extensions", "v3_server", "-out"])
        .arg(&pki.cert))?;
    Ok(pki)
}

/// A running rsyslogd; dropping it stops the daemon.
#[derive(Debug)]
pub(crate) struct Rsyslog {
    daemon: Daemon,
    port: u16,
    tls_port: u16,
    ca: PathBuf,
    output: PathBuf,
    version: String,
}

impl Rsyslog {
    /// Makes the TLS input's certificates, writes and validates `dir/rsyslog.conf`, then
    /// starts rsyslogd with plain TCP on 127.0.0.1:`port` and TLS on 127.0.0.1:`tls_port`.
    pub(crate) fn start(dir: &Path, port: u16, tls_port: u16) -> Result<Self> {
        let rsyslogd = require_program("rsyslogd")?;
        // "rsyslogd  8.2302.0 (aka 2023.02) compiled with:" → "rsyslogd 8.2302.0 (aka 2023.02)"
        let version = first_line(Command::new(&rsyslogd).arg("-v"))?
            .trim_end_matches("compiled with:")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let work = dir.join("work");
        std::fs::create_dir_all(&work)?;
        let output = dir.join("messages.log");
        let pki = make_pki(&dir.join("tls"))?;
        let conf = dir.join("rsyslog.conf");
        write_file(&conf, &config(&work, port, tls_port, &pki, &output))?;
        run(Command::new(&rsyslogd).arg("-N1").arg("-f").arg(&conf))?;

        let mut daemon = Daemon::spawn(
            "rsyslogd",
            Command::new(&rsyslogd)
                .arg("-n")
                .arg("-f")
                .arg(&conf)
                .arg("-i")
                .arg(dir.join("rsyslogd.pid")),
            &dir.join("rsyslogd.log"),
        )?;
        let addr = loopback(port);
        let log = daemon.log().to_path_buf();
        let tls_addr = loopback(tls_port);
        wait_until("rsyslog", READY_TIMEOUT, &log, || {
            daemon.check_running()?;
            Ok(accepts(addr) && accepts(tls_addr))
        })?;
        Ok(Self {
            daemon,
            port,
            tls_port,
            ca: pki.ca,
            output,
            version,
        })
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "rsyslog",
            version: self.version.clone(),
            address: format!(
                "tcp://{} and tls://{} (CA {}) -> {}",
                loopback(self.port),
                loopback(self.tls_port),
                self.ca.display(),
                self.output.display()
            ),
        }
    }

    /// `BIV_TEST_RSYSLOG_ADDR`, `BIV_TEST_RSYSLOG_OUTPUT`, `BIV_TEST_RSYSLOG_TLS_ADDR`,
    /// `BIV_TEST_RSYSLOG_TLS_CA`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![
            ("BIV_TEST_RSYSLOG_ADDR", loopback(self.port).to_string()),
            ("BIV_TEST_RSYSLOG_OUTPUT", self.output.display().to_string()),
            (
                "BIV_TEST_RSYSLOG_TLS_ADDR",
                loopback(self.tls_port).to_string(),
            ),
            ("BIV_TEST_RSYSLOG_TLS_CA", self.ca.display().to_string()),
        ]
    }

    /// Stops rsyslogd (SIGTERM, then SIGKILL).
    pub(crate) fn stop(&mut self) -> Result<()> {
        self.daemon.stop()
    }
}

/// The rsyslog configuration: a plain TCP input and a TLS input (GnuTLS driver, server
/// certificate from `pki`, no client certificate asked: `anon`), one ruleset, one RFC 5424
/// file action.
fn config(work: &Path, port: u16, tls_port: u16, pki: &Pki, output: &Path) -> String {
    format!(
        r#"# Written by `cargo xtask test`; see docs/testing.md.
global(workDirectory="{work}" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{ca}"
       defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="biv")
input(type="imtcp" address="127.0.0.1" port="{tls_port}" ruleset="biv"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
ruleset(name="biv") {{
  action(type="omfile" file="{output}" template="RSYSLOG_SyslogProtocol23Format")
}}
"#,
        work = work.display(),
        ca = pki.ca.display(),
        cert = pki.cert.display(),
        key = pki.key.display(),
        output = output.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_has_a_plain_and_a_tls_input() {
        let pki = Pki {
            ca: PathBuf::from("/t/ca.pem"),
            cert: PathBuf::from("/t/server.pem"),
            key: PathBuf::from("/t/server.key"),
        };
        let conf = config(
            Path::new("/t/work"),
            1514,
            6514,
            &pki,
            Path::new("/t/m.log"),
        );
        assert!(conf.contains(r#"port="1514" ruleset="biv")"#), "{conf}");
        assert!(
            conf.contains(
                r#"port="6514" ruleset="biv"
      streamDriver.name="gtls" streamDriver.mode="1""#
            ),
            "{conf}"
        );
        assert!(conf.contains(r#"defaultNetstreamDriverCAFile="/t/ca.pem""#));
        assert!(conf.contains(r#"defaultNetstreamDriverKeyFile="/t/server.key""#));
    }

    #[test]
    fn modules_are_looked_for_in_the_module_dirs() {
        assert!(find_module("no-such-module-biv.so").is_none());
        let dirs = module_dirs();
        assert!(
            dirs.contains(&PathBuf::from("/usr/lib/rsyslog")),
            "{dirs:?}"
        );
    }
}
