//! IBAN (ISO 13616): a two-letter country code, two check digits and the BBAN, written
//! electronically (`NL91ABNA0417164300`) or in groups of four (`NL91 ABNA 0417 1643 00`). The
//! length must be the registry length for the country and the ISO 7064 mod 97-10 check must give
//! 1. A number that fails either is never reported as an IBAN.

use biv_core::PiiKind;

use super::Candidate;
use crate::pii::bytes::{is_alnum, is_alpha, is_digit, word_start};
use crate::pii::context::{self, Phrases};

/// Confidence of a valid IBAN.
const VALID: f32 = 0.95;
/// A valid IBAN after "IBAN", "rekeningnummer", "account", ….
const WITH_CONTEXT: f32 = 0.99;
/// The longest IBAN in the registry.
const MAX_LEN: usize = 34;

/// IBAN length per country: the SWIFT IBAN registry (ISO 13616), sorted by country code.
/// Territories that use another country's IBAN (e.g. Guadeloupe with `FR`) need no entry.
const LENGTHS: &[([u8; 2], u8)] = &[
    (*b"AD", 24),
    (*b"AE", 23),
    (*b"AL", 28),
    (*b"AT", 20),
    (*b"AZ", 28),
    (*b"BA", 20),
    (*b"BE", 16),
    (*b"BG", 22),
    (*b"BH", 22),
    (*b"BI", 27),
    (*b"BR", 29),
    (*b"BY", 28),
    (*b"CH", 21),
    (*b"CR", 22),
    (*b"CY", 28),
    (*b"CZ", 24),
    (*b"DE", 22),
    (*b"DJ", 27),
    (*b"DK", 18),
    (*b"DO", 28),
    (*b"EE", 20),
    (*b"EG", 29),
    (*b"ES", 24),
    (*b"FI", 18),
    (*b"FK", 18),
    (*b"FO", 18),
    (*b"FR", 27),
    (*b"GB", 22),
    (*b"GE", 22),
    (*b"GI", 23),
    (*b"GL", 18),
    (*b"GR", 27),
    (*b"GT", 28),
    (*b"HN", 28),
    (*b"HR", 21),
    (*b"HU", 28),
    (*b"IE", 22),
    (*b"IL", 23),
    (*b"IQ", 23),
    (*b"IS", 26),
    (*b"IT", 27),
    (*b"JO", 30),
    (*b"KW", 30),
    (*b"KZ", 20),
    (*b"LB", 28),
    (*b"LC", 32),
    (*b"LI", 21),
    (*b"LT", 20),
    (*b"LU", 20),
    (*b"LV", 21),
    (*b"LY", 25),
    (*b"MC", 27),
    (*b"MD", 24),
    (*b"ME", 22),
    (*b"MK", 19),
    (*b"MN", 20),
    (*b"MR", 27),
    (*b"MT", 31),
    (*b"MU", 30),
    (*b"NI", 28),
    (*b"NL", 18),
    (*b"NO", 15),
    (*b"OM", 23),
    (*b"PK", 24),
    (*b"PL", 28),
    (*b"PS", 29),
    (*b"PT", 25),
    (*b"QA", 29),
    (*b"RO", 24),
    (*b"RS", 22),
    (*b"RU", 33),
    (*b"SA", 24),
    (*b"SC", 31),
    (*b"SD", 18),
    (*b"SE", 24),
    (*b"SI", 19),
    (*b"SK", 24),
    (*b"SM", 27),
    (*b"SO", 23),
    (*b"ST", 25),
    (*b"SV", 28),
    (*b"TL", 23),
    (*b"TN", 24),
    (*b"TR", 26),
    (*b"UA", 29),
    (*b"VA", 22),
    (*b"VG", 24),
    (*b"XK", 20),
    (*b"YE", 30),
];

/// The registry length of an IBAN for an upper-case country code.
pub(crate) fn country_length(code: [u8; 2]) -> Option<usize> {
    LENGTHS
        .binary_search_by(|(c, _)| c.cmp(&code))
        .ok()
        .map(|i| usize::from(LENGTHS[i].1))
}

/// ISO 7064 mod 97-10 over an IBAN's upper-case alphanumeric characters: the first four moved
/// to the end, letters as 10–35. A valid IBAN gives 1.
pub(crate) fn mod97(chars: &[u8]) -> u32 {
    let (head, tail) = chars.split_at(4.min(chars.len()));
    let mut rem: u32 = 0;
    for &c in tail.iter().chain(head) {
        if is_digit(c) {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c.to_ascii_uppercase().wrapping_sub(b'A')) + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem
}

/// What [`detect`] saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// A valid IBAN.
    Valid(Candidate),
    /// Something shaped exactly like an IBAN (known country, registry length, word boundaries)
    /// that fails mod 97, ending here. Its digits are not looked at again (they are an account
    /// number with a typo, not a phone number or a BSN).
    Invalid(usize),
}

/// An IBAN whose check digits start at `digit` (the two country letters are before it).
pub(crate) fn detect(
    bytes: &[u8],
    digit: usize,
    floor: usize,
    phrases: &Phrases,
) -> Option<Outcome> {
    let start = digit.checked_sub(2)?;
    if start < floor || !is_alpha(bytes[start]) || !is_alpha(bytes[start + 1]) {
        return None;
    }
    if !word_start(bytes, start) || !bytes.get(digit + 1).copied().is_some_and(is_digit) {
        return None;
    }
    let code = [
        bytes[start].to_ascii_uppercase(),
        bytes[start + 1].to_ascii_uppercase(),
    ];
    let len = country_length(code)?;
    let mut chars = [0u8; MAX_LEN];
    let mut count = 0;
    let mut i = start;
    while count < len {
        let &c = bytes.get(i)?;
        if is_alnum(c) {
            chars[count] = c;
            count += 1;
            i += 1;
        } else if c == b' ' && count % 4 == 0 && bytes.get(i + 1).copied().is_some_and(is_alnum) {
            i += 1;
        } else {
            return None;
        }
    }
    if bytes
        .get(i)
        .copied()
        .is_some_and(|b| is_alnum(b) || b == b'_')
    {
        return None;
    }
    if mod97(&chars[..len]) != 1 {
        return Some(Outcome::Invalid(i));
    }
    let confidence = if phrases.hits(bytes, start).is(context::IBAN) {
        WITH_CONTEXT
    } else {
        VALID
    };
    Some(Outcome::Valid(Candidate::new(
        PiiKind::Iban,
        start,
        i,
        confidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Option<&str> {
        let phrases = Phrases::built_in();
        let digit = text.bytes().position(|b| b.is_ascii_digit()).unwrap();
        match detect(text.as_bytes(), digit, 0, &phrases) {
            Some(Outcome::Valid(c)) => Some(&text[c.start..c.end]),
            _ => None,
        }
    }

    #[test]
    fn table_is_sorted_and_known_lengths_hold() {
        assert!(LENGTHS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(country_length(*b"NL"), Some(18));
        assert_eq!(country_length(*b"NO"), Some(15));
        assert_eq!(country_length(*b"RU"), Some(33));
        assert_eq!(country_length(*b"US"), None);
    }

    #[test]
    fn valid_and_invalid() {
        assert_eq!(find("NL91ABNA0417164300"), Some("NL91ABNA0417164300"));
        assert_eq!(
            find("iban NL91 ABNA 0417 1643 00."),
            Some("NL91 ABNA 0417 1643 00")
        );
        assert_eq!(find("nl91abna0417164300"), Some("nl91abna0417164300"));
        assert_eq!(
            find("GB82WEST12345698765432"),
            Some("GB82WEST12345698765432")
        );
        assert_eq!(
            find("DE89370400440532013000 x"),
            Some("DE89370400440532013000")
        );
        assert_eq!(find("NL91ABNA0417164301"), None, "checksum");
        let bad = "NL91 ABNA 0417 1643 01 x";
        let phrases = Phrases::built_in();
        assert_eq!(
            detect(bad.as_bytes(), 2, 0, &phrases),
            Some(Outcome::Invalid(22))
        );
        assert_eq!(find("NL91ABNA04171643001"), None, "too long");
        assert_eq!(find("NL91ABNA041716430"), None, "too short");
        assert_eq!(find("XNL91ABNA0417164300"), None, "not at a word start");
        assert_eq!(find("NL91 ABNA 04 17164300"), None, "space off the grid");
    }
}
