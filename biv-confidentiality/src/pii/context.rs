//! Context words: the few words just before a candidate that say what it is ("BSN", "geb.",
//! "AGB-code", "patiëntnummer"), or that it is something else ("order", "invoice").
//!
//! The window is small and fixed ([`WINDOW`] bytes, [`MAX_WORDS`] words) and stops at the first
//! other number of four or more digits, so "geb. 12-05-1978, opname 03-04-2024" gives the second
//! date no date-of-birth context. Words are ASCII-lowercased runs of letters, digits and
//! non-ASCII bytes; `_`, `-`, `.` and the like separate words, so `date_of_birth`, `geb.datum`
//! and `AGB-code` all split into words the phrases below know.

/// How far back context is looked for, in bytes.
pub(crate) const WINDOW: usize = 64;
/// How many words back context is looked for.
pub(crate) const MAX_WORDS: usize = 8;
const MAX_WORD_LEN: usize = 24;

/// What a context phrase says about the candidate after it.
pub(crate) type Tag = u16;
/// "bsn", "burgerservicenummer", ...
pub(crate) const BSN: Tag = 0;
/// "geboortedatum", "geb.", "DOB", "born", ...
pub(crate) const DATE_OF_BIRTH: Tag = 1;
/// "AGB", "AGB-code", ...
pub(crate) const AGB: Tag = 2;
/// "tel.", "mobiel", "phone", ...
pub(crate) const PHONE: Tag = 3;
/// "IBAN", "rekeningnummer", "account", ...
pub(crate) const IBAN: Tag = 4;
/// "postcode", "adres", "zip", ...
pub(crate) const POSTCODE: Tag = 5;
/// Another kind of number: "order", "factuur", "invoice", "ticket", ...
pub(crate) const NEGATIVE: Tag = 6;
/// A date of some other event: "opname", "ontslag", "afspraak", "visit", "admission", ...
pub(crate) const DATE_EVENT: Tag = 7;
/// The first tag of configured record patterns: pattern `i` has tag `PATTERN_BASE + i`.
pub(crate) const PATTERN_BASE: Tag = 8;
/// Tags are below this.
pub(crate) const MAX_TAGS: usize = 8 + 32;

/// Built-in phrases per tag; each phrase is split into words like the text is.
const BUILT_IN: &[(Tag, &[&str])] = &[
    (
        BSN,
        &[
            "bsn",
            "burgerservicenummer",
            "burgerservicenr",
            "bsnnummer",
            "bsnnr",
            "sofinummer",
            "sofinr",
            "sofi",
            "citizen service number",
            "citizenservicenumber",
        ],
    ),
    (
        DATE_OF_BIRTH,
        &[
            "geboortedatum",
            "geb",
            "geboren",
            "gebdatum",
            "geboortedag",
            "geboorte",
            "dob",
            "d o b",
            "born",
            "birth",
            "birthdate",
            "birthday",
            "dateofbirth",
        ],
    ),
    (AGB, &["agb", "agbcode", "zorgverlenerscode"]),
    (
        PHONE,
        &[
            "tel",
            "telefoon",
            "telefoonnummer",
            "telnr",
            "mobiel",
            "mobielnummer",
            "mobile",
            "phone",
            "telephone",
            "gsm",
            "fax",
            "bel",
            "bellen",
            "call",
            "sms",
            "whatsapp",
            "cell",
        ],
    ),
    (
        IBAN,
        &[
            "iban",
            "rekening",
            "rekeningnummer",
            "rekeningnr",
            "bankrekening",
            "bankrekeningnummer",
            "account",
        ],
    ),
    (
        POSTCODE,
        &[
            "postcode",
            "adres",
            "postadres",
            "woonadres",
            "woonplaats",
            "huisnummer",
            "address",
            "zip",
            "postal",
        ],
    ),
    (
        NEGATIVE,
        &[
            "order",
            "ordernummer",
            "ordernr",
            "invoice",
            "factuur",
            "factuurnummer",
            "ticket",
            "kenmerk",
            "referentie",
            "reference",
            "ref",
            "transaction",
            "transactie",
            "trace",
            "request",
            "session",
            "version",
            "versie",
            "build",
            "duration",
            "bytes",
            "size",
            "count",
            "offset",
            "epoch",
            "timestamp",
            "ms",
            "ns",
            "amount",
            "bedrag",
            "total",
            "seq",
            "sequence",
            "inode",
            "crc",
            "checksum",
            "serial",
            "serienummer",
            "batch",
            "lot",
            "rsin",
            "kvk",
            "btw",
            "vat",
            "zaaknummer",
        ],
    ),
    (
        DATE_EVENT,
        &[
            "opname",
            "opgenomen",
            "ontslag",
            "afspraak",
            "controle",
            "operatie",
            "overleden",
            "overlijden",
            "visit",
            "admission",
            "admitted",
            "discharge",
            "discharged",
            "appointment",
            "deceased",
            "died",
        ],
    ),
];

/// Phrases that introduce a patient or record number, used by the built-in record pattern.
pub(crate) const RECORD_PHRASES: &[&str] = &[
    "patiëntnummer",
    "patientnummer",
    "patiëntnr",
    "patientnr",
    "patnr",
    "pat nr",
    "patient number",
    "patient no",
    "patient id",
    "patientid",
    "mrn",
    "dossiernummer",
    "dossiernr",
    "ziekenhuisnummer",
    "record number",
    "medical record",
    "epd nummer",
    "epdnummer",
    "cliëntnummer",
    "clientnummer",
    "client id",
];

/// A byte that belongs to a context word.
#[inline]
fn is_ctx_word(b: u8) -> bool {
    CTX_WORD[usize::from(b)]
}

/// [`is_ctx_word`] as a table: ASCII letters and digits and every non-ASCII byte (one load per
/// byte in the backward walk over the words before a candidate).
static CTX_WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c >= 0x80;
        b += 1;
    }
    table
};

/// For eight bytes (the first in the lowest bits): which are word bytes ([`is_ctx_word`]) and
/// which are ASCII digits, as eight bits each (bit `k` for byte `k`).
#[inline]
fn classify8(x: u64) -> (u8, u8) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // The top bit of each byte of `y` (seven-bit values) set where the byte is at least `c`:
    // `y + 0x80 - c` stays below 0x100, so no carry crosses into the next byte.
    let at_least = |y: u64, c: u8| (y + ONES * u64::from(0x80 - c)) & HIGH;
    let high = x & HIGH;
    let y = x & LOW7;
    let digit = at_least(y, b'0') & !at_least(y, b'9' + 1) & !high;
    let folded = y | (ONES * 0x20);
    let letter = at_least(folded, b'a') & !at_least(folded, b'z' + 1);
    // Gathers the top bit of byte `k` into bit `k`.
    let gather = |m: u64| (((m >> 7) & ONES).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8;
    (gather(high | digit | letter), gather(digit))
}

/// Splits a phrase into lowercase words, as the text is split.
pub(crate) fn phrase_words(phrase: &str) -> Vec<Vec<u8>> {
    phrase
        .as_bytes()
        .split(|&b| !is_ctx_word(b))
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_ascii_lowercase)
        .collect()
}

/// A phrase without its last word: its tag and the words before the last, in reading order.
type PhraseHead = (Tag, Vec<Vec<u8>>);

/// The phrases of one scanner, indexed by their last word.
#[derive(Debug, Clone)]
pub(crate) struct Phrases {
    /// Last word → the phrases ending in it, in the order first added.
    by_last: Vec<(Vec<u8>, Vec<PhraseHead>)>,
    /// A quick filter: bit `len` of `lengths[first byte]` is set if some last word starts with
    /// that byte and has that length. Most words of a text are rejected by it.
    lengths: Box<[u32; 256]>,
    /// The same for the last byte of the last words.
    last_lengths: Box<[u32; 256]>,
    /// An open-addressing hash table over `by_last`: `slots[h]` is an index into `by_last` plus
    /// one (0: empty), at most half full. One hash and usually one comparison per looked-up
    /// word, instead of a binary search with a slice comparison at each step.
    slots: Vec<usize>,
}

/// FNV-1a over a word in ASCII lower case, for [`Phrases::slots`].
#[inline]
fn word_hash(word: &[u8]) -> u64 {
    word.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Default for Phrases {
    fn default() -> Self {
        Phrases {
            by_last: Vec::new(),
            lengths: Box::new([0; 256]),
            last_lengths: Box::new([0; 256]),
            slots: Vec::new(),
        }
    }
}

impl Phrases {
    /// The built-in phrases.
    pub(crate) fn built_in() -> Self {
        let mut phrases = Phrases::default();
        for (tag, list) in BUILT_IN {
            for phrase in *list {
                phrases.add(*tag, phrase);
            }
        }
        phrases
    }

    /// Adds a phrase; returns false if it has no words.
    pub(crate) fn add(&mut self, tag: Tag, phrase: &str) -> bool {
        let mut words = phrase_words(phrase);
        let Some(last) = words.pop() else {
            return false;
        };
        if last.len() > MAX_WORD_LEN || words.iter().any(|w| w.len() > MAX_WORD_LEN) {
            return false;
        }
        self.lengths[usize::from(last[0])] |= 1 << last.len();
        if let Some(&end) = last.last() {
            self.last_lengths[usize::from(end)] |= 1 << last.len();
        }
        match self.index_of(&last) {
            Some(i) => self.by_last[i].1.push((tag, words)),
            None => {
                self.by_last.push((last, vec![(tag, words)]));
                if self.slots.len() < self.by_last.len() * 2 {
                    self.rebuild_slots();
                } else {
                    let index = self.by_last.len() - 1;
                    let word = &self.by_last[index].0;
                    let h = self.free_slot(word);
                    self.slots[h] = index + 1;
                }
            }
        }
        true
    }

    /// Rebuilds [`Phrases::slots`] with room to spare (sizes double, so adding stays linear).
    fn rebuild_slots(&mut self) {
        let size = (self.by_last.len() * 4).next_power_of_two().max(16);
        self.slots = vec![0; size];
        for index in 0..self.by_last.len() {
            let h = self.free_slot(&self.by_last[index].0);
            self.slots[h] = index + 1;
        }
    }

    /// The first free slot on the probe path of `word` (the table is never full).
    fn free_slot(&self, word: &[u8]) -> usize {
        let mask = self.slots.len() - 1;
        let mut h = word_hash(word) as usize & mask;
        while self.slots[h] != 0 {
            h = (h + 1) & mask;
        }
        h
    }

    /// The index in `by_last` of the last word `word` (compared ASCII case-insensitively; the
    /// stored words are lower case).
    #[inline]
    fn index_of(&self, word: &[u8]) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut h = word_hash(word) as usize & mask;
        loop {
            let index = self.slots[h].checked_sub(1)?;
            if self
                .by_last
                .get(index)
                .is_some_and(|(w, _)| w.eq_ignore_ascii_case(word))
            {
                return Some(index);
            }
            h = (h + 1) & mask;
        }
    }

    /// The phrases whose last word is `word` (compared ASCII case-insensitively).
    fn ending_in(&self, word: &[u8]) -> Option<&[PhraseHead]> {
        let first = word.first()?.to_ascii_lowercase();
        let last = word.last()?.to_ascii_lowercase();
        let bit = 1u32.checked_shl(u32::try_from(word.len()).ok()?)?;
        if self.lengths[usize::from(first)] & bit == 0
            || self.last_lengths[usize::from(last)] & bit == 0
        {
            return None;
        }
        self.index_of(word).map(|i| self.by_last[i].1.as_slice())
    }

    /// What the context words before the candidate at `pos` say: for every tag up to the
    /// nearest phrase that names a kind, the distance in words back to its nearest phrase (0 =
    /// the word right before it), and whether a number word is one of the two words before.
    ///
    /// The words are read nearest first and only as far as needed: the walk stops once a
    /// phrase that names a kind has been found and the two nearest words have been looked at,
    /// so a phrase right before the candidate ("BSN 111222333") costs two words, not
    /// [`MAX_WORDS`]. Everything [`Hits`] answers outside tests (the nearest tag and its
    /// distance, [`Hits::negative`]) is the same as after reading every word
    /// (`Phrases::all_hits`).
    pub(crate) fn hits(&self, bytes: &[u8], pos: usize) -> Hits {
        self.hits_with(bytes, pos, true)
    }

    /// [`Phrases::hits`] reading every word of the window: the distance of every tag.
    #[cfg(test)]
    pub(crate) fn all_hits(&self, bytes: &[u8], pos: usize) -> Hits {
        self.hits_with(bytes, pos, false)
    }

    fn hits_with(&self, bytes: &[u8], pos: usize, stop_early: bool) -> Hits {
        let mut words = Words::before(bytes, pos);
        let mut hits = Hits {
            best: [u8::MAX; MAX_TAGS],
            nearest: None,
        };
        // A phrase naming a kind was found (at a distance already looked at in full).
        let mut named = false;
        let mut j = 0;
        while words.reach(j) {
            if stop_early && named && j >= 2 {
                break;
            }
            if let Some(entries) = self.ending_in(words.word(bytes, j)) {
                for (tag, rest) in entries {
                    let fits = words.reach(j + rest.len())
                        && rest
                            .iter()
                            .rev()
                            .enumerate()
                            .all(|(k, w)| words.word(bytes, j + 1 + k).eq_ignore_ascii_case(w));
                    let slot = usize::from(*tag);
                    if fits && slot < MAX_TAGS && hits.best[slot] == u8::MAX {
                        let d = j as u8;
                        hits.best[slot] = d;
                        if *tag != NEGATIVE {
                            named = true;
                            if hits.nearest.is_none_or(|nearest| (d, *tag) < nearest) {
                                hits.nearest = Some((d, *tag));
                            }
                        }
                    }
                }
            }
            j += 1;
        }
        hits
    }
}

/// Where context phrases were found before a candidate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hits {
    best: [u8; MAX_TAGS],
    /// The nearest phrase that names a kind: its distance and tag (the lower tag on a tie),
    /// noted while the words are read.
    nearest: Option<(u8, Tag)>,
}

impl Hits {
    /// The word distance of the nearest phrase with `tag`. From [`Phrases::hits`], this is
    /// known for the tag of [`Hits::nearest`], for [`NEGATIVE`] within two words, and for tags
    /// no farther than the nearest; a farther tag may be reported as absent.
    pub(crate) fn distance(&self, tag: Tag) -> Option<usize> {
        match self.best.get(usize::from(tag)) {
            Some(&d) if d != u8::MAX => Some(usize::from(d)),
            _ => None,
        }
    }

    /// The tag of the nearest phrase that names a kind (negative phrases excluded); on a tie the
    /// lower tag wins.
    pub(crate) fn nearest(&self) -> Option<Tag> {
        self.nearest.map(|(_, tag)| tag)
    }

    /// Whether the nearest phrase has `tag`.
    pub(crate) fn is(&self, tag: Tag) -> bool {
        self.nearest() == Some(tag)
    }

    /// Whether `tag` is present and no tag in `others` is nearer.
    #[cfg(test)]
    pub(crate) fn nearest_of(&self, tag: Tag, others: &[Tag]) -> bool {
        match self.distance(tag) {
            None => false,
            Some(d) => others
                .iter()
                .all(|&o| o == tag || self.distance(o).is_none_or(|od| od >= d)),
        }
    }

    /// Whether a number word ("order", "invoice", ...) is one of the two words before.
    pub(crate) fn negative(&self) -> bool {
        self.distance(NEGATIVE).is_some_and(|d| d <= 1)
    }
}

/// The words before a position, nearest first, as byte ranges of the text (compared ASCII
/// case-insensitively, so nothing is copied), found on demand ([`Words::reach`]). A word longer
/// than the longest phrase word is kept as an empty range: it counts as a word but matches
/// nothing.
struct Words {
    spans: [(usize, usize); MAX_WORDS],
    n: usize,
    /// The word bytes of the window not yet taken into `spans` (bit `k`: the byte at
    /// `floor + k`); only bytes before the last word found are left.
    rest: u64,
    /// The digits of the window, likewise.
    digit_bits: u64,
    floor: usize,
    /// A word that reaches the start of the window is cut off (the byte before it is a word
    /// byte too).
    cut_off: bool,
    /// No more words: the window's start, another number, or [`MAX_WORDS`] words.
    done: bool,
}

impl Words {
    /// The words before `pos`. The window's bytes are first classified into two bit masks,
    /// eight bytes at a time (word bytes and digits; bit `k` is the byte at `pos - WINDOW + k`,
    /// or at `k` near the start of the text); then each word is found with a few bit
    /// operations when asked for. A byte-by-byte walk back spent most of its time in
    /// mispredicted branches at the word boundaries.
    fn before(bytes: &[u8], pos: usize) -> Self {
        const _: () = assert!(WINDOW == 64, "one bit per byte of the window in a u64");
        let pos = pos.min(bytes.len());
        let floor = pos.saturating_sub(WINDOW);
        // Zero bytes past the text are neither word bytes nor digits.
        let mut window = [0u8; WINDOW];
        window[..pos - floor].copy_from_slice(&bytes[floor..pos]);
        let mut word_bits = 0u64;
        let mut digit_bits = 0u64;
        for (k, chunk) in window.chunks_exact(8).enumerate() {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(chunk);
            let (word, digit) = classify8(u64::from_le_bytes(eight));
            word_bits |= u64::from(word) << (8 * k);
            digit_bits |= u64::from(digit) << (8 * k);
        }
        Words {
            spans: [(0, 0); MAX_WORDS],
            n: 0,
            rest: word_bits,
            digit_bits,
            floor,
            cut_off: floor > 0 && is_ctx_word(bytes[floor - 1]),
            done: false,
        }
    }

    /// Finds words until word `j` is known; whether there is one.
    #[inline]
    fn reach(&mut self, j: usize) -> bool {
        while self.n <= j && !self.done {
            self.advance();
        }
        j < self.n
    }

    /// Finds the next word back (or ends the walk).
    fn advance(&mut self) {
        loop {
            if self.n >= MAX_WORDS || self.rest == 0 {
                self.done = true;
                return;
            }
            // The nearest word left: bits `first..=last`.
            let last = 63 - self.rest.leading_zeros() as usize;
            let len = (self.rest << (63 - last)).leading_ones() as usize;
            let first = last + 1 - len;
            if first == 0 && self.cut_off {
                self.done = true; // cut off by the window: not a whole word
                return;
            }
            self.rest &= (1u64 << first) - 1;
            let ones = (u64::MAX >> (64 - len)) << first;
            let (start, end) = (self.floor + first, self.floor + last + 1);
            if self.digit_bits & ones == ones {
                if len >= 4 {
                    self.done = true; // another number: context before it belongs to that one
                    return;
                }
                continue;
            }
            self.spans[self.n] = if len <= MAX_WORD_LEN {
                (start, end)
            } else {
                (start, start)
            };
            self.n += 1;
            return;
        }
    }

    /// [`Words::before`] as a walk back over the bytes, for the tests.
    #[cfg(test)]
    fn before_by_walking(bytes: &[u8], pos: usize) -> Self {
        let mut words = Words::before(bytes, pos);
        words.done = true;
        let pos = pos.min(bytes.len());
        let floor = pos.saturating_sub(WINDOW);
        let mut i = pos;
        while words.n < MAX_WORDS {
            while i > floor && !is_ctx_word(bytes[i - 1]) {
                i -= 1;
            }
            if i == floor {
                break;
            }
            let end = i;
            while i > floor && is_ctx_word(bytes[i - 1]) {
                i -= 1;
            }
            if i == floor && floor > 0 && is_ctx_word(bytes[floor - 1]) {
                break; // cut off by the window: not a whole word
            }
            let word = &bytes[i..end];
            if word.iter().all(u8::is_ascii_digit) {
                if word.len() >= 4 {
                    break; // another number: context before it belongs to that one
                }
                continue;
            }
            words.spans[words.n] = if word.len() <= MAX_WORD_LEN {
                (i, end)
            } else {
                (i, i)
            };
            words.n += 1;
        }
        words
    }

    fn word<'b>(&self, bytes: &'b [u8], j: usize) -> &'b [u8] {
        let (start, end) = self.spans[j];
        &bytes[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(text: &str, needle: &str) -> Hits {
        let pos = text.find(needle).unwrap();
        Phrases::built_in().all_hits(text.as_bytes(), pos)
    }

    #[test]
    fn the_walk_stops_after_the_nearest_named_phrase() {
        let text = b"bsn tel 111222333";
        let phrases = Phrases::built_in();
        let pos = text.len() - 9;
        let lazy = phrases.hits(text, pos);
        let full = phrases.all_hits(text, pos);
        assert_eq!(lazy.nearest(), Some(PHONE));
        assert_eq!(full.nearest(), Some(PHONE));
        assert_eq!(full.distance(BSN), Some(1));
        // Word 1 is read (for `negative`), word 2 would not be.
        let text = b"bsn x tel 111222333";
        let lazy = phrases.hits(text, text.len() - 9);
        assert_eq!(lazy.distance(BSN), None);
        assert!(phrases.hits(b"order tel 12", 10).negative());
        assert!(phrases.hits(b"tel order 12", 10).negative());
        assert!(!phrases.hits(b"order x tel 12", 12).negative());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Reading the words only as far as needed changes none of the answers the detectors
        /// ask for: the nearest named tag, its distance, and a number word within two words.
        #[test]
        fn the_early_stop_is_exact(
            atoms in proptest::collection::vec(proptest::sample::select(&[
                "bsn", "BSN", "geb", "dob", "d", "o", "b", "agb", "code", "tel", "iban",
                "postcode", "order", "ref", "opname", "visit", "patiënt", "patient", "id",
                "nummer", "number", "record", "medical", "citizen", "service", "mrn", "x",
                "abcdefghijklmnopqrstuvwxyz", " ", " ", " ", ".", "-", "_", ":", "12", "1234",
                "é", "\n",
            ][..]), 0..30),
            cut in 0usize..8,
        ) {
            let mut phrases = Phrases::built_in();
            for phrase in RECORD_PHRASES {
                phrases.add(PATTERN_BASE, phrase);
            }
            phrases.add(PATTERN_BASE + 1, "medical id");
            phrases.add(PATTERN_BASE + 2, "x");
            let text = atoms.concat();
            let bytes = text.as_bytes();
            for pos in (0..=bytes.len()).filter(|p| p % 8 != cut) {
                let lazy = phrases.hits(bytes, pos);
                let full = phrases.all_hits(bytes, pos);
                // The nearest tag noted during the walk is the nearest of all recorded.
                let by_slots = (0..MAX_TAGS as Tag)
                    .filter(|&t| t != NEGATIVE)
                    .filter_map(|t| full.distance(t).map(|d| (d, t)))
                    .min()
                    .map(|(_, t)| t);
                proptest::prop_assert_eq!(full.nearest(), by_slots);
                proptest::prop_assert_eq!(lazy.nearest(), full.nearest(), "{:?} at {}", text, pos);
                if let Some(tag) = full.nearest() {
                    proptest::prop_assert_eq!(lazy.distance(tag), full.distance(tag));
                    proptest::prop_assert!(lazy.is(tag));
                }
                proptest::prop_assert_eq!(lazy.negative(), full.negative(), "{:?} at {}", text, pos);
                for tag in 0..MAX_TAGS as Tag {
                    // Whatever the early stop records is what the full walk records.
                    if let Some(d) = lazy.distance(tag) {
                        proptest::prop_assert_eq!(Some(d), full.distance(tag));
                    }
                }
            }
        }
    }

    #[test]
    fn classify8_matches_the_byte_classes() {
        for b in 0..=255u8 {
            for k in 0..8 {
                let mut eight = [b'x' ^ 0x55; 8];
                eight[k] = b;
                let (word, digit) = classify8(u64::from_le_bytes(eight));
                assert_eq!(word & (1 << k) != 0, is_ctx_word(b), "{b:#x} at {k}");
                assert_eq!(digit & (1 << k) != 0, b.is_ascii_digit(), "{b:#x} at {k}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn classify8_on_any_bytes(eight in proptest::prelude::any::<[u8; 8]>()) {
            let (word, digit) = classify8(u64::from_le_bytes(eight));
            for (k, &b) in eight.iter().enumerate() {
                proptest::prop_assert_eq!(word & (1 << k) != 0, is_ctx_word(b));
                proptest::prop_assert_eq!(digit & (1 << k) != 0, b.is_ascii_digit());
            }
        }

        /// The words found with bit masks are the words a walk back over the bytes finds.
        #[test]
        fn words_by_mask_are_words_by_walking(
            atoms in proptest::collection::vec(proptest::sample::select(&[
                "a", "bsn", "Geb", "x1", "1", "12", "123", "1234", "12345", " ", " ", ".", "-",
                "_", ":", "é", "\u{fffd}", "\n", "abcdefghijklmnopqrstuvwxyz",
                "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
            ][..]), 0..40),
        ) {
            let text = atoms.concat();
            let bytes = text.as_bytes();
            for pos in 0..=bytes.len() + 1 {
                let mut fast = Words::before(bytes, pos);
                fast.reach(MAX_WORDS);
                let walked = Words::before_by_walking(bytes, pos);
                proptest::prop_assert_eq!(
                    &fast.spans[..fast.n],
                    &walked.spans[..walked.n],
                    "{:?} at {}",
                    text,
                    pos
                );
            }
        }
    }

    #[test]
    fn finds_the_nearest_phrase() {
        let h = hits("Patiënt (BSN 111222333) belde", "111");
        assert_eq!(h.distance(BSN), Some(0));
        assert!(h.nearest_of(BSN, &[AGB, PHONE]));
        let h = hits(r#"{"date_of_birth":"1978-05-12"}"#, "1978");
        assert_eq!(h.distance(DATE_OF_BIRTH), Some(0));
        let h = hits("D.O.B.: 05/12/1978", "05");
        assert_eq!(h.distance(DATE_OF_BIRTH), Some(0));
        let h = hits("BSN 123456782, AGB-code 01234567", "0123");
        assert!(h.nearest_of(AGB, &[BSN]));
        assert!(!h.nearest_of(BSN, &[AGB]));
    }

    #[test]
    fn stops_at_other_numbers_and_the_window() {
        let h = hits("geb. 12-05-1978, opname 03-04-2024", "03-");
        assert_eq!(h.distance(DATE_OF_BIRTH), None);
        let far = format!("bsn {} 123", "x ".repeat(40));
        let h = hits(&far, "123");
        assert_eq!(h.distance(BSN), None);
    }

    #[test]
    fn negative_words_count_only_when_adjacent() {
        assert!(hits("order_id=483920175", "48").negative());
        assert!(!hits("order for patient 483920175 today", "48").negative());
    }

    #[test]
    fn multi_word_and_non_ascii_phrases() {
        let mut p = Phrases::built_in();
        assert!(p.add(PATTERN_BASE, "Patiënt ID"));
        assert!(!p.add(PATTERN_BASE, "  --  "));
        let text = "patiënt id: 1234567";
        let h = p.hits(text.as_bytes(), text.find('1').unwrap());
        assert_eq!(h.distance(PATTERN_BASE), Some(0));
    }
}
