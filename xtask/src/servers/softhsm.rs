//! SoftHSM2: a PKCS#11 token in the temp dir, initialised and ready for a user login.
//!
//! There is no process to run: the token is files under `tokens/`, found through the
//! `SOFTHSM2_CONF` file that the tests receive. The PINs are fixed test values.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{EnvVar, Summary, write_file};
use crate::error::{Context, Result, bail};
use crate::process::{first_line, require_program, run};

/// The label of the token the harness creates.
pub(crate) const TOKEN_LABEL: &str = "biv-test";
/// The token's user PIN (test value).
pub(crate) const USER_PIN: &str = "1234";
/// The token's security-officer PIN (test value).
pub(crate) const SO_PIN: &str = "12345678";

/// Where distributions put the PKCS#11 module, Debian first.
const MODULE_CANDIDATES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The SoftHSM2 PKCS#11 module, if installed.
pub(crate) fn find_module() -> Option<PathBuf> {
    MODULE_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// An initialised token (nothing to stop: it is only files).
#[derive(Debug)]
pub(crate) struct SoftHsm {
    conf: PathBuf,
    module: PathBuf,
    version: String,
}

impl SoftHsm {
    /// Writes `dir/softhsm2.conf` and initialises the token `biv-test` in `dir/tokens`.
    pub(crate) fn init(dir: &Path) -> Result<Self> {
        let util = require_program("softhsm2-util")?;
        let module = find_module().with_context(|| {
            format!(
                "libsofthsm2.so not found in any of: {}",
                MODULE_CANDIDATES.join(", ")
            )
        })?;
        let version = first_line(Command::new(&util).arg("--version"))?;
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens)?;
        let conf = dir.join("softhsm2.conf");
        write_file(
            &conf,
            &format!(
                "# Written by `cargo xtask test`; see docs/testing.md.\n\
                 directories.tokendir = {}\n\
                 objectstore.backend = file\n\
                 log.level = ERROR\n\
                 slots.removable = false\n",
                tokens.display()
            ),
        )?;
        run(Command::new(&util)
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", TOKEN_LABEL])
            .args(["--so-pin", SO_PIN, "--pin", USER_PIN]))?;

        let slots = run(Command::new(&util)
            .env("SOFTHSM2_CONF", &conf)
            .arg("--show-slots"))?;
        if !String::from_utf8_lossy(&slots.stdout).contains(TOKEN_LABEL) {
            bail!("softhsm2-util --show-slots does not list the token {TOKEN_LABEL}");
        }
        Ok(Self {
            conf,
            module,
            version,
        })
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "softhsm2",
            version: format!("softhsm2-util {}", self.version),
            address: format!(
                "token {TOKEN_LABEL}, module {}, SOFTHSM2_CONF={}",
                self.module.display(),
                self.conf.display()
            ),
        }
    }

    /// `BIV_TEST_SOFTHSM2_*` and `SOFTHSM2_CONF`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![
            (
                "BIV_TEST_SOFTHSM2_MODULE",
                self.module.display().to_string(),
            ),
            ("SOFTHSM2_CONF", self.conf.display().to_string()),
            ("BIV_TEST_SOFTHSM2_TOKEN", TOKEN_LABEL.to_owned()),
            ("BIV_TEST_SOFTHSM2_PIN", USER_PIN.to_owned()),
            ("BIV_TEST_SOFTHSM2_SO_PIN", SO_PIN.to_owned()),
        ]
    }
}
