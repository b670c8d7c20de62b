//! Text encodings shared by the tlog formats: standard base64 with padding (RFC 4648 §4) and
//! lower-case hex. Decoding is strict: non-canonical base64 (stray bits, missing padding,
//! whitespace) is rejected, so every value has exactly one text form.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Standard base64 with padding.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Strict standard base64 decoding; `None` if the text is not canonical base64.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.as_bytes()).ok()
}

/// Lower-case hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex (either case) into `out`; on failure returns the byte offset of the first bad
/// character (or the text length when the length is wrong).
pub(crate) fn hex_decode_into(text: &str, out: &mut [u8]) -> Result<(), usize> {
    let bytes = text.as_bytes();
    if bytes.len() != out.len() * 2 {
        return Err(bytes.len().min(out.len() * 2));
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let hi = hex_digit(bytes[2 * i]).ok_or(2 * i)?;
        let lo = hex_digit(bytes[2 * i + 1]).ok_or(2 * i + 1)?;
        *slot = (hi << 4) | lo;
    }
    Ok(())
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses an ASCII decimal `u64` with no sign and no leading zeros (except `0` itself), as the
/// checkpoint and tlog-proof formats require.
pub(crate) fn parse_canonical_u64(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let mut out = [0u8; 2];
        assert_eq!(hex_decode_into("0aFf", &mut out), Ok(()));
        assert_eq!(out, [0x0a, 0xff]);
        assert_eq!(hex_encode(&out), "0aff");
        assert_eq!(hex_decode_into("0g00", &mut out), Err(1));
        assert_eq!(hex_decode_into("000", &mut out), Err(3));
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(b64_decode("AA=="), Some(vec![0]));
        assert_eq!(b64_decode("AB=="), None); // non-zero trailing bits
        assert_eq!(b64_decode("AA"), None); // missing padding
        assert_eq!(b64_decode("AA==\n"), None);
    }

    #[test]
    fn canonical_decimal() {
        assert_eq!(parse_canonical_u64("0"), Some(0));
        assert_eq!(parse_canonical_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_canonical_u64("18446744073709551616"), None);
        assert_eq!(parse_canonical_u64("01"), None);
        assert_eq!(parse_canonical_u64("+1"), None);
        assert_eq!(parse_canonical_u64(""), None);
        assert_eq!(parse_canonical_u64("1 "), None);
    }
}
