//! What the scanner looks for and what the redactor does with it: [`PiiConfig`], its JSON form
//! (specified in `docs/formats/pii-findings.md`), and [`ConfigError`].

use std::collections::BTreeMap;

use biv_core::PiiKind;
use serde::{Deserialize, Serialize};

/// What happens to a finding when text is redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operator {
    /// Replace it with the kind's mask, e.g. `[BSN]` (the default).
    #[default]
    Mask,
    /// Replace it with a keyed pseudonym, e.g. `bsn_t1_5c2f0e9d1a7b3c4d8e6f`: HMAC-SHA256 under
    /// the tenant's [`PseudonymKey`](crate::pii::PseudonymKey), so the same value gives the same
    /// pseudonym within a tenant, and the value cannot be recovered from it.
    Pseudonym,
    /// Remove it.
    Drop,
}

/// Settings for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KindConfig {
    /// Whether the kind is detected at all (default `true`).
    pub enabled: bool,
    /// What the redactor does with it (default [`Operator::Mask`]).
    pub operator: Operator,
    /// Overrides [`PiiConfig::min_confidence`] for this kind.
    pub min_confidence: Option<f32>,
}

impl Default for KindConfig {
    fn default() -> Self {
        KindConfig {
            enabled: true,
            operator: Operator::Mask,
            min_confidence: None,
        }
    }
}

/// A configured pattern for patient or record numbers (kind
/// [`PiiKind::RecordNumber`]).
///
/// The pattern language (`#` digit, `A` capital, `a` small letter, `*` letter or digit, `\c`
/// literal, other characters literal, `{n}` / `{n,m}` possessive repetition) is described in
/// `docs/formats/pii-findings.md`.
///
/// ```
/// use biv_confidentiality::pii::RecordPattern;
/// let hospital = RecordPattern::new("ZP-#{7}");
/// let bare = RecordPattern::new("#{7}").with_context(["patiëntnummer", "pat.nr"]).requiring_context();
/// assert!(bare.require_context);
/// # let _ = hospital;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RecordPattern {
    /// The pattern, e.g. `ZP-#{7}`.
    pub pattern: String,
    /// Words or phrases that introduce such a number, e.g. `patiëntnummer`, `MRN`.
    #[serde(default)]
    pub context: Vec<String>,
    /// Report a match only when one of the [`context`](Self::context) phrases is the nearest
    /// context before it. Needed for bare digit patterns, which would otherwise match any number.
    #[serde(default)]
    pub require_context: bool,
}

impl RecordPattern {
    /// A pattern without context.
    pub fn new(pattern: impl Into<String>) -> Self {
        RecordPattern {
            pattern: pattern.into(),
            context: Vec::new(),
            require_context: false,
        }
    }

    /// Adds context phrases.
    #[must_use]
    pub fn with_context<I, S>(mut self, phrases: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.context.extend(phrases.into_iter().map(Into::into));
        self
    }

    /// Reports matches only with context.
    #[must_use]
    pub fn requiring_context(mut self) -> Self {
        self.require_context = true;
        self
    }
}

/// What a [`PiiScanner`](crate::pii::PiiScanner) looks for and what a
/// [`PiiRedactor`](crate::pii::PiiRedactor) does with each kind.
///
/// The default detects all nine kinds, reports findings with confidence 0.5 or more, masks
/// everything, and knows one record pattern: 6 to 10 digits after a word such as
/// "patiëntnummer", "pat.nr.", "MRN" or "dossiernummer".
///
/// ```
/// use biv_confidentiality::pii::{Operator, PiiConfig, RecordPattern};
/// use biv_core::PiiKind;
///
/// let config = PiiConfig::default()
///     .with_operator(PiiKind::Bsn, Operator::Pseudonym)
///     .with_disabled(PiiKind::Postcode)
///     .with_record_pattern(RecordPattern::new("ZP-#{7}"));
/// let same = PiiConfig::from_json(r#"{
///     "kinds": {"bsn": {"operator": "pseudonym"}, "postcode": {"enabled": false}},
///     "record_patterns": [{"pattern": "ZP-#{7}"}]
/// }"#)?;
/// assert_eq!(config, same);
/// # Ok::<(), biv_confidentiality::pii::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PiiConfig {
    /// Findings below this confidence are not reported (default 0.5).
    pub min_confidence: f32,
    /// Per-kind settings; a kind not listed is enabled and masked.
    pub kinds: BTreeMap<PiiKind, KindConfig>,
    /// Record-number patterns, in addition to the built-in one.
    pub record_patterns: Vec<RecordPattern>,
    /// Whether the built-in record pattern (6–10 digits after "patiëntnummer", "MRN", …) is used
    /// (default `true`).
    pub builtin_record_pattern: bool,
}

impl Default for PiiConfig {
    fn default() -> Self {
        PiiConfig {
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            kinds: BTreeMap::new(),
            record_patterns: Vec::new(),
            builtin_record_pattern: true,
        }
    }
}

/// The default [`PiiConfig::min_confidence`].
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.5;
/// The most record patterns one configuration may hold.
pub const MAX_RECORD_PATTERNS: usize = 31;

impl PiiConfig {
    /// Reads the JSON form (see `docs/formats/pii-findings.md`). Unknown fields are an error,
    /// so a misspelt setting never silently leaves data unredacted.
    ///
    /// # Errors
    /// [`ConfigError::Json`] if the text is not a configuration.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))
    }

    /// The settings of `kind`.
    pub fn kind(&self, kind: PiiKind) -> KindConfig {
        self.kinds.get(&kind).copied().unwrap_or_default()
    }

    /// Sets the operator of `kind`.
    #[must_use]
    pub fn with_operator(mut self, kind: PiiKind, operator: Operator) -> Self {
        self.kinds.entry(kind).or_default().operator = operator;
        self
    }

    /// Stops detecting `kind`.
    #[must_use]
    pub fn with_disabled(mut self, kind: PiiKind) -> Self {
        self.kinds.entry(kind).or_default().enabled = false;
        self
    }

    /// Sets the minimum confidence for every kind without its own.
    #[must_use]
    pub fn with_min_confidence(mut self, min_confidence: f32) -> Self {
        self.min_confidence = min_confidence;
        self
    }

    /// Sets the minimum confidence of one kind.
    #[must_use]
    pub fn with_kind_min_confidence(mut self, kind: PiiKind, min_confidence: f32) -> Self {
        self.kinds.entry(kind).or_default().min_confidence = Some(min_confidence);
        self
    }

    /// Adds a record-number pattern.
    #[must_use]
    pub fn with_record_pattern(mut self, pattern: RecordPattern) -> Self {
        self.record_patterns.push(pattern);
        self
    }

    /// Checks the values serde cannot: confidences in range, pattern count.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let in_range = |c: f32| (0.0..=1.0).contains(&c);
        if !in_range(self.min_confidence) {
            return Err(ConfigError::Confidence {
                kind: None,
                value: self.min_confidence,
            });
        }
        for (kind, settings) in &self.kinds {
            if let Some(c) = settings.min_confidence.filter(|c| !in_range(*c)) {
                return Err(ConfigError::Confidence {
                    kind: Some(*kind),
                    value: c,
                });
            }
        }
        if self.record_patterns.len() > MAX_RECORD_PATTERNS {
            return Err(ConfigError::TooManyPatterns {
                count: self.record_patterns.len(),
            });
        }
        Ok(())
    }
}

/// Why a [`PiiConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The JSON is malformed or has unknown or mistyped fields.
    #[error("PII configuration: {0}")]
    Json(String),
    /// A minimum confidence is outside `0.0..=1.0`.
    #[error("PII configuration: min_confidence {value} for {} is outside 0..=1", kind.map_or("all kinds", |k| k.as_str()))]
    Confidence {
        /// The kind, or `None` for the global setting.
        kind: Option<PiiKind>,
        /// The value given.
        value: f32,
    },
    /// A record pattern does not compile.
    #[error("PII configuration: record pattern {index} ({pattern:?}): {reason}")]
    Pattern {
        /// Its position in `record_patterns`.
        index: usize,
        /// The pattern text.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A record pattern's context phrase has no words.
    #[error("PII configuration: record pattern {index}: context phrase {phrase:?} has no words")]
    EmptyContext {
        /// Its position in `record_patterns`.
        index: usize,
        /// The phrase.
        phrase: String,
    },
    /// More than [`MAX_RECORD_PATTERNS`] record patterns.
    #[error(
        "PII configuration: {count} record patterns, at most {MAX_RECORD_PATTERNS} are allowed"
    )]
    TooManyPatterns {
        /// How many were given.
        count: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_defaults() {
        let config = PiiConfig::default()
            .with_operator(PiiKind::Email, Operator::Drop)
            .with_kind_min_confidence(PiiKind::Bsn, 0.3)
            .with_record_pattern(
                RecordPattern::new("#{7}")
                    .with_context(["mrn"])
                    .requiring_context(),
            );
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(PiiConfig::from_json(&json).unwrap(), config);
        assert_eq!(PiiConfig::from_json("{}").unwrap(), PiiConfig::default());
        assert_eq!(config.kind(PiiKind::Phone), KindConfig::default());
        assert_eq!(config.kind(PiiKind::Email).operator, Operator::Drop);
    }

    #[test]
    fn mistakes_are_errors() {
        for bad in [
            r#"{"min_confidance": 0.5}"#,
            r#"{"kinds": {"bsn": {"operator": "hash"}}}"#,
            r#"{"kinds": {"ssn": {}}}"#,
            r#"{"kinds": {"bsn": {"enabled": "yes"}}}"#,
            r##"{"record_patterns": [{"pattern": "#", "contxt": []}]}"##,
        ] {
            assert!(
                matches!(PiiConfig::from_json(bad), Err(ConfigError::Json(_))),
                "{bad}"
            );
        }
        assert!(
            PiiConfig::default()
                .with_min_confidence(1.5)
                .validate()
                .is_err()
        );
        assert!(
            PiiConfig::default()
                .with_kind_min_confidence(PiiKind::Iban, -0.1)
                .validate()
                .is_err()
        );
    }
}
