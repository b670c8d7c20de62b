//! Writing text into caller-provided buffers.
//!
//! The caller owns the memory; biv only fills it. A buffer that is too small is not an error to
//! work around with truncation: the call returns `BIV_INSUFFICIENT_SIZE`, leaves the buffer
//! untouched and reports the size needed through `out_n`, so the caller can retry.

use std::ffi::c_char;

use crate::result::biv_result;

/// Copies `text` and a terminating NUL into `buf` (`len` bytes).
///
/// Returns:
/// - [`biv_result::BIV_OK`], with `*out_n` = `text.len()` (the bytes before the NUL);
/// - [`biv_result::BIV_INSUFFICIENT_SIZE`] when `len < text.len() + 1`, with `*out_n` = the size
///   needed including the NUL; `buf` is not written;
/// - [`biv_result::BIV_NULL_PARAMETER`] when `out_n` is NULL, or `buf` is NULL while `len` > 0;
///   nothing is written.
///
/// A NULL `buf` with `len` 0 is the way to ask for the size.
///
/// # Safety
///
/// `buf` must be NULL or valid for writes of `len` bytes; `out_n` must be NULL or valid for one
/// aligned `usize` write; the two must not overlap each other or `text`.
pub(crate) unsafe fn write_c_str(
    text: &str,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> biv_result {
    if out_n.is_null() || (buf.is_null() && len > 0) {
        return biv_result::BIV_NULL_PARAMETER;
    }
    // A `str` is at most `isize::MAX` bytes long, so this cannot overflow.
    let needed = text.len().saturating_add(1);
    if len < needed {
        // SAFETY: `out_n` is not NULL (checked above) and the caller guarantees it is valid for
        // one aligned `usize` write.
        unsafe { out_n.write(needed) };
        return biv_result::BIV_INSUFFICIENT_SIZE;
    }
    // SAFETY: `len >= needed >= 1`, so `buf` is not NULL (checked above), and the caller
    // guarantees it is valid for writes of `len >= needed` bytes and does not overlap `text` or
    // `out_n`. `u8` and `c_char` have the same size and alignment.
    let dest = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), needed) };
    let (body, nul) = dest.split_at_mut(text.len());
    body.copy_from_slice(text.as_bytes());
    nul.fill(0);
    // SAFETY: as above, `out_n` is not NULL and valid for one aligned `usize` write.
    unsafe { out_n.write(text.len()) };
    biv_result::BIV_OK
}

#[cfg(test)]
mod tests {
    use std::ffi::c_char;
    use std::ptr;

    use super::write_c_str;
    use crate::result::biv_result;

    const FILL: c_char = 0x55;

    fn write(text: &str, len: usize) -> (biv_result, Vec<u8>, usize) {
        let mut buf = vec![FILL; len];
        let mut n = usize::MAX;
        // SAFETY: `buf` holds `len` writable bytes and `n` is one writable usize.
        let rc = unsafe { write_c_str(text, buf.as_mut_ptr(), len, &mut n) };
        (rc, buf.into_iter().map(|b| b as u8).collect(), n)
    }

    #[test]
    fn exact_fit_writes_text_and_nul() {
        let (rc, buf, n) = write("abc", 4);
        assert_eq!(rc, biv_result::BIV_OK);
        assert_eq!(buf, b"abc\0");
        assert_eq!(n, 3);
    }

    #[test]
    fn larger_buffer_is_written_only_up_to_the_nul() {
        let (rc, buf, n) = write("abc", 8);
        assert_eq!(rc, biv_result::BIV_OK);
        assert_eq!(&buf[..4], b"abc\0");
        assert!(buf[4..].iter().all(|&b| b == FILL as u8));
        assert_eq!(n, 3);
    }

    #[test]
    fn one_byte_short_reports_the_size_and_writes_nothing() {
        for len in 0..4 {
            let (rc, buf, n) = write("abc", len);
            assert_eq!(rc, biv_result::BIV_INSUFFICIENT_SIZE, "len {len}");
            assert_eq!(n, 4, "len {len}");
            assert!(buf.iter().all(|&b| b == FILL as u8), "len {len}");
        }
    }

    #[test]
    fn empty_text_needs_one_byte() {
        let (rc, buf, n) = write("", 1);
        assert_eq!(rc, biv_result::BIV_OK);
        assert_eq!(buf, b"\0");
        assert_eq!(n, 0);
    }

    #[test]
    fn multibyte_utf8_is_counted_in_bytes() {
        let (rc, buf, n) = write("\u{2014}", 4);
        assert_eq!(rc, biv_result::BIV_OK);
        assert_eq!(buf, "\u{2014}\0".as_bytes());
        assert_eq!(n, 3);
    }

    #[test]
    fn null_pointers() {
        let mut n = 0usize;
        let mut buf = [FILL; 8];
        // SAFETY: NULL `out_n` must be rejected before anything is written.
        let rc = unsafe { write_c_str("abc", buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
        assert_eq!(rc, biv_result::BIV_NULL_PARAMETER);
        assert!(buf.iter().all(|&b| b == FILL));
        // SAFETY: NULL `buf` with a non-zero `len` must be rejected; `n` is writable.
        let rc = unsafe { write_c_str("abc", ptr::null_mut(), 8, &mut n) };
        assert_eq!(rc, biv_result::BIV_NULL_PARAMETER);
        assert_eq!(n, 0, "out_n is not written on failure");
        // SAFETY: NULL `buf` with `len` 0 is a size query; `n` is writable.
        let rc = unsafe { write_c_str("abc", ptr::null_mut(), 0, &mut n) };
        assert_eq!(rc, biv_result::BIV_INSUFFICIENT_SIZE);
        assert_eq!(n, 4);
        // SAFETY: both NULL: rejected, nothing written.
        let rc = unsafe { write_c_str("abc", ptr::null_mut(), 0, ptr::null_mut()) };
        assert_eq!(rc, biv_result::BIV_NULL_PARAMETER);
    }
}
