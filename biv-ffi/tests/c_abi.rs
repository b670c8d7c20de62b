//! Compiles `tests/c/smoke.c` against `include/biv.h` with the system C compiler (`cc`), links it
//! with the biv-ffi cdylib that `cargo test` has just built, runs it and checks its output.
//!
//! Also checks that `include/biv_php.h` is valid C on its own (after the two standard headers it
//! expects), since PHP's parser is stricter about macros but laxer about everything else.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding `libbiv_ffi.so`. This test runs from `target/<profile>/deps/`; cargo
/// writes the cdylib there, and uplifts a copy to `target/<profile>/` only when the library itself
/// is the build's target (`cargo build -p biv-ffi`), not for `cargo test --workspace` on a clean
/// tree. Prefer `deps/`, the copy built for this very test run.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let deps = exe
        .parent()
        .expect("the test binary is in a directory")
        .to_path_buf();
    let candidates = [
        deps.clone(),
        deps.parent().expect("deps/ has a parent").to_path_buf(),
    ];
    candidates
        .into_iter()
        .find(|dir| dir.join("libbiv_ffi.so").is_file())
        .unwrap_or_else(|| {
            panic!(
                "libbiv_ffi.so is in neither {} nor its parent",
                deps.display()
            )
        })
}

fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("biv-ffi-c-abi");
    std::fs::create_dir_all(&dir).expect("creates the scratch directory");
    dir
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err} (is a C compiler installed?)"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn c_smoke_test_passes_against_biv_h() {
    let lib_dir = library_dir();
    let exe = scratch_dir().join("smoke");
    let version_define = format!("-DBIV_EXPECTED_VERSION=\"{}\"", env!("CARGO_PKG_VERSION"));
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg(version_define)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("tests").join("c").join("smoke.c"))
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lbiv_ffi")
        .arg("-o")
        .arg(&exe));

    let output = run(Command::new(&exe).env("LD_LIBRARY_PATH", &lib_dir));
    let stdout = String::from_utf8(output.stdout).expect("the smoke test prints UTF-8");
    assert_eq!(stdout, EXPECTED_SMOKE_OUTPUT);
}

/// What `smoke.c` prints when every check passes: one line per check, in order.
const EXPECTED_SMOKE_OUTPUT: &str = "\
ok: biv_version is not NULL
ok: biv_version equals the crate version
ok: biv_result_message succeeds with a large buffer
ok: the text of BIV_NULL_PARAMETER
ok: out_n is the length before the NUL
ok: the text of BIV_OK
ok: an unknown code
ok: a 4-byte buffer is too small
ok: out_n is the size needed including the NUL
ok: the small buffer is untouched
ok: the retry with out_n bytes
ok: a NULL buffer of length 0 asks for the size
ok: a NULL out_n is BIV_NULL_PARAMETER
ok: a NULL buffer with a length is BIV_NULL_PARAMETER
ok: out_n is not written on failure
ok: biv_last_error_message succeeds
ok: no detail before any failure
ok: biv_last_error_message with a NULL out_n
all checks passed
";

#[test]
fn c_header_compiles_as_cxx() {
    let source = scratch_dir().join("cxx_include.cpp");
    std::fs::write(
        &source,
        "#include \"biv.h\"\nint main() { return biv_version() == nullptr; }\n",
    )
    .expect("writes the C++ source");
    run(Command::new("c++")
        .args(["-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&source));
}

#[test]
fn php_header_is_valid_c() {
    let source = scratch_dir().join("php_header.c");
    std::fs::write(
        &source,
        "#include <stddef.h>\n#include <stdint.h>\n#include \"biv_php.h\"\n\
         int main(void) { return biv_version() == 0; }\n",
    )
    .expect("writes the C source");
    run(Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&source));
}
