//! Dates of birth: a calendar date that a context word ("geboortedatum", "geb.", "geboren",
//! "DOB", "born", "date of birth", `birthDate`) says is one. Other dates (visits, timestamps)
//! are not personal data of this kind and are left alone.
//!
//! Shapes: `12-05-1978`, `12/05/1978`, `12.05.78`, `5/12/1978` (US order), `1978-05-12`,
//! `12 mei 1978`, `3 Mar. 1961`, `12-mei-1978`, `March 3, 1961`, and `19780512` (8 digits).

use biv_core::PiiKind;

use super::{Candidate, Token};
use crate::pii::bytes::{at, before, digits_end, is_alpha, is_digit, number, word_end};
use crate::pii::context;

/// A date with date-of-birth context.
const WITH_CONTEXT: f32 = 0.9;
/// The farthest (in words) the date-of-birth word may be.
const MAX_DISTANCE: usize = 3;

/// Month names and abbreviations, Dutch and English, lower case.
const MONTHS: &[(&[u8], u32)] = &[
    (b"januari", 1),
    (b"january", 1),
    (b"jan", 1),
    (b"februari", 2),
    (b"february", 2),
    (b"feb", 2),
    (b"maart", 3),
    (b"march", 3),
    (b"mrt", 3),
    (b"mar", 3),
    (b"april", 4),
    (b"apr", 4),
    (b"mei", 5),
    (b"may", 5),
    (b"juni", 6),
    (b"june", 6),
    (b"jun", 6),
    (b"juli", 7),
    (b"july", 7),
    (b"jul", 7),
    (b"augustus", 8),
    (b"august", 8),
    (b"aug", 8),
    (b"september", 9),
    (b"sept", 9),
    (b"sep", 9),
    (b"oktober", 10),
    (b"october", 10),
    (b"okt", 10),
    (b"oct", 10),
    (b"november", 11),
    (b"nov", 11),
    (b"december", 12),
    (b"dec", 12),
];

/// Whether a month name (optionally with a dot) ends right before `end`, preceded by a
/// non-letter: "March 3", "mrt. 3" (`end` is the space before the day).
#[inline]
pub(crate) fn month_word_before(bytes: &[u8], end: usize) -> bool {
    let mut e = end;
    if before(bytes, e) == Some(b'.') {
        e -= 1;
    }
    // Every month name ends in one of a few three-letter endings: most words before a number
    // ("sinds 3", "pols 72", "kamer 2") stop here, without the walk back to the word's start
    // (and without a call: the scanner asks this before most small numbers).
    e >= 3 && MONTH_ENDINGS.holds(&bytes[e - 3..e]) && month_word_ending_at(bytes, e)
}

/// [`month_word_before`] after its quick look, `e` past the name.
#[inline(never)]
fn month_word_ending_at(bytes: &[u8], e: usize) -> bool {
    let mut s = e;
    while s > 0 && is_alpha(bytes[s - 1]) && e - s < 10 {
        s -= 1;
    }
    !before(bytes, s).is_some_and(|c| c.is_ascii_alphanumeric()) && month(&bytes[s..e]).is_some()
}

/// Whether a month name starts at `start`: "mei 1978", "May 12".
#[inline]
pub(crate) fn month_word_at(bytes: &[u8], start: usize) -> bool {
    // Every month name starts with one of a few three-letter beginnings ("weken", "mg" and
    // "minutes" stop here).
    bytes
        .get(start..start + 3)
        .is_some_and(|w| MONTH_BEGINNINGS.holds(w))
        && month_word_starting_at(bytes, start)
}

/// [`month_word_at`] after its quick look.
#[inline(never)]
fn month_word_starting_at(bytes: &[u8], start: usize) -> bool {
    let mut e = start;
    while e < bytes.len() && is_alpha(bytes[e]) && e - start < 10 {
        e += 1;
    }
    month(&bytes[start..e]).is_some()
}

/// The month a word names, case-insensitively.
fn month(word: &[u8]) -> Option<u32> {
    if word.len() < 3 || word.len() > 9 {
        return None;
    }
    // Only some first letters and lengths occur ("weken", "mmol", "sinds" stop here).
    if MONTH_LENGTHS[usize::from(word[0].to_ascii_lowercase())] & (1 << word.len()) == 0 {
        return None;
    }
    let key = word.iter().rev().fold(0u128, |acc, &c| {
        (acc << 8) | u128::from(c.to_ascii_lowercase())
    });
    PACKED_MONTHS
        .iter()
        .find(|(m, _)| *m == key)
        .map(|(_, n)| *n)
}

/// A name of at most 16 ASCII bytes as one number, first byte lowest (names differ in length
/// only where they differ in bytes, as no name holds a zero byte).
const fn pack(name: &[u8]) -> u128 {
    let mut key = 0u128;
    let mut k = name.len();
    while k > 0 {
        k -= 1;
        key = (key << 8) | name[k] as u128;
    }
    key
}

/// Bit `len` of `MONTH_LENGTHS[first letter]` is set if a month name of that length starts
/// with that letter.
static MONTH_LENGTHS: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut k = 0;
    while k < MONTHS.len() {
        let name = MONTHS[k].0;
        table[name[0] as usize] |= 1 << name.len();
        k += 1;
    }
    table
};

/// A set of three-letter ASCII strings (compared case-insensitively), one bit per string.
struct Trigrams([u64; TRIGRAM_WORDS]);

/// Bits in a [`Trigrams`]: 26 × 26 × 26.
const TRIGRAM_BITS: usize = 26 * 26 * 26;
const TRIGRAM_WORDS: usize = TRIGRAM_BITS.div_ceil(64);

impl Trigrams {
    /// The first three letters (with `last`, the last three) of every month name.
    const fn of_months(last: bool) -> Self {
        let mut set = [0u64; TRIGRAM_WORDS];
        let mut k = 0;
        while k < MONTHS.len() {
            let name = MONTHS[k].0;
            let s = if last { name.len() - 3 } else { 0 };
            let bit = trigram_bit(name[s], name[s + 1], name[s + 2]);
            set[bit / 64] |= 1 << (bit % 64);
            k += 1;
        }
        Trigrams(set)
    }

    /// Whether `w` (three bytes) is in the set: three ASCII letters, in any case.
    #[inline]
    fn holds(&self, w: &[u8]) -> bool {
        let [a, b, c] = w else {
            return false;
        };
        if !(is_alpha(*a) && is_alpha(*b) && is_alpha(*c)) {
            return false;
        }
        let bit = trigram_bit(*a, *b, *c);
        self.0
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }
}

/// The bit of three ASCII letters in a [`Trigrams`].
#[inline]
const fn trigram_bit(a: u8, b: u8, c: u8) -> usize {
    (letter_index(a) * 26 + letter_index(b)) * 26 + letter_index(c)
}

/// 0–25 for an ASCII letter in either case (other bytes give some number below 26).
#[inline]
const fn letter_index(x: u8) -> usize {
    ((x | 0x20).wrapping_sub(b'a') % 26) as usize
}

/// The first three letters of every month name.
static MONTH_BEGINNINGS: Trigrams = Trigrams::of_months(false);
/// The last three letters of every month name.
static MONTH_ENDINGS: Trigrams = Trigrams::of_months(true);

/// [`MONTHS`], packed: one comparison per name instead of a slice comparison.
const PACKED_MONTHS: [(u128, u32); MONTHS.len()] = {
    let mut out = [(0u128, 0u32); MONTHS.len()];
    let mut k = 0;
    while k < MONTHS.len() {
        out[k] = (pack(MONTHS[k].0), MONTHS[k].1);
        k += 1;
    }
    out
};

fn valid_year(y: u32, digits: usize) -> bool {
    digits == 2 || (1880..=2099).contains(&y)
}

fn valid_day_month(d: u32, m: u32) -> bool {
    (1..=31).contains(&d) && (1..=12).contains(&m)
}

/// [`detect_hinted`] without a hint.
#[cfg(test)]
pub(crate) fn detect(t: &Token<'_>) -> Option<Candidate> {
    detect_hinted(t, || true)
}

/// A date of birth starting at the token, or (for "March 3, 1961") at the month before it.
/// `hint` (a necessary condition for date-of-birth context, see `pii::hints`) is asked once a
/// date is found, before the context words are read.
pub(crate) fn detect_hinted(t: &Token<'_>, hint: impl FnOnce() -> bool) -> Option<Candidate> {
    let (start, end) = numeric_date(t)
        .or_else(|| day_month_name_year(t))
        .or_else(|| month_name_day_year(t))?;
    if !hint() {
        return None;
    }
    // The date-of-birth word must be the nearest context, and close: "geboortedatum onbekend;
    // opname 12-03-2024" is not a date of birth.
    let hits = t.context();
    if !hits.is(context::DATE_OF_BIRTH)
        || hits
            .distance(context::DATE_OF_BIRTH)
            .is_none_or(|d| d > MAX_DISTANCE)
    {
        return None;
    }
    Some(Candidate::new(
        PiiKind::DateOfBirth,
        start,
        end,
        WITH_CONTEXT,
    ))
}

/// `d-m-y`, `y-m-d` with one separator, or `yyyymmdd`.
fn numeric_date(t: &Token<'_>) -> Option<(usize, usize)> {
    let g = &t.groups;
    let b = t.bytes;
    if g.len() == 1 || g.get(1).sep == b' ' {
        let first = g.get(0);
        if first.len() == 8 && word_end(b, first.end) {
            let s = &b[first.start..first.end];
            let (y, m, d) = (number(&s[..4]), number(&s[4..6]), number(&s[6..]));
            if valid_year(y, 4) && valid_day_month(d, m) {
                return Some((t.start, first.end));
            }
        }
        return None;
    }
    if g.len() < 3 {
        return None;
    }
    let sep = g.get(1).sep;
    if !matches!(sep, b'-' | b'/' | b'.') || g.get(2).sep != sep || g.continues_after(3, sep) {
        return None;
    }
    let end = g.end_of(3);
    if !word_end(b, end) || at(b, end) == Some(b':') {
        return None;
    }
    let part = |k: usize| {
        let gr = g.get(k);
        (number(&b[gr.start..gr.end.min(gr.start + 4)]), gr.len())
    };
    let ((x, xl), (y, yl), (z, zl)) = (part(0), part(1), part(2));
    let ok = if xl == 4 {
        valid_year(x, 4) && (1..=2).contains(&yl) && (1..=2).contains(&zl) && valid_day_month(z, y)
    } else {
        (1..=2).contains(&xl)
            && (1..=2).contains(&yl)
            && (zl == 4 || zl == 2)
            && valid_year(z, zl)
            && (valid_day_month(x, y) || (sep == b'/' && valid_day_month(y, x)))
    };
    ok.then_some((t.start, end))
}

/// `12 mei 1978`, `3 Mar. 1961`, `12-mei-1978`.
fn day_month_name_year(t: &Token<'_>) -> Option<(usize, usize)> {
    let b = t.bytes;
    let day = t.groups.get(0);
    if !(1..=2).contains(&day.len()) {
        return None;
    }
    let sep = at(b, day.end)?;
    if sep != b' ' && sep != b'-' {
        return None;
    }
    let word_start = day.end + 1;
    let mut i = word_start;
    while i < b.len() && is_alpha(b[i]) && i - word_start < 10 {
        i += 1;
    }
    month(&b[word_start..i])?;
    if at(b, i) == Some(b'.') {
        i += 1;
    }
    if at(b, i) != Some(sep) {
        return None;
    }
    let year_start = i + 1;
    let year_end = digits_end(b, year_start);
    if year_end - year_start != 4 || !word_end(b, year_end) {
        return None;
    }
    let d = number(&b[day.start..day.end]);
    if !(1..=31).contains(&d) || !valid_year(number(&b[year_start..year_end]), 4) {
        return None;
    }
    Some((t.start, year_end))
}

/// `March 3, 1961`, `May 12 1978`: the month word is before the token.
fn month_name_day_year(t: &Token<'_>) -> Option<(usize, usize)> {
    let b = t.bytes;
    let day = t.groups.get(0);
    if !(1..=2).contains(&day.len()) || before(b, t.start) != Some(b' ') {
        return None;
    }
    let word_end_pos = t.start - 1;
    let mut ws = word_end_pos;
    if before(b, ws) == Some(b'.') {
        ws -= 1;
    }
    let name_end = ws;
    while ws > t.floor && is_alpha(b[ws - 1]) && name_end - ws < 10 {
        ws -= 1;
    }
    if before(b, ws).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    month(&b[ws..name_end])?;
    let mut i = day.end;
    if at(b, i) == Some(b',') {
        i += 1;
    }
    if at(b, i) != Some(b' ') || !at(b, i + 1).is_some_and(is_digit) {
        return None;
    }
    let year_start = i + 1;
    let year_end = digits_end(b, year_start);
    if year_end - year_start != 4 || !word_end(b, year_end) {
        return None;
    }
    let d = number(&b[day.start..day.end]);
    if !(1..=31).contains(&d) || !valid_year(number(&b[year_start..year_end]), 4) {
        return None;
    }
    Some((ws, year_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::context::Phrases;

    fn find(text: &str, at: &str) -> Option<String> {
        let phrases = Phrases::built_in();
        let start = text.find(at).unwrap();
        let t = Token::new(text.as_bytes(), start, 0, &phrases);
        detect(&t).map(|c| text[c.start..c.end].to_string())
    }

    #[test]
    fn packed_names_match_the_table() {
        for (name, n) in MONTHS {
            assert_eq!(month(name), Some(*n));
            assert_eq!(month(&name.to_ascii_uppercase()), Some(*n));
        }
        assert_eq!(month(b"weken"), None);
        assert_eq!(month(b"mmol"), None);
        assert_eq!(month(b"septembe"), None);
    }

    /// `month_word_before` without the look at the last three letters.
    fn month_word_before_reference(bytes: &[u8], end: usize) -> bool {
        let mut e = end;
        if before(bytes, e) == Some(b'.') {
            e -= 1;
        }
        let mut s = e;
        while s > 0 && is_alpha(bytes[s - 1]) && e - s < 10 {
            s -= 1;
        }
        !before(bytes, s).is_some_and(|c| c.is_ascii_alphanumeric())
            && month(&bytes[s..e]).is_some()
    }

    /// `month_word_at` without the look at the first three letters.
    fn month_word_at_reference(bytes: &[u8], start: usize) -> bool {
        let mut e = start;
        while e < bytes.len() && is_alpha(bytes[e]) && e - start < 10 {
            e += 1;
        }
        month(&bytes[start..e]).is_some()
    }

    #[test]
    fn month_trigrams() {
        for (name, _) in MONTHS {
            for name in [name.to_vec(), name.to_ascii_uppercase()] {
                assert!(MONTH_BEGINNINGS.holds(&name[..3]));
                assert!(MONTH_ENDINGS.holds(&name[name.len() - 3..]));
                let text = [b" ".as_slice(), &name, b" 3"].concat();
                assert!(month_word_at(&text, 1));
                assert!(month_word_before(&text, text.len() - 2));
            }
        }
        for w in [b"wek", b"mg ", b"ja1", b"j@n", b"ja\xc3", b"{an", b"jaN"] {
            assert_eq!(MONTH_BEGINNINGS.holds(w), w == b"jaN", "{w:?}");
        }
        assert!(!MONTH_ENDINGS.holds(b"nds"));
        assert!(!MONTH_ENDINGS.holds(b"ja"));
    }

    proptest::proptest! {
        /// The three-letter looks change no answer of the month-name checks.
        #[test]
        fn month_trigrams_are_exact(
            atoms in proptest::collection::vec(proptest::sample::select(&[
                "jan", "Januari", "feb", "mrt", "MAART", "march", "mar", "apr", "mei", "May",
                "juni", "jul", "aug", "augustus", "sept", "sep", "okt", "oct", "nov", "dec",
                "December", "j", "a", "n", "x", "ember", "uari", "ch", ".", " ", "3", "é", "_",
                "{", "@", "`", "weken",
            ][..]), 0..12),
        ) {
            let text = atoms.concat();
            let bytes = text.as_bytes();
            for p in 0..=bytes.len() {
                proptest::prop_assert_eq!(
                    month_word_at(bytes, p),
                    month_word_at_reference(bytes, p),
                    "at {} in {:?}", p, text
                );
                proptest::prop_assert_eq!(
                    month_word_before(bytes, p),
                    month_word_before_reference(bytes, p),
                    "before {} in {:?}", p, text
                );
            }
        }
    }

    #[test]
    fn shapes_with_context() {
        for (text, at, want) in [
            ("geboortedatum: 12-05-1978;", "12", "12-05-1978"),
            ("geb. 3-4-1956)", "3", "3-4-1956"),
            ("DOB 1978-05-12 ok", "1978", "1978-05-12"),
            ("D.O.B.: 05/28/1978", "05", "05/28/1978"),
            ("geboren op 14 maart 1949,", "14", "14 maart 1949"),
            ("born 3 Mar. 1961", "3", "3 Mar. 1961"),
            ("born March 3, 1961.", "3", "March 3, 1961"),
            ("\"birthDate\":\"1978-05-12\"", "1978", "1978-05-12"),
            ("dob=19780512 x", "1978", "19780512"),
            ("geb. 12-mei-1978", "12", "12-mei-1978"),
        ] {
            assert_eq!(find(text, at), Some(want.to_string()), "{text}");
        }
    }

    #[test]
    fn other_dates_and_non_dates() {
        for (text, at) in [
            ("opname 12-05-2023", "12"),
            ("geb. 2024-03-12T14:02:11Z", "2024"),
            ("geb. 32-05-1978", "32"),
            ("geb. 12-13-1978", "12"),
            ("geb. 12-05-1978-2", "12"),
            ("geboren 12 keer 1978", "12"),
            ("geb. 12-05/1978", "12"),
            ("geb. 12-05-1878", "12"),
            (
                "Geboortedatum onbekend bij aanmelding; opname 12-03-2024",
                "12",
            ),
            ("geboren, maar dat was lang geleden: 12-03-1950", "12"),
        ] {
            assert_eq!(find(text, at), None, "{text}");
        }
    }
}
