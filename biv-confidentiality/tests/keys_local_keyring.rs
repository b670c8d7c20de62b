//! The development keyring: policy, file, rotation, wrap/unwrap.

use biv_confidentiality::keys::{KeyringError, KeyringPolicy, LocalKeyring};
use biv_core::{KeyProvider, SecretBytes, UnwrapError, WrappedKey};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-keys-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn production_is_refused_with_a_reason_unless_overridden() {
    let dir = temp_dir("prod");
    let path = dir.join("root.json");
    let err = LocalKeyring::create(&path, "local:dev", &KeyringPolicy::new("production"))
        .expect_err("refused");
    assert!(matches!(err, KeyringError::RefusedInProduction { .. }));
    let text = err.to_string();
    assert!(
        text.contains("HSM") && text.contains("BIV_ALLOW_LOCAL_KEYRING_IN_PRODUCTION"),
        "{text}"
    );
    assert!(!path.exists());
    for env in ["PROD", "Productie", " production "] {
        assert!(KeyringPolicy::new(env).check().is_err(), "{env}");
    }
    assert!(KeyringPolicy::new("acceptance").check().is_ok());
    let ring = LocalKeyring::create(
        &path,
        "local:dev",
        &KeyringPolicy::new("production").allow_in_production(true),
    )
    .expect("overridden");
    drop(ring);
    assert!(LocalKeyring::open(&path, &KeyringPolicy::new("production")).is_err());
    assert!(LocalKeyring::open(&path, &KeyringPolicy::development()).is_ok());
}

#[test]
fn wrap_unwrap_survives_reopen_and_rotation() {
    block_on(async {
        let dir = temp_dir("rotate");
        let path = dir.join("root.json");
        let ring = LocalKeyring::create(&path, "local:dev", &KeyringPolicy::development()).unwrap();
        assert!(matches!(
            LocalKeyring::create(&path, "local:dev", &KeyringPolicy::development()),
            Err(KeyringError::AlreadyExists(_))
        ));
        let dek = SecretBytes::new((0..32).collect());
        let w1 = ring.wrap_key(&dek, b"aad-1").await.unwrap();
        assert_eq!(w1.kek_version(), 1);
        assert_eq!(w1.blob().len(), 12 + 32 + 16);
        assert_eq!(ring.rotate().unwrap(), 2);
        assert_eq!(ring.current_version(), 2);
        let w2 = ring.wrap_key(&dek, b"aad-1").await.unwrap();
        assert_eq!(w2.kek_version(), 2);

        let reopened = LocalKeyring::open(&path, &KeyringPolicy::development()).unwrap();
        assert_eq!(reopened.versions(), vec![1, 2]);
        assert_eq!(reopened.current_version(), 2);
        for w in [&w1, &w2] {
            let k = reopened.unwrap_key(w, b"aad-1").await.unwrap();
            assert_eq!(k.expose_secret(), dek.expose_secret());
        }
        assert!(
            !reopened.retire(2).unwrap(),
            "the current version cannot be retired"
        );
        assert!(reopened.retire(1).unwrap());
        assert!(matches!(
            reopened.unwrap_key(&w1, b"aad-1").await,
            Err(UnwrapError::UnknownKek { kek_version: 1, .. })
        ));
        let again = LocalKeyring::open(&path, &KeyringPolicy::development()).unwrap();
        assert_eq!(again.versions(), vec![2]);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("root.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    });
}

#[test]
fn wrong_aad_tampering_and_foreign_keys_fail() {
    block_on(async {
        let dir = temp_dir("tamper");
        let ring = LocalKeyring::create(
            dir.join("root.json"),
            "local:dev",
            &KeyringPolicy::development(),
        )
        .unwrap();
        let dek = SecretBytes::new(vec![3; 32]);
        let w = ring.wrap_key(&dek, b"key 1").await.unwrap();
        assert!(matches!(
            ring.unwrap_key(&w, b"key 2").await,
            Err(UnwrapError::Failed)
        ));
        for i in 0..w.blob().len() {
            let mut blob = w.blob().to_vec();
            blob[i] ^= 0x80;
            let bad = WrappedKey::new(w.kek_id(), w.kek_version(), blob);
            assert!(
                matches!(
                    ring.unwrap_key(&bad, b"key 1").await,
                    Err(UnwrapError::Failed)
                ),
                "byte {i}"
            );
        }
        let short = WrappedKey::new(w.kek_id(), w.kek_version(), w.blob()[..20].to_vec());
        assert!(matches!(
            ring.unwrap_key(&short, b"key 1").await,
            Err(UnwrapError::Failed)
        ));
        let foreign = WrappedKey::new("pkcs11:other", 1, w.blob().to_vec());
        assert!(matches!(
            ring.unwrap_key(&foreign, b"key 1").await,
            Err(UnwrapError::UnknownKek { .. })
        ));
        // A different keyring with the same id cannot unwrap it either.
        let other = LocalKeyring::create(
            dir.join("other.json"),
            "local:dev",
            &KeyringPolicy::development(),
        )
        .unwrap();
        assert!(matches!(
            other.unwrap_key(&w, b"key 1").await,
            Err(UnwrapError::Failed)
        ));
        assert!(
            ring.wrap_key(&SecretBytes::new(vec![1; 8]), b"")
                .await
                .is_err()
        );
    });
}

#[test]
fn debug_shows_no_key_material() {
    let dir = temp_dir("debug");
    let path = dir.join("root.json");
    let ring = LocalKeyring::create(&path, "local:dev", &KeyringPolicy::development()).unwrap();
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let key = file["versions"][0]["key"].as_str().unwrap().to_owned();
    let debug = format!("{ring:?}");
    assert!(
        debug.contains("local:dev") && !debug.contains(&key),
        "{debug}"
    );
}

#[test]
fn malformed_files_are_rejected() {
    let dir = temp_dir("malformed");
    let path = dir.join("root.json");
    for text in [
        "not json",
        r#"{"format":"other","kek_id":"x","current_version":1,"versions":[]}"#,
        r#"{"format":"biv.local-keyring.v1","kek_id":"x","current_version":2,"versions":[{"version":1,"key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#,
        r#"{"format":"biv.local-keyring.v1","kek_id":"x","current_version":1,"versions":[{"version":1,"key":"AAAA"}]}"#,
    ] {
        std::fs::write(&path, text).unwrap();
        assert!(
            matches!(
                LocalKeyring::open(&path, &KeyringPolicy::development()),
                Err(KeyringError::Malformed { .. })
            ),
            "{text}"
        );
    }
}
