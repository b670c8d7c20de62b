//! The detectors: each finds one kind of personal data or secret at a candidate position the
//! scanner hands it, validates it (checksums, context, shape) and returns its exact byte range
//! and a confidence. None of them backtracks: each looks at a bounded number of bytes around
//! its anchor, so a scan is linear in the input.

pub(crate) mod agb;
pub(crate) mod bsn;
pub(crate) mod date_of_birth;
pub(crate) mod email;
pub(crate) mod iban;
pub(crate) mod numeric;
pub(crate) mod phone;
pub(crate) mod postcode;
pub(crate) mod record_number;
pub(crate) mod secret;

use std::cell::OnceCell;

use biv_core::PiiKind;

use crate::pii::context::{Hits, Phrases};
use numeric::Groups;

/// The longest span any detector reports, in bytes. Streams keep at least this much (plus
/// [`RIGHT_CONTEXT`]) unscanned at the end of a chunk, so nothing that straddles two chunks is
/// missed.
pub(crate) const MAX_SPAN: usize = 16 * 1024;
/// How far past the end of a span a detector may look to decide on it.
pub(crate) const RIGHT_CONTEXT: usize = 64;
/// How far before the start of a span (or its anchor) a detector may look.
pub(crate) const LEFT_CONTEXT: usize = 128;

/// A detected item before it becomes a [`biv_core::Finding`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) kind: PiiKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) confidence: f32,
}

impl Candidate {
    pub(crate) fn new(kind: PiiKind, start: usize, end: usize, confidence: f32) -> Self {
        Candidate {
            kind,
            start,
            end,
            confidence,
        }
    }
}

/// A numeric token under consideration: its digit groups and, computed once on first use, the
/// context words before it.
pub(crate) struct Token<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) start: usize,
    /// No match may start before this (the end of the previous finding).
    pub(crate) floor: usize,
    pub(crate) groups: Groups<'a>,
    phrases: &'a Phrases,
    hits: OnceCell<Hits>,
}

impl<'a> Token<'a> {
    pub(crate) fn new(bytes: &'a [u8], start: usize, floor: usize, phrases: &'a Phrases) -> Self {
        Token {
            bytes,
            start,
            floor,
            groups: Groups::parse(bytes, start),
            phrases,
            hits: OnceCell::new(),
        }
    }

    /// The context words before the token.
    pub(crate) fn context(&self) -> &Hits {
        self.hits
            .get_or_init(|| self.phrases.hits(self.bytes, self.start))
    }
}
