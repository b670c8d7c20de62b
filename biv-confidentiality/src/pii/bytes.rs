//! Byte classes and small helpers shared by the detectors. Everything works on bytes, so the
//! same code serves `&str`, invalid UTF-8 and streamed chunks.

/// An ASCII digit.
#[inline]
pub(crate) fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// An ASCII letter.
#[inline]
pub(crate) fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

/// An ASCII letter or digit.
#[inline]
pub(crate) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A byte that belongs to a word for boundary purposes: ASCII letters and digits, `_`, and every
/// byte of a multi-byte UTF-8 character (so `ë` or `é` next to a number is not a boundary).
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The byte at `i`, or `None` past either end.
#[inline]
pub(crate) fn at(bytes: &[u8], i: usize) -> Option<u8> {
    bytes.get(i).copied()
}

/// The byte before `i`, or `None` at the start.
#[inline]
pub(crate) fn before(bytes: &[u8], i: usize) -> Option<u8> {
    if i == 0 {
        None
    } else {
        bytes.get(i - 1).copied()
    }
}

/// Whether a match may start at `i`: the previous byte is not part of a word.
#[inline]
pub(crate) fn word_start(bytes: &[u8], i: usize) -> bool {
    before(bytes, i).is_none_or(|b| !is_word(b))
}

/// Whether a match may end at `i` (exclusive): the next byte is not part of a word and is not the
/// `@` of an e-mail address.
#[inline]
pub(crate) fn word_end(bytes: &[u8], i: usize) -> bool {
    at(bytes, i).is_none_or(|b| !is_word(b) && b != b'@')
}

/// Whether a number may end at `i`: a word end that is not followed by a decimal part of one
/// to three digits: `123456782.5`, and for a number written in groups `111.222.333,00`. A comma
/// after plain digits separates values (`[111222333,123456782]`, a CSV row `…,400134007,06 …`),
/// and so does a comma before a longer run.
#[inline]
pub(crate) fn number_end(bytes: &[u8], i: usize, grouped: bool) -> bool {
    if !word_end(bytes, i) {
        return false;
    }
    let sep = at(bytes, i);
    if matches!(sep, Some(b'.' | b',')) && at(bytes, i + 1).is_some_and(is_digit) {
        let fraction = digits_end(bytes, i + 1) - (i + 1);
        let decimal = fraction <= 3 && (sep == Some(b'.') || grouped);
        return !decimal;
    }
    true
}

/// The end of the run of digits starting at `i`.
#[inline]
pub(crate) fn digits_end(bytes: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < bytes.len() && is_digit(bytes[j]) {
        j += 1;
    }
    j
}

/// The decimal value of up to 4 ASCII digits (the caller checks they are digits).
#[inline]
pub(crate) fn number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d.wrapping_sub(b'0')))
}

/// Whether `bytes[i..]` starts with `word`, ASCII case-insensitively.
#[inline]
pub(crate) fn starts_with_ignore_case(bytes: &[u8], i: usize, word: &[u8]) -> bool {
    bytes
        .get(i..i.saturating_add(word.len()))
        .is_some_and(|s| s.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        let b = b"x 123_4 5@";
        assert!(word_start(b, 0));
        assert!(word_start(b, 2));
        assert!(!word_start(b, 3));
        assert!(word_end(b, 1));
        assert!(!word_end(b, 5));
        assert!(!word_end(b, 9));
        assert!(word_end(b, 10));
        assert!(!word_start("é1".as_bytes(), 2));
        assert!(!number_end(b"123.45 x", 3, false));
        assert!(!number_end(b"123,45 x", 3, true));
        assert!(number_end(b"123,45 x", 3, false));
        assert!(number_end(b"123.4567", 3, true));
        assert!(number_end(b"123, 4", 3, true));
    }

    #[test]
    fn helpers() {
        assert_eq!(number(b"1978"), 1978);
        assert_eq!(digits_end(b"12a", 0), 2);
        assert!(starts_with_ignore_case(b"xBeArEr", 1, b"bearer"));
        assert!(!starts_with_ignore_case(b"Bear", 0, b"bearer"));
    }
}
