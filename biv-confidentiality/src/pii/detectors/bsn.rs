//! BSN (burgerservicenummer): 9 digits, or 8 when a leading zero was dropped (a number stored as
//! an integer). Written plain (`111222333`) or in groups of two to four digits with one kind of
//! separator (`1112.22.333`, `111 222 333`, `111-222-333`). Validated with the 11-proof: the
//! digits weighted 9, 8, …, 2 and −1 sum to a multiple of 11; `000000000` is rejected. A number
//! that fails the 11-proof is never reported as a BSN.

use biv_core::PiiKind;

use super::{Candidate, Token, numeric};
use crate::pii::bytes::number_end;
use crate::pii::context;

/// Confidence with "BSN", "burgerservicenummer", … as the nearest context word.
const WITH_CONTEXT: f32 = 0.95;
/// Nine valid digits and no context.
const BARE: f32 = 0.7;
/// Nine valid digits written in the usual groups (4-2-3 or 3-3-3).
const GROUPED: f32 = 0.75;
/// Nine valid digits with a context word for another kind nearest.
const OTHER_CONTEXT: f32 = 0.6;
/// Eight digits with BSN context.
const EIGHT_WITH_CONTEXT: f32 = 0.85;
/// Eight digits without context, or a number that another word ("order", "invoice") names.
const WEAK: f32 = 0.3;

/// The 11-proof over nine ASCII digits; all zeros fail.
pub(crate) fn eleven_proof(digits: &[u8; 9]) -> bool {
    if digits.iter().all(|&d| d == b'0') {
        return false;
    }
    let mut sum: i32 = 0;
    for (k, &d) in digits.iter().enumerate() {
        let value = i32::from(d.wrapping_sub(b'0'));
        let weight = if k == 8 { -1 } else { 9 - k as i32 };
        sum += weight * value;
    }
    sum.rem_euclid(11) == 0
}

/// A BSN starting at the token, if one is there.
pub(crate) fn detect(t: &Token<'_>) -> Option<Candidate> {
    let g = &t.groups;
    let mut buf = [0u8; numeric::MAX_DIGITS];
    let mut n = 0;
    for k in 1..=g.len().min(4) {
        // The digits are copied only for a candidate of the right length.
        n += g.get(k - 1).len();
        if n > 9 {
            break;
        }
        if n != 9 && !(n == 8 && k == 1) {
            continue;
        }
        let mut grouped_typically = false;
        if k > 1 {
            let sep = g.get(1).sep;
            if !(1..k).all(|x| g.get(x).sep == sep) {
                continue;
            }
            if !g.as_slice()[..k]
                .iter()
                .all(|gr| (2..=4).contains(&gr.len()))
            {
                continue;
            }
            if g.continues_after(k, sep) {
                continue;
            }
            let lens = (g.get(0).len(), g.get(1).len(), g.get(2).len());
            grouped_typically = k == 3 && (lens == (4, 2, 3) || lens == (3, 3, 3));
        } else if g.len() > 1 && g.get(1).sep != b' ' {
            // "123456782-01", "123456782.5", "123456782/2": part of something longer.
            continue;
        }
        let end = g.end_of(k);
        if !number_end(t.bytes, end, k > 1) {
            continue;
        }
        let digits = g.digits_of(k, &mut buf)?;
        let mut padded = [b'0'; 9];
        padded[9 - n..].copy_from_slice(digits);
        if !eleven_proof(&padded) {
            continue;
        }
        let hits = t.context();
        let confidence = match (n, hits.nearest()) {
            (9, Some(context::BSN)) => WITH_CONTEXT,
            (9, _) if hits.negative() => WEAK,
            (9, Some(_)) => OTHER_CONTEXT,
            (9, None) if grouped_typically => GROUPED,
            (9, None) => BARE,
            (_, Some(context::BSN)) => EIGHT_WITH_CONTEXT,
            _ => WEAK,
        };
        return Some(Candidate::new(PiiKind::Bsn, t.start, end, confidence));
    }
    None
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
    fn eleven_proof_matches_the_reference_values() {
        for ok in ["111222333", "123456782", "999990019", "001855013"] {
            assert!(eleven_proof(ok.as_bytes().try_into().unwrap()), "{ok}");
        }
        for bad in ["000000000", "123456789", "001855014", "111222334"] {
            assert!(!eleven_proof(bad.as_bytes().try_into().unwrap()), "{bad}");
        }
    }

    #[test]
    fn formats_and_confidence() {
        assert_eq!(
            find("BSN 111222333.", "111"),
            Some(("111222333".into(), 0.95))
        );
        assert_eq!(
            find("bsn: 1112.22.333 ok", "1112"),
            Some(("1112.22.333".into(), 0.95))
        );
        assert_eq!(
            find("x 111 222 333 y", "111"),
            Some(("111 222 333".into(), 0.75))
        );
        assert_eq!(
            find("x 111-222-333", "111"),
            Some(("111-222-333".into(), 0.75))
        );
        assert_eq!(find("id 111222333", "111"), Some(("111222333".into(), 0.7)));
        assert_eq!(
            find("order 111222333", "111"),
            Some(("111222333".into(), 0.3))
        );
        // 8 digits: 01855013 is 001855013 without the zero... which is itself 9 digits
        // with two leading zeros; the 8-digit form keeps one.
        assert_eq!(find("BSN 01855013", "018"), Some(("01855013".into(), 0.85)));
        assert_eq!(find("x 01855013", "018"), Some(("01855013".into(), 0.3)));
    }

    #[test]
    fn rejects_invalid_and_embedded_numbers() {
        assert_eq!(find("BSN 123456789", "123"), None);
        assert_eq!(find("BSN 000000000", "000"), None);
        assert_eq!(find("1.112.223.330", "1."), None);
        assert_eq!(find("111222333-01", "111"), None);
        assert_eq!(find("111222333x", "111"), None);
        assert_eq!(find("111222333@example.nl", "111"), None);
        assert_eq!(find("111.222.333.444", "111"), None);
        assert_eq!(find("1 1 1 2 2 2 3 3 3", "1"), None);
    }
}
