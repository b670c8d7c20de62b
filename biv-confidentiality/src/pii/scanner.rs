//! [`PiiScanner`]: one left-to-right pass over the input.
//!
//! A 256-entry table marks the bytes where a match can be anchored: digits (BSN, IBAN check
//! digits, phone, dates, postcodes, AGB, record numbers), `+` and `(` (phone), `@` and `%`
//! (e-mail), `=` and `:` (key–value secrets), `B`/`b` (`Bearer`, `Basic`), `-` (`-----BEGIN`),
//! and the first characters of configured record patterns. Every other byte is skipped with one
//! table lookup. At an anchor the detectors look at a bounded window and return at most one
//! candidate; the most confident wins, the scan jumps past it, and a run of digits that gave
//! nothing is skipped whole. No regular expression engine and no backtracking is involved, so
//! the time is linear in the input whatever it holds.
//!
//! Shortcuts, each only skipping work whose answer is already known (a test compares the scan
//! with `PiiScanner::scan_reference`, which takes none of them):
//! * `-` anchors only `-----BEGIN `, found with one substring search, so other hyphens are
//!   skipped like letters;
//! * a `:` or `=` whose key cannot end a secret key name (`level`, `status`) is passed over
//!   (`quick_check`, [`secret::key_end`]);
//! * a digit run is looked at before its token is parsed (`worth_a_token`): a BSN in groups
//!   must add up to 9 digits in groups of 2–4, a date needs its shape and a date-of-birth
//!   phrase before it ([`DobHints`]), a postcode two letters of one case;
//! * the digit runs after a run that gave nothing, joined to it by `.`, `-`, `/`, `:` or a
//!   letter (`2024-03-12T14:02:11.482Z`, `10.0.12.7`), cannot start anything and are skipped
//!   with it (`dead_runs_end`);
//! * a token goes to the date-of-birth detector only if its first group has 1, 2, 4 or 8
//!   digits, and the date-of-birth hint is asked only once the token has a date's shape (a
//!   phone number or postcode does not look for a date-of-birth phrase).
//!
//! Elsewhere, and checked against their own straightforward versions: the context words are
//! found with bit masks and read only up to the nearest phrase that names a kind
//! (`context::Phrases::hits`); month names are looked up only after a look at three letters
//! (`date_of_birth::month_word_at`); a key is normalised only if its last three letters end a
//! secret key name (`secret::key_value`).

use biv_core::{Finding, PiiKind};

use crate::pii::bytes::{
    at, before, digits_end, is_alpha, is_digit, is_word, word_end, word_start,
};
use crate::pii::config::{ConfigError, PiiConfig};
use crate::pii::context::{self, Phrases, RECORD_PHRASES};
use crate::pii::detectors::record_number::Pattern;
use crate::pii::detectors::{
    Candidate, Token, agb, bsn, date_of_birth, email, iban, numeric, phone, postcode, secret,
};
use crate::pii::hints::DobHints;

const A_DIGIT: u8 = 1;
const A_PHONE: u8 = 2;
const A_EMAIL: u8 = 4;
const A_PAIR: u8 = 8;
const A_SCHEME: u8 = 16;
const A_PEM: u8 = 32;
const A_PATTERN: u8 = 64;
/// Set with [`A_DIGIT`] or [`A_PATTERN`]: the byte goes to the detectors without `quick_check`.
const A_NO_CHECK: u8 = 128;

/// The kinds, in the order of their settings.
pub(crate) const KINDS: [PiiKind; 9] = [
    PiiKind::Bsn,
    PiiKind::Iban,
    PiiKind::Email,
    PiiKind::Phone,
    PiiKind::DateOfBirth,
    PiiKind::Postcode,
    PiiKind::Agb,
    PiiKind::RecordNumber,
    PiiKind::Secret,
];

/// The settings slot of a kind.
pub(crate) fn slot(kind: PiiKind) -> Option<usize> {
    KINDS.iter().position(|k| *k == kind)
}

/// Finds personal data and secrets in text: BSN, IBAN, e-mail, phone, date of birth, postcode,
/// AGB code, record numbers and secrets, each with exact byte offsets and a confidence.
///
/// Build it once from a [`PiiConfig`] and share it; scanning takes `&self`.
///
/// ```
/// use biv_confidentiality::pii::{PiiConfig, PiiScanner};
/// use biv_core::PiiKind;
///
/// let scanner = PiiScanner::new(&PiiConfig::default())?;
/// let text = "Patiënt (BSN 111222333), mail jan.jansen@example.nl";
/// let found = scanner.scan(text);
/// assert_eq!(found.len(), 2);
/// assert_eq!(found[0].kind, PiiKind::Bsn);
/// assert_eq!(&text[found[0].start..found[0].end], "111222333");
/// assert_eq!(&text[found[1].start..found[1].end], "jan.jansen@example.nl");
/// // A number that fails the 11-proof is never reported as a BSN.
/// assert!(scanner.scan("BSN 123456789").is_empty());
/// # Ok::<(), biv_confidentiality::pii::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PiiScanner {
    anchors: Box<[u8; 256]>,
    /// `anchors` without `-` when `-` anchors only PEM blocks: those are found with one
    /// substring search for `-----BEGIN ` instead, so the hyphens of prose and ids (`follow-up`,
    /// `0192f3a4-5b6c`) are skipped like letters.
    skip: Box<[u8; 256]>,
    enabled: [bool; 9],
    min_confidence: [f32; 9],
    phrases: Phrases,
    patterns: Vec<Pattern>,
    /// A configured pattern (not the built-in one) can start with a digit.
    has_custom_digit_patterns: bool,
}

impl PiiScanner {
    /// A scanner for `config`.
    ///
    /// # Errors
    /// [`ConfigError`] if a confidence is out of range or a record pattern does not compile.
    pub fn new(config: &PiiConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut enabled = [true; 9];
        let mut min_confidence = [config.min_confidence; 9];
        for (i, kind) in KINDS.iter().enumerate() {
            let settings = config.kind(*kind);
            enabled[i] = settings.enabled;
            if let Some(c) = settings.min_confidence {
                min_confidence[i] = c;
            }
        }
        let mut phrases = Phrases::built_in();
        let mut patterns = Vec::new();
        let on = |k: PiiKind| slot(k).is_some_and(|s| enabled[s]);
        if on(PiiKind::RecordNumber) {
            let mut next_tag = context::PATTERN_BASE;
            if config.builtin_record_pattern {
                for phrase in RECORD_PHRASES {
                    phrases.add(next_tag, phrase);
                }
                let builtin = Pattern::compile("#{6,10}", next_tag, true, true).map_err(|e| {
                    ConfigError::Pattern {
                        index: 0,
                        pattern: "#{6,10}".into(),
                        reason: e.to_string(),
                    }
                })?;
                patterns.push(builtin);
                next_tag += 1;
            }
            for (index, p) in config.record_patterns.iter().enumerate() {
                for phrase in &p.context {
                    if !phrases.add(next_tag, phrase) {
                        return Err(ConfigError::EmptyContext {
                            index,
                            phrase: phrase.clone(),
                        });
                    }
                }
                let compiled = Pattern::compile(
                    &p.pattern,
                    next_tag,
                    !p.context.is_empty(),
                    p.require_context,
                )
                .map_err(|e| ConfigError::Pattern {
                    index,
                    pattern: p.pattern.clone(),
                    reason: e.to_string(),
                })?;
                patterns.push(compiled);
                next_tag += 1;
            }
        }

        let mut anchors = Box::new([0u8; 256]);
        let numeric = [
            PiiKind::Bsn,
            PiiKind::Iban,
            PiiKind::Phone,
            PiiKind::DateOfBirth,
            PiiKind::Postcode,
            PiiKind::Agb,
            PiiKind::RecordNumber,
        ];
        if numeric.iter().any(|k| on(*k)) {
            for b in b'0'..=b'9' {
                anchors[usize::from(b)] |= A_DIGIT;
            }
        }
        if on(PiiKind::Phone) {
            anchors[usize::from(b'+')] |= A_PHONE;
            anchors[usize::from(b'(')] |= A_PHONE;
        }
        if on(PiiKind::Email) {
            anchors[usize::from(b'@')] |= A_EMAIL;
            anchors[usize::from(b'%')] |= A_EMAIL;
        }
        if on(PiiKind::Secret) {
            anchors[usize::from(b'=')] |= A_PAIR;
            anchors[usize::from(b':')] |= A_PAIR;
            anchors[usize::from(b'B')] |= A_SCHEME;
            anchors[usize::from(b'b')] |= A_SCHEME;
            anchors[usize::from(b'-')] |= A_PEM;
            anchors[usize::from(b'@')] |= A_PAIR;
        }
        // Patterns that start with a digit are tried with the other numeric detectors.
        for p in &patterns {
            for b in (0..=255u8).filter(|b| !is_digit(*b)) {
                if p.can_start_with(b) {
                    anchors[usize::from(b)] |= A_PATTERN;
                }
            }
        }
        let custom_from = usize::from(on(PiiKind::RecordNumber) && config.builtin_record_pattern);
        let has_custom_digit_patterns = patterns
            .iter()
            .skip(custom_from)
            .any(|p| (b'0'..=b'9').any(|d| p.can_start_with(d)));
        // Digits, and bytes where a configured pattern may start (`:#{6}`, `-#{6}`, `a{2}#{4}`
        // at a `b`), go to the detectors without `quick_check`: a pattern's own match decides.
        for flags in anchors.iter_mut() {
            if *flags & (A_DIGIT | A_PATTERN) != 0 {
                *flags |= A_NO_CHECK;
            }
        }
        let mut skip = anchors.clone();
        if anchors[usize::from(b'-')] == A_PEM {
            skip[usize::from(b'-')] = 0;
        }
        Ok(PiiScanner {
            skip,
            anchors,
            enabled,
            min_confidence,
            phrases,
            patterns,
            has_custom_digit_patterns,
        })
    }

    /// Reports what is in `text`, sorted by position and never overlapping. Offsets are byte
    /// offsets into `text`, on character boundaries.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_from(text.as_bytes(), 0, &mut out);
        out.retain(|f| text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        out
    }

    /// Reports what is in `bytes`, which need not be UTF-8 (binary noise and invalid sequences
    /// are skipped like any other byte that is not part of a match).
    pub fn scan_bytes(&self, bytes: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_from(bytes, 0, &mut out);
        out
    }

    fn wants(&self, kind: PiiKind) -> bool {
        slot(kind).is_some_and(|s| self.enabled[s])
    }

    fn passes(&self, c: &Candidate) -> bool {
        slot(c.kind).is_some_and(|s| self.enabled[s] && c.confidence >= self.min_confidence[s])
    }

    /// Scans `bytes[from..]` (bytes before `from` are context only) and appends the findings.
    pub(crate) fn scan_from(&self, bytes: &[u8], from: usize, out: &mut Vec<Finding>) {
        let n = bytes.len();
        let mut i = from;
        let mut floor = from;
        let mut state = ScanState::default();
        // Where the next `-----BEGIN ` is, when `-` is not in `skip` (else never).
        let pem_by_search = self.skip[usize::from(b'-')] != self.anchors[usize::from(b'-')];
        let mut begin = if pem_by_search {
            next_begin(bytes, i)
        } else {
            usize::MAX
        };
        while i < n {
            // The hot loop: skip bytes that cannot anchor anything.
            let stop = begin.min(n);
            while i < stop && self.skip[usize::from(bytes[i])] == 0 {
                i += 1;
            }
            if i >= n {
                break;
            }
            let b = bytes[i];
            let flags = if i == begin {
                self.anchors[usize::from(b)]
            } else {
                self.skip[usize::from(b)]
            };
            if flags & A_NO_CHECK == 0 && !quick_check(bytes, i, b, flags) {
                i += 1;
            } else {
                let (found, next) = self.at_anchor(bytes, i, floor, flags, &mut state, true);
                match found {
                    Some(c) if c.start >= floor && c.end > c.start && c.end <= n => {
                        out.push(Finding::new(c.kind, c.start, c.end, c.confidence));
                        floor = c.end;
                        i = c.end.max(i + 1);
                    }
                    _ => i = next.max(i + 1),
                }
            }
            if begin < i {
                begin = next_begin(bytes, i);
            }
        }
    }

    /// The straightforward scan the fast path must agree with: every anchor byte that passes
    /// `quick_check` is tried, and every digit run that may start a number becomes a token and
    /// goes to every detector, without the shortcuts (the look at a digit run before its token
    /// is parsed, the date-of-birth hint, the first-group look before the date detector).
    #[cfg(test)]
    pub(crate) fn scan_reference(&self, bytes: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let n = bytes.len();
        let mut i = 0;
        let mut floor = 0;
        let mut state = ScanState::default();
        while i < n {
            let b = bytes[i];
            let flags = self.anchors[usize::from(b)];
            if flags == 0 || (flags & A_NO_CHECK == 0 && !quick_check(bytes, i, b, 0)) {
                i += 1;
                continue;
            }
            let (found, next) = self.at_anchor(bytes, i, floor, flags, &mut state, false);
            match found {
                Some(c) if c.start >= floor && c.end > c.start && c.end <= n => {
                    out.push(Finding::new(c.kind, c.start, c.end, c.confidence));
                    floor = c.end;
                    i = c.end.max(i + 1);
                }
                _ => i = next.max(i + 1),
            }
        }
        out
    }

    /// Tries the detectors anchored at `i`; returns the finding (if it passes its kind's
    /// threshold) and where to continue otherwise. `fast` allows the shortcuts that rule out
    /// digit runs before their token is parsed.
    fn at_anchor(
        &self,
        bytes: &[u8],
        i: usize,
        floor: usize,
        flags: u8,
        state: &mut ScanState,
        fast: bool,
    ) -> (Option<Candidate>, usize) {
        let b = bytes[i];
        if flags & A_DIGIT != 0 && is_digit(b) {
            return self.numeric(bytes, i, floor, &mut state.dob, fast);
        }
        if flags & A_PATTERN != 0 && word_start(bytes, i) {
            let hits = std::cell::OnceCell::new();
            let best = self
                .patterns
                .iter()
                .filter(|p| p.can_start_with(b))
                .filter_map(|p| {
                    p.detect(bytes, i, || {
                        hits.get_or_init(|| self.phrases.hits(bytes, i))
                    })
                })
                .filter(|c| self.passes(c))
                .fold(None, best_of);
            if best.is_some() {
                return (best, i + 1);
            }
        }
        let found = match b {
            b'+' | b'(' if flags & A_PHONE != 0 => {
                if before(bytes, i).is_some_and(|p| is_word(p) || (b == b'+' && p == b'+')) {
                    None
                } else {
                    phone::detect(bytes, i, || self.phrases.hits(bytes, i))
                }
            }
            b'@' if self.wants(PiiKind::Secret)
                && let Some(c) =
                    secret::url_password(bytes, i, floor).filter(|c| self.passes(c)) =>
            {
                Some(c)
            }
            b'@' | b'%' if flags & A_EMAIL != 0 => email::detect(bytes, i, floor),
            b'=' | b':' if flags & A_PAIR != 0 => secret::key_value(bytes, i),
            b'B' | b'b' if flags & A_SCHEME != 0 => secret::scheme_token(bytes, i),
            b'-' if flags & A_PEM != 0 => secret::pem(bytes, i, &mut state.pem_ends),
            _ => None,
        };
        (found.filter(|c| self.passes(c)), i + 1)
    }

    /// At a digit: an IBAN whose check digits start here, or a numeric token starting here.
    fn numeric(
        &self,
        bytes: &[u8],
        i: usize,
        floor: usize,
        dob: &mut DobHints,
        fast: bool,
    ) -> (Option<Candidate>, usize) {
        let letters_before = i >= 2 && is_alpha(bytes[i - 1]) && is_alpha(bytes[i - 2]);
        if letters_before && self.wants(PiiKind::Iban) {
            match iban::detect(bytes, i, floor, &self.phrases) {
                Some(iban::Outcome::Valid(c)) if self.passes(&c) => return (Some(c), c.end),
                Some(iban::Outcome::Invalid(end)) => return (None, end),
                _ => {}
            }
        }
        let run_end = digits_end(bytes, i);
        // A longer run is not a number any detector knows.
        // Where to go on when nothing is found here: past the digits, and in the fast path also
        // past the dead digit runs that follow ("2024-03-12T14:02:11.482Z" is looked at once).
        let nothing = || {
            if fast {
                self.dead_runs_end(bytes, run_end)
            } else {
                run_end
            }
        };
        if !numeric_start(bytes, i) {
            return (None, nothing());
        }
        if run_end - i > numeric::MAX_DIGITS {
            // No built-in kind has this many digits, but a configured pattern (`#{25,32}`) may.
            return match self.long_run(bytes, i) {
                Some(c) => (Some(c), run_end),
                None => (None, nothing()),
            };
        }
        // Whether a date of birth can start here: only after a date-of-birth phrase.
        let wants_dob = self.wants(PiiKind::DateOfBirth);
        let mut dob_possible = || !fast || (wants_dob && dob.possible(bytes, i));
        if fast && !self.worth_a_token(bytes, i, run_end, &mut dob_possible) {
            return (None, nothing());
        }
        let token = Token::new(bytes, i, floor, &self.phrases);
        let mut best: Option<Candidate> = None;
        let mut consider = |c: Option<Candidate>| {
            if let Some(c) = c.filter(|c| self.passes(c)) {
                best = best_of(best, c);
            }
        };
        if self.wants(PiiKind::Bsn) {
            consider(bsn::detect(&token));
        }
        if self.wants(PiiKind::Phone) && bytes[i] == b'0' {
            consider(phone::detect(bytes, i, || *token.context()));
        }
        // The date-of-birth hint is asked only once the token has the shape of a date, so a
        // phone number, postcode or AGB code does not look for a date-of-birth phrase. (Every
        // date starts with a group of 1, 2, 4 or 8 digits: "111222333" is not even looked at.)
        if wants_dob && (!fast || matches!(run_end - i, 1 | 2 | 4 | 8)) {
            consider(date_of_birth::detect_hinted(&token, &mut dob_possible));
        }
        if self.wants(PiiKind::Postcode) {
            consider(postcode::detect(&token));
        }
        if self.wants(PiiKind::Agb) {
            consider(agb::detect(&token));
        }
        for p in self.patterns.iter().filter(|p| p.can_start_with(bytes[i])) {
            consider(p.detect(bytes, i, || token.context()));
        }
        match best {
            Some(c) => (Some(c), run_end),
            None => (None, nothing()),
        }
    }

    /// A record number from a configured pattern at a run of more digits than any built-in
    /// kind has (rare: kept out of the scan's hot path).
    #[cold]
    #[inline(never)]
    fn long_run(&self, bytes: &[u8], i: usize) -> Option<Candidate> {
        let hits = std::cell::OnceCell::new();
        self.patterns
            .iter()
            .filter(|p| p.can_start_with(bytes[i]))
            .filter_map(|p| {
                p.detect(bytes, i, || {
                    hits.get_or_init(|| self.phrases.hits(bytes, i))
                })
            })
            .filter(|c| self.passes(c))
            .fold(None, best_of)
    }

    /// The end of the digit runs that follow the run ending at `end` and cannot start anything:
    /// each comes after a single `.`, `-`, `/`, `:` or letter that itself follows a digit, so it
    /// is not a number's start (see [`numeric_start`]) nor an IBAN's check digits (those follow
    /// two letters), and that byte anchors nothing there (a `-` or `:` before a digit fails
    /// `quick_check`; a `b` before a digit starts no `Bearer`). Bytes that start a configured
    /// pattern end the stretch.
    fn dead_runs_end(&self, bytes: &[u8], mut end: usize) -> usize {
        while let Some(s) = at(bytes, end) {
            let joins = matches!(s, b'.' | b'-' | b'/' | b':') || is_alpha(s);
            if !joins
                || self.anchors[usize::from(s)] & A_PATTERN != 0
                || !at(bytes, end + 1).is_some_and(is_digit)
            {
                break;
            }
            end = digits_end(bytes, end + 1);
        }
        end
    }
}

impl PiiScanner {
    /// A cheap look at the first run of digits (`bytes[start..run_end]`) and the bytes around it
    /// that rules out most numbers in logs and prose (`14:02:11`, `200`, `35ms`, `v4.2`,
    /// `2024-03-12T…`, `10.0.12.7`) before a token is parsed. Conservative: it only says no when
    /// no detector could match. `dob_possible` says whether a date-of-birth phrase can be among
    /// the context words (see `hints`); it is asked only when a date is the one kind left.
    fn worth_a_token(
        &self,
        bytes: &[u8],
        start: usize,
        run_end: usize,
        dob_possible: &mut impl FnMut() -> bool,
    ) -> bool {
        let len = run_end - start;
        if len > numeric::MAX_DIGITS {
            return false;
        }
        if self.has_custom_digit_patterns {
            return true;
        }
        let next = at(bytes, run_end);
        let after = at(bytes, run_end + 1);
        let leading_zero = bytes[start] == b'0';
        // Only a phone number starts with "0" and has groups of one digit or " - ".
        let phone = leading_zero && self.wants(PiiKind::Phone);
        if let Some(sep) = next.filter(|&b| numeric::is_group_sep(b))
            && after.is_some_and(is_digit)
        {
            // More digit groups follow. A postcode never has a second group; a BSN in groups has
            // groups of 2–4 digits with one separator adding up to 9; an AGB code in two groups
            // is 2 + 6; a record number or a BSN, AGB code or date in one group has 6–10
            // digits; a date has a first group of 1, 2, 4 or 8 digits and date-of-birth context.
            return match len {
                1..=4 => {
                    phone
                        || self.bsn_in_groups(bytes, len, run_end, sep)
                        || (len == 2
                            && sep != b'/'
                            && self.wants(PiiKind::Agb)
                            && digits_end(bytes, run_end + 1) - (run_end + 1) == 6)
                        || (self.date_shape(bytes, start, len, run_end, sep) && dob_possible())
                }
                _ => true,
            };
        }
        // "06 - 12 34 56 78"
        if phone && next == Some(b' ') && after == Some(b'-') {
            return true;
        }
        match len {
            // A day before or after a month name: "12 mei 1978", "March 3, 1961".
            1 | 2 => {
                let month_after = || {
                    matches!(next, Some(b' ' | b'-'))
                        && after.is_some_and(is_alpha)
                        && date_of_birth::month_word_at(bytes, run_end + 1)
                };
                let month_before = || {
                    before(bytes, start) == Some(b' ')
                        && date_of_birth::month_word_before(bytes, start - 1)
                };
                (month_after() || month_before()) && dob_possible()
            }
            // A postcode: "3511 LX", "3511LX", not starting with 0, two letters of one case and
            // no third letter.
            4 => {
                let mut p = run_end;
                if next == Some(b' ') {
                    p += 1;
                }
                let (l1, l2) = (at(bytes, p), at(bytes, p + 1));
                let upper = l1.is_some_and(|c| c.is_ascii_uppercase())
                    && l2.is_some_and(|c| c.is_ascii_uppercase());
                let lower = l1.is_some_and(|c| c.is_ascii_lowercase())
                    && l2.is_some_and(|c| c.is_ascii_lowercase());
                !leading_zero
                    && (upper || lower)
                    && !at(bytes, p + 2).is_some_and(|c| is_alpha(c) || c == b'_' || c >= 0x80)
                    && self.wants(PiiKind::Postcode)
            }
            // Record numbers (6–10), AGB and compact dates (8), BSN (8–9), phone numbers (10).
            6..=10 => true,
            // International numbers written without separators: "0031612345678".
            11..=17 => phone,
            _ => false,
        }
    }

    /// Whether a date in groups can start at `start` (first group of `len` digits, then `sep`
    /// and a digit): `d-m-y`, `y-m-d` (one separator of `-`, `/`, `.`, groups of 1–2, 1–2 and
    /// 2 or 4 digits, or 4, 1–2 and 1–2, not continued by a fourth group, ending at a word end
    /// that is not a `:`), or "March 3 1961" (a day after a month name, then a space and the
    /// year). The checks that need the values are left to the detector.
    fn date_shape(&self, bytes: &[u8], start: usize, len: usize, run_end: usize, sep: u8) -> bool {
        if sep == b' ' {
            return len <= 2
                && before(bytes, start) == Some(b' ')
                && date_of_birth::month_word_before(bytes, start - 1);
        }
        if sep == b'/' || sep == b'-' || sep == b'.' {
            let second_end = digits_end(bytes, run_end + 1);
            let second = second_end - (run_end + 1);
            if !(1..=2).contains(&second)
                || at(bytes, second_end) != Some(sep)
                || !at(bytes, second_end + 1).is_some_and(is_digit)
            {
                return false;
            }
            let third_end = digits_end(bytes, second_end + 1);
            let third = third_end - (second_end + 1);
            let lengths_fit = if len == 4 {
                (1..=2).contains(&third)
            } else {
                len <= 2 && (third == 2 || third == 4)
            };
            let continues =
                at(bytes, third_end) == Some(sep) && at(bytes, third_end + 1).is_some_and(is_digit);
            return lengths_fit
                && !continues
                && word_end(bytes, third_end)
                && at(bytes, third_end) != Some(b':');
        }
        false
    }

    /// Whether a BSN written in groups can start with the group `bytes[run_end - len..run_end]`
    /// followed by `sep`: groups of 2–4 digits, all after the same separator, adding up to 9.
    fn bsn_in_groups(&self, bytes: &[u8], len: usize, run_end: usize, sep: u8) -> bool {
        if !(2..=4).contains(&len) || !self.wants(PiiKind::Bsn) {
            return false;
        }
        let mut total = len;
        let mut end = run_end;
        for _ in 1..4 {
            if at(bytes, end) != Some(sep) || !at(bytes, end + 1).is_some_and(is_digit) {
                return false;
            }
            let group_end = digits_end(bytes, end + 1);
            let group = group_end - (end + 1);
            if !(2..=4).contains(&group) {
                return false;
            }
            total += group;
            end = group_end;
            if total >= 9 {
                return total == 9;
            }
        }
        false
    }
}

/// The next `-----BEGIN ` at or after `from`, or `usize::MAX`. Each search starts past the
/// previous find, so a scan reads each byte about once for it.
fn next_begin(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|hay| memchr::memmem::find(hay, b"-----BEGIN "))
        .map_or(usize::MAX, |p| from + p)
}

/// What one scan remembers between anchors (caches only: the findings do not depend on it).
#[derive(Debug, Default)]
struct ScanState {
    pem_ends: secret::PemEnds,
    dob: DobHints,
}

/// Rejects the commonest anchors that lead nowhere before any detector runs: a `:` or `=`
/// not after a letter or quote (times, `a = 5`), a `-` that does not start `-----`, a `b` that
/// does not start `Bearer`/`Basic`. Everything else passes. With `flags` just [`A_PAIR`] (a `:`
/// or `=` that anchors nothing else), also a pair whose key cannot name a secret (`level`,
/// `status`, `pid`): [`secret::key_value`] would say no after the same look. The scan does not
/// ask it at digits and at bytes that may start a configured pattern ([`A_NO_CHECK`]).
#[inline(always)]
fn quick_check(bytes: &[u8], i: usize, b: u8, flags: u8) -> bool {
    match b {
        b':' | b'=' => {
            let prev = before(bytes, i);
            let prev = if prev == Some(b' ') {
                before(bytes, i - 1)
            } else {
                prev
            };
            prev.is_some_and(|p| p.is_ascii_alphabetic() || p == b'"' || p == b'\'')
                && (flags != A_PAIR || secret::key_end(bytes, i).is_some())
        }
        b'-' => at(bytes, i + 1) == Some(b'-') && at(bytes, i + 4) == Some(b'-'),
        b'b' | b'B' => matches!(at(bytes, i + 1), Some(b'e' | b'a' | b'E' | b'A')),
        _ => true,
    }
}

/// The more confident candidate; on a tie the longer, then the earlier.
fn best_of(best: Option<Candidate>, c: Candidate) -> Option<Candidate> {
    match best {
        Some(b)
            if b.confidence > c.confidence
                || (b.confidence == c.confidence && b.end - b.start >= c.end - c.start) =>
        {
            Some(b)
        }
        _ => Some(c),
    }
}

/// Whether a numeric token may start at the digit `i`: not inside a word or an identifier like
/// `u-1042`, and not the second half of `3.5`, `12:30`, `120/80`, `3-4`.
fn numeric_start(bytes: &[u8], i: usize) -> bool {
    let Some(prev) = before(bytes, i) else {
        return true;
    };
    if is_word(prev) || prev == b'+' {
        return false;
    }
    let prev2 = if i >= 2 { Some(bytes[i - 2]) } else { None };
    match prev {
        // "3.5", "u-1042", "v2.111222333": the tail of a number or an identifier. (A comma is
        // a start: "[111222333,123456782]" and CSV rows; a decimal like "37,8" matches nothing.)
        b'.' | b'-' => !prev2.is_some_and(|p| p.is_ascii_alphanumeric()),
        // "12:30", "120/80" — but "BSN:111222333" and "/patients/111222333" start here.
        b':' | b'/' => !prev2.is_some_and(|p| p.is_ascii_digit()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::config::RecordPattern;

    fn kinds(scanner: &PiiScanner, text: &str) -> Vec<(PiiKind, String)> {
        scanner
            .scan(text)
            .into_iter()
            .map(|f| (f.kind, text[f.start..f.end].to_string()))
            .collect()
    }

    #[test]
    fn one_pass_over_mixed_text() {
        let s = PiiScanner::new(&PiiConfig::default()).unwrap();
        let text = "BSN: 1112.22.333; geb. 12-05-1978; tel. 06-12345678; IBAN NL91 ABNA 0417 1643 00; \
                    jan@example.nl; Kerkstraat 5, 3511 LX Utrecht; AGB-code 01234567; \
                    patiëntnummer 7654321; password=Hunter2!; GET /patients/111222333/x; \
                    bsns=[123456782,111222333]; postgres://app:S3cret@db.internal/epd; \
                    tel 06 - 12 34 56 78, 0031612345678; born March 3, 1961";
        assert_eq!(
            kinds(&s, text),
            vec![
                (PiiKind::Bsn, "1112.22.333".into()),
                (PiiKind::DateOfBirth, "12-05-1978".into()),
                (PiiKind::Phone, "06-12345678".into()),
                (PiiKind::Iban, "NL91 ABNA 0417 1643 00".into()),
                (PiiKind::Email, "jan@example.nl".into()),
                (PiiKind::Postcode, "3511 LX".into()),
                (PiiKind::Agb, "01234567".into()),
                (PiiKind::RecordNumber, "7654321".into()),
                (PiiKind::Secret, "Hunter2!".into()),
                (PiiKind::Bsn, "111222333".into()),
                (PiiKind::Bsn, "123456782".into()),
                (PiiKind::Bsn, "111222333".into()),
                (PiiKind::Secret, "S3cret".into()),
                (PiiKind::Phone, "06 - 12 34 56 78".into()),
                (PiiKind::Phone, "0031612345678".into()),
                (PiiKind::DateOfBirth, "March 3, 1961".into()),
            ]
        );
    }

    #[test]
    fn clean_text_and_near_misses() {
        let s = PiiScanner::new(&PiiConfig::default()).unwrap();
        for text in [
            "Controle over 2 weken; bloeddruk 120/80, pols 72. Request took 35 ms.",
            "2024-03-12T14:02:11.482Z INFO took 35ms pid=4821 v1.2.3 10.0.0.1:8080",
            "BSN 123456789 en IBAN NL91ABNA0417164301",
            "u-111222333 and x111222333",
            "version 3.111222333",
            "10:111222333 and 12/111222333",
            "total 111.222.333,00 euro",
        ] {
            assert_eq!(kinds(&s, text), vec![], "{text}");
        }
    }

    #[test]
    fn configuration_changes_what_is_found() {
        let config = PiiConfig::default()
            .with_disabled(PiiKind::Email)
            .with_record_pattern(RecordPattern::new("ZP-#{7}"));
        let s = PiiScanner::new(&config).unwrap();
        assert_eq!(
            kinds(&s, "jan@example.nl ZP-1234567 xZP-1234567"),
            vec![(PiiKind::RecordNumber, "ZP-1234567".into())]
        );
        let strict =
            PiiScanner::new(&PiiConfig::default().with_kind_min_confidence(PiiKind::Bsn, 0.9))
                .unwrap();
        assert_eq!(kinds(&strict, "id 111222333"), vec![]);
        assert_eq!(kinds(&strict, "bsn 111222333").len(), 1);
        let bad = PiiConfig::default().with_record_pattern(RecordPattern::new("ABC"));
        assert!(matches!(
            PiiScanner::new(&bad),
            Err(ConfigError::Pattern { index: 0, .. })
        ));
    }

    #[test]
    fn invalid_utf8_and_binary() {
        let s = PiiScanner::new(&PiiConfig::default()).unwrap();
        let mut bytes = vec![0xff, 0xfe, b' '];
        bytes.extend_from_slice(b"bsn 111222333 \x80\x00 jan@example.nl");
        let found = s.scan_bytes(&bytes);
        assert_eq!(found.len(), 2);
        assert_eq!(&bytes[found[0].start..found[0].end], b"111222333");
    }

    /// Pieces that reach every shortcut of the fast path: digit runs and their separators,
    /// timestamps and ids, letters before digits (IBAN), context words for every kind (and
    /// "geb"/"dob"/"born" for the date-of-birth hint), month names, key–value pairs, schemes and
    /// PEM lines, e-mail and URL credentials, non-ASCII bytes.
    const ATOMS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "06",
        "31",
        "0031",
        "111222333",
        "123456782",
        "1112",
        "22",
        "333",
        "1978",
        "12",
        "05",
        "3511",
        "01234567",
        "7654321",
        " ",
        " ",
        " ",
        ".",
        "-",
        "/",
        ":",
        ",",
        "=",
        "@",
        "%40",
        "+",
        "(",
        ")",
        "(0)",
        "\"",
        "'",
        "_",
        "\n",
        "T",
        "Z",
        "2024-03-12T14:02:11.482Z",
        "10.0.12.7",
        "a",
        "b",
        "B",
        "e",
        "x",
        "LX",
        "MB",
        "ab",
        "NL",
        "NL91",
        "ABNA",
        "0417164300",
        "é",
        "ë",
        "bsn ",
        "geb. ",
        "geb",
        "dob",
        "D.O.B.",
        "born ",
        "birth",
        "AGB ",
        "agb-code ",
        "tel ",
        "postcode ",
        "iban ",
        "order ",
        "opname ",
        "patiëntnummer ",
        "mrn ",
        "ZP-",
        "mei ",
        "March ",
        "mrt. ",
        " - ",
        "password=",
        "token: ",
        "\"secret\":\"",
        "api_key=",
        "level=",
        "version:",
        "Bearer ",
        "basic ",
        "Authorization: ",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "------BEGIN ",
        "x://u:",
        "jan@example.nl",
        "example.nl",
    ];

    fn configs() -> Vec<PiiConfig> {
        vec![
            PiiConfig::default(),
            PiiConfig::default()
                .with_min_confidence(0.1)
                .with_record_pattern(RecordPattern::new("ZP-#{7}")),
            PiiConfig::default()
                .with_record_pattern(RecordPattern::new("A{2}#{4}"))
                .with_record_pattern(RecordPattern::new("-#{6}"))
                .with_record_pattern(RecordPattern::new("#{3}.#{3}")),
            PiiConfig::default()
                .with_disabled(PiiKind::Bsn)
                .with_disabled(PiiKind::Phone)
                .with_disabled(PiiKind::Secret),
            PiiConfig::default()
                .with_disabled(PiiKind::DateOfBirth)
                .with_disabled(PiiKind::Postcode)
                .with_disabled(PiiKind::Email),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The fast path (`scan_bytes`) and the straightforward scan give the same findings.
        #[test]
        fn fast_path_agrees_with_the_reference(
            atoms in proptest::collection::vec(proptest::sample::select(ATOMS), 0..80),
            config in 0usize..5,
        ) {
            let text = atoms.concat();
            let s = PiiScanner::new(&configs()[config]).unwrap();
            proptest::prop_assert_eq!(
                s.scan_bytes(text.as_bytes()),
                s.scan_reference(text.as_bytes()),
                "{:?}",
                text
            );
        }

        /// The same on arbitrary bytes.
        #[test]
        fn fast_path_agrees_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let s = PiiScanner::new(&PiiConfig::default()).unwrap();
            proptest::prop_assert_eq!(s.scan_bytes(&bytes), s.scan_reference(&bytes));
        }
    }

    #[test]
    fn fast_path_agrees_on_the_corpus() {
        let corpus = include_str!("../../tests/data/pii/corpus.jsonl");
        for config in configs() {
            let s = PiiScanner::new(&config).unwrap();
            assert_eq!(
                s.scan_bytes(corpus.as_bytes()),
                s.scan_reference(corpus.as_bytes())
            );
        }
    }
}
