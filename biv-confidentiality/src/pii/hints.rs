//! Cheap, conservative hints that let the scanner skip work that cannot lead to a finding.
//!
//! A date of birth is reported only where a date-of-birth phrase ("geboortedatum", "geb.",
//! "DOB", "D.O.B.", "born", "birth", "dateofbirth", …) is one of the context words before it,
//! and those words all lie in the [`WINDOW`] bytes before the candidate. The last word of every
//! such phrase contains a `b` that is recognisable from its neighbours: `geb…` and `dob` (the
//! two bytes before it are `ge` or `do`), `born` and `birth…` (followed by `orn` or `irt`), and
//! the one-letter word `b` of "D.O.B.". [`DobHints`] finds those `b`s with `memchr` and remembers
//! the last one, so a scan looks at each byte at most once for them; where none lies in the
//! window, no date of birth can start and the scanner skips the date detector and the month-name
//! checks. The hint is a necessary condition only: the detector still decides.

use memchr::memchr2;

use crate::pii::context::WINDOW;

/// A byte that belongs to a context word (as in `context`).
#[inline]
fn is_ctx_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Whether the `b`/`B` at `p` may belong to the last word of a date-of-birth phrase.
fn is_dob_b(bytes: &[u8], p: usize) -> bool {
    let lower2 = |s: usize| {
        bytes
            .get(s..s + 2)
            .map(|w| [w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase()])
    };
    let lower3 = |s: usize| {
        bytes.get(s..s + 3).map(|w| {
            [
                w[0].to_ascii_lowercase(),
                w[1].to_ascii_lowercase(),
                w[2].to_ascii_lowercase(),
            ]
        })
    };
    if p >= 2 && matches!(lower2(p - 2), Some([b'g', b'e'] | [b'd', b'o'])) {
        return true;
    }
    if matches!(lower3(p + 1), Some([b'o', b'r', b'n'] | [b'i', b'r', b't'])) {
        return true;
    }
    let alone_before = p == 0 || !is_ctx_word(bytes[p - 1]);
    let alone_after = bytes.get(p + 1).is_none_or(|&c| !is_ctx_word(c));
    alone_before && alone_after
}

/// Remembers, during one scan, where the last possible date-of-birth `b` was.
#[derive(Debug, Default)]
pub(crate) struct DobHints {
    /// Every `b`/`B` before this was looked at (or lies before every window still to come).
    scanned_to: usize,
    /// The first `b`/`B` at or after `scanned_to`, once searched (`bytes.len()` if none).
    next_b: Option<usize>,
    /// The last hint before `scanned_to`.
    last: Option<usize>,
}

impl DobHints {
    /// Whether a date-of-birth phrase can be among the context words before `pos` (false means
    /// it certainly is not). `pos` is where a number starts, so the byte before it (if any) is
    /// not part of a word and the words before `pos` are whole.
    pub(crate) fn possible(&mut self, bytes: &[u8], pos: usize) -> bool {
        let pos = pos.min(bytes.len());
        let floor = pos.saturating_sub(WINDOW);
        if pos < self.scanned_to {
            // Not expected (positions grow during a scan), but answer correctly anyway.
            return last_hint(bytes, floor, pos).is_some();
        }
        if self.scanned_to < floor {
            // Skip to the window; `next_b` stays valid if it lies in it (no search twice over
            // the same bytes: the time stays linear in the input).
            self.scanned_to = floor;
            if self.next_b.is_some_and(|p| p < floor) {
                self.next_b = None;
            }
        }
        let mut next = match self.next_b {
            Some(p) => p,
            None => find_b(bytes, self.scanned_to),
        };
        while next < pos {
            if is_dob_b(bytes, next) {
                self.last = Some(next);
            }
            next = find_b(bytes, next + 1);
        }
        self.next_b = Some(next);
        self.scanned_to = pos;
        self.last.is_some_and(|p| p >= floor)
    }
}

/// The first `b`/`B` at or after `from`, or `bytes.len()`. The distance is usually a few
/// dozen bytes, so eight bytes are tested at a time in a `u64` (a call to `memchr2` costs more
/// to set up than that) before `memchr2` takes over for long stretches.
fn find_b(bytes: &[u8], from: usize) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const CASE: u64 = 0x2020_2020_2020_2020;
    const B: u64 = 0x6262_6262_6262_6262;
    let mut i = from;
    for _ in 0..8 {
        let Some(word) = bytes.get(i..i + 8) else {
            break;
        };
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        // Bytes equal to `b` after setting the case bit become zero; find the first zero byte
        // exactly (no false positives: each byte is tested on its own 7 low bits and its top).
        let y = (u64::from_le_bytes(eight) | CASE) ^ B;
        let zero = !(((y & LOW7).wrapping_add(LOW7)) | y | LOW7);
        if zero != 0 {
            return i + (zero.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    bytes
        .get(i..)
        .and_then(|hay| memchr2(b'b', b'B', hay))
        .map_or(bytes.len(), |p| i + p)
}

/// The last hint in `bytes[from..to]`.
fn last_hint(bytes: &[u8], from: usize, to: usize) -> Option<usize> {
    (from..to.min(bytes.len()))
        .rev()
        .find(|&p| matches!(bytes[p], b'b' | b'B') && is_dob_b(bytes, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::context::{DATE_OF_BIRTH, Phrases};

    #[test]
    fn every_date_of_birth_phrase_leaves_a_hint() {
        let phrases = Phrases::built_in();
        for phrase in [
            "geboortedatum",
            "Geb.",
            "GEBOREN",
            "gebdatum",
            "geboortedag",
            "geboorte",
            "DOB",
            "D.O.B.",
            "d o b",
            "born",
            "Birth",
            "birthdate",
            "birthday",
            "dateOfBirth",
            "date_of_birth",
        ] {
            let text = format!("{phrase}: 12-05-1978");
            let pos = text.find("12").unwrap_or(0);
            assert!(
                phrases.hits(text.as_bytes(), pos).is(DATE_OF_BIRTH),
                "{phrase}"
            );
            assert!(
                DobHints::default().possible(text.as_bytes(), pos),
                "{phrase}"
            );
        }
    }

    #[test]
    fn no_hint_without_such_a_word() {
        let text = b"bloeddruk 120/80, HbA1c 48, billing.rs:212 about 12";
        assert!(!DobHints::default().possible(text, text.len() - 2));
        let far = format!("geb. {} 12", "x".repeat(70));
        assert!(!DobHints::default().possible(far.as_bytes(), far.len() - 2));
        let mut h = DobHints::default();
        let text =
            b"dob 1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 2";
        assert!(h.possible(text, 4));
        assert!(!h.possible(text, text.len() - 1));
        assert!(h.possible(text, 5), "an earlier position is still answered");
    }

    proptest::proptest! {
        /// Asked at growing positions, the hint agrees with a fresh search of each window; and
        /// wherever the context words hold a date-of-birth phrase, it says "possible".
        #[test]
        fn hint_is_exact_and_necessary(
            atoms in proptest::collection::vec(proptest::sample::select(&[
                "b", "B", "geb", "Geb.", "dob", "DOB", "D.O.B.", "d o b", "born", "birth",
                "date_of_birth", "bb", "abc", "x", " ", "  ", ".", ":", "1", "12", "1978", "é",
                "gebouw", "debo", "snob", "\n",
            ][..]), 0..40),
            step in 1usize..9,
        ) {
            let text = atoms.concat();
            let bytes = text.as_bytes();
            let phrases = Phrases::built_in();
            let mut hints = DobHints::default();
            for pos in (0..=bytes.len()).step_by(step) {
                let possible = hints.possible(bytes, pos);
                let fresh = last_hint(bytes, pos.saturating_sub(WINDOW), pos).is_some();
                proptest::prop_assert_eq!(possible, fresh, "{:?} at {}", text, pos);
                // The scanner asks only where a number may start: after a byte that is not part
                // of a word, so the words before `pos` are whole.
                let whole = pos == 0 || !is_ctx_word(bytes[pos - 1]);
                if whole && phrases.all_hits(bytes, pos).distance(DATE_OF_BIRTH).is_some() {
                    proptest::prop_assert!(possible, "{:?} at {}", text, pos);
                }
            }
        }
    }

    #[test]
    fn find_b_finds_the_first() {
        let text =
            b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxB b";
        for from in 0..text.len() + 2 {
            let want = (from..text.len())
                .find(|&p| matches!(text[p], b'b' | b'B'))
                .unwrap_or(text.len());
            assert_eq!(find_b(text, from), want, "{from}");
        }
        assert_eq!(find_b(b"\xe2\x82\xac\xff\xc2 b", 0), 6);
    }
}
