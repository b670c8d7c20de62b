//! [`WitnessAnchor`]: publishes the log's checkpoints to a witness that speaks the
//! c2sp.org/tlog-witness `add-checkpoint` protocol and keeps the newest checkpoint it cosigned.

mod http;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use biv_core::BackendError;

use self::http::{Answer, Endpoint};
use super::checkpoint_key::{CheckpointAnchor, ConsistencyProver};
use crate::tlog::{
    CosignatureError, CosignatureVerifier, Note, SignedCheckpoint, verify_cosignatures,
};

/// Most consistency proof lines a client may send (c2sp.org/tlog-witness).
const MAX_PROOF_LINES: usize = 63;
/// Default bound on one whole exchange with the witness (connect, send, answer).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a checkpoint was not cosigned by the witness, or the anchor could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The witness URL is not `http://host[:port][/prefix]`.
    #[error("witness URL {url:?}: {why}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// No witness verifier key was given: cosignatures could not be checked.
    #[error("no witness verifier key configured")]
    NoWitnessKey,
    /// The witness could not be reached, or the exchange broke off.
    #[error("witness unreachable: {0}")]
    Transport(String),
    /// The exchange took longer than the configured timeout.
    #[error("the witness did not answer within {0:?}")]
    Timeout(Duration),
    /// 403 or 404: the witness does not know this log's origin, or none of the log's
    /// signatures verifies with the keys it trusts for it.
    #[error(
        "the witness refused the checkpoint with status {status} (unknown log or key): {message}"
    )]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of the witness's answer.
        message: String,
    },
    /// 400: the witness found the request malformed.
    #[error("the witness found the request malformed: {message}")]
    BadRequest {
        /// The start of the witness's answer.
        message: String,
    },
    /// 422: the consistency proof from the size the witness holds did not verify — the log's
    /// tree does not extend what the witness cosigned (a fork or a rewrite).
    #[error(
        "the witness rejected the consistency proof from size {old} to {size}: the log does not extend what it cosigned"
    )]
    Inconsistent {
        /// The size the proof started from (the witness's).
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The witness cosigned a larger tree of this log than the checkpoint: the log was
    /// truncated or rolled back.
    #[error(
        "the witness cosigned size {witness_size} but the checkpoint has size {size}: the log was truncated or rolled back"
    )]
    Behind {
        /// The size the witness (or this anchor) confirmed.
        witness_size: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The witness cosigned another root at this size: the log forked.
    #[error("the witness cosigned another root at size {size}: the log forked")]
    Fork {
        /// The size at which the roots differ.
        size: u64,
    },
    /// The witness answered 409 again after the anchor adopted the size it named.
    #[error("the witness still reports a conflict (its size {witness_size})")]
    Conflict {
        /// The size the witness named last.
        witness_size: u64,
    },
    /// The checkpoint is for another log than the one this anchor holds.
    #[error("the anchor holds checkpoints of {held:?}, not {origin:?}")]
    OtherLog {
        /// The origin of the held checkpoint.
        held: String,
        /// The origin of the checkpoint given.
        origin: String,
    },
    /// A consistency proof was needed but could not be produced (or no prover was given).
    #[error("no consistency proof from size {old} to {size}: {why}")]
    Proof {
        /// The witness's size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// Why.
        why: String,
    },
    /// The answer is not what the protocol prescribes (a garbage body, a 409 without its size).
    #[error("the witness's answer is malformed: {0}")]
    BadAnswer(String),
    /// A cosignature by a configured witness key does not verify.
    #[error("a witness cosignature does not verify")]
    Cosignature(#[source] CosignatureError),
    /// The answer holds no cosignature by a configured witness key.
    #[error("the witness's answer holds no cosignature by a configured witness key")]
    NotCosigned,
    /// Another status than the protocol's.
    #[error("the witness answered with status {status}")]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
    },
    /// The state file could not be read or written, or holds no valid cosigned checkpoint.
    #[error("witness state file {path}: {why}")]
    State {
        /// The file.
        path: String,
        /// What failed.
        why: String,
    },
}

/// What the anchor knows about the witness's view of the log.
#[derive(Debug, Default)]
struct Known {
    /// The size the witness last confirmed by cosigning (a size named in a 409 is used for the
    /// retry of that call only).
    witness_size: Option<u64>,
    /// The newest checkpoint the witness cosigned, with its verified cosignatures.
    newest: Option<SignedCheckpoint>,
}

/// A [`CheckpointAnchor`] that submits every checkpoint to a c2sp.org/tlog-witness witness —
/// run by someone other than the log's operator — and keeps the newest checkpoint it cosigned.
///
/// For each checkpoint it sends `POST <prefix>/add-checkpoint` with `old <size>`, the RFC 6962
/// consistency proof from the size the witness last confirmed (asked of the log through
/// [`ConsistencyProver`]), an empty line and the signed checkpoint. On 200 it checks the answer's
/// cosignatures (c2sp.org/tlog-cosignature, `cosignature/v1`) against the configured witness keys
/// and counts the publication as done only when at least one verifies and none by those keys
/// fails; cosignatures by other keys are dropped. On 409 it adopts the size the witness names
/// (`text/x.tlog.size`) and tries once more with a proof from there. 403/404 (unknown log or
/// key), 400, 422 (the proof does not verify: the log does not extend what the witness holds),
/// a witness ahead of the log, another root at the same size, a garbage answer, a timeout: all
/// are [`WitnessError`]s, never acceptances.
///
/// [`CheckpointAnchor::latest`] returns the newest cosigned checkpoint (the log's signature and
/// the witness's cosignatures), so a store opened with this anchor refuses to run when its tree
/// is not consistent with it. The protocol has no read API, so across restarts the anchor
/// remembers it only through a state file ([`WitnessAnchor::with_state_file`]): keep that file
/// where the log's operator cannot roll it back. Without one (or when it was rolled back),
/// the witness still refuses the rolled-back log's next checkpoint (a 409 naming a larger size,
/// reported as [`WitnessError::Behind`]), so the rollback surfaces at the first publication.
///
/// The state file holds the cosigned checkpoint as a c2sp.org/signed-note: the checkpoint text,
/// a blank line, the log's signature line(s) and the witness's cosignature line(s) — the same
/// bytes a c2sp.org/tlog-proof bundle or any note verifier accepts. It is replaced atomically.
///
/// Plain `http://` only (no TLS): put the witness on a trusted network or behind a TLS-
/// terminating proxy on loopback; the checkpoint and the cosignature are signed, so a network
/// attacker can make publication fail but not forge a cosignature. Every exchange is bounded by
/// the timeout (default 5 s) and uses a connection of its own (no keep-alive, which the spec
/// recommends: at one checkpoint a second that costs little). Both stores publish from a thread
/// of their own, so a slow or unreachable witness never stalls appends, and a failed
/// publication is tried again until it succeeds or a newer checkpoint replaces it. A checkpoint
/// the witness already cosigned is not sent again. Use one anchor per log.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use biv_integrity::store::{CheckpointKey, FileLog, FileLogOptions, WitnessAnchor};
/// use biv_integrity::tlog::{CosignatureVerifier, Ed25519Signer, verify_cosignatures};
/// use biv_testkit::witness::TlogWitness;
///
/// # let dir = std::env::temp_dir().join(format!("biv-doc-witness-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let signer = Ed25519Signer::from_seed("biv.example/ehr/audit", &[1; 32])?;
/// // The auditor's witness (here biv-testkit's stand-in) trusts the log's verifier key ...
/// let witness = TlogWitness::start("witness.example/auditor", &[2; 32])?;
/// witness.add_log("biv.example/ehr/audit", &signer.verifier().to_vkey())?;
/// // ... and the log trusts the witness's verifier key, as the auditor publishes it. In
/// // production: WitnessAnchor::new("http://witness.internal:8080/tlog", keys)?
/// //     .with_state_file("/var/lib/biv-anchor/witness-checkpoint")?
/// let witness_key = CosignatureVerifier::from_vkey(&witness.vkey())?;
/// let anchor = Arc::new(WitnessAnchor::new(&witness.url(), vec![witness_key.clone()])?);
/// let options = FileLogOptions::default().with_anchor(anchor.clone());
/// let log = FileLog::create(&dir, CheckpointKey::ed25519(signer), options)?;
/// log.append_blocking(&biv_testkit::sample_event(1))?;
/// let checkpoint = log.checkpoint_now()?;
/// // Publication runs on the log's anchor thread; wait for the witness's cosignature.
/// let deadline = Instant::now() + Duration::from_secs(30);
/// while anchor.witness_size() != Some(1) && Instant::now() < deadline {
///     std::thread::sleep(Duration::from_millis(10));
/// }
/// let cosigned = anchor.latest_cosigned().ok_or("not cosigned")?;
/// assert_eq!(cosigned.checkpoint(), checkpoint.checkpoint());
/// assert_eq!(verify_cosignatures(cosigned.note(), &[&witness_key])?.len(), 1);
/// # drop(log); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WitnessAnchor {
    endpoint: Endpoint,
    witnesses: Vec<CosignatureVerifier>,
    timeout: Duration,
    state_file: Option<PathBuf>,
    known: Mutex<Known>,
    /// One exchange at a time, so the remembered size stays the witness's.
    exchange: Mutex<()>,
}

impl fmt::Debug for WitnessAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WitnessAnchor")
            .field("url", &self.endpoint.url())
            .field("witnesses", &self.witnesses)
            .field("timeout", &self.timeout)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The start of a witness's text answer, for error messages, without control characters (a
/// terminal escape sequence from the witness must not reach an operator's terminal).
fn snippet(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A decimal size without leading zeros, as `text/x.tlog.size` carries it.
fn parse_size(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

impl WitnessAnchor {
    /// An anchor for the witness whose submission prefix is `url` (`http://host[:port][/prefix]`;
    /// requests go to `<prefix>/add-checkpoint`), trusting cosignatures by `witnesses`.
    ///
    /// # Errors
    /// [`WitnessError::InvalidUrl`] (also for `https://`, which this client does not speak) or
    /// [`WitnessError::NoWitnessKey`].
    pub fn new(url: &str, witnesses: Vec<CosignatureVerifier>) -> Result<Self, WitnessError> {
        if witnesses.is_empty() {
            return Err(WitnessError::NoWitnessKey);
        }
        Ok(WitnessAnchor {
            endpoint: Endpoint::parse(url)?,
            witnesses,
            timeout: DEFAULT_TIMEOUT,
            state_file: None,
            known: Mutex::new(Known::default()),
            exchange: Mutex::new(()),
        })
    }

    /// Bounds every exchange with the witness (connect, send, answer) to `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Keeps the newest cosigned checkpoint in `path` as well, and starts from the one it holds
    /// (its cosignatures are checked against the witness keys now; the log's signature is
    /// checked by the store when it opens).
    ///
    /// # Errors
    /// [`WitnessError::State`] when the file exists but cannot be read or does not hold a
    /// checkpoint cosigned by a configured witness key.
    pub fn with_state_file(mut self, path: impl AsRef<Path>) -> Result<Self, WitnessError> {
        let path = path.as_ref().to_path_buf();
        let state_err = |why: String| WitnessError::State {
            path: path.display().to_string(),
            why,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let cp = SignedCheckpoint::parse(&bytes).map_err(|e| state_err(e.to_string()))?;
                let refs: Vec<&CosignatureVerifier> = self.witnesses.iter().collect();
                let cosigs =
                    verify_cosignatures(cp.note(), &refs).map_err(|e| state_err(e.to_string()))?;
                if cosigs.is_empty() {
                    return Err(state_err(
                        "no cosignature by a configured witness key".into(),
                    ));
                }
                let known = Known {
                    witness_size: Some(cp.checkpoint().size()),
                    newest: Some(cp),
                };
                self.known = Mutex::new(known);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(state_err(e.to_string())),
        }
        self.state_file = Some(path);
        Ok(self)
    }

    /// The submission URL, `http://host:port/<prefix>/add-checkpoint`.
    pub fn url(&self) -> String {
        self.endpoint.url()
    }

    /// The newest checkpoint the witness cosigned, with its cosignatures.
    pub fn latest_cosigned(&self) -> Option<SignedCheckpoint> {
        lock(&self.known).newest.clone()
    }

    /// The tree size the witness last confirmed, if this anchor has heard from it.
    pub fn witness_size(&self) -> Option<u64> {
        lock(&self.known).witness_size
    }

    /// Submits `checkpoint` to the witness and returns it with the witness's verified
    /// cosignatures added. `proofs` gives the consistency proof from the size the witness holds;
    /// without it only a first checkpoint (or one of the size the witness holds) can be sent.
    ///
    /// # Errors
    /// [`WitnessError`] saying what the witness answered or why it could not be asked.
    pub fn add_checkpoint(
        &self,
        checkpoint: &SignedCheckpoint,
        proofs: Option<&dyn ConsistencyProver>,
    ) -> Result<SignedCheckpoint, WitnessError> {
        let _one = lock(&self.exchange);
        let cp = checkpoint.checkpoint();
        let size = cp.size();
        let mut old = {
            let known = lock(&self.known);
            if let Some(newest) = &known.newest {
                let held = newest.checkpoint();
                if held.origin() != cp.origin() {
                    return Err(WitnessError::OtherLog {
                        held: held.origin().to_owned(),
                        origin: cp.origin().to_owned(),
                    });
                }
                if held.size() > size {
                    return Err(WitnessError::Behind {
                        witness_size: held.size(),
                        size,
                    });
                }
                if held.size() == size {
                    if held.root() != cp.root() {
                        return Err(WitnessError::Fork { size });
                    }
                    // Already cosigned (e.g. published by the store and by its caller).
                    return Ok(newest.clone());
                }
            }
            known.witness_size.unwrap_or(0)
        };
        for attempt in 0..2 {
            if old > size {
                return Err(WitnessError::Behind {
                    witness_size: old,
                    size,
                });
            }
            let body = self.request_body(checkpoint, old, proofs)?;
            let answer = http::post(&self.endpoint, body, self.timeout)?;
            match answer.status {
                200 => return self.accept(checkpoint, &answer),
                409 => {
                    // Used for the one retry only, never remembered: the answer is not signed,
                    // so a forged or mistaken 409 must not block later publications.
                    let named = conflict_size(&answer)?;
                    if named == old {
                        return Err(if old == size {
                            WitnessError::Fork { size }
                        } else {
                            WitnessError::Conflict {
                                witness_size: named,
                            }
                        });
                    }
                    if attempt == 1 {
                        return Err(WitnessError::Conflict {
                            witness_size: named,
                        });
                    }
                    old = named;
                }
                403 | 404 => {
                    return Err(WitnessError::Refused {
                        status: answer.status,
                        message: snippet(&answer.body),
                    });
                }
                400 => {
                    return Err(WitnessError::BadRequest {
                        message: snippet(&answer.body),
                    });
                }
                422 => return Err(WitnessError::Inconsistent { old, size }),
                status => return Err(WitnessError::UnexpectedStatus { status }),
            }
        }
        Err(WitnessError::Conflict { witness_size: old })
    }

    /// `old <size>`, the proof lines, an empty line, the signed checkpoint.
    fn request_body(
        &self,
        checkpoint: &SignedCheckpoint,
        old: u64,
        proofs: Option<&dyn ConsistencyProver>,
    ) -> Result<Vec<u8>, WitnessError> {
        let size = checkpoint.checkpoint().size();
        let proof_err = |why: String| WitnessError::Proof { old, size, why };
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            proofs
                .ok_or_else(|| proof_err("no proof source given".into()))?
                .consistency_proof(old, size)
                .map_err(|e| proof_err(e.to_string()))?
        };
        if proof.len() > MAX_PROOF_LINES {
            return Err(proof_err(format!("{} hashes (at most 63)", proof.len())));
        }
        let mut body = format!("old {old}\n");
        for hash in &proof {
            body.push_str(&hash.to_base64());
            body.push('\n');
        }
        body.push('\n');
        let mut bytes = body.into_bytes();
        bytes.extend_from_slice(&checkpoint.to_bytes());
        Ok(bytes)
    }

    /// Checks a 200 answer's cosignatures and keeps the cosigned checkpoint.
    fn accept(
        &self,
        checkpoint: &SignedCheckpoint,
        answer: &Answer,
    ) -> Result<SignedCheckpoint, WitnessError> {
        let lines = std::str::from_utf8(&answer.body)
            .map_err(|_| WitnessError::BadAnswer("the body is not UTF-8".into()))?;
        // Only signature lines: an empty line would let the answer add lines to the signed text.
        if lines.is_empty()
            || !lines.ends_with('\n')
            || lines.starts_with('\n')
            || lines.contains("\n\n")
        {
            return Err(WitnessError::BadAnswer(
                "the body is not a sequence of signature lines".into(),
            ));
        }
        // The spec's way: append the lines to the checkpoint text and verify the note.
        let note = Note::parse(format!("{}\n{lines}", checkpoint.note().text()).as_bytes())
            .map_err(|e| WitnessError::BadAnswer(e.to_string()))?;
        let refs: Vec<&CosignatureVerifier> = self.witnesses.iter().collect();
        let verified = verify_cosignatures(&note, &refs).map_err(WitnessError::Cosignature)?;
        if verified.is_empty() {
            return Err(WitnessError::NotCosigned);
        }
        let mut cosigned = checkpoint.clone();
        for sig in note.signatures() {
            if verified
                .iter()
                .any(|v| v.name() == sig.name() && v.key_id() == sig.key_id())
            {
                cosigned.note_mut().add_signature(sig.clone());
            }
        }
        if let Some(path) = &self.state_file {
            super::file::write_atomically(path, &cosigned.to_bytes()).map_err(|e| {
                WitnessError::State {
                    path: path.display().to_string(),
                    why: e.to_string(),
                }
            })?;
        }
        let mut known = lock(&self.known);
        known.witness_size = Some(cosigned.checkpoint().size());
        known.newest = Some(cosigned.clone());
        Ok(cosigned)
    }
}

/// The size a 409 answer names: `text/x.tlog.size`, a decimal and a newline.
fn conflict_size(answer: &Answer) -> Result<u64, WitnessError> {
    let media_type = answer
        .content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .map(str::trim);
    if media_type != Some("text/x.tlog.size") {
        return Err(WitnessError::BadAnswer(format!(
            "409 with content type {:?}, not text/x.tlog.size",
            answer.content_type
        )));
    }
    std::str::from_utf8(&answer.body)
        .ok()
        .and_then(|t| t.strip_suffix('\n'))
        .and_then(parse_size)
        .ok_or_else(|| {
            WitnessError::BadAnswer(format!(
                "409 body {:?} is not a tree size",
                snippet(&answer.body)
            ))
        })
}

impl CheckpointAnchor for WitnessAnchor {
    fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), BackendError> {
        self.add_checkpoint(checkpoint, None)
            .map(|_| ())
            .map_err(BackendError::new)
    }

    fn latest(&self) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.latest_cosigned().map(|cp| cp.to_bytes()))
    }

    fn publish_with_proofs(
        &self,
        checkpoint: &SignedCheckpoint,
        proofs: &dyn ConsistencyProver,
    ) -> Result<(), BackendError> {
        self.add_checkpoint(checkpoint, Some(proofs))
            .map(|_| ())
            .map_err(BackendError::new)
    }
}
