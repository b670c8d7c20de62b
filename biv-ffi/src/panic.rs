//! The panic boundary: no Rust panic ever unwinds into C.
//!
//! Every exported function wraps its body in [`ffi_panic_boundary!`]. A panic inside is caught with
//! [`std::panic::catch_unwind`], recorded as the thread's last-error detail (the function's name
//! only, never the panic message, which could carry caller data) and turned into the function's
//! [`PanicOrDefault`] value: [`biv_result::BIV_PANIC`] for fallible functions, NULL, `false` or 0
//! for the few infallible ones.
//!
//! This relies on `panic = "unwind"`, which the workspace keeps in every profile: with
//! `panic = "abort"` a panic would end the host process (a whole PHP-FPM worker) instead.
//!
//! biv-ffi installs no panic hook, so the default hook still prints the panic message to stderr;
//! a host that wants it elsewhere installs its own hook with [`std::panic::set_hook`].

use crate::result::biv_result;

/// The value an exported function returns when a panic was caught inside it.
pub(crate) trait PanicOrDefault {
    /// The value to return instead of unwinding.
    fn value() -> Self;
}

impl PanicOrDefault for biv_result {
    fn value() -> Self {
        Self::BIV_PANIC
    }
}

impl<T> PanicOrDefault for *const T {
    fn value() -> Self {
        std::ptr::null()
    }
}

impl<T> PanicOrDefault for *mut T {
    fn value() -> Self {
        std::ptr::null_mut()
    }
}

impl PanicOrDefault for bool {
    fn value() -> Self {
        false
    }
}

impl PanicOrDefault for usize {
    fn value() -> Self {
        0
    }
}

impl PanicOrDefault for () {
    fn value() -> Self {}
}

/// Runs the block behind a panic boundary (rustls-ffi's `ffi_panic_boundary!`).
///
/// `ffi_panic_boundary!("biv_x", { ... })` evaluates the block inside a closure, so `return` in
/// the block returns from the closure with the function's value. A panic becomes the return
/// type's [`PanicOrDefault`] value, and the thread's last-error detail names the function.
macro_rules! ffi_panic_boundary {
    ($name:literal, $body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            ::std::result::Result::Ok(value) => value,
            ::std::result::Result::Err(_payload) => {
                $crate::last_error::set(::std::concat!(
                    $name,
                    ": internal error (a panic was caught at the C boundary)"
                ));
                <_ as $crate::panic::PanicOrDefault>::value()
            }
        }
    }};
}
pub(crate) use ffi_panic_boundary;

#[cfg(test)]
mod tests {
    use std::ffi::c_char;

    use crate::last_error::current_detail;
    use crate::result::biv_result;

    /// A stand-in for an exported function whose body panics.
    extern "C" fn panics_with_result() -> biv_result {
        ffi_panic_boundary!("test_panics_with_result", {
            let values: Vec<u8> = Vec::new();
            // Index out of bounds: a real panic, not an explicit `panic!`.
            let index = values.len() + 3;
            if values[index] == 0 {
                return biv_result::BIV_INVALID_PARAMETER;
            }
            biv_result::BIV_OK
        })
    }

    extern "C" fn panics_with_pointer() -> *const c_char {
        ffi_panic_boundary!("test_panics_with_pointer", {
            std::panic::panic_any("secret-patient-data-in-payload")
        })
    }

    extern "C" fn returns_early() -> biv_result {
        ffi_panic_boundary!("test_returns_early", {
            if current_detail().is_empty() || !current_detail().is_empty() {
                return biv_result::BIV_NOT_AVAILABLE;
            }
            biv_result::BIV_OK
        })
    }

    #[test]
    fn a_panic_becomes_biv_panic_and_a_detail_naming_the_function() {
        assert_eq!(panics_with_result(), biv_result::BIV_PANIC);
        assert_eq!(
            current_detail(),
            "test_panics_with_result: internal error (a panic was caught at the C boundary)"
        );
    }

    #[test]
    fn a_panic_in_a_pointer_function_returns_null_and_never_leaks_the_payload() {
        assert!(panics_with_pointer().is_null());
        let detail = current_detail();
        assert!(detail.starts_with("test_panics_with_pointer: "), "{detail}");
        assert!(!detail.contains("secret"), "{detail}");
    }

    #[test]
    fn return_inside_the_boundary_returns_the_value() {
        assert_eq!(returns_early(), biv_result::BIV_NOT_AVAILABLE);
    }
}
