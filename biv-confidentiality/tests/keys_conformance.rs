//! biv-testkit's Encryptor and KeyProvider conformance checks on the envelope encryptor (with
//! the in-memory and the file key store) and the local keyring.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use biv_confidentiality::keys::{
    CacheConfig, EnvelopeEncryptor, FileKeyStore, KeyringPolicy, LocalKeyring, MemoryKeyStore,
};
use biv_core::SystemClock;
use biv_testkit::{encryptor_conformance, key_provider_conformance};

fn fresh_dir() -> std::path::PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "biv-conformance-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn keyring() -> LocalKeyring {
    LocalKeyring::create(
        fresh_dir().join("root.json"),
        "local:conformance",
        &KeyringPolicy::development(),
    )
    .expect("keyring")
}

fn in_memory() -> EnvelopeEncryptor {
    EnvelopeEncryptor::new(
        Arc::new(keyring()),
        Arc::new(MemoryKeyStore::new()),
        Arc::new(SystemClock::new()),
        CacheConfig::default(),
    )
}

fn file_backed() -> EnvelopeEncryptor {
    EnvelopeEncryptor::new(
        Arc::new(keyring()),
        Arc::new(FileKeyStore::open(fresh_dir().join("keys")).expect("store")),
        Arc::new(SystemClock::new()),
        CacheConfig::default().with_max_entries(0),
    )
}

encryptor_conformance!(in_memory());
key_provider_conformance!(keyring());

mod file_store {
    use super::*;
    encryptor_conformance!(file_backed());
}
