//! `biv audit` (integrity): an auditor's and operator's tools for the tamper-evident audit log.
//!
//! | command | what it does |
//! |---|---|
//! | `init --dir D --origin NAME` | creates a log and its checkpoint signing key |
//! | `append --dir D [--witness URL --witness-key VKEY] [--cut-damaged-tail]` | appends `AuditEvent` JSON lines from stdin; one receipt line per event, printed only once durable; with a witness, ends with a checkpoint it cosigned |
//! | `checkpoint --dir D` | prints the newest signed checkpoint |
//! | `vkey --dir D` | prints the verifier key |
//! | `entry --dir D --index N` | writes the raw entry bytes (exactly what was hashed) |
//! | `prove --dir D --index N [--size S]` | prints a c2sp.org/tlog-proof |
//! | `consistency --dir D --old N [--new M]` | prints the consistency proof hashes, base64, one per line |
//! | `verify --dir D [--full] [--trusted FILE] [--vkey KEY]` | exits 0 when the log is valid, 1 naming the first failure |
//! | `patient-report --dir D (--subject REF… \| --subject-key ID=FILE… < identifier) [--from T] [--to T] [--html]` | the NEN 7513 access report of one patient, under every subject-key version |
//! | `subject-ref --subject-key ID=FILE… [--normalizer N] [--all-versions] < identifiers` | the pseudonymous subject reference of each identifier |
//!
//! Only `init` and `append` open the log for writing (taking its lock); the others read it and
//! work beside a running writer.

pub(in crate::commands) mod keyfile;
pub(in crate::commands) mod read;
mod subject;
mod write;

use std::path::PathBuf;

use biv_core::SubjectRef;
use clap::{Args, Subcommand};

use crate::exit::Exit;

/// Arguments of `biv audit`.
#[derive(Debug, Args)]
#[command(
    about = "Append to, verify and prove the tamper-evident audit log",
    long_about = "Append to, verify and prove the tamper-evident audit log: NEN 7513 access \
                  records in an RFC 6962 Merkle tree with signed C2SP checkpoints. Appends \
                  events, verifies the log and its checkpoints, and produces inclusion and \
                  consistency proofs that an auditor can check independently."
)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

/// The log directory, and where its signing key lives.
#[derive(Debug, Args)]
pub(crate) struct LogDir {
    /// The log directory.
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Create a log and its checkpoint signing key.
    Init {
        #[command(flatten)]
        log: LogDir,
        /// The log's origin, the first line of its checkpoints, e.g. `biv.zorg-noord/ehr/audit`.
        #[arg(long)]
        origin: String,
        /// Where to write the private signing key (default: <dir>/log.key, mode 0600). Keep it
        /// outside the log directory when the log's administrators must not sign.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Also publish checkpoints to this directory (on other storage), and check against it.
        #[arg(long)]
        anchor: Option<PathBuf>,
    },
    /// Append AuditEvent JSON objects from stdin, one per line; print one receipt per event
    /// once it is durable.
    Append {
        #[command(flatten)]
        log: LogDir,
        /// The private signing key (default: <dir>/log.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Publish checkpoints to this directory too, and refuse to append when the log is
        /// behind or forked from the checkpoint found there.
        #[arg(long)]
        anchor: Option<PathBuf>,
        #[command(flatten)]
        witness: write::WitnessArgs,
        /// When the log is refused because the end of its active segment is damaged with whole
        /// frames after the damage (entries committed since the last recorded state may be
        /// among them), cut that tail into <dir>/quarantine/ and go on. Look first.
        #[arg(long)]
        cut_damaged_tail: bool,
    },
    /// Print the newest signed checkpoint.
    Checkpoint {
        #[command(flatten)]
        log: LogDir,
    },
    /// Print the log's verifier key.
    Vkey {
        #[command(flatten)]
        log: LogDir,
    },
    /// Write entry N's raw bytes (exactly what was hashed) to stdout.
    Entry {
        #[command(flatten)]
        log: LogDir,
        /// The entry's index.
        #[arg(long)]
        index: u64,
    },
    /// Print an offline inclusion proof (c2sp.org/tlog-proof) of entry N.
    Prove {
        #[command(flatten)]
        log: LogDir,
        /// The entry's index.
        #[arg(long)]
        index: u64,
        /// Prove against the signed checkpoint of this size (default: the newest).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Print the consistency proof from the tree of OLD entries to the tree of NEW entries.
    Consistency {
        #[command(flatten)]
        log: LogDir,
        /// The older tree size.
        #[arg(long)]
        old: u64,
        /// The newer tree size (default: the newest signed checkpoint's).
        #[arg(long)]
        new: Option<u64>,
    },
    /// Verify the log: exit 0 when valid, 1 naming the first failing entry or checkpoint.
    Verify {
        #[command(flatten)]
        log: LogDir,
        /// Re-read and re-hash every entry instead of trusting the stored tree.
        #[arg(long)]
        full: bool,
        /// A signed checkpoint you trust (from an earlier visit) that the log must extend.
        #[arg(long)]
        trusted: Option<PathBuf>,
        /// The verifier key (name+hex+base64) you obtained independently; default: <dir>/log.vkey.
        #[arg(long)]
        vkey: Option<String>,
    },
    /// The NEN 7513 access report of one patient: every event about them, in order.
    PatientReport {
        #[command(flatten)]
        log: LogDir,
        /// The patient's pseudonymous reference, as in the events' `subject`; repeat it for
        /// the references under older subject-key versions.
        #[arg(
            long,
            required_unless_present = "subject_key",
            conflicts_with = "subject_key"
        )]
        subject: Vec<String>,
        /// Instead of `--subject`: a subject key as KEY_ID=FILE (hex key in FILE), newest first;
        /// repeat it for every key version. The identifier (e.g. the BSN) is read from the first
        /// line of stdin, so it never appears in a command line.
        #[arg(long = "subject-key", value_name = "KEY_ID=FILE")]
        subject_key: Vec<String>,
        /// How the identifier on stdin is normalised: bsn, exact, trim, digits or email.
        #[arg(long, default_value = "bsn", requires = "subject_key")]
        normalizer: String,
        /// Start of the period (RFC 3339), inclusive.
        #[arg(long)]
        from: Option<String>,
        /// End of the period (RFC 3339), inclusive.
        #[arg(long)]
        to: Option<String>,
        /// Write HTML instead of JSON.
        #[arg(long)]
        html: bool,
        /// The verifier key; default: <dir>/log.vkey.
        #[arg(long)]
        vkey: Option<String>,
    },
    /// Print the pseudonymous subject reference of each identifier on stdin (one per line), as
    /// an audit event's `subject` must carry it.
    SubjectRef {
        /// The subject key as KEY_ID=FILE (hex key in FILE); repeat for older versions, newest
        /// first. References are made with the first.
        #[arg(long = "subject-key", value_name = "KEY_ID=FILE", required = true)]
        subject_key: Vec<String>,
        /// How each identifier is normalised: bsn, exact, trim, digits or email.
        #[arg(long, default_value = "bsn")]
        normalizer: String,
        /// Print the reference under every key version, tab-separated, newest first.
        #[arg(long)]
        all_versions: bool,
    },
}

/// Runs `biv audit`.
pub(crate) fn run(args: &AuditArgs) -> Exit {
    let result = match &args.command {
        AuditCommand::Init {
            log,
            origin,
            key,
            anchor,
        } => write::init(&log.dir, origin, key.as_deref(), anchor.as_deref()),
        AuditCommand::Append {
            log,
            key,
            anchor,
            witness,
            cut_damaged_tail,
        } => write::append(
            &log.dir,
            key.as_deref(),
            anchor.as_deref(),
            witness,
            *cut_damaged_tail,
        ),
        AuditCommand::Checkpoint { log } => read::checkpoint(&log.dir),
        AuditCommand::Vkey { log } => read::vkey(&log.dir),
        AuditCommand::Entry { log, index } => read::entry(&log.dir, *index),
        AuditCommand::Prove { log, index, size } => read::prove(&log.dir, *index, *size),
        AuditCommand::Consistency { log, old, new } => read::consistency(&log.dir, *old, *new),
        AuditCommand::Verify {
            log,
            full,
            trusted,
            vkey,
        } => read::verify(&log.dir, *full, trusted.as_deref(), vkey.as_deref()),
        AuditCommand::PatientReport {
            log,
            subject,
            subject_key,
            normalizer,
            from,
            to,
            html,
            vkey,
        } => {
            let subjects = if subject_key.is_empty() {
                subject
                    .iter()
                    .map(|s| {
                        // The value is not echoed: a raw BSN given by mistake stays off stderr.
                        SubjectRef::parse(s).map_err(|e| {
                            format!(
                                "--subject: not a subject reference ({}: {})",
                                e.what, e.rule
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            } else {
                subject::refs_from_stdin(subject_key, normalizer)
            };
            match subjects {
                Ok(subjects) => read::patient_report(
                    &log.dir,
                    &subjects,
                    from.as_deref(),
                    to.as_deref(),
                    *html,
                    vkey.as_deref(),
                ),
                Err(message) => {
                    eprintln!("biv audit: {message}");
                    return Exit::Usage;
                }
            }
        }
        AuditCommand::SubjectRef {
            subject_key,
            normalizer,
            all_versions,
        } => match subject::subject_ref(subject_key, normalizer, *all_versions) {
            Ok(exit) => Ok(exit),
            Err(message) => {
                eprintln!("biv audit: {message}");
                return Exit::Usage;
            }
        },
    };
    match result {
        Ok(exit) => exit,
        Err(message) => {
            eprintln!("biv audit: {message}");
            Exit::CheckFailed
        }
    }
}
