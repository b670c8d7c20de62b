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
//!
//! # Subject references for the audit log: [`subject_ref`]
//!
//! An audit event names its patient by a keyed pseudonym, never a BSN:
//! [`subject_ref::SubjectKey`] computes `hmac-sha256:<key id>:<hex>` from the normalised
//! identifier, and [`subject_ref::SubjectKeyring`] gives every reference a patient has had across
//! key rotations, for their access report.
//!
//! # Access decisions: [`access`]
//!
//! [`access::GuardedDecryptor`] decides before decrypting ([`access::AccessPolicy`]: role, purpose,
//! treatment relation, break-glass with a stated reason), records every read as a NEN 7513 event
//! through an [`AuditSink`](biv_core::AuditSink) and returns plaintext only once that record is
//! durable; break-glass is flagged and alerted.
//!
//! # Blind indexes: [`blind_index`]
//!
//! Equality search over encrypted columns: a truncated HMAC of the normalised value under a key
//! derived per (tenant, table, column, index) — see [`blind_index::BlindIndex`] and
//! `docs/formats/blind-index.md`.
//!
//! # Field encryption: [`envelope`] and [`keys`]
//!
//! Each field of special personal data is encrypted on its own with AES-256-GCM under the data
//! key of its data subject, bound to its [`Context`](biv_core::Context) (tenant, table, column,
//! subject, row) and written in ciphertext format v1 (`docs/formats/ciphertext.md`): a 23-byte
//! header (version, suite, flags, key id, nonce), the ciphertext and the tag; `bv1:` + base64url
//! as text. [`keys::EnvelopeEncryptor`] implements biv-core's [`Encryptor`](biv_core::Encryptor):
//! it makes one data key per (tenant, subject), wraps it under a root key-encryption key behind a
//! [`KeyProvider`](biv_core::KeyProvider) ([`keys::LocalKeyring`] for development), keeps it in a
//! [`keys::KeyStore`] ([`keys::MemoryKeyStore`], [`keys::FileKeyStore`]) and caches unwrapped
//! keys (TTL, size and use limits, single-flight loading).
//! [`shred`](keys::EnvelopeEncryptor::shred) destroys a subject's keys: its ciphertexts then fail
//! with [`DecryptError::KeyDestroyed`](biv_core::DecryptError::KeyDestroyed). Every other
//! failure is the one opaque [`DecryptError::Failed`](biv_core::DecryptError::Failed).
//!
//! ```
//! use std::sync::Arc;
//! use biv_confidentiality::envelope::{inspect, to_text};
//! use biv_confidentiality::keys::{CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore};
//! use biv_core::{Context, Encryptor, SystemClock};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! # let dir = std::env::temp_dir().join(format!("biv-doc-lib-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
//! let root = LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::from_env())?;
//! let enc = EnvelopeEncryptor::new(Arc::new(root), Arc::new(MemoryKeyStore::new()),
//!     Arc::new(SystemClock::new()), CacheConfig::default());
//! let ctx = Context::new().with("tenant", "zorg-noord")?.with("table", "patients")?
//!     .with("column", "bsn")?.with("subject", "p-7f3a")?;
//! let stored = to_text(&enc.encrypt(b"123456782", &ctx).await?); // "bv1:AQEB…"
//! # let ct = biv_confidentiality::envelope::from_text(&stored)?;
//! # assert_eq!(inspect(&ct)?.plaintext_len, 9);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Rotation and erasure (`docs/key-management.md`): [`keys::EnvelopeEncryptor::rewrap_all`]
//! rewraps data keys under a new root KEK version, each verified before a compare-and-swap
//! replaces the old wrapping; [`keys::DomainKeyring`] adds versioned per-tenant domain keys
//! between the root KEK and the data keys; [`keys::EnvelopeEncryptor::rotate_subject`] gives a
//! subject a new data key version, [`keys::ReencryptJob`] re-encrypts stored fields resumably
//! (`needs_reencrypt` reads the header only) and
//! [`keys::EnvelopeEncryptor::set_min_decryption_version`] then retires old versions
//! ([`keys::KeyRetired`]). [`keys::PgKeyStore`] keeps the keys in PostgreSQL.
//! [`keys::Shredder`] erases a subject completely: data keys, caches, blind-index values
//! (through the host's [`blind_index::BlindIndexEraser`]) and a NEN 7513 audit record.
//!
//! What shredding does not cover: backups of the key store still hold the subject's wrapped
//! data keys, readable as long as the root key version that wrapped them exists. The remedy is
//! "shred epochs": rotate the root key regularly ([`keys::LocalKeyring::rotate`]), rewrap the
//! live data keys, and retire the old version once the backup retention has passed. Legal
//! retention duties (WGBO, art. 17(3) GDPR) may forbid shredding; plaintext copies outside biv
//! (exports, logs) are not reached by it.

pub mod access;
pub mod blind_index;
pub mod envelope;
pub mod keys;
pub mod pii;
pub mod subject_ref;
