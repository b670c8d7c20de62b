//! Files for tests: copies of whole directories, and the package's example binaries.

use std::path::{Path, PathBuf};

/// Copies the directory `from` to `to`, recursively. Every copied file is a new file (another
/// inode), as after a restore from a backup or a move to other storage.
///
/// # Panics
/// When anything cannot be read or written (a test's setup failed).
///
/// ```
/// let from = std::env::temp_dir().join(format!("biv-doc-copy-from-{}", std::process::id()));
/// let to = std::env::temp_dir().join(format!("biv-doc-copy-to-{}", std::process::id()));
/// std::fs::create_dir_all(from.join("sub"))?;
/// std::fs::write(from.join("sub/file"), b"bytes")?;
/// biv_testkit::files::copy_dir(&from, &to);
/// assert_eq!(std::fs::read(to.join("sub/file"))?, b"bytes");
/// # std::fs::remove_dir_all(&from)?; std::fs::remove_dir_all(&to)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}

/// The path of the package example `name`, which `cargo test` builds next to the test
/// binaries' `deps/` directory (in `target/<profile>/examples/`).
///
/// # Panics
/// When the calling test binary's path is unknown, or the example was not built (the test ran
/// as a single `--test` target, which builds no examples).
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let example = profile_dir.join("examples").join(name);
    assert!(
        example.exists(),
        "{} is missing: run the suite with `cargo test` (which builds examples), not a single --test target",
        example.display()
    );
    example
}
