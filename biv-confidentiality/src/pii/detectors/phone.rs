//! Telephone numbers: Dutch national numbers (`0` + 9 digits: `06-12345678`, `020 123 4567`,
//! `(030) 123 45 67`), Dutch international forms (`+31 6 12345678`, `+31 (0)20 123 4567`,
//! `0031 6 12345678`) and other E.164 numbers (`+` and 8 to 15 digits). Digits may be grouped with
//! spaces, hyphens or dots.
//!
//! To keep dates, times and long ids out: a national number's first group is `06`, an area code
//! of three or four digits, or all ten digits; three groups shaped like a date are never a phone
//! number; and the number must end at a word boundary.

use biv_core::PiiKind;

use super::Candidate;
use crate::pii::bytes::{at, is_digit, number, word_end};
use crate::pii::context::{self, Hits};

/// A Dutch mobile number.
const MOBILE: f32 = 0.85;
/// Another Dutch national number.
const NATIONAL: f32 = 0.75;
/// `+31` / `0031` and nine digits.
const DUTCH_INTERNATIONAL: f32 = 0.9;
/// `+` and 8–15 digits.
const E164: f32 = 0.8;
/// `00`, another country code and 8–13 more digits.
const INTERNATIONAL_00: f32 = 0.7;
/// A phone context word ("tel.", "mobiel", "phone") adds this (up to 0.95).
const CONTEXT_BONUS: f32 = 0.1;
/// An adjacent word says it is another number ("order", "invoice").
const WEAK: f32 = 0.3;

const MAX_DIGITS: usize = 17;
const MAX_ENDS: usize = 10;

/// A phone number starting at `start` (a `+`, a `(` or a `0`). `hits` gives the context words
/// before `start` when asked.
pub(crate) fn detect(bytes: &[u8], start: usize, hits: impl FnOnce() -> Hits) -> Option<Candidate> {
    let mut digits = [0u8; MAX_DIGITS];
    let mut nd = 0usize;
    // (byte end, digit count, first group length) after each group.
    let mut ends = [(0usize, 0usize); MAX_ENDS];
    let mut n_ends = 0usize;
    let mut first_group = 0usize;
    let mut group_lens = [0usize; MAX_ENDS];

    let mut i = start;
    let plus = at(bytes, i) == Some(b'+');
    if plus {
        i += 1;
        if !at(bytes, i).is_some_and(|b| (b'1'..=b'9').contains(&b)) {
            return None;
        }
    }
    let mut paren_area = false;
    if at(bytes, i) == Some(b'(') {
        if plus || at(bytes, i + 1) != Some(b'0') {
            return None;
        }
        paren_area = true;
        i += 1;
    }
    loop {
        let run_start = i;
        while let Some(b) = at(bytes, i).filter(|&b| is_digit(b)) {
            if nd == MAX_DIGITS {
                return None;
            }
            digits[nd] = b;
            nd += 1;
            i += 1;
        }
        if i == run_start {
            return None;
        }
        if paren_area {
            // "(030) 123…": the area code closes, then one optional space.
            if at(bytes, i) != Some(b')') {
                return None;
            }
            paren_area = false;
            first_group = nd;
            i += 1;
            if at(bytes, i) == Some(b' ') {
                i += 1;
            }
            if !at(bytes, i).is_some_and(is_digit) {
                return None;
            }
            continue;
        }
        if first_group == 0 {
            first_group = nd;
        }
        if n_ends == MAX_ENDS {
            break;
        }
        group_lens[n_ends] = i - run_start;
        ends[n_ends] = (i, nd);
        n_ends += 1;
        // "+31 (0)20 …": a trunk zero in parentheses after the country code.
        if plus && n_ends == 1 {
            let mut j = i;
            if at(bytes, j) == Some(b' ') {
                j += 1;
            }
            if bytes.get(j..j + 3) == Some(b"(0)") {
                j += 3;
                if at(bytes, j) == Some(b' ') {
                    j += 1;
                }
                if at(bytes, j).is_some_and(is_digit) {
                    i = j;
                    continue;
                }
            }
        }
        match (at(bytes, i), at(bytes, i + 1)) {
            (Some(b' ' | b'-' | b'.'), Some(d)) if is_digit(d) => i += 1,
            // "06 - 12 34 56 78"
            (Some(b' '), Some(b'-'))
                if at(bytes, i + 2) == Some(b' ') && at(bytes, i + 3).is_some_and(is_digit) =>
            {
                i += 3;
            }
            _ => break,
        }
    }
    if n_ends >= 3 && looks_like_date(bytes, start, &group_lens[..n_ends]) {
        return None;
    }

    // The longest prefix (at a group end) that is a valid number.
    for e in (0..n_ends).rev() {
        let (end, count) = ends[e];
        if !word_end(bytes, end) {
            continue;
        }
        if e + 1 < n_ends && bytes[end] != b' ' {
            continue; // "020-1234567-89": part of something longer
        }
        let d = &digits[..count];
        let base = if plus {
            classify_international(d)
        } else {
            classify_national(d, first_group)
        };
        let Some(base) = base else {
            continue;
        };
        let hits = hits();
        let confidence = if hits.is(context::PHONE) {
            (base + CONTEXT_BONUS).min(0.95)
        } else if hits.negative()
            || hits
                .nearest()
                .is_some_and(|t| t != context::PHONE && t >= context::PATTERN_BASE)
        {
            WEAK
        } else {
            base
        };
        return Some(Candidate::new(PiiKind::Phone, start, end, confidence));
    }
    None
}

/// After a `+`: the country code and subscriber number.
fn classify_international(d: &[u8]) -> Option<f32> {
    if d.starts_with(b"31") {
        return (d.len() == 11 && d[2] != b'0').then_some(DUTCH_INTERNATIONAL);
    }
    (8..=15).contains(&d.len()).then_some(E164)
}

/// Without a `+`: `00…` international or a Dutch national number.
fn classify_national(d: &[u8], first_group: usize) -> Option<f32> {
    if d.first() != Some(&b'0') {
        return None;
    }
    if d.starts_with(b"00") {
        if d.starts_with(b"0031") {
            return (d.len() == 13 && d[4] != b'0').then_some(DUTCH_INTERNATIONAL);
        }
        let rest = d.len() - 2;
        return (d.get(2).is_some_and(|&b| b != b'0') && (10..=15).contains(&rest))
            .then_some(INTERNATIONAL_00);
    }
    if d.len() != 10 || d[1] == b'0' {
        return None;
    }
    let first_ok = match first_group {
        2 => d.starts_with(b"06"),
        3 | 4 | 10 => true,
        _ => false,
    };
    if !first_ok {
        return None;
    }
    Some(if d[1] == b'6' { MOBILE } else { NATIONAL })
}

/// "06-05-1978 12", "01.02.03": three groups shaped like a valid date with one separator, not
/// continued by a fourth group with the same separator ("06.12.34.56.78" is a phone number).
fn looks_like_date(bytes: &[u8], start: usize, lens: &[usize]) -> bool {
    let (a, b, c) = (lens[0], lens[1], lens[2]);
    if !((1..=2).contains(&a) && (1..=2).contains(&b) && (c == 4 || c == 2)) {
        return false;
    }
    let s1 = at(bytes, start + a);
    let s2 = at(bytes, start + a + 1 + b);
    if s1 != s2 || !matches!(s1, Some(b'-' | b'.' | b'/')) {
        return false;
    }
    if lens.len() > 3 && at(bytes, start + a + 1 + b + 1 + c) == s1 {
        return false;
    }
    let x = number(&bytes[start..start + a]);
    let y = number(&bytes[start + a + 1..start + a + 1 + b]);
    let valid = |d: u32, m: u32| (1..=31).contains(&d) && (1..=12).contains(&m);
    valid(x, y) || valid(y, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str, from: &str) -> Option<(String, f32)> {
        let start = text.find(from).unwrap();
        let phrases = crate::pii::context::Phrases::built_in();
        detect(text.as_bytes(), start, || {
            phrases.hits(text.as_bytes(), start)
        })
        .map(|c| (text[c.start..c.end].to_string(), c.confidence))
    }

    #[test]
    fn dutch_and_international_forms() {
        for (text, from, want) in [
            ("bel 0612345678.", "06", "0612345678"),
            ("x 06-12345678 y", "06", "06-12345678"),
            ("x 06 12 34 56 78", "06", "06 12 34 56 78"),
            ("x 020-1234567", "020", "020-1234567"),
            ("x 0492-123456", "0492", "0492-123456"),
            ("x (030) 123 45 67!", "(", "(030) 123 45 67"),
            ("x +31 6 12345678", "+", "+31 6 12345678"),
            ("x +31612345678", "+", "+31612345678"),
            ("x +31 (0)20 123 4567", "+", "+31 (0)20 123 4567"),
            ("x 0031 6 1234 5678", "0031", "0031 6 1234 5678"),
            ("x +44 20 7946 0958", "+", "+44 20 7946 0958"),
            ("x +1 202 555 0143", "+", "+1 202 555 0143"),
            ("06 12345678 12 keer", "06", "06 12345678"),
            ("x 06 - 12 34 56 78.", "06", "06 - 12 34 56 78"),
            ("x 06.19.07.06.80", "06", "06.19.07.06.80"),
            ("x +31(0)6-12345678", "+", "+31(0)6-12345678"),
            ("x 0031612345678 y", "00", "0031612345678"),
        ] {
            assert_eq!(
                find(text, from).map(|f| f.0),
                Some(want.to_string()),
                "{text}"
            );
        }
        assert_eq!(find("tel: 0612345678", "06").map(|f| f.1), Some(0.95));
        assert_eq!(find("x 0612345678", "06").map(|f| f.1), Some(0.85));
    }

    #[test]
    fn not_phone_numbers() {
        for (text, from) in [
            ("06-05-1978 12:00", "06"),
            ("01-05-1978 12", "01"),
            ("x 0000012345", "00"),
            ("x 061234567", "06"),
            ("x 06123456789", "06"),
            ("[12/Mar/2024:14:02:11 +0100]", "+"),
            ("x +123", "+"),
            ("x 0612345678abc", "06"),
            ("x 0123456789012", "01"),
        ] {
            assert_eq!(find(text, from), None, "{text}");
        }
    }
}
