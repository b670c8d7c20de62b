//! rsyslog: a TCP syslog receiver on 127.0.0.1 that writes every message it gets, in RFC 5424
//! form (`RSYSLOG_SyslogProtocol23Format`), to one output file.
//!
//! The input accepts both TCP framings on the same port: octet counting (RFC 6587 §3.4.1)
//! and LF-terminated lines.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{EnvVar, READY_TIMEOUT, Summary, accepts, loopback, write_file};
use crate::error::Result;
use crate::process::{Daemon, first_line, require_program, run, wait_until};

/// A running rsyslogd; dropping it stops the daemon.
#[derive(Debug)]
pub(crate) struct Rsyslog {
    daemon: Daemon,
    port: u16,
    output: PathBuf,
    version: String,
}

impl Rsyslog {
    /// Writes and validates `dir/rsyslog.conf`, then starts rsyslogd on 127.0.0.1:`port`.
    pub(crate) fn start(dir: &Path, port: u16) -> Result<Self> {
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
        let conf = dir.join("rsyslog.conf");
        write_file(&conf, &config(&work, port, &output))?;
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
        wait_until("rsyslog", READY_TIMEOUT, &log, || {
            daemon.check_running()?;
            Ok(accepts(addr))
        })?;
        Ok(Self {
            daemon,
            port,
            output,
            version,
        })
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "rsyslog",
            version: self.version.clone(),
            address: format!("tcp://{} -> {}", loopback(self.port), self.output.display()),
        }
    }

    /// `BIV_TEST_RSYSLOG_ADDR`, `BIV_TEST_RSYSLOG_OUTPUT`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![
            ("BIV_TEST_RSYSLOG_ADDR", loopback(self.port).to_string()),
            ("BIV_TEST_RSYSLOG_OUTPUT", self.output.display().to_string()),
        ]
    }

    /// Stops rsyslogd (SIGTERM, then SIGKILL).
    pub(crate) fn stop(&mut self) -> Result<()> {
        self.daemon.stop()
    }
}

/// The rsyslog configuration: one TCP input, one ruleset, one RFC 5424 file action.
fn config(work: &Path, port: u16, output: &Path) -> String {
    format!(
        r#"# Written by `cargo xtask test`; see docs/testing.md.
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="biv")
ruleset(name="biv") {{
  action(type="omfile" file="{output}" template="RSYSLOG_SyslogProtocol23Format")
}}
"#,
        work = work.display(),
        output = output.display(),
    )
}
