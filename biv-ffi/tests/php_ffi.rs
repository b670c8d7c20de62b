//! Loads `include/biv_php.h` with PHP's `FFI::cdef` against the biv-ffi cdylib and runs
//! `tests/php/smoke.php`: proof that the macro-free header is what PHP can actually parse.
//!
//! Needs the PHP CLI with the FFI extension, which `cargo xtask test` locates and checks; like every
//! server-backed test (docs/testing.md) it is ignored under plain `cargo test` and fails loudly
//! when run without the harness. By hand: `BIV_TEST_PHP=$(command -v php) cargo test -p biv-ffi
//! --test php_ffi -- --include-ignored`.

#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `libbiv_ffi.so` as built for this test run: in `target/<profile>/deps/` (where cargo writes the
/// cdylib), or the uplifted copy in `target/<profile>/`.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let deps = exe
        .parent()
        .expect("the test binary is in target/<profile>/deps");
    [
        deps.join("libbiv_ffi.so"),
        deps.parent()
            .expect("deps/ has a parent")
            .join("libbiv_ffi.so"),
    ]
    .into_iter()
    .find(|lib| lib.is_file())
    .unwrap_or_else(|| {
        panic!(
            "libbiv_ffi.so is in neither {} nor its parent",
            deps.display()
        )
    })
}

/// The `php` CLI that `cargo xtask test` located (`BIV_TEST_PHP`), as `biv_testkit::servers::php()`
/// reads it. Panics when the harness did not set it: never a silent pass.
fn php() -> PathBuf {
    std::env::var_os("BIV_TEST_PHP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("BIV_TEST_PHP is not set: run `cargo xtask test`, or set it to the php CLI")
        })
}

#[test]
#[ignore = "server: php; run `cargo xtask test`"]
fn php_ffi_loads_biv_php_h_and_calls_the_library() {
    let output = Command::new(php())
        .args(["-d", "ffi.enable=1"])
        .arg(crate_dir().join("tests").join("php").join("smoke.php"))
        .arg(crate_dir().join("include").join("biv_php.h"))
        .arg(library())
        .arg(env!("CARGO_PKG_VERSION"))
        .output()
        .expect("php runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "php smoke test failed with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("all checks passed"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        10,
        "{stdout}"
    );
}
