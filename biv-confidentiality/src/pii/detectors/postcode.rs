//! Dutch postcodes (`1234 AB`, `1234AB`: four digits not starting with 0, two capital letters
//! other than SA, SD and SS), with the house number when it directly follows (`1234 AB 12`,
//! `1234AB-12a`, `1234AB 12-2`). A pair of letters that is usually a unit (`2048 MB`, `1000 IE`)
//! counts only with a house number, a following place name or a context word.

use biv_core::PiiKind;

use super::{Candidate, Token};
use crate::pii::bytes::{at, digits_end, is_alnum, is_alpha, is_digit};
use crate::pii::context;

/// With "postcode", "adres", "zip", … nearest before it.
const WITH_CONTEXT: f32 = 0.9;
/// Followed by a house number.
const WITH_HOUSE_NUMBER: f32 = 0.85;
/// Followed by a capitalised place name.
const WITH_PLACE: f32 = 0.8;
/// A postcode alone.
const BARE: f32 = 0.6;
/// Unit-like letters alone.
const UNIT_LIKE: f32 = 0.2;

/// Letter pairs that are more often a unit or abbreviation after a number than a postcode.
const UNIT_LIKE_PAIRS: &[&[u8; 2]] = &[
    b"AD", b"AM", b"BC", b"CC", b"CE", b"CM", b"DL", b"EU", b"GB", b"GR", b"HZ", b"IE", b"IU",
    b"KB", b"KG", b"KM", b"KW", b"MB", b"MG", b"ML", b"MM", b"MS", b"MW", b"NM", b"NS", b"PB",
    b"PK", b"PM", b"TB", b"US",
];

/// A postcode at the token.
pub(crate) fn detect(t: &Token<'_>) -> Option<Candidate> {
    let b = t.bytes;
    let first = t.groups.get(0);
    if first.len() != 4 || b[first.start] == b'0' {
        return None;
    }
    let mut i = first.end;
    if at(b, i) == Some(b' ') {
        i += 1;
    }
    let (l1, l2) = (at(b, i)?, at(b, i + 1)?);
    let upper = l1.is_ascii_uppercase() && l2.is_ascii_uppercase();
    let lower = l1.is_ascii_lowercase() && l2.is_ascii_lowercase();
    let code_end = i + 2;
    if !(upper || lower) || at(b, code_end).is_some_and(|c| is_alpha(c) || c == b'_' || c >= 0x80) {
        return None;
    }
    // Lower case ("1234ab") only where a word such as "postcode" says so.
    if lower && !t.context().is(context::POSTCODE) {
        return None;
    }
    let letters = [l1.to_ascii_uppercase(), l2.to_ascii_uppercase()];
    if matches!(&letters, b"SA" | b"SD" | b"SS") {
        return None;
    }
    let house_end = house_number(b, code_end);
    let end = house_end.unwrap_or(code_end);
    if house_end.is_none() && at(b, code_end).is_some_and(is_digit) {
        return None; // "1234AB12345678": not an address
    }
    // A house number or a place name settles it; the context words are read only otherwise.
    let confidence = if house_end.is_some() {
        WITH_HOUSE_NUMBER
    } else if place_follows(b, code_end) {
        WITH_PLACE
    } else if t.context().is(context::POSTCODE) {
        WITH_CONTEXT
    } else if UNIT_LIKE_PAIRS.contains(&&letters) {
        UNIT_LIKE
    } else {
        BARE
    };
    Some(Candidate::new(PiiKind::Postcode, t.start, end, confidence))
}

/// The end of a house number right after the postcode: `12`, ` 12`, `-12`, with an optional
/// addition `a`, `A`, `-2`, `-A`, `-hs`.
fn house_number(b: &[u8], code_end: usize) -> Option<usize> {
    let mut i = code_end;
    if matches!(at(b, i), Some(b' ' | b'-')) {
        i += 1;
    }
    if !at(b, i).is_some_and(|c| (b'1'..=b'9').contains(&c)) {
        return None;
    }
    let digits_stop = digits_end(b, i);
    if digits_stop - i > 5 {
        return None;
    }
    let mut end = digits_stop;
    match (at(b, end), at(b, end + 1)) {
        (Some(c), next) if is_alpha(c) && !next.is_some_and(|n| is_alnum(n) || n >= 0x80) => {
            end += 1;
        }
        (Some(b'-'), Some(c)) if is_alnum(c) => {
            let mut j = end + 1;
            while j < b.len() && is_alnum(b[j]) && j - end <= 3 {
                j += 1;
            }
            if j - end <= 3 {
                end = j;
            }
        }
        _ => {}
    }
    if at(b, end).is_some_and(|c| is_alnum(c) || c == b'_' || c >= 0x80) {
        return None;
    }
    Some(end)
}

/// Whether a place name follows: one or two spaces, then a capitalised word, an all-caps word
/// or `'s-` / `'t `.
fn place_follows(b: &[u8], code_end: usize) -> bool {
    let mut i = code_end;
    let mut spaces = 0;
    while at(b, i) == Some(b' ') && spaces < 2 {
        i += 1;
        spaces += 1;
    }
    if spaces == 0 {
        return false;
    }
    match (at(b, i), at(b, i + 1), at(b, i + 2)) {
        (Some(b'\''), Some(b's' | b't'), _) => true,
        (Some(c), Some(d), _) if c.is_ascii_uppercase() && d.is_ascii_lowercase() => true,
        (Some(c), Some(d), Some(e)) => {
            c.is_ascii_uppercase() && d.is_ascii_uppercase() && e.is_ascii_uppercase()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::context::Phrases;

    fn find(text: &str, at: &str) -> Option<(String, f32)> {
        let phrases = Phrases::built_in();
        let start = text.find(at).unwrap();
        let t = Token::new(text.as_bytes(), start, 0, &phrases);
        detect(&t).map(|c| (text[c.start..c.end].to_string(), c.confidence))
    }

    #[test]
    fn postcodes_and_house_numbers() {
        for (text, at, want, conf) in [
            ("Kerkstraat 1, 3511 LX Utrecht", "3511", "3511 LX", 0.8),
            ("x 3511LX 45.", "3511", "3511LX 45", 0.85),
            ("x 3511LX-45a;", "3511", "3511LX-45a", 0.85),
            ("x 3511 LX 12-2", "3511", "3511 LX 12-2", 0.85),
            ("x 3511LX12", "3511", "3511LX12", 0.85),
            ("postcode=3511LX&n=1", "3511", "3511LX", 0.9),
            ("x 3511 LX, daar", "3511", "3511 LX", 0.6),
            ("heap=2048 MB old", "2048", "2048 MB", 0.2),
            ("x 5211 AB 's-Hertogenbosch", "5211", "5211 AB", 0.8),
            (
                "nieuwe postcode 5211ab, huisnummer 3",
                "5211",
                "5211ab",
                0.9,
            ),
        ] {
            assert_eq!(find(text, at), Some((want.to_string(), conf)), "{text}");
        }
    }

    #[test]
    fn not_postcodes() {
        for (text, at) in [
            ("x 0123 AB", "0123"),
            ("x 1234 SS", "1234"),
            ("x 1234 ABC", "1234"),
            ("x 1234 ab", "1234"),
            ("x 12345 AB", "12345"),
            ("x 1234ABé", "1234"),
        ] {
            assert_eq!(find(text, at), None, "{text}");
        }
    }
}
