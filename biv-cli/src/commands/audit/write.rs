//! `biv audit init` and `biv audit append`: the commands that write.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use biv_core::AuditEvent;
use biv_integrity::store::{DirectoryAnchor, FileLog, FileLogOptions, OpenError, WitnessAnchor};
use biv_integrity::tlog::CosignatureVerifier;
use clap::Args;

use super::keyfile;
use crate::exit::Exit;

/// `biv audit append`'s witness: a c2sp.org/tlog-witness witness that cosigns checkpoints.
#[derive(Debug, Args)]
pub(super) struct WitnessArgs {
    /// Also submit every checkpoint to this c2sp.org/tlog-witness witness (its submission
    /// prefix, http://host[:port][/prefix]; plain HTTP), end with a checkpoint it cosigned, and
    /// refuse to append when the log is behind or forked from the newest one it cosigned.
    #[arg(
        long,
        value_name = "URL",
        requires = "witness_key",
        conflicts_with = "anchor"
    )]
    witness: Option<String>,
    /// The witness's cosignature verifier key (name+hex+base64, type 0x04); repeat for more.
    #[arg(long = "witness-key", value_name = "VKEY", requires = "witness")]
    witness_key: Vec<String>,
    /// Where the newest cosigned checkpoint is kept between runs (default:
    /// <dir>/witness.checkpoint); keep it where the log's administrators cannot roll it back.
    #[arg(long = "witness-state", value_name = "FILE", requires = "witness")]
    witness_state: Option<PathBuf>,
}

impl WitnessArgs {
    fn anchor(&self, dir: &Path) -> Result<Option<Arc<WitnessAnchor>>, String> {
        let Some(url) = &self.witness else {
            return Ok(None);
        };
        let keys = self
            .witness_key
            .iter()
            .map(|k| {
                CosignatureVerifier::from_vkey(k)
                    .map_err(|e| format!("--witness-key {k}: not a cosignature verifier key: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let state = self
            .witness_state
            .clone()
            .unwrap_or_else(|| dir.join("witness.checkpoint"));
        let anchor = WitnessAnchor::new(url, keys)
            .and_then(|a| a.with_state_file(&state))
            .map_err(|e| e.to_string())?;
        Ok(Some(Arc::new(anchor)))
    }
}

fn options(anchor: Option<&Path>) -> FileLogOptions {
    match anchor {
        Some(a) => FileLogOptions::default().with_anchor(Arc::new(DirectoryAnchor::new(a))),
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
    .map_err(|e| {
        // The store lets a creation that failed before its state was written start again; so
        // must the key. A log whose state exists keeps the key that signed it.
        if !dir.join("state.json").exists() {
            keyfile::remove_created(dir, key);
        }
        e.to_string()
    })?;
    drop(log);
    println!("created audit log {} with origin {origin}", dir.display());
    println!("verifier key: {vkey}");
    Ok(Exit::Ok)
}

pub(super) fn append(
    dir: &Path,
    key: Option<&Path>,
    anchor: Option<&Path>,
    witness: &WitnessArgs,
    cut_damaged_tail: bool,
) -> Result<Exit, String> {
    let key = keyfile::load(dir, key)?;
    let witness = witness.anchor(dir)?;
    let options = match &witness {
        Some(w) => FileLogOptions::default().with_anchor(w.clone()),
        None => options(anchor),
    }
    .with_damaged_tail_cut(cut_damaged_tail);
    let log = FileLog::open(dir, key, options).map_err(|e| match e {
        OpenError::DamagedTail { .. } => {
            format!("{e}; look at the segment, then run again with --cut-damaged-tail to move the tail into quarantine/")
        }
        e => e.to_string(),
    })?;
    let found = log.recovery();
    if found.whole_frames_cut > 0 {
        eprintln!(
            "biv audit: recovery cut {} bytes holding {} whole frames into {}",
            found.cut_bytes,
            found.whole_frames_cut,
            dir.join("quarantine").display()
        );
    }
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
    // A checkpoint over everything appended, signed before the command reports success (the
    // one closing would sign is not reported): the appends are durable either way, this says
    // whether a signature covers them.
    let checkpoint = log.checkpoint_now().map_err(|e| {
        format!("every event was appended, but no checkpoint could be signed over them: {e}")
    })?;
    if let Some(witness) = witness {
        // This says whether the witness vouches for them.
        witness
            .add_checkpoint(&checkpoint, Some(&log))
            .map_err(|e| {
                format!(
                    "every event was appended, but the witness did not cosign the checkpoint of size {}: {e}",
                    checkpoint.checkpoint().size()
                )
            })?;
    }
    drop(log);
    Ok(Exit::Ok)
}
