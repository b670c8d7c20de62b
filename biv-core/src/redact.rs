//! Personal data found in text, and the [`Redactor`] that removes it.

use std::borrow::Cow;
use std::fmt::Debug;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A kind of personal data or secret a redactor detects. The names are those of
/// `biv pii scan`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PiiKind {
    /// Dutch citizen service number (burgerservicenummer), 11-proof checked.
    Bsn,
    /// International bank account number, mod-97 checked.
    Iban,
    /// E-mail address.
    Email,
    /// Telephone number.
    Phone,
    /// Date of birth (a date near a context word).
    DateOfBirth,
    /// Dutch postcode with house number.
    Postcode,
    /// AGB code (Dutch healthcare provider code).
    Agb,
    /// Patient or record number from a configured pattern.
    RecordNumber,
    /// A credential: bearer token, password or token pair, private key block.
    Secret,
}

impl PiiKind {
    /// The snake_case name, e.g. `date_of_birth`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PiiKind::Bsn => "bsn",
            PiiKind::Iban => "iban",
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::DateOfBirth => "date_of_birth",
            PiiKind::Postcode => "postcode",
            PiiKind::Agb => "agb",
            PiiKind::RecordNumber => "record_number",
            PiiKind::Secret => "secret",
        }
    }

    /// The default mask, e.g. `[BSN]`, `[DATE_OF_BIRTH]`.
    pub fn mask(&self) -> String {
        format!("[{}]", self.as_str().to_ascii_uppercase())
    }
}

/// One detected item: its kind, its byte range in the input, and a confidence in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// What was found.
    #[serde(rename = "type")]
    pub kind: PiiKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// How sure the detector is.
    pub confidence: f32,
}

impl Finding {
    /// A finding.
    pub fn new(kind: PiiKind, start: usize, end: usize, confidence: f32) -> Self {
        Finding {
            kind,
            start,
            end,
            confidence,
        }
    }
}

/// Replaces each finding's range with its kind's mask. Findings that overlap an earlier one,
/// fall outside the text, or do not lie on character boundaries are skipped whole — a bad
/// finding never corrupts the output or panics.
///
/// ```
/// use biv_core::{Finding, PiiKind, mask_findings};
/// let text = "bsn 111222333 ok";
/// let out = mask_findings(text, &[Finding::new(PiiKind::Bsn, 4, 13, 0.9)]);
/// assert_eq!(out, "bsn [BSN] ok");
/// ```
pub fn mask_findings<'a>(text: &'a str, findings: &[Finding]) -> Cow<'a, str> {
    if findings.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for f in sorted {
        let valid = f.start >= pos
            && f.start < f.end
            && f.end <= text.len()
            && text.is_char_boundary(f.start)
            && text.is_char_boundary(f.end);
        if !valid {
            continue;
        }
        out.push_str(&text[pos..f.start]);
        out.push_str(&f.kind.mask());
        pos = f.end;
    }
    out.push_str(&text[pos..]);
    Cow::Owned(out)
}

/// Finds and removes personal data and secrets in text before it leaves the process: in log
/// records, error reports, alerts and free-text audit fields.
///
/// The ECS log layer, the error reporter and the PHP binding all take an `Arc<dyn Redactor>`.
/// biv-confidentiality implements it with checksum-validated detectors and per-kind operators
/// (mask, keyed pseudonym, drop).
///
/// # Example
/// ```
/// use biv_core::{Finding, PiiKind, Redactor};
///
/// /// Masks every e-mail address (a toy: the real detectors live in biv-confidentiality).
/// #[derive(Debug)]
/// struct AtSigns;
///
/// impl Redactor for AtSigns {
///     fn scan(&self, text: &str) -> Vec<Finding> {
///         text.split(' ').scan(0, |pos, word| {
///             let start = *pos;
///             *pos += word.len() + 1;
///             Some((start, word))
///         })
///         .filter(|(_, w)| w.contains('@'))
///         .map(|(s, w)| Finding::new(PiiKind::Email, s, s + w.len(), 0.9))
///         .collect()
///     }
/// }
///
/// assert_eq!(AtSigns.redact("mail jan@example.nl now"), "mail [EMAIL] now");
/// ```
pub trait Redactor: Send + Sync + Debug {
    /// Reports what is in `text`, in order of position, without changing it.
    fn scan(&self, text: &str) -> Vec<Finding>;

    /// Returns `text` with every finding replaced. The default masks each finding with
    /// [`PiiKind::mask`]; implementations may pseudonymise or drop instead.
    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        mask_findings(text, &self.scan(text))
    }
}

impl<T: Redactor + ?Sized> Redactor for Arc<T> {
    fn scan(&self, text: &str) -> Vec<Finding> {
        (**self).scan(text)
    }
    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        (**self).redact(text)
    }
}

impl<T: Redactor + ?Sized> Redactor for Box<T> {
    fn scan(&self, text: &str) -> Vec<Finding> {
        (**self).scan(text)
    }
    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        (**self).redact(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_skips_bad_findings() {
        let text = "a é b";
        let f = |s, e| Finding::new(PiiKind::Secret, s, e, 1.0);
        // Overlap, out of range, inside a multi-byte char, empty range: all skipped.
        assert_eq!(
            mask_findings(text, &[f(0, 1), f(0, 3), f(3, 4), f(5, 99), f(4, 4)]),
            "[SECRET] é b"
        );
        assert_eq!(
            mask_findings(text, &[f(2, 4), f(5, 6)]),
            "a [SECRET] [SECRET]"
        );
        assert!(matches!(mask_findings(text, &[]), Cow::Borrowed(_)));
    }

    #[test]
    fn names_and_masks() {
        assert_eq!(PiiKind::DateOfBirth.as_str(), "date_of_birth");
        assert_eq!(PiiKind::DateOfBirth.mask(), "[DATE_OF_BIRTH]");
        let json = serde_json::to_string(&Finding::new(PiiKind::Bsn, 1, 10, 0.5)).unwrap();
        assert_eq!(
            json,
            r#"{"type":"bsn","start":1,"end":10,"confidence":0.5}"#
        );
    }
}
