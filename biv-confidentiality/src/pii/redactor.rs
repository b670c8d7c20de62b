//! [`PiiRedactor`]: the scanner plus an operator per kind; biv-core's [`Redactor`].

use std::borrow::Cow;

use biv_core::{Finding, PiiKind, Redactor};

use crate::pii::config::{ConfigError, Operator, PiiConfig};
use crate::pii::operators;
use crate::pii::pseudonym::PseudonymKey;
use crate::pii::scanner::{KINDS, PiiScanner, slot};
use crate::pii::stream::{StreamRedactor, StreamScanner};

/// Finds personal data and secrets and replaces each with its kind's operator: a mask
/// (`[BSN]`), a keyed pseudonym, or nothing.
///
/// This is biv-core's [`Redactor`] for the ECS log layer, the error reporter and the C ABI.
/// `&str` in, `Cow<str>` out (borrowed when nothing was found); [`redact_bytes`] takes any bytes;
/// [`stream`] redacts chunk by chunk without missing what straddles two chunks.
///
/// ```
/// use biv_confidentiality::pii::{Operator, PiiConfig, PiiRedactor, PseudonymKey};
/// use biv_core::{PiiKind, Redactor, SecretBytes};
///
/// let masks = PiiRedactor::new(&PiiConfig::default())?;
/// assert_eq!(
///     masks.redact("BSN 111222333, mail jan@example.nl"),
///     "BSN [BSN], mail [EMAIL]"
/// );
///
/// // The tenant key comes from the host (a key store, a KeyProvider), never from biv.
/// let key = PseudonymKey::new("t1", SecretBytes::new(vec![42; 32]))?;
/// let config = PiiConfig::default().with_operator(PiiKind::Bsn, Operator::Pseudonym);
/// let pseudonyms = PiiRedactor::with_pseudonym_key(&config, key)?;
/// let out = pseudonyms.redact("bsn=111222333");
/// assert!(out.starts_with("bsn=bsn_t1_"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`redact_bytes`]: PiiRedactor::redact_bytes
/// [`stream`]: PiiRedactor::stream
#[derive(Debug, Clone)]
pub struct PiiRedactor {
    scanner: PiiScanner,
    operators: [Operator; 9],
    key: Option<PseudonymKey>,
}

impl PiiRedactor {
    /// A redactor without a pseudonym key.
    ///
    /// # Errors
    /// [`BuildError::MissingPseudonymKey`] if the configuration asks for pseudonyms,
    /// [`BuildError::Config`] if it is invalid.
    pub fn new(config: &PiiConfig) -> Result<Self, BuildError> {
        Self::build(config, None)
    }

    /// A redactor that pseudonymises with the tenant's `key`.
    ///
    /// # Errors
    /// [`BuildError::Config`] if the configuration is invalid.
    pub fn with_pseudonym_key(config: &PiiConfig, key: PseudonymKey) -> Result<Self, BuildError> {
        Self::build(config, Some(key))
    }

    fn build(config: &PiiConfig, key: Option<PseudonymKey>) -> Result<Self, BuildError> {
        let scanner = PiiScanner::new(config)?;
        let mut operators = [Operator::Mask; 9];
        for (i, kind) in KINDS.iter().enumerate() {
            let settings = config.kind(*kind);
            operators[i] = settings.operator;
            if settings.enabled && settings.operator == Operator::Pseudonym && key.is_none() {
                return Err(BuildError::MissingPseudonymKey { kind: *kind });
            }
        }
        Ok(PiiRedactor {
            scanner,
            operators,
            key,
        })
    }

    /// The scanner inside.
    pub fn scanner(&self) -> &PiiScanner {
        &self.scanner
    }

    /// The operator for `kind`.
    pub fn operator(&self, kind: PiiKind) -> Operator {
        slot(kind).map_or(Operator::Mask, |s| self.operators[s])
    }

    /// Redacts bytes that need not be UTF-8. Bytes outside findings are copied unchanged.
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let findings = self.scanner.scan_bytes(bytes);
        if findings.is_empty() {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        self.apply(bytes, 0, bytes.len(), &findings, &mut out);
        Cow::Owned(out)
    }

    /// A streaming redactor: push chunks, get redacted bytes.
    pub fn stream(&self) -> StreamRedactor<'_> {
        StreamRedactor::new(self)
    }

    /// A streaming scanner with this redactor's configuration.
    pub fn stream_scanner(&self) -> StreamScanner<'_> {
        StreamScanner::new(&self.scanner)
    }

    /// Writes `bytes[from..to]` with `findings` (sorted, non-overlapping, inside the range)
    /// replaced.
    pub(crate) fn apply(
        &self,
        bytes: &[u8],
        from: usize,
        to: usize,
        findings: &[Finding],
        out: &mut Vec<u8>,
    ) {
        let mut pos = from;
        for f in findings {
            if f.start < pos || f.end > to || f.start >= f.end {
                continue;
            }
            out.extend_from_slice(&bytes[pos..f.start]);
            operators::apply(
                self.operator(f.kind),
                f.kind,
                &bytes[f.start..f.end],
                self.key.as_ref(),
                out,
            );
            pos = f.end;
        }
        out.extend_from_slice(&bytes[pos..to]);
    }
}

impl Redactor for PiiRedactor {
    fn scan(&self, text: &str) -> Vec<Finding> {
        self.scanner.scan(text)
    }

    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let findings = self.scanner.scan(text);
        if findings.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = Vec::with_capacity(text.len());
        self.apply(text.as_bytes(), 0, text.len(), &findings, &mut out);
        // Findings lie on character boundaries and replacements are ASCII, so this is UTF-8;
        // the lossy conversion only guards that invariant without a panic.
        match String::from_utf8(out) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }
}

/// Why a [`PiiRedactor`] cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration pseudonymises a kind but no key was given (fail closed: no silent
    /// fallback to a weaker operator).
    #[error("PII redactor: {} is set to pseudonym but no pseudonym key was given", kind.as_str())]
    MissingPseudonymKey {
        /// The first kind set to pseudonym.
        kind: PiiKind,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use biv_core::SecretBytes;

    #[test]
    fn operators_per_kind() {
        let key = PseudonymKey::new("t1", SecretBytes::new(vec![3; 32])).unwrap();
        let config = PiiConfig::default()
            .with_operator(PiiKind::Bsn, Operator::Pseudonym)
            .with_operator(PiiKind::Email, Operator::Drop);
        let r = PiiRedactor::with_pseudonym_key(&config, key.clone()).unwrap();
        let out = r.redact("BSN 111222333 mail <jan@example.nl> tel 0612345678");
        let p = key.pseudonym(PiiKind::Bsn, b"111222333");
        assert_eq!(out, format!("BSN {p} mail <> tel [PHONE]"));
        assert_eq!(r.redact("nothing here"), "nothing here");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn pseudonym_without_key_is_refused() {
        let config = PiiConfig::default().with_operator(PiiKind::Iban, Operator::Pseudonym);
        assert_eq!(
            PiiRedactor::new(&config).unwrap_err(),
            BuildError::MissingPseudonymKey {
                kind: PiiKind::Iban
            }
        );
        // A disabled kind does not need the key.
        assert!(PiiRedactor::new(&config.with_disabled(PiiKind::Iban)).is_ok());
    }

    #[test]
    fn bytes_api_keeps_everything_else() {
        let r = PiiRedactor::new(&PiiConfig::default()).unwrap();
        let input = b"\xff\xfe bsn 111222333 \x00\x80";
        assert_eq!(&*r.redact_bytes(input), b"\xff\xfe bsn [BSN] \x00\x80");
    }
}
