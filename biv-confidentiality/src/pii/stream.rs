//! Streaming: scan or redact input that arrives in chunks (stdin, a log file, a socket) with
//! memory bounded by the chunk size plus a small carry.
//!
//! Each push scans the pending bytes and commits everything except the last [`CARRY`] bytes,
//! which may hold the start of a match that continues in the next chunk (every match is at most
//! [`MAX_SPAN`] bytes, and detectors look at most 64 bytes past
//! it). A finding that starts before the commit point is committed whole. A little of the
//! committed text is kept as left context for the next scan. The result is the same as scanning
//! the whole input at once, for any way of cutting it into chunks.

use biv_core::Finding;

use crate::pii::detectors::{LEFT_CONTEXT, MAX_SPAN, RIGHT_CONTEXT};
use crate::pii::redactor::PiiRedactor;
use crate::pii::scanner::PiiScanner;

/// Bytes held back at the end of the pending input until more arrives or the stream ends.
pub const CARRY: usize = MAX_SPAN + RIGHT_CONTEXT;
/// Pending bytes beyond the carry that trigger a scan (smaller pushes are buffered).
const BATCH: usize = 64 * 1024;

/// Receives a committed range: `(buffer, from, to, findings in it)`.
type Emit<'a> = dyn FnMut(&[u8], usize, usize, &[Finding]) + 'a;

/// The buffer shared by both streams.
#[derive(Debug, Default)]
struct Core {
    buf: Vec<u8>,
    /// `buf[..committed]` was already handed out (kept only as context).
    committed: usize,
    /// The stream offset of `buf[0]`.
    base: usize,
}

impl Core {
    fn pending(&self) -> usize {
        self.buf.len() - self.committed
    }

    /// Scans the pending bytes and commits up to the carry (or everything when `last`). Calls
    /// `emit(buf, from, to, findings)` for the committed range.
    fn process(
        &mut self,
        scanner: &PiiScanner,
        last: bool,
        findings: &mut Vec<Finding>,
        emit: &mut Emit<'_>,
    ) {
        let limit = if last {
            self.buf.len()
        } else {
            self.buf.len().saturating_sub(CARRY)
        };
        if limit <= self.committed && !last {
            return;
        }
        findings.clear();
        scanner.scan_from(&self.buf, self.committed, findings);
        let mut commit = limit;
        let mut taken = 0;
        for f in findings.iter() {
            if f.start >= commit {
                break;
            }
            commit = commit.max(f.end);
            taken += 1;
        }
        emit(&self.buf, self.committed, commit, &findings[..taken]);
        self.committed = commit;
        let drop = self.committed.saturating_sub(LEFT_CONTEXT);
        if drop > 0 {
            self.buf.drain(..drop);
            self.committed -= drop;
            self.base += drop;
        }
    }
}

/// Scans a stream chunk by chunk; findings carry offsets into the whole stream.
///
/// ```
/// use biv_confidentiality::pii::{PiiConfig, PiiScanner, StreamScanner};
///
/// let scanner = PiiScanner::new(&PiiConfig::default())?;
/// let mut stream = StreamScanner::new(&scanner);
/// let mut found = Vec::new();
/// stream.push(b"mail jan.jan", &mut found); // the address straddles the chunks
/// stream.push(b"sen@example.nl ok", &mut found);
/// stream.finish(&mut found);
/// assert_eq!((found[0].start, found[0].end), (5, 26));
/// # Ok::<(), biv_confidentiality::pii::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct StreamScanner<'s> {
    scanner: &'s PiiScanner,
    core: Core,
    scratch: Vec<Finding>,
}

impl<'s> StreamScanner<'s> {
    /// A stream over `scanner`.
    pub fn new(scanner: &'s PiiScanner) -> Self {
        StreamScanner {
            scanner,
            core: Core::default(),
            scratch: Vec::new(),
        }
    }

    /// Adds a chunk; appends the findings that are now certain to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Finding>) {
        self.core.buf.extend_from_slice(chunk);
        if self.core.pending() >= CARRY + BATCH {
            self.run(false, out);
        }
    }

    /// Ends the stream; appends the remaining findings.
    pub fn finish(mut self, out: &mut Vec<Finding>) {
        self.run(true, out);
    }

    fn run(&mut self, last: bool, out: &mut Vec<Finding>) {
        let base = self.core.base;
        self.core.process(
            self.scanner,
            last,
            &mut self.scratch,
            &mut |_, _, _, findings| {
                out.extend(
                    findings
                        .iter()
                        .map(|f| Finding::new(f.kind, f.start + base, f.end + base, f.confidence)),
                );
            },
        );
    }
}

/// Redacts a stream chunk by chunk. The output is what
/// [`PiiRedactor::redact_bytes`] gives for the whole input, however it was cut.
///
/// ```
/// use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
///
/// let redactor = PiiRedactor::new(&PiiConfig::default())?;
/// let mut stream = redactor.stream();
/// let mut out = Vec::new();
/// stream.push(b"BSN 1112", &mut out);
/// stream.push(b"22333\n", &mut out);
/// stream.finish(&mut out);
/// assert_eq!(out, b"BSN [BSN]\n");
/// # Ok::<(), biv_confidentiality::pii::BuildError>(())
/// ```
#[derive(Debug)]
pub struct StreamRedactor<'r> {
    redactor: &'r PiiRedactor,
    core: Core,
    scratch: Vec<Finding>,
}

impl<'r> StreamRedactor<'r> {
    /// A stream through `redactor` (also [`PiiRedactor::stream`]).
    pub fn new(redactor: &'r PiiRedactor) -> Self {
        StreamRedactor {
            redactor,
            core: Core::default(),
            scratch: Vec::new(),
        }
    }

    /// Adds a chunk; appends the redacted bytes that are now certain to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.core.buf.extend_from_slice(chunk);
        if self.core.pending() >= CARRY + BATCH {
            self.run(false, out);
        }
    }

    /// Ends the stream; appends the rest.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.run(true, out);
    }

    fn run(&mut self, last: bool, out: &mut Vec<u8>) {
        let redactor = self.redactor;
        self.core.process(
            redactor.scanner(),
            last,
            &mut self.scratch,
            &mut |buf, from, to, findings| redactor.apply(buf, from, to, findings, out),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::config::PiiConfig;

    fn sample() -> Vec<u8> {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "{i} INFO lookup bsn=111222333 mail=jan{i}@example.nl iban NL91ABNA0417164300 \
                 tel 06-1234567{} ok é\n",
                i % 10
            ));
        }
        text.push_str("-----BEGIN PRIVATE KEY-----\n");
        text.push_str(&"QUJD".repeat(500));
        text.push_str("\n-----END PRIVATE KEY-----\n");
        text.into_bytes()
    }

    #[test]
    fn any_cut_gives_the_whole_input_result() {
        let redactor = PiiRedactor::new(&PiiConfig::default()).unwrap();
        let input = sample();
        let whole = redactor.redact_bytes(&input).into_owned();
        let all_findings = redactor.scanner().scan_bytes(&input);
        for chunk in [1, 7, 100, 4096, 70_000, 1 << 20] {
            let mut stream = redactor.stream();
            let mut out = Vec::new();
            for piece in input.chunks(chunk) {
                stream.push(piece, &mut out);
            }
            stream.finish(&mut out);
            assert!(out == whole, "chunk size {chunk}");

            let mut scan = redactor.stream_scanner();
            let mut found = Vec::new();
            for piece in input.chunks(chunk) {
                scan.push(piece, &mut found);
            }
            scan.finish(&mut found);
            assert_eq!(found, all_findings, "chunk size {chunk}");
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let redactor = PiiRedactor::new(&PiiConfig::default()).unwrap();
        let mut stream = redactor.stream();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 10_000];
        for _ in 0..1000 {
            stream.push(&chunk, &mut out);
            assert!(stream.core.buf.len() <= CARRY + BATCH + chunk.len() + LEFT_CONTEXT);
            out.clear();
        }
    }
}
