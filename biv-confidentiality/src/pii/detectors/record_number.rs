//! Patient and record numbers from configured patterns.
//!
//! A pattern is a template, matched from a word start to a word end:
//!
//! | element | matches |
//! |---|---|
//! | `#` | an ASCII digit |
//! | `A` | an ASCII capital letter |
//! | `a` | an ASCII small letter |
//! | `*` | an ASCII letter or digit |
//! | `\c` | the character `c` itself (e.g. `\#`, `\A`) |
//! | any other printable ASCII character | itself (case-sensitive) |
//!
//! An element may be followed by `{n}` or `{n,m}` (1 ≤ n ≤ m ≤ 32). Repetition is possessive:
//! an element takes as many characters as it can (up to `m`) and never gives any back, so
//! matching is one left-to-right pass with no backtracking. `ZP-#{7}` matches `ZP-1234567`;
//! `#{6,10}` matches six to ten digits.

use biv_core::PiiKind;

use super::Candidate;
use crate::pii::bytes::{at, is_alnum, is_digit, is_word};
use crate::pii::context::Hits;

/// Confidence of a match whose context phrase is nearest.
const WITH_CONTEXT: f32 = 0.9;
/// A match of a pattern that does not need context, without it.
const BARE: f32 = 0.8;

const MAX_ELEMENTS: usize = 64;
const MAX_REPEAT: u8 = 32;

/// What one pattern element matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Digit,
    Upper,
    Lower,
    Alnum,
    Literal(u8),
}

impl Class {
    fn matches(self, b: u8) -> bool {
        match self {
            Class::Digit => is_digit(b),
            Class::Upper => b.is_ascii_uppercase(),
            Class::Lower => b.is_ascii_lowercase(),
            Class::Alnum => is_alnum(b),
            Class::Literal(c) => b == c,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Element {
    class: Class,
    min: u8,
    max: u8,
}

/// A compiled record-number pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    elements: Vec<Element>,
    /// Context phrases are configured for it.
    pub(crate) has_context: bool,
    /// It is reported only with its context.
    pub(crate) require_context: bool,
    /// Its context tag.
    pub(crate) tag: u16,
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternProblem {
    Empty,
    NotAscii,
    TooLong,
    BadRepeat(usize),
    DanglingEscape,
    NoDigit,
}

impl std::fmt::Display for PatternProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternProblem::Empty => f.write_str("the pattern is empty"),
            PatternProblem::NotAscii => {
                f.write_str("the pattern must be printable ASCII without spaces at its ends")
            }
            PatternProblem::TooLong => {
                write!(f, "the pattern has more than {MAX_ELEMENTS} elements")
            }
            PatternProblem::BadRepeat(at) => write!(
                f,
                "bad repetition at byte {at}: use {{n}} or {{n,m}} with 1 <= n <= m <= {MAX_REPEAT} after an element"
            ),
            PatternProblem::DanglingEscape => f.write_str("the pattern ends with a lone backslash"),
            PatternProblem::NoDigit => {
                f.write_str("the pattern must contain at least one `#` (digit)")
            }
        }
    }
}

impl Pattern {
    /// Compiles `source`.
    pub(crate) fn compile(
        source: &str,
        tag: u16,
        has_context: bool,
        require_context: bool,
    ) -> Result<Self, PatternProblem> {
        let s = source.as_bytes();
        if s.is_empty() {
            return Err(PatternProblem::Empty);
        }
        if s.iter().any(|&b| !(0x20..0x7f).contains(&b)) || s[0] == b' ' || s[s.len() - 1] == b' ' {
            return Err(PatternProblem::NotAscii);
        }
        let mut elements: Vec<Element> = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let class = match s[i] {
                b'#' => Class::Digit,
                b'A' => Class::Upper,
                b'a' => Class::Lower,
                b'*' => Class::Alnum,
                b'\\' => {
                    i += 1;
                    Class::Literal(*s.get(i).ok_or(PatternProblem::DanglingEscape)?)
                }
                b'{' | b'}' => return Err(PatternProblem::BadRepeat(i)),
                c => Class::Literal(c),
            };
            i += 1;
            let (min, max) = if s.get(i) == Some(&b'{') {
                let close = s[i..]
                    .iter()
                    .position(|&b| b == b'}')
                    .map(|p| i + p)
                    .ok_or(PatternProblem::BadRepeat(i))?;
                let spec = std::str::from_utf8(&s[i + 1..close])
                    .map_err(|_| PatternProblem::BadRepeat(i))?;
                let parse = |t: &str| {
                    t.trim()
                        .parse::<u8>()
                        .map_err(|_| PatternProblem::BadRepeat(i))
                };
                let (min, max) = match spec.split_once(',') {
                    Some((a, b)) => (parse(a)?, parse(b)?),
                    None => {
                        let n = parse(spec)?;
                        (n, n)
                    }
                };
                if min == 0 || min > max || max > MAX_REPEAT {
                    return Err(PatternProblem::BadRepeat(i));
                }
                i = close + 1;
                (min, max)
            } else {
                (1, 1)
            };
            elements.push(Element { class, min, max });
            if elements.len() > MAX_ELEMENTS {
                return Err(PatternProblem::TooLong);
            }
        }
        if !elements.iter().any(|e| e.class == Class::Digit) {
            return Err(PatternProblem::NoDigit);
        }
        Ok(Pattern {
            elements,
            has_context,
            require_context,
            tag,
        })
    }

    /// Whether the pattern can start with `b`.
    pub(crate) fn can_start_with(&self, b: u8) -> bool {
        self.elements.first().is_some_and(|e| e.class.matches(b))
    }

    /// The end of a match starting at `start`, if the pattern matches there between word
    /// boundaries.
    pub(crate) fn match_at(&self, bytes: &[u8], start: usize) -> Option<usize> {
        if start > 0 && is_word(bytes[start - 1]) {
            return None;
        }
        let mut i = start;
        for e in &self.elements {
            let mut n = 0u8;
            while n < e.max && at(bytes, i).is_some_and(|b| e.class.matches(b)) {
                i += 1;
                n += 1;
            }
            if n < e.min {
                return None;
            }
        }
        let last_is_word = i > start && is_word(bytes[i - 1]);
        if last_is_word && at(bytes, i).is_some_and(|b| is_word(b) || b == b'@') {
            return None;
        }
        Some(i)
    }

    /// A record number at `start`; `hits` gives the context before it, asked for only when the
    /// pattern matches.
    pub(crate) fn detect<'h>(
        &self,
        bytes: &[u8],
        start: usize,
        hits: impl FnOnce() -> &'h Hits,
    ) -> Option<Candidate> {
        let end = self.match_at(bytes, start)?;
        let confidence = if self.has_context && hits().is(self.tag) {
            WITH_CONTEXT
        } else if self.require_context {
            return None;
        } else {
            BARE
        };
        Some(Candidate::new(
            PiiKind::RecordNumber,
            start,
            end,
            confidence,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(p: &str, text: &str) -> Option<usize> {
        Pattern::compile(p, 8, false, false)
            .unwrap()
            .match_at(text.as_bytes(), 0)
    }

    #[test]
    fn matching_is_possessive_and_bounded() {
        assert_eq!(end("ZP-#{7}", "ZP-1234567 x"), Some(10));
        assert_eq!(end("ZP-#{7}", "ZP-12345678"), None);
        assert_eq!(end("#{6,10}", "1234567,"), Some(7));
        assert_eq!(end("#{6,10}", "12345"), None);
        assert_eq!(end("#{6,10}", "12345678901"), None);
        assert_eq!(end("A{2}#{4}", "AB1234"), Some(6));
        assert_eq!(end("\\A#", "A1"), Some(2));
        assert_eq!(
            end("*{1,5}#", "ab12"),
            None,
            "possessive: * took the digits"
        );
        assert_eq!(end("*{3}#", "ab12"), Some(4));
    }

    #[test]
    fn bad_patterns() {
        let err = |p: &str| Pattern::compile(p, 8, false, false).unwrap_err();
        assert_eq!(err(""), PatternProblem::Empty);
        assert_eq!(err("ABC"), PatternProblem::NoDigit);
        assert_eq!(err("#{0}"), PatternProblem::BadRepeat(1));
        assert_eq!(err("#{3,2}"), PatternProblem::BadRepeat(1));
        assert_eq!(err("#{40}"), PatternProblem::BadRepeat(1));
        assert_eq!(err("#{"), PatternProblem::BadRepeat(1));
        assert_eq!(err("{3}"), PatternProblem::BadRepeat(0));
        assert_eq!(err("#\\"), PatternProblem::DanglingEscape);
        assert_eq!(err("#é"), PatternProblem::NotAscii);
        assert_eq!(err(&"#".repeat(65)), PatternProblem::TooLong);
    }
}
