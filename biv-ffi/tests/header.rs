//! The header-drift check: regenerates `include/biv.h` and `include/biv_php.h` with cbindgen and
//! compares them with the committed files.
//!
//! After changing the C ABI, rewrite the headers with
//! `BIV_UPDATE_HEADERS=1 cargo test -p biv-ffi --test header` and commit them.

use std::path::{Path, PathBuf};

/// Set to `1` to rewrite the committed headers instead of comparing them.
const UPDATE_ENV: &str = "BIV_UPDATE_HEADERS";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs cbindgen over this crate's sources with the given configuration file.
fn generate(config_file: &str) -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join(config_file))
        .unwrap_or_else(|err| panic!("{config_file}: {err}"));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src").join("lib.rs"))
        .generate()
        .unwrap_or_else(|err| panic!("cbindgen with {config_file}: {err}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

/// Compares `generated` with the committed file, or rewrites the file when asked to.
fn check_or_update(generated: &str, committed: &Path) {
    if std::env::var_os(UPDATE_ENV).is_some_and(|v| v == "1") {
        std::fs::write(committed, generated)
            .unwrap_or_else(|err| panic!("writing {}: {err}", committed.display()));
        return;
    }
    let on_disk = std::fs::read_to_string(committed).unwrap_or_else(|err| {
        panic!(
            "reading {}: {err}; generate it with {UPDATE_ENV}=1 cargo test -p biv-ffi --test header",
            committed.display()
        )
    });
    if on_disk != generated {
        let first_difference = on_disk
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one file is a prefix of the other".to_owned(),
                |i| format!("line {}", i + 1),
            );
        panic!(
            "{} is out of date with the code (first difference: {first_difference}). Regenerate \
             it with {UPDATE_ENV}=1 cargo test -p biv-ffi --test header, review the diff and \
             commit it.\n--- generated ---\n{generated}",
            committed.display()
        );
    }
}

#[test]
fn c_header_matches_the_code() {
    let generated = generate("cbindgen.toml");
    check_or_update(&generated, &crate_dir().join("include").join("biv.h"));
}

#[test]
fn php_header_matches_the_code() {
    let generated = generate("cbindgen-php.toml");
    check_or_update(&generated, &crate_dir().join("include").join("biv_php.h"));
}

#[test]
fn php_header_has_no_preprocessor_lines() {
    let generated = generate("cbindgen-php.toml");
    for (i, line) in generated.lines().enumerate() {
        assert!(
            !line.trim_start().starts_with('#'),
            "biv_php.h line {}: PHP's FFI::cdef cannot use preprocessor lines: {line}",
            i + 1
        );
    }
    assert!(
        !generated.contains("extern \"C\""),
        "no C++ linkage block for PHP"
    );
}

#[test]
fn both_headers_declare_every_exported_function_and_code() {
    let c = generate("cbindgen.toml");
    let php = generate("cbindgen-php.toml");
    for name in [
        "biv_version",
        "biv_result_message",
        "biv_last_error_message",
        "BIV_OK = 0",
        "BIV_NULL_PARAMETER = 7001",
        "BIV_INVALID_PARAMETER = 7002",
        "BIV_INSUFFICIENT_SIZE = 7003",
        "BIV_PANIC = 7004",
        "BIV_INVALID_UTF8 = 7005",
        "BIV_NOT_AVAILABLE = 7006",
    ] {
        assert!(c.contains(name), "biv.h lacks {name}");
        assert!(php.contains(name), "biv_php.h lacks {name}");
    }
}
