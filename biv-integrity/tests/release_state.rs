//! The state file: atomic round trip and refusal of what is not a state.

use biv_core::Timestamp;
use biv_integrity::release::{
    Artifact, GatePolicy, GateState, StageEntry, StateFileError, load_state, save_state,
};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("biv-release-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn round_trip_leaves_no_temporary_file() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("state.json");
    assert_eq!(load_state(&path).expect("absent is fine"), None);
    let mut state = GateState::new(GatePolicy::otap().with_soak("productie", 3600));
    state.history.push(StageEntry {
        artifact: Artifact::new(format!("sha256:{}", "c".repeat(64)), "d".repeat(40))
            .expect("valid"),
        stage: "ontwikkeling".into(),
        at: Timestamp::from_unix_seconds(1_790_000_000, 0).expect("valid"),
        deployer: "dave".into(),
        rollback: false,
    });
    save_state(&path, &state).expect("saved");
    assert_eq!(load_state(&path).expect("loads"), Some(state.clone()));
    state.history[0].rollback = true;
    save_state(&path, &state).expect("replaced");
    assert_eq!(load_state(&path).expect("loads"), Some(state));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["state.json"]);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_bad_file_is_refused() {
    let dir = temp_dir("bad");
    let path = dir.join("state.json");
    for text in [
        "not json",
        r#"{"version":2,"policy":{"stages":[{"name":"a"},{"name":"b"}]},"history":[]}"#,
        r#"{"version":1,"policy":{"stages":[{"name":"a"}]},"history":[]}"#,
        r#"{"version":1,"policy":{"stages":[{"name":"a"},{"name":"b"}]},"history":[],"x":1}"#,
        r#"{"version":1,"policy":{"stages":[{"name":"a"},{"name":"b"}]},"history":[{"artifact":{"digest":"md5:1","commit":"x"},"stage":"a","at":"2026-01-01T00:00:00Z","deployer":"d"}]}"#,
    ] {
        std::fs::write(&path, text).expect("written");
        assert!(
            matches!(load_state(&path), Err(StateFileError::Format { .. })),
            "{text}"
        );
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn one_writer_at_a_time() {
    let dir = temp_dir("lock");
    let path = dir.join("state.json");
    let first = biv_integrity::release::lock_state(&path).expect("locked");
    assert!(matches!(
        biv_integrity::release::lock_state(&path),
        Err(StateFileError::Locked { .. })
    ));
    drop(first);
    assert!(biv_integrity::release::lock_state(&path).is_ok());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
