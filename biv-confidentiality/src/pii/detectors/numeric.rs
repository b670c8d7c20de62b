//! A numeric token: a run of digits and the digit groups that follow it, each after one
//! separator (space, `.`, `-`, `/`). "1234.56.782", "06 12 34 56 78" and "12-05-1978" are one
//! token of several groups. Parsing is bounded: at most [`MAX_GROUPS`] groups and
//! [`MAX_DIGITS`] digits are looked at, however long the run.

use crate::pii::bytes::{digits_end, is_digit};

/// Groups looked at per token.
pub(crate) const MAX_GROUPS: usize = 8;
/// Digits looked at per token; a longer run is not a number any detector knows.
pub(crate) const MAX_DIGITS: usize = 24;

/// One digit group: `bytes[start..end]`, and the separator before it (0 for the first).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Group {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) sep: u8,
}

impl Group {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }
}

/// The groups of a numeric token.
#[derive(Debug, Clone)]
pub(crate) struct Groups<'a> {
    bytes: &'a [u8],
    groups: [Group; MAX_GROUPS],
    n: usize,
    /// Digits in the groups parsed (each group is whole; parsing stops before `MAX_DIGITS`).
    n_digits: usize,
    /// A group was too long, or there were more groups than parsed.
    pub(crate) truncated: bool,
}

/// Whether `b` separates digit groups.
#[inline]
pub(crate) fn is_group_sep(b: u8) -> bool {
    matches!(b, b' ' | b'.' | b'-' | b'/')
}

impl<'a> Groups<'a> {
    /// Parses the token whose first digit is at `start`.
    pub(crate) fn parse(bytes: &'a [u8], start: usize) -> Self {
        let mut g = Groups {
            bytes,
            groups: [Group::default(); MAX_GROUPS],
            n: 0,
            n_digits: 0,
            truncated: false,
        };
        let mut i = start;
        let mut sep = 0u8;
        loop {
            let end = digits_end(bytes, i);
            g.groups[g.n] = Group { start: i, end, sep };
            g.n += 1;
            g.n_digits += end - i;
            if g.n_digits > MAX_DIGITS {
                g.truncated = true;
                break;
            }
            let next_is_group =
                end + 1 < bytes.len() && is_group_sep(bytes[end]) && is_digit(bytes[end + 1]);
            if !next_is_group {
                break;
            }
            if g.n == MAX_GROUPS {
                g.truncated = true;
                break;
            }
            sep = bytes[end];
            i = end + 1;
        }
        g
    }

    /// The number of groups parsed.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Group `k` (`k < len()`).
    pub(crate) fn get(&self, k: usize) -> Group {
        self.groups[k.min(self.n.saturating_sub(1))]
    }

    /// The groups parsed.
    pub(crate) fn as_slice(&self) -> &[Group] {
        &self.groups[..self.n]
    }

    /// The digits of the first `k` groups, copied into `buf`, if they fit.
    pub(crate) fn digits_of<'b>(
        &self,
        k: usize,
        buf: &'b mut [u8; MAX_DIGITS],
    ) -> Option<&'b [u8]> {
        let mut n = 0;
        for gr in self.as_slice().iter().take(k) {
            let digits = &self.bytes[gr.start..gr.end];
            buf.get_mut(n..n + digits.len())?.copy_from_slice(digits);
            n += digits.len();
        }
        Some(&buf[..n])
    }

    /// The end of the first `k` groups.
    pub(crate) fn end_of(&self, k: usize) -> usize {
        self.get(k.saturating_sub(1)).end
    }

    /// Whether the token continues after the first `k` groups with the separator `sep`
    /// (then a match of `k` groups would be part of a longer number).
    pub(crate) fn continues_after(&self, k: usize, sep: u8) -> bool {
        k < self.n && self.groups[k].sep == sep
    }

    /// Where the token ends (the end of the last group parsed).
    #[cfg(test)]
    pub(crate) fn end(&self) -> usize {
        self.get(self.n.saturating_sub(1)).end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_separators() {
        let g = Groups::parse(b"x 1234.56.782 ok", 2);
        assert_eq!(g.len(), 3);
        assert_eq!(
            g.digits_of(3, &mut [0; MAX_DIGITS]),
            Some(&b"123456782"[..])
        );
        assert_eq!(g.end_of(3), 13);
        assert_eq!(g.get(1).sep, b'.');
        assert!(!g.truncated);
        let g = Groups::parse(b"12-05-1978 12:00", 0);
        assert_eq!(g.len(), 4);
        assert!(g.continues_after(2, b'-'));
        assert!(!g.continues_after(3, b'-'));
    }

    #[test]
    fn long_runs_are_bounded() {
        let long = "1".repeat(10_000);
        let g = Groups::parse(long.as_bytes(), 0);
        assert!(g.truncated);
        assert_eq!(g.len(), 1);
        assert_eq!(g.end(), 10_000);
        let spaced = "1 ".repeat(100);
        let g = Groups::parse(spaced.as_bytes(), 0);
        assert_eq!(g.len(), MAX_GROUPS);
        assert!(g.truncated);
    }
}
