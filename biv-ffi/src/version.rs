//! The library version, as a function (PHP cannot read `#define` constants).

use std::ffi::{CStr, c_char};

use crate::panic::ffi_panic_boundary;

/// The version of biv-ffi (Cargo.toml's `version`), NUL-terminated, checked at compile time.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the crate version contains a NUL byte"),
    };

/// The version of the biv library, such as `"0.1.0"`: a static NUL-terminated UTF-8 string.
///
/// The pointer stays valid for as long as the library is loaded; never free it. Compare it with
/// the version your bindings were generated for: the C ABI makes no stability promise across
/// versions.
#[unsafe(no_mangle)]
pub extern "C" fn biv_version() -> *const c_char {
    ffi_panic_boundary!("biv_version", { VERSION.as_ptr() })
}

/// The version of the biv library, for Rust callers: the same text as [`biv_version`].
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::{biv_version, version};

    #[test]
    fn biv_version_is_the_crate_version() {
        let ptr = biv_version();
        assert!(!ptr.is_null());
        // SAFETY: `biv_version` returns a pointer to a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(ptr) };
        assert_eq!(text.to_str(), Ok(env!("CARGO_PKG_VERSION")));
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn biv_version_is_stable_across_calls() {
        assert_eq!(biv_version(), biv_version());
    }
}
