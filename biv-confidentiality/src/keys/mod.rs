//! The key hierarchy: a root key-encryption key behind a [`KeyProvider`](biv_core::KeyProvider)
//! ([`Pkcs11Provider`] for an HSM, [`LocalKeyring`] for development), optionally versioned
//! per-tenant domain keys under it ([`DomainKeyring`]), versioned data keys per
//! (tenant, data subject) wrapped under it and kept in a [`KeyStore`] ([`MemoryKeyStore`],
//! [`FileKeyStore`], [`PgKeyStore`]), a bounded cache of unwrapped keys, and the
//! [`EnvelopeEncryptor`] that ties them together.
//!
//! Rotation (see `docs/key-management.md`): [`EnvelopeEncryptor::rewrap_all`] rewraps data keys
//! under a new root KEK version (verified, compare-and-swap), [`EnvelopeEncryptor::rotate_subject`]
//! gives a subject a new data key version, [`ReencryptJob`] re-encrypts stored fields resumably,
//! and [`EnvelopeEncryptor::set_min_decryption_version`] retires old versions. [`Shredder`]
//! crypto-shreds a subject completely: keys, caches, blind-index values and an audit record.

mod atomic;
mod cache;
mod domain;
mod encryptor;
mod file_store;
mod local;
mod pg_store;
mod pkcs11;
mod reencrypt;
mod rotation;
mod shred;
mod store;

pub use cache::CacheConfig;
pub use domain::{DataKeyWrapper, DomainKeyError, DomainKeyring, domain_kek_id};
pub use encryptor::{EnvelopeEncryptor, ShredError, ShredReceipt, data_key_aad};
pub use file_store::FileKeyStore;
pub use local::{ENV_VAR, KeyringError, KeyringPolicy, LocalKeyring, OVERRIDE_ENV_VAR};
pub use pg_store::{PG_OPERATION_TIMEOUT, PgKeyStore, PgKeyStoreError};
pub use pkcs11::{
    DEFAULT_MAX_IDLE_SESSIONS, Pkcs11Config, Pkcs11Error, Pkcs11Module, Pkcs11Provider,
};
pub use reencrypt::{
    FileCheckpoint, JobCheckpoint, MemoryCheckpoint, ReencryptError, ReencryptJob, ReencryptReport,
    ReencryptRow, ReencryptSource,
};
pub use rotation::{
    KeyRetired, KeyStatus, MAX_FAILED_KEYS, NeedsReencryptError, RewrapError, RewrapReport,
    RotateError, SubjectRotation, key_retired,
};
pub use shred::{BlindIndexErasure, CompleteShredError, ShredReport, ShredRequest, Shredder};
pub use store::{
    InsertOutcome, KeyState, KeyStore, KeyStoreError, MemoryKeyStore, MinVersionOutcome,
    ReplaceOutcome, StoredKey, SubjectKey,
};
