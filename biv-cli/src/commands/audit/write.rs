//! `biv audit init` and `biv audit append`: the commands that write.

use std::io::{BufRead, Write};
use std::path::Path;

use base64::Engine;
use biv_core::AuditEvent;
use biv_integrity::store::{DirectoryAnchor, FileLog, FileLogOptions};

use super::keyfile;
use crate::exit::Exit;

fn options(anchor: Option<&Path>) -> FileLogOptions {
    match anchor {
        Some(a) => {
            FileLogOptions::default().with_anchor(std::sync::Arc::new(DirectoryAnchor::new(a)))
        }
        None => FileLogOptions::default(),
    }
}

pub(super) fn init(
    dir: &Path,
    origin: &str,
    key: Option<&Path>,
    anchor: Option<&Path>,
) -> Result<Exit, String> {
    if dir.join("state.json").exists() {
        return Err(format!("{} already holds an audit log", dir.display()));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let signer = keyfile::create(dir, origin, key)?;
    let vkey = signer.verifier().to_vkey();
    let log = FileLog::create(
        dir,
        biv_integrity::store::CheckpointKey::ed25519(signer),
        options(anchor),
    )
    .map_err(|e| e.to_string())?;
    drop(log);
    println!("created audit log {} with origin {origin}", dir.display());
    println!("verifier key: {vkey}");
    Ok(Exit::Ok)
}

pub(super) fn append(
    dir: &Path,
    key: Option<&Path>,
    anchor: Option<&Path>,
) -> Result<Exit, String> {
    let key = keyfile::load(dir, key)?;
    let log = FileLog::open(dir, key, options(anchor)).map_err(|e| e.to_string())?;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for (number, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: AuditEvent = serde_json::from_str(&line).map_err(|e| {
            format!(
                "line {}: not an audit event: {e}; nothing appended from it",
                number + 1
            )
        })?;
        let receipt = log
            .append_blocking(&event)
            .map_err(|e| format!("line {}: not appended: {e}", number + 1))?;
        let leaf = base64::engine::general_purpose::STANDARD.encode(receipt.entry_digest());
        writeln!(
            out,
            "{{\"index\":{},\"leaf_hash\":\"{leaf}\"}}",
            receipt.index()
        )
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing the receipt: {e}"))?;
    }
    // Closing signs a checkpoint over everything appended.
    drop(log);
    Ok(Exit::Ok)
}
