//! The per-thread last-error detail: `biv_last_error_message`.
//!
//! The result code is the error; the detail only says more about it (which function, which
//! parameter). It is kept per thread, which suits PHP-FPM and FrankenPHP: each request runs on one
//! thread.
//!
//! Rules, also stated in `biv.h`:
//! - Every failing call records a detail, replacing the previous one. Successful calls leave it
//!   alone (like `errno`), so read it right after a call that did not return `BIV_OK`.
//! - `biv_result_message` and `biv_last_error_message` never record one (unless they catch a
//!   panic), so asking for the text of a failure does not erase its detail.
//! - **A detail never contains secrets or caller data**: it is built only from function and
//!   parameter names and fixed text. Never put plaintext, keys, personal data or a panic message
//!   into it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::c_char;

use crate::buffer::write_c_str;
use crate::panic::ffi_panic_boundary;
use crate::result::biv_result;

thread_local! {
    /// The detail of the most recent failing call on this thread, if any.
    static LAST_ERROR: RefCell<Option<Cow<'static, str>>> = const { RefCell::new(None) };
}

/// Records `detail` as this thread's last-error detail. Never panics.
///
/// `detail` must not contain secrets or caller data (see the module docs).
pub(crate) fn set(detail: impl Into<Cow<'static, str>>) {
    let detail = detail.into();
    // Fails only while the thread is being torn down or (impossibly) while the detail is being
    // read; then there is nobody left to read a new detail either.
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = Some(detail);
        }
    });
}

/// This thread's last-error detail (`""` if none was recorded). Never panics.
pub(crate) fn current_detail() -> Cow<'static, str> {
    LAST_ERROR
        .try_with(|cell| cell.try_borrow().ok().and_then(|slot| slot.clone()))
        .ok()
        .flatten()
        .unwrap_or(Cow::Borrowed(""))
}

/// Writes this thread's last-error detail into `buf`, as UTF-8 followed by a NUL.
///
/// The detail says more about the most recent failing biv call on the calling thread: for example
/// which parameter was NULL. It is empty (`""`) when no call on this thread has failed yet.
/// Successful calls do not clear it, so read it right after a call returned something other than
/// `BIV_OK`. This function and `biv_result_message` never change it. It never contains secrets,
/// personal data or other caller data.
///
/// - `buf`: where to write; may be NULL only when `len` is 0 (to ask for the size).
/// - `len`: the size of `buf` in bytes.
/// - `out_n`: receives the number of bytes written before the NUL on `BIV_OK`, or the size needed
///   including the NUL on `BIV_INSUFFICIENT_SIZE` (then `buf` is left untouched).
///
/// Returns `BIV_OK`, `BIV_NULL_PARAMETER` (`out_n` is NULL, or `buf` is NULL while `len` > 0) or
/// `BIV_INSUFFICIENT_SIZE`.
///
/// # Safety
///
/// `buf` must be NULL or valid for writes of `len` bytes, `out_n` NULL or valid for one aligned
/// `size_t` write, and the two must not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn biv_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> biv_result {
    ffi_panic_boundary!("biv_last_error_message", {
        let detail = current_detail();
        // SAFETY: the caller guarantees `buf` (NULL or `len` writable bytes) and `out_n` (NULL or
        // one writable `size_t`), not overlapping: the contract of `write_c_str`.
        unsafe { write_c_str(&detail, buf, len, out_n) }
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, c_char};
    use std::ptr;

    use super::{biv_last_error_message, current_detail, set};
    use crate::result::biv_result;

    /// Reads the detail through the C entry point.
    fn read_via_c() -> (biv_result, String, usize) {
        let mut buf = [0x7f as c_char; 256];
        let mut n = usize::MAX;
        // SAFETY: `buf` is 256 writable bytes and `n` one writable usize; they do not overlap.
        let rc = unsafe { biv_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        let text = if rc == biv_result::BIV_OK {
            // SAFETY: on BIV_OK the buffer holds a NUL-terminated string.
            unsafe { CStr::from_ptr(buf.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        } else {
            String::new()
        };
        (rc, text, n)
    }

    #[test]
    fn empty_on_a_fresh_thread() {
        std::thread::spawn(|| {
            let (rc, text, n) = read_via_c();
            assert_eq!(rc, biv_result::BIV_OK);
            assert_eq!(text, "");
            assert_eq!(n, 0);
        })
        .join()
        .expect("the thread does not panic");
    }

    #[test]
    fn returns_the_recorded_detail_and_keeps_it() {
        set("biv_test: parameter `out` is NULL");
        for _ in 0..2 {
            let (rc, text, n) = read_via_c();
            assert_eq!(rc, biv_result::BIV_OK);
            assert_eq!(text, "biv_test: parameter `out` is NULL");
            assert_eq!(n, text.len());
        }
    }

    #[test]
    fn details_are_per_thread() {
        set("set on the test thread");
        std::thread::spawn(|| {
            assert_eq!(current_detail(), "");
            set("set on another thread");
        })
        .join()
        .expect("the thread does not panic");
        assert_eq!(current_detail(), "set on the test thread");
    }

    #[test]
    fn a_too_small_buffer_reports_the_size_and_keeps_the_detail() {
        set(String::from("twelve chars"));
        let mut buf = [0x7f as c_char; 4];
        let mut n = 0usize;
        // SAFETY: `buf` is 4 writable bytes, `n` one writable usize.
        let rc = unsafe { biv_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(rc, biv_result::BIV_INSUFFICIENT_SIZE);
        assert_eq!(n, 13);
        assert!(buf.iter().all(|&b| b == 0x7f), "the buffer is untouched");
        // The failure of the diagnostic call itself does not replace the detail.
        assert_eq!(current_detail(), "twelve chars");
    }

    #[test]
    fn null_out_n_is_rejected_without_recording_a_detail() {
        set("the original detail");
        let mut buf = [0 as c_char; 64];
        // SAFETY: NULL `out_n` is allowed by the contract and must be rejected.
        let rc = unsafe { biv_last_error_message(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
        assert_eq!(rc, biv_result::BIV_NULL_PARAMETER);
        assert_eq!(current_detail(), "the original detail");
    }

    #[test]
    fn size_query_with_a_null_buffer() {
        set("abc");
        let mut n = 0usize;
        // SAFETY: NULL `buf` with `len` 0 asks for the size; `n` is writable.
        let rc = unsafe { biv_last_error_message(ptr::null_mut(), 0, &mut n) };
        assert_eq!(rc, biv_result::BIV_INSUFFICIENT_SIZE);
        assert_eq!(n, 4);
    }
}
