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

    /// For every tag, the distance in words from the candidate at `pos` back to the nearest
    /// phrase with that tag (0 = the word right before it).
    pub(crate) fn hits(&self, bytes: &[u8], pos: usize) -> Hits {
        let words = Words::before(bytes, pos);
        let word = |j: usize| words.word(bytes, j);
        let mut hits = Hits {
            best: [u8::MAX; MAX_TAGS],
        };
        for j in 0..words.n {
            let Some(entries) = self.ending_in(word(j)) else {
                continue;
            };
            for (tag, rest) in entries {
                let fits = rest.len() < words.n - j
                    && rest
                        .iter()
                        .rev()
                        .enumerate()
                        .all(|(k, w)| word(j + 1 + k).eq_ignore_ascii_case(w));
                let slot = usize::from(*tag);
                if fits && slot < MAX_TAGS && hits.best[slot] == u8::MAX {
                    hits.best[slot] = j as u8;
                }
            }
        }
        hits
    }
}

/// Where context phrases were found before a candidate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hits {
    best: [u8; MAX_TAGS],
}

impl Hits {
    /// The word distance of the nearest phrase with `tag`.
    pub(crate) fn distance(&self, tag: Tag) -> Option<usize> {
        match self.best.get(usize::from(tag)) {
            Some(&d) if d != u8::MAX => Some(usize::from(d)),
            _ => None,
        }
    }

    /// The tag of the nearest phrase that names a kind (negative phrases excluded); on a tie the
    /// lower tag wins.
    pub(crate) fn nearest(&self) -> Option<Tag> {
        let mut best: Option<(u8, Tag)> = None;
        for (slot, &d) in self.best.iter().enumerate() {
            if d == u8::MAX || slot == usize::from(NEGATIVE) {
                continue;
            }
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, slot as Tag));
            }
        }
        best.map(|(_, tag)| tag)
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
/// case-insensitively, so nothing is copied). A word longer than the longest phrase word is
/// kept as an empty range: it counts as a word but matches nothing.
struct Words {
    spans: [(usize, usize); MAX_WORDS],
    n: usize,
}

impl Words {
    fn before(bytes: &[u8], pos: usize) -> Self {
        let mut words = Words {
            spans: [(0, 0); MAX_WORDS],
            n: 0,
        };
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
        Phrases::built_in().hits(text.as_bytes(), pos)
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
