//! Subject keys on the command line: `--subject-key ID=FILE` and the identifier on stdin, so a
//! BSN never appears in a command line, a shell history or `ps`.

use std::io::{BufRead, Write};
use std::path::Path;

use biv_confidentiality::blind_index::Normalizer;
use biv_confidentiality::subject_ref::{SubjectKey, SubjectKeyring};
use biv_core::SubjectRef;
use zeroize::Zeroizing;

use crate::exit::Exit;

/// Parses `ID=FILE` and reads the hex key material from FILE.
pub(super) fn load_key(spec: &str) -> Result<SubjectKey, String> {
    let Some((id, file)) = spec.split_once('=') else {
        // The value is not echoed: it may be the key itself, pasted in the wrong place.
        return Err(
            "--subject-key: expected KEY_ID=FILE (the file holds the key as hex digits)".to_owned(),
        );
    };
    let text = Zeroizing::new(
        std::fs::read_to_string(Path::new(file))
            .map_err(|e| format!("--subject-key {id}: cannot read {file}: {e}"))?,
    );
    SubjectKey::from_hex(id, &text).map_err(|e| format!("--subject-key {id}: {e}"))
}

/// The keyring of the `--subject-key` options, newest first as given.
pub(super) fn keyring(specs: &[String]) -> Result<SubjectKeyring, String> {
    let keys = specs
        .iter()
        .map(|s| load_key(s))
        .collect::<Result<Vec<_>, _>>()?;
    SubjectKeyring::new(keys).map_err(|e| format!("--subject-key: {e}"))
}

/// Parses `--normalizer`.
pub(super) fn normalizer(name: &str) -> Result<Normalizer, String> {
    match name {
        "bsn" => Ok(Normalizer::Bsn),
        "exact" => Ok(Normalizer::Exact),
        "trim" => Ok(Normalizer::Trim),
        "digits" => Ok(Normalizer::Digits),
        "email" => Ok(Normalizer::EmailLower),
        other => Err(format!(
            "--normalizer {other:?}: use bsn, exact, trim, digits or email"
        )),
    }
}

/// Reads one identifier: the first line of stdin, without its line end.
pub(super) fn identifier_from_stdin() -> Result<Zeroizing<String>, String> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the identifier from stdin: {e}"))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        return Err("no identifier on stdin".to_owned());
    }
    Ok(trimmed)
}

/// Every reference of the identifier on stdin under every key of the keyring, newest first.
pub(super) fn refs_from_stdin(
    keys: &[String],
    normalizer: &str,
) -> Result<Vec<SubjectRef>, String> {
    let ring = keyring(keys)?;
    let normalizer = self::normalizer(normalizer)?;
    let identifier = identifier_from_stdin()?;
    ring.all_refs(&identifier, normalizer)
        .map_err(|e| format!("the identifier on stdin: {e}"))
}

/// `biv audit subject-ref`: prints the reference of each identifier line on stdin under the
/// first (current) key; with `--all-versions`, one line per key version, tab-separated.
pub(super) fn subject_ref(keys: &[String], normalizer: &str, all: bool) -> Result<Exit, String> {
    let ring = keyring(keys)?;
    let normalizer = self::normalizer(normalizer)?;
    // Every line is turned into references before anything is printed: a bad line leaves no
    // partial output behind.
    let mut lines = Vec::new();
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = Zeroizing::new(line.map_err(|e| format!("reading stdin: {e}"))?);
        if line.trim().is_empty() {
            continue;
        }
        let refs = if all {
            ring.all_refs(&line, normalizer)
        } else {
            ring.current()
                .subject_ref(&line, normalizer)
                .map(|r| vec![r])
        }
        .map_err(|e| format!("line {}: {e}", number + 1))?;
        let text: Vec<String> = refs.iter().map(ToString::to_string).collect();
        lines.push(text.join("\t"));
    }
    if lines.is_empty() {
        return Err("no identifier on stdin".to_owned());
    }
    let mut out = std::io::stdout().lock();
    for line in &lines {
        writeln!(out, "{line}").map_err(|e| format!("writing stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing stdout: {e}"))?;
    Ok(Exit::Ok)
}
