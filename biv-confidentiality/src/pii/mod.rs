//! Finding and redacting personal data and secrets in logs, error reports and free text.
//!
//! | kind (`biv pii scan` name) | what | validation |
//! |---|---|---|
//! | `bsn` | Dutch citizen service number, 9 digits (8 with the leading zero dropped), plain or grouped | 11-proof; `000000000` rejected |
//! | `iban` | IBAN, electronic or in groups of four | registry length per country + mod 97 |
//! | `email` | e-mail address (also URL-encoded, `%40`) | RFC 5322 subset |
//! | `phone` | Dutch `06`, `0xx`, `+31`, `0031` forms and E.164 | length and shape |
//! | `date_of_birth` | a date after "geboortedatum", "geb.", "DOB", "born", … | calendar date |
//! | `postcode` | Dutch postcode, with the house number that follows it | shape |
//! | `agb` | AGB code (8 digits) after "AGB" | context |
//! | `record_number` | patient/record numbers from [`RecordPattern`]s | pattern (+ context) |
//! | `secret` | `password=`/`token=` values, `Authorization`/`Bearer`/`Basic` credentials, PEM private keys | shape |
//!
//! A number that fails its checksum is never reported as a BSN or an IBAN. Each finding has
//! exact byte offsets and a confidence; context words before a candidate ("BSN", "AGB-code",
//! "patiëntnummer") raise it, words for other numbers ("order", "factuur") lower it.
//!
//! * [`PiiScanner`] finds: one pass over the input, anchored at the few bytes where a match can
//!   start, no regular expressions and no backtracking — linear time whatever the input.
//! * [`PiiRedactor`] replaces, per kind, with a mask (`[BSN]`), a keyed pseudonym
//!   ([`PseudonymKey`], HMAC-SHA256 under the tenant's key) or nothing. It implements biv-core's
//!   [`Redactor`](biv_core::Redactor), which the log layer and error reporter take.
//! * [`StreamScanner`] and [`StreamRedactor`] work chunk by chunk and miss nothing that
//!   straddles two chunks.
//! * [`PiiConfig`] says which kinds, which operator, which thresholds and record patterns; its
//!   JSON form is specified in `docs/formats/pii-findings.md`.
//!
//! Text goes in as `&str` or, through the `_bytes` methods, as any bytes (invalid UTF-8, binary
//! noise). The output of a redaction is at most the input plus [`MAX_REPLACEMENT_LEN`] bytes per
//! finding.
//!
//! ```
//! use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
//! use biv_core::Redactor;
//!
//! let redactor = PiiRedactor::new(&PiiConfig::default())?;
//! let line = r#"{"msg":"lookup","bsn":"111222333","iban":"NL91ABNA0417164300","tel":"06-12345678"}"#;
//! assert_eq!(
//!     redactor.redact(line),
//!     r#"{"msg":"lookup","bsn":"[BSN]","iban":"[IBAN]","tel":"[PHONE]"}"#
//! );
//! # Ok::<(), biv_confidentiality::pii::BuildError>(())
//! ```

mod bytes;
mod config;
mod context;
mod detectors;
mod hints;
mod operators;
pub(crate) mod pseudonym;
mod redactor;
mod scanner;
mod stream;

pub use config::{
    ConfigError, DEFAULT_MIN_CONFIDENCE, KindConfig, MAX_RECORD_PATTERNS, Operator, PiiConfig,
    RecordPattern,
};
pub use operators::MAX_REPLACEMENT_LEN;
pub use pseudonym::{
    KeyError, MAX_KEY_ID_LEN, MAX_KEY_LEN, MAX_PSEUDONYM_LEN, MIN_KEY_LEN, PseudonymKey,
};
pub use redactor::{BuildError, PiiRedactor};
pub use scanner::PiiScanner;
pub use stream::{CARRY, StreamRedactor, StreamScanner};
