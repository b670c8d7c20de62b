//! PHP: locate the `php` CLI and `phpunit`, record their versions, and insist on FFI.
//!
//! Nothing runs in the background; the PHP binding's tests start `php`/`phpunit` themselves.

use std::path::PathBuf;
use std::process::Command;

use super::{EnvVar, Summary};
use crate::error::{Result, bail};
use crate::process::{first_line, require_program, run};

/// The PHP tools, located and checked.
#[derive(Debug)]
pub(crate) struct Php {
    php: PathBuf,
    phpunit: PathBuf,
    php_version: String,
    phpunit_version: String,
}

impl Php {
    /// Finds `php` and `phpunit`, checks that `php -m` lists FFI.
    pub(crate) fn locate() -> Result<Self> {
        let php = require_program("php")?;
        let phpunit = require_program("phpunit")?;
        let modules = run(Command::new(&php).arg("-m"))?;
        let has_ffi = String::from_utf8_lossy(&modules.stdout)
            .lines()
            .any(|line| line.trim() == "FFI");
        if !has_ffi {
            bail!(
                "`{} -m` does not list FFI: the PHP binding tests need the FFI extension \
                 (Debian ships it in php8.2-common; check that ffi.ini is enabled)",
                php.display()
            );
        }
        let php_version = first_line(Command::new(&php).args(["-r", "echo PHP_VERSION;"]))?;
        let phpunit_version = first_line(Command::new(&phpunit).arg("--version"))?;
        Ok(Self {
            php,
            phpunit,
            php_version,
            phpunit_version,
        })
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "php",
            version: format!("PHP {} (FFI), {}", self.php_version, self.phpunit_version),
            address: format!("{}, {}", self.php.display(), self.phpunit.display()),
        }
    }

    /// `BIV_TEST_PHP`, `BIV_TEST_PHPUNIT`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![
            ("BIV_TEST_PHP", self.php.display().to_string()),
            ("BIV_TEST_PHPUNIT", self.phpunit.display().to_string()),
        ]
    }
}
