//! `biv pii` (confidentiality): find and redact personal data, such as BSN numbers, in logs and text.
//!
//! - `biv pii scan [FILE]` reads the input (standard input by default) and prints one JSON object
//!   per finding on standard output: `{"type":"bsn","start":4,"end":13,"confidence":0.95}`, with
//!   byte offsets into the input. The found text itself is never printed.
//! - `biv pii redact [FILE]` copies the input to standard output with each finding replaced:
//!   masked (`[BSN]`), pseudonymised or dropped, per kind.
//!
//! Both stream: the input is read in chunks and may be larger than memory. The configuration
//! (`--config FILE`, JSON) and the pseudonym key are described in `docs/formats/pii-findings.md`.
//!
//! The pseudonym key never appears on the command line: it is read from the file named by
//! `--key-file` (or the `BIV_PII_KEY_FILE` variable), or taken from the `BIV_PII_KEY` variable,
//! as hex digits (32 bytes recommended). `--key-id` (or `BIV_PII_KEY_ID`) names it in the
//! pseudonyms; without one an id is derived from the key.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use biv_confidentiality::pii::{Operator, PiiConfig, PiiRedactor, PseudonymKey};
use biv_core::{Finding, PiiKind};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::exit::Exit;

/// Environment variable naming the key file.
const KEY_FILE_VAR: &str = "BIV_PII_KEY_FILE";
/// Environment variable holding the key as hex.
const KEY_VAR: &str = "BIV_PII_KEY";
/// Environment variable holding the key id.
const KEY_ID_VAR: &str = "BIV_PII_KEY_ID";
/// Bytes read from the input at a time.
const CHUNK: usize = 64 * 1024;

/// Arguments of `biv pii`.
#[derive(Debug, Args)]
#[command(
    about = "Find and redact personal data, such as BSN numbers, in logs and text",
    long_about = "Run biv's redactor over text or log files: find personal data such as BSN \
                  numbers, IBANs, e-mail addresses, phone numbers, dates of birth, postcodes, AGB \
                  codes, record numbers and secrets, and show or remove it before logs and error \
                  reports leave the host.",
    after_help = "Exit status: 0 done; 2 bad arguments, configuration or key, or the input or \
                  output failed. The format of the output and of --config is specified in \
                  docs/formats/pii-findings.md."
)]
pub(crate) struct PiiArgs {
    #[command(subcommand)]
    command: PiiCommand,
}

#[derive(Debug, Subcommand)]
enum PiiCommand {
    /// Report personal data in the input as JSON lines: {"type","start","end","confidence"},
    /// byte offsets into the input
    Scan(ScanArgs),
    /// Copy the input to standard output with personal data masked, pseudonymised or dropped
    Redact(RedactArgs),
}

/// What both subcommands take.
#[derive(Debug, Args)]
struct Common {
    /// The input file; standard input when absent or `-`
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
    /// Configuration file (JSON): kinds, operators, thresholds, record patterns
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Report only findings with at least this confidence (0 to 1; overrides the configuration)
    #[arg(long, value_name = "CONFIDENCE")]
    min_confidence: Option<f32>,
}

#[derive(Debug, Args)]
struct ScanArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct RedactArgs {
    #[command(flatten)]
    common: Common,
    /// What to do with a kind, e.g. `bsn=pseudonym`, `email=drop`, `phone=mask` (repeatable;
    /// overrides the configuration)
    #[arg(long = "operator", value_name = "KIND=OPERATOR")]
    operators: Vec<String>,
    /// File holding the pseudonym key as hex digits (or set BIV_PII_KEY_FILE, or BIV_PII_KEY to
    /// the hex itself); needed when a kind is pseudonymised
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Id of the pseudonym key, written into every pseudonym (or set BIV_PII_KEY_ID; default:
    /// derived from the key)
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
}

/// Runs `biv pii`.
pub(crate) fn run(args: &PiiArgs) -> Exit {
    let (name, result) = match &args.command {
        PiiCommand::Scan(a) => ("scan", scan(a)),
        PiiCommand::Redact(a) => ("redact", redact(a)),
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(message) => {
            eprintln!("biv pii {name}: {message}");
            Exit::Usage
        }
    }
}

fn scan(args: &ScanArgs) -> Result<(), String> {
    let config = load_config(&args.common)?;
    let redactor = PiiRedactor::new(&config.with_no_pseudonyms()).map_err(|e| e.to_string())?;
    let mut stream = redactor.stream_scanner();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut findings: Vec<Finding> = Vec::new();
    let write_findings = |findings: &mut Vec<Finding>, out: &mut BufWriter<_>| -> io::Result<()> {
        for f in findings.drain(..) {
            let line = serde_json::to_string(&f).map_err(io::Error::other)?;
            writeln!(out, "{line}")?;
        }
        Ok(())
    };
    let outcome = for_each_chunk(args.common.input.as_deref(), |chunk| {
        stream.push(chunk, &mut findings);
        write_findings(&mut findings, &mut out)
    })
    .and_then(|()| {
        stream.finish(&mut findings);
        write_findings(&mut findings, &mut out)?;
        out.flush()
    });
    io_result(outcome)
}

fn redact(args: &RedactArgs) -> Result<(), String> {
    let mut config = load_config(&args.common)?;
    for spec in &args.operators {
        let (kind, operator) = parse_operator(spec)?;
        config = config.with_operator(kind, operator);
    }
    let needs_key = config
        .kinds
        .values()
        .any(|k| k.enabled && k.operator == Operator::Pseudonym);
    let redactor = if needs_key {
        let key = load_key(args)?;
        PiiRedactor::with_pseudonym_key(&config, key)
    } else {
        PiiRedactor::new(&config)
    }
    .map_err(|e| e.to_string())?;
    let mut stream = redactor.stream();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut buf = Vec::with_capacity(CHUNK);
    let outcome = for_each_chunk(args.common.input.as_deref(), |chunk| {
        buf.clear();
        stream.push(chunk, &mut buf);
        out.write_all(&buf)
    })
    .and_then(|()| {
        buf.clear();
        stream.finish(&mut buf);
        out.write_all(&buf)?;
        out.flush()
    });
    io_result(outcome)
}

/// A closed standard output (`biv pii scan | head`) ends the command quietly; other I/O
/// errors are reported.
fn io_result(outcome: io::Result<()>) -> Result<(), String> {
    match outcome {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("input/output failed: {e}")),
        Ok(()) => Ok(()),
    }
}

/// Calls `f` with each chunk of the input.
fn for_each_chunk(
    input: Option<&Path>,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut reader: Box<dyn Read> =
        match input {
            None => Box::new(io::stdin().lock()),
            Some(p) if p.as_os_str() == "-" => Box::new(io::stdin().lock()),
            Some(p) => Box::new(File::open(p).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot open {}: {e}", p.display()))
            })?),
        };
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        f(&chunk[..n])?;
    }
}

fn load_config(common: &Common) -> Result<PiiConfig, String> {
    let mut config = match &common.config {
        None => PiiConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the configuration {}: {e}", path.display()))?;
            PiiConfig::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    if let Some(c) = common.min_confidence {
        if !(0.0..=1.0).contains(&c) {
            return Err(format!("--min-confidence {c} is outside 0..=1"));
        }
        config = config.with_min_confidence(c);
        for settings in config.kinds.values_mut() {
            settings.min_confidence = None;
        }
    }
    Ok(config)
}

/// `KIND=OPERATOR`, with the names `biv pii scan` prints and `mask`, `pseudonym`, `drop`.
fn parse_operator(spec: &str) -> Result<(PiiKind, Operator), String> {
    let (kind, operator) = spec.split_once('=').ok_or_else(|| {
        format!("--operator {spec:?}: expected KIND=OPERATOR, e.g. bsn=pseudonym")
    })?;
    let kind: PiiKind = serde_json::from_value(serde_json::Value::String(kind.trim().to_string()))
        .map_err(|_| {
            format!(
                "--operator {spec:?}: unknown kind; use bsn, iban, email, phone, date_of_birth, \
                 postcode, agb, record_number or secret"
            )
        })?;
    let operator: Operator = serde_json::from_value(serde_json::Value::String(
        operator.trim().to_string(),
    ))
    .map_err(|_| format!("--operator {spec:?}: unknown operator; use mask, pseudonym or drop"))?;
    Ok((kind, operator))
}

/// The pseudonym key from `--key-file`, `BIV_PII_KEY_FILE` or `BIV_PII_KEY`.
fn load_key(args: &RedactArgs) -> Result<PseudonymKey, String> {
    let env_file = std::env::var_os(KEY_FILE_VAR).map(PathBuf::from);
    let (hex, source) = match args.key_file.clone().or(env_file) {
        Some(path) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?,
            );
            (text, format!("key file {}", path.display()))
        }
        None => match std::env::var(KEY_VAR) {
            Ok(text) => (Zeroizing::new(text), KEY_VAR.to_string()),
            Err(_) => {
                return Err(format!(
                    "a kind is set to pseudonym but no key was given: use --key-file FILE, \
                     {KEY_FILE_VAR} or {KEY_VAR} (hex digits, 32 bytes recommended)"
                ));
            }
        },
    };
    let id = args
        .key_id
        .clone()
        .or_else(|| std::env::var(KEY_ID_VAR).ok());
    PseudonymKey::from_hex(id.as_deref(), &hex).map_err(|e| format!("{source}: {e}"))
}

/// Scanning needs no operators.
trait WithNoPseudonyms {
    fn with_no_pseudonyms(self) -> Self;
}

impl WithNoPseudonyms for PiiConfig {
    fn with_no_pseudonyms(mut self) -> Self {
        for settings in self.kinds.values_mut() {
            settings.operator = Operator::Mask;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_parse() {
        assert_eq!(
            parse_operator("bsn=pseudonym").unwrap(),
            (PiiKind::Bsn, Operator::Pseudonym)
        );
        assert_eq!(
            parse_operator("date_of_birth = drop").unwrap(),
            (PiiKind::DateOfBirth, Operator::Drop)
        );
        assert!(parse_operator("bsn").is_err());
        assert!(parse_operator("ssn=mask").is_err());
        assert!(parse_operator("bsn=hash").is_err());
    }
}
