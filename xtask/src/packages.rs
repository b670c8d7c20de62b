//! The Debian packages the server-backed tests need, and installing the missing ones.
//!
//! Each package is checked through the program or file the harness actually uses, so a
//! machine that already has everything never touches apt.

use std::path::Path;
use std::process::Command;

use crate::error::{Result, bail};
use crate::process::{describe, find_program, is_root, run};
use crate::servers::{rsyslog, softhsm};

/// How to tell that a package is installed.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// An executable on `PATH` (or in `/usr/sbin`).
    Program(&'static str),
    /// A file at a fixed path.
    File(&'static str),
    /// The SoftHSM2 PKCS#11 module, wherever the distribution puts it.
    SoftHsmModule,
    /// An rsyslog loadable module, in rsyslog's module directory.
    RsyslogModule(&'static str),
}

impl Probe {
    fn is_present(self) -> bool {
        match self {
            Self::Program(name) => find_program(name).is_some(),
            Self::File(path) => Path::new(path).is_file(),
            Self::SoftHsmModule => softhsm::find_module().is_some(),
            Self::RsyslogModule(name) => rsyslog::find_module(name).is_some(),
        }
    }
}

/// Every package the tests need, with the files that prove it is installed.
const REQUIRED: &[(&str, Probe)] = &[
    (
        "postgresql-15",
        Probe::File("/usr/lib/postgresql/15/bin/initdb"),
    ),
    ("postgresql-client-15", Probe::Program("psql")),
    ("rsyslog", Probe::Program("rsyslogd")),
    // The GnuTLS stream driver behind the rsyslog TLS input (RFC 5425).
    ("rsyslog-gnutls", Probe::RsyslogModule("lmnsd_gtls.so")),
    // Makes the throwaway CA and certificates of the rsyslog TLS input.
    ("openssl", Probe::Program("openssl")),
    (
        "prometheus-alertmanager",
        Probe::Program("prometheus-alertmanager"),
    ),
    ("prometheus-alertmanager", Probe::Program("amtool")),
    ("prometheus", Probe::Program("prometheus")),
    ("prometheus", Probe::Program("promtool")),
    ("softhsm2", Probe::Program("softhsm2-util")),
    ("softhsm2", Probe::SoftHsmModule),
    ("opensc", Probe::Program("pkcs11-tool")),
    ("php8.2-cli", Probe::Program("php")),
    ("phpunit", Probe::Program("phpunit")),
];

/// The packages whose probe fails, each named once, in [`REQUIRED`] order.
pub(crate) fn missing() -> Vec<&'static str> {
    let mut missing: Vec<&'static str> = Vec::new();
    for (package, probe) in REQUIRED {
        if !missing.contains(package) && !probe.is_present() {
            missing.push(package);
        }
    }
    missing
}

/// Installs whatever is missing with apt and returns the packages it installed.
///
/// As root apt runs directly; otherwise through `sudo -n` when that works without a
/// password; otherwise this fails and names the packages to install by hand.
pub(crate) fn ensure_installed() -> Result<Vec<&'static str>> {
    let missing = missing();
    if missing.is_empty() {
        return Ok(missing);
    }
    println!(
        "xtask: installing missing Debian packages: {}",
        missing.join(" ")
    );
    let sudo = if is_root() {
        false
    } else if sudo_works() {
        true
    } else {
        bail!(
            "these Debian packages are missing: {list}\n\
             install them as root (`apt-get install -y {list}`) or run `cargo xtask test` as root \
             or with password-less sudo",
            list = missing.join(" ")
        );
    };
    apt(sudo, &["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    apt(sudo, &install)?;

    let still_missing = self::missing();
    if !still_missing.is_empty() {
        bail!(
            "apt-get finished, but these packages still look missing: {}",
            still_missing.join(" ")
        );
    }
    Ok(missing)
}

/// Whether `sudo -n true` succeeds (sudo installed and no password needed).
fn sudo_works() -> bool {
    find_program("sudo").is_some()
        && Command::new("sudo")
            .args(["-n", "true"])
            .output()
            .is_ok_and(|out| out.status.success())
}

/// Runs `apt-get ARGS` non-interactively, as root or through `sudo -n`.
fn apt(sudo: bool, args: &[&str]) -> Result<()> {
    let mut cmd = if sudo {
        let mut cmd = Command::new("sudo");
        cmd.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        cmd
    } else {
        let mut cmd = Command::new("apt-get");
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    cmd.args(args);
    println!("xtask: $ {}", describe(&cmd));
    run(&mut cmd)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_package_is_listed_once_in_missing() {
        let missing = missing();
        let mut sorted = missing.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), missing.len());
    }

    #[test]
    fn probes_see_what_is_always_there() {
        assert!(Probe::Program("sh").is_present());
        assert!(Probe::File("/etc/passwd").is_present());
        assert!(!Probe::File("/nonexistent/biv").is_present());
    }
}
