//! Result codes: `biv_result` and `biv_result_message`.

use std::ffi::c_char;

use crate::buffer::write_c_str;
use crate::panic::ffi_panic_boundary;

/// The result of every fallible biv function.
///
/// `BIV_OK` (0) is success; every other value is a failure, and the function has written none of
/// its out-parameters (except `*out_n` on `BIV_INSUFFICIENT_SIZE`, which carries the size needed).
/// `biv_result_message` turns a code into text; `biv_last_error_message` gives more detail about
/// the most recent failure on the calling thread.
///
/// Values are explicit and never renumbered or reused: a retired code stays reserved. They come in
/// ranges, one per area, so new codes never collide:
///
/// | range     | area                                                                   |
/// |-----------|------------------------------------------------------------------------|
/// | 0         | `BIV_OK`                                                               |
/// | 7000-7099 | general: parameters, buffers, UTF-8, panics, availability of a feature |
/// | 7100-7199 | integrity: audit log, reviews, releases, drift, evidence               |
/// | 7200-7299 | confidentiality: encryption and keys                                   |
/// | 7300-7399 | confidentiality: redaction of personal data                            |
/// | 7400-7499 | availability: health, logging, alerts, metrics, SLOs, scaling          |
/// | 7500-7999 | reserved                                                               |
///
/// Codes start at 7000, like rustls-ffi's, so they never look like an errno value. A caller must
/// be ready for codes it does not know (a newer library): treat them as failures and show the text
/// from `biv_result_message`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(
    non_camel_case_types,
    reason = "C names: `biv_result` and its `BIV_*` constants appear as such in biv.h"
)]
pub enum biv_result {
    /// Success.
    BIV_OK = 0,
    /// A required pointer parameter was NULL.
    BIV_NULL_PARAMETER = 7001,
    /// A parameter had a value outside what the function accepts.
    BIV_INVALID_PARAMETER = 7002,
    /// The caller's output buffer is too small; `*out_n` holds the size needed.
    BIV_INSUFFICIENT_SIZE = 7003,
    /// An internal error: a Rust panic was caught at the C boundary.
    BIV_PANIC = 7004,
    /// A text parameter was not valid UTF-8.
    BIV_INVALID_UTF8 = 7005,
    /// The requested capability is not available in this version or build of biv.
    BIV_NOT_AVAILABLE = 7006,
}

/// Every defined result code, in numeric order.
const ALL: [biv_result; 7] = [
    biv_result::BIV_OK,
    biv_result::BIV_NULL_PARAMETER,
    biv_result::BIV_INVALID_PARAMETER,
    biv_result::BIV_INSUFFICIENT_SIZE,
    biv_result::BIV_PANIC,
    biv_result::BIV_INVALID_UTF8,
    biv_result::BIV_NOT_AVAILABLE,
];

/// The text `biv_result_message` gives for a code this version of biv does not define.
const UNKNOWN_MESSAGE: &str = "unknown result code";

impl biv_result {
    /// Every defined result code, in numeric order.
    pub fn all() -> &'static [Self] {
        &ALL
    }

    /// The numeric value, as C sees it.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The result with numeric value `code`, or `None` when this version does not define it.
    pub fn from_code(code: u32) -> Option<Self> {
        ALL.iter().copied().find(|result| result.code() == code)
    }

    /// Whether this is `BIV_OK`.
    pub const fn is_ok(self) -> bool {
        matches!(self, Self::BIV_OK)
    }

    /// A short English description, the text `biv_result_message` writes.
    pub const fn message(self) -> &'static str {
        match self {
            Self::BIV_OK => "success",
            Self::BIV_NULL_PARAMETER => "a required pointer parameter was NULL",
            Self::BIV_INVALID_PARAMETER => "a parameter had an invalid value",
            Self::BIV_INSUFFICIENT_SIZE => {
                "the output buffer is too small; *out_n holds the size needed"
            }
            Self::BIV_PANIC => "internal error in biv (a panic was caught at the C boundary)",
            Self::BIV_INVALID_UTF8 => "a text parameter was not valid UTF-8",
            Self::BIV_NOT_AVAILABLE => "not available in this version or build of biv",
        }
    }

    /// The description of any numeric code: [`message`](Self::message) for a defined one,
    /// `"unknown result code"` otherwise.
    pub fn message_for_code(code: u32) -> &'static str {
        Self::from_code(code).map_or(UNKNOWN_MESSAGE, Self::message)
    }
}

/// Writes the description of result code `code` into `buf`, as UTF-8 followed by a NUL.
///
/// `code` is taken as a plain `uint32_t`, so any value is safe to pass: a code this version does
/// not define gives the text "unknown result code" and still returns `BIV_OK`.
///
/// - `buf`: where to write; may be NULL only when `len` is 0 (to ask for the size).
/// - `len`: the size of `buf` in bytes.
/// - `out_n`: receives the number of bytes written before the NUL on `BIV_OK`, or the size needed
///   including the NUL on `BIV_INSUFFICIENT_SIZE` (then `buf` is left untouched).
///
/// Returns `BIV_OK`, `BIV_NULL_PARAMETER` (`out_n` is NULL, or `buf` is NULL while `len` > 0) or
/// `BIV_INSUFFICIENT_SIZE`. Never changes the thread's last-error detail.
///
/// # Safety
///
/// `buf` must be NULL or valid for writes of `len` bytes, `out_n` NULL or valid for one aligned
/// `size_t` write, and the two must not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn biv_result_message(
    code: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> biv_result {
    ffi_panic_boundary!("biv_result_message", {
        let text = biv_result::message_for_code(code);
        // SAFETY: the caller guarantees `buf` (NULL or `len` writable bytes) and `out_n` (NULL or
        // one writable `size_t`), not overlapping: the contract of `write_c_str`.
        unsafe { write_c_str(text, buf, len, out_n) }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::ffi::{CStr, c_char};
    use std::ptr;

    use super::{UNKNOWN_MESSAGE, biv_result, biv_result_message};
    use crate::last_error::{current_detail, set};

    /// The values are part of the ABI: this list may only grow.
    const PINNED: [(biv_result, u32); 7] = [
        (biv_result::BIV_OK, 0),
        (biv_result::BIV_NULL_PARAMETER, 7001),
        (biv_result::BIV_INVALID_PARAMETER, 7002),
        (biv_result::BIV_INSUFFICIENT_SIZE, 7003),
        (biv_result::BIV_PANIC, 7004),
        (biv_result::BIV_INVALID_UTF8, 7005),
        (biv_result::BIV_NOT_AVAILABLE, 7006),
    ];

    fn message_via_c(code: u32) -> (biv_result, String, usize) {
        let mut buf = [0x7f as c_char; 128];
        let mut n = usize::MAX;
        // SAFETY: `buf` is 128 writable bytes and `n` one writable usize; they do not overlap.
        let rc = unsafe { biv_result_message(code, buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(rc, biv_result::BIV_OK, "code {code}");
        // SAFETY: on BIV_OK the buffer holds a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
        (rc, text.to_str().expect("UTF-8").to_owned(), n)
    }

    #[test]
    fn values_are_pinned() {
        for (result, value) in PINNED {
            assert_eq!(result.code(), value, "{result:?}");
            assert_eq!(biv_result::from_code(value), Some(result));
        }
        assert_eq!(biv_result::all(), PINNED.map(|(result, _)| result));
    }

    #[test]
    fn the_enum_is_four_bytes_like_a_c_enum() {
        assert_eq!(std::mem::size_of::<biv_result>(), 4);
    }

    #[test]
    fn failure_codes_sit_in_the_general_range() {
        for &result in biv_result::all() {
            assert!(result.is_ok() == (result.code() == 0), "{result:?}");
            if !result.is_ok() {
                assert!((7000..7100).contains(&result.code()), "{result:?}");
            }
        }
    }

    #[test]
    fn every_code_has_a_distinct_message() {
        let mut seen = HashSet::new();
        for &result in biv_result::all() {
            let (_, text, n) = message_via_c(result.code());
            assert_eq!(text, result.message());
            assert_eq!(n, text.len());
            assert!(!text.is_empty() && text != UNKNOWN_MESSAGE, "{result:?}");
            assert!(seen.insert(text), "{result:?} repeats a message");
        }
    }

    #[test]
    fn unknown_codes_give_the_generic_text() {
        for code in [1, 6999, 7000, 7007, 7100, 7299, 7499, u32::MAX] {
            let (_, text, _) = message_via_c(code);
            assert_eq!(text, "unknown result code", "code {code}");
            assert_eq!(biv_result::from_code(code), None);
        }
    }

    #[test]
    fn a_too_small_buffer_reports_the_size_needed() {
        let needed = biv_result::BIV_PANIC.message().len() + 1;
        for len in [1, needed - 1] {
            let mut buf = vec![0x7f as c_char; len];
            let mut n = 0usize;
            // SAFETY: `buf` holds `len` writable bytes, `n` is one writable usize.
            let rc = unsafe {
                biv_result_message(biv_result::BIV_PANIC.code(), buf.as_mut_ptr(), len, &mut n)
            };
            assert_eq!(rc, biv_result::BIV_INSUFFICIENT_SIZE);
            assert_eq!(n, needed);
            assert!(buf.iter().all(|&b| b == 0x7f), "the buffer is untouched");
        }
        let mut buf = vec![0 as c_char; needed];
        let mut n = 0usize;
        // SAFETY: `buf` holds `needed` writable bytes, `n` is one writable usize.
        let rc = unsafe {
            biv_result_message(
                biv_result::BIV_PANIC.code(),
                buf.as_mut_ptr(),
                needed,
                &mut n,
            )
        };
        assert_eq!(rc, biv_result::BIV_OK);
        assert_eq!(n, needed - 1);
    }

    #[test]
    fn null_parameters() {
        let mut buf = [0 as c_char; 64];
        let mut n = 0usize;
        // SAFETY: NULL `out_n` is allowed by the contract and must be rejected.
        let rc = unsafe { biv_result_message(0, buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
        assert_eq!(rc, biv_result::BIV_NULL_PARAMETER);
        // SAFETY: NULL `buf` with a non-zero `len` must be rejected; `n` is writable.
        let rc = unsafe { biv_result_message(0, ptr::null_mut(), 64, &mut n) };
        assert_eq!(rc, biv_result::BIV_NULL_PARAMETER);
        assert_eq!(n, 0);
        // SAFETY: NULL `buf` with `len` 0 asks for the size; `n` is writable.
        let rc = unsafe { biv_result_message(0, ptr::null_mut(), 0, &mut n) };
        assert_eq!(rc, biv_result::BIV_INSUFFICIENT_SIZE);
        assert_eq!(n, "success".len() + 1);
    }

    #[test]
    fn never_changes_the_last_error_detail() {
        set("detail of an earlier failure");
        let mut n = 0usize;
        // SAFETY: a failing call (size query) and a NULL `out_n`; neither writes through NULL.
        unsafe {
            let _ = biv_result_message(7001, ptr::null_mut(), 0, &mut n);
            let _ = biv_result_message(7001, ptr::null_mut(), 0, ptr::null_mut());
        }
        let _ = message_via_c(7001);
        assert_eq!(current_detail(), "detail of an earlier failure");
    }
}
