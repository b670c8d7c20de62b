//! The key hierarchy: a root key-encryption key behind a [`KeyProvider`](biv_core::KeyProvider)
//! ([`Pkcs11Provider`] for an HSM, [`LocalKeyring`] for development), one data key per
//! (tenant, data subject) wrapped under it and kept in a [`KeyStore`] ([`MemoryKeyStore`],
//! [`FileKeyStore`]), a bounded cache of unwrapped keys, and the [`EnvelopeEncryptor`] that
//! ties them together and crypto-shreds.

mod atomic;
mod cache;
mod encryptor;
mod file_store;
mod local;
mod pkcs11;
mod store;

pub use cache::CacheConfig;
pub use encryptor::{EnvelopeEncryptor, ShredError, ShredReceipt, data_key_aad};
pub use file_store::FileKeyStore;
pub use local::{ENV_VAR, KeyringError, KeyringPolicy, LocalKeyring, OVERRIDE_ENV_VAR};
pub use pkcs11::{
    DEFAULT_MAX_IDLE_SESSIONS, Pkcs11Config, Pkcs11Error, Pkcs11Module, Pkcs11Provider,
};
pub use store::{
    InsertOutcome, KeyState, KeyStore, KeyStoreError, MemoryKeyStore, StoredKey, SubjectKey,
};
