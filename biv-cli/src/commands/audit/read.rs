//! The read-only `biv audit` commands: they take no lock and work beside a running writer.

use std::io::Write;
use std::path::Path;

use biv_core::{AuditEvent, SubjectRef, Timestamp};
use biv_integrity::audit::decode_entry;
use biv_integrity::report::PatientReport;
use biv_integrity::store::{FileLogReader, verify_dir};
use biv_integrity::tlog::{NoteVerifier, ProofBundle, SignedCheckpoint};

use super::keyfile;
use crate::exit::Exit;

fn reader(dir: &Path) -> Result<FileLogReader, String> {
    FileLogReader::open(dir).map_err(|e| e.to_string())
}

/// The newest signed checkpoint's bytes.
fn newest(reader: &FileLogReader) -> Result<Vec<u8>, String> {
    reader
        .checkpoints()
        .map_err(|e| format!("reading the checkpoint history: {e}"))?
        .pop()
        .ok_or_else(|| "the log has no signed checkpoint".to_owned())
}

fn write_out(bytes: &[u8]) -> Result<Exit, String> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing stdout: {e}"))?;
    Ok(Exit::Ok)
}

pub(super) fn checkpoint(dir: &Path) -> Result<Exit, String> {
    write_out(&newest(&reader(dir)?)?)
}

pub(super) fn vkey(dir: &Path) -> Result<Exit, String> {
    let v = keyfile::verifier(dir, None)?;
    write_out(format!("{}\n", v.to_vkey()).as_bytes())
}

pub(super) fn entry(dir: &Path, index: u64) -> Result<Exit, String> {
    write_out(&reader(dir)?.entry(index).map_err(|e| e.to_string())?)
}

pub(super) fn prove(dir: &Path, index: u64, size: Option<u64>) -> Result<Exit, String> {
    let r = reader(dir)?;
    let history = r
        .checkpoints()
        .map_err(|e| format!("reading the checkpoint history: {e}"))?;
    let chosen = history
        .iter()
        .rev()
        .filter_map(|b| SignedCheckpoint::parse(b).ok())
        // A checkpoint signed after the reader loaded the state may be ahead of it.
        .filter(|cp| cp.checkpoint().size() <= r.size())
        .find(|cp| size.is_none_or(|s| cp.checkpoint().size() == s))
        .ok_or_else(|| match size {
            Some(s) => {
                format!("no signed checkpoint of size {s}; `biv audit checkpoint` shows the newest")
            }
            None => "the log has no signed checkpoint".to_owned(),
        })?;
    let proof = r
        .inclusion_proof(index, chosen.checkpoint().size())
        .map_err(|e| e.to_string())?;
    write_out(&ProofBundle::new(index, proof, chosen).to_bytes())
}

pub(super) fn consistency(dir: &Path, old: u64, new: Option<u64>) -> Result<Exit, String> {
    let r = reader(dir)?;
    let new = match new {
        Some(n) => n,
        None => SignedCheckpoint::parse(&newest(&r)?)
            .map_err(|e| e.to_string())?
            .checkpoint()
            .size(),
    };
    let proof = r.consistency_proof(old, new).map_err(|e| e.to_string())?;
    let text: String = proof
        .iter()
        .map(|h| format!("{}\n", h.to_base64()))
        .collect();
    write_out(text.as_bytes())
}

pub(super) fn verify(
    dir: &Path,
    full: bool,
    trusted: Option<&Path>,
    vkey: Option<&str>,
) -> Result<Exit, String> {
    let verifier = keyfile::verifier(dir, vkey)?;
    let trusted = trusted
        .map(std::fs::read)
        .transpose()
        .map_err(|e| format!("reading the trusted checkpoint: {e}"))?;
    match verify_dir(dir, verifier.name(), &verifier, full, trusted.as_deref()) {
        Ok(report) => {
            println!(
                "ok: {} entries, root {}, {} signed checkpoints checked (newest at size {}){}",
                report.size,
                report.root.to_base64(),
                report.checkpoints,
                report
                    .latest_checkpoint
                    .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                if full { ", every entry re-hashed" } else { "" }
            );
            Ok(Exit::Ok)
        }
        Err(e) => {
            println!("FAILED: {e}");
            Ok(Exit::CheckFailed)
        }
    }
}

pub(super) fn patient_report(
    dir: &Path,
    subjects: &[SubjectRef],
    from: Option<&str>,
    to: Option<&str>,
    html: bool,
    vkey: Option<&str>,
) -> Result<Exit, String> {
    let parse = |t: Option<&str>, name: &str| {
        t.map(Timestamp::parse_rfc3339)
            .transpose()
            .map_err(|e| format!("--{name}: {e}"))
    };
    let (from, to) = (parse(from, "from")?, parse(to, "to")?);
    let (events, size, root) = verified_events(dir, vkey)?;
    let built = PatientReport::build_for_any(subjects, from, to, events, size, root)
        .map_err(|e| e.to_string())?;
    let text = if html {
        built.to_html()
    } else {
        format!("{}\n", built.to_json())
    };
    write_out(text.as_bytes())
}

/// The events of a verified log with their indices, the verified size and the root.
pub(in crate::commands) type VerifiedEvents = (Vec<(u64, AuditEvent)>, u64, [u8; 32]);

/// Every event of the audit log in `dir` with its index, read only after the whole log verified
/// (every entry re-hashed, every checkpoint checked), with the verified size and root.
pub(in crate::commands) fn verified_events(
    dir: &Path,
    vkey: Option<&str>,
) -> Result<VerifiedEvents, String> {
    warn_if_own_key(dir, vkey);
    let verifier = keyfile::verifier(dir, vkey)?;
    let report = verify_dir(dir, verifier.name(), &verifier, true, None)
        .map_err(|e| format!("the log does not verify: {e}"))?;
    let mut events = Vec::new();
    let mut bad = None;
    biv_integrity::store::FileLog::read_entries(dir, |index, bytes| match decode_entry(bytes) {
        Ok(e) if index < report.size => events.push((index, e)),
        Ok(_) => {}
        Err(e) => bad = bad.take().or(Some(format!("entry {index}: {e}"))),
    })
    .map_err(|e| e.to_string())?;
    if let Some(why) = bad {
        return Err(why);
    }
    Ok((events, report.size, report.root.to_bytes()))
}

/// A verifier key read from the directory being checked proves nothing against whoever controls
/// that directory: say so.
fn warn_if_own_key(dir: &Path, vkey: Option<&str>) {
    if vkey.is_none() {
        eprintln!(
            "biv audit: warning: using the verifier key stored in {} itself; pass --vkey with a key obtained independently for an audit",
            dir.display()
        );
    }
}
