//! Access decisions before decryption, with NEN 7513 records and break-glass.
//!
//! [`GuardedDecryptor`] is where the three pillars meet on every read of special personal data:
//! an [`AccessPolicy`] decides (role, purpose of use, treatment relation, break-glass with a
//! stated reason), the [`Encryptor`](biv_core::Encryptor) decrypts, the
//! [`AuditSink`](biv_core::AuditSink) records the read — and the plaintext is handed out only
//! when that record is durable. A break-glass read is flagged in the record and raises a
//! critical alert.
//!
//! ```
//! use std::sync::Arc;
//! use biv_confidentiality::access::{AccessRequest, GuardedDecryptor, RolePolicy, RoleRule};
//! use biv_confidentiality::keys::{CacheConfig, EnvelopeEncryptor, KeyringPolicy, LocalKeyring, MemoryKeyStore};
//! use biv_core::{Actor, Context, Encryptor, SubjectRef, SystemClock};
//! use biv_testkit::{InMemoryAuditSink, InMemoryNotifier};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! # let dir = std::env::temp_dir().join(format!("biv-doc-access-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir)?;
//! let enc = Arc::new(EnvelopeEncryptor::new(
//!     Arc::new(LocalKeyring::create(dir.join("root.json"), "local:dev", &KeyringPolicy::from_env())?),
//!     Arc::new(MemoryKeyStore::new()), Arc::new(SystemClock::new()), CacheConfig::default()));
//! let audit = Arc::new(InMemoryAuditSink::new());
//! let guard = GuardedDecryptor::new(enc.clone(),
//!     Arc::new(RolePolicy::new(vec![RoleRule::new("physician", &["treatment"], true)], &["physician"])),
//!     audit.clone(), Arc::new(InMemoryNotifier::new()), Arc::new(SystemClock::new()));
//!
//! let subject = SubjectRef::parse("hmac-sha256:t1:9f86d081884c7d659a2feaa0c55ad015")?;
//! let ctx = Context::new().with("tenant", "t1")?.with("table", "patients")?.with("column", "bsn")?
//!     .with("subject", subject.as_str())?;
//! let stored = enc.encrypt(b"111222333", &ctx).await?;
//! let request = AccessRequest::new(Actor::new("u-1042").with_role("physician"), "treatment",
//!     subject, ctx, "ehr-api").with_treatment_relation();
//! let bsn = guard.read(&request, &stored).await?;
//! assert_eq!(bsn.expose_secret(), b"111222333");
//! assert_eq!(audit.events().len(), 1); // the read is on record
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod guard;
mod policy;

pub use guard::{GuardedDecryptor, GuardedReadError};
pub use policy::{AccessDecision, AccessPolicy, AccessRequest, RolePolicy, RoleRule};
