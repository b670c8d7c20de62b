//! biv-confidentiality: the confidentiality controls of biv — keeping special personal data
//! (medical records, BSN numbers) confidential under ISO 27001 (A.8.11 data masking, A.8.12
//! data leakage prevention) and NEN 7510.
//!
//! # Redaction of personal data: [`pii`]
//!
//! Personal data must never reach a log aggregator, an alert or a stack trace in clear.
//! [`pii::PiiRedactor`] finds BSN numbers (11-proof checked), IBANs (mod 97 and the registry
//! length per country), e-mail addresses, phone numbers, dates of birth, postcodes with house
//! numbers, AGB codes, configured patient/record numbers and secrets (passwords, tokens, private
//! keys), and masks, pseudonymises (HMAC under the tenant's key) or drops each. It implements
//! biv-core's [`Redactor`](biv_core::Redactor), which biv's log layer and error reporter take as
//! an `Arc<dyn Redactor>`; `biv pii scan` and `biv pii redact` run it from the command line.
//!
//! ```
//! use std::sync::Arc;
//! use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
//! use biv_core::Redactor;
//!
//! let redactor: Arc<dyn Redactor> = Arc::new(PiiRedactor::new(&PiiConfig::default())?);
//! assert_eq!(
//!     redactor.redact("Patiënt (BSN 111222333) belde vanaf 06-12345678"),
//!     "Patiënt (BSN [BSN]) belde vanaf [PHONE]"
//! );
//! # Ok::<(), biv_confidentiality::pii::BuildError>(())
//! ```
//!
//! Capabilities are injected: the pseudonym key comes from the host ([`pii::PseudonymKey`]);
//! the crate reads no environment, file or clock of its own.

pub mod pii;
