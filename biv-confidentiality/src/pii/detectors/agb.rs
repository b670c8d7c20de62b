//! AGB codes (Algemeen GegevensBeheer zorgverleners, the Dutch healthcare provider code): eight
//! digits, the first two the kind of provider, written `01234567` or `01-234567`. The code has
//! no checksum, so it is reported only where a context word ("AGB", "AGB-code",
//! "zorgverlenerscode") says it is one.

use biv_core::PiiKind;

use super::{Candidate, Token};
use crate::pii::bytes::number_end;
use crate::pii::context;

/// An AGB code with context.
const WITH_CONTEXT: f32 = 0.9;

/// An AGB code at the token.
pub(crate) fn detect(t: &Token<'_>) -> Option<Candidate> {
    let g = &t.groups;
    let first = g.get(0);
    let k = if first.len() == 8 {
        1
    } else if first.len() == 2 && g.len() >= 2 && g.get(1).len() == 6 && g.get(1).sep != b'/' {
        2
    } else {
        return None;
    };
    if k == 1 && g.len() > 1 && g.get(1).sep != b' ' {
        return None;
    }
    if k == 2 && g.continues_after(2, g.get(1).sep) {
        return None;
    }
    let end = g.end_of(k);
    if !number_end(t.bytes, end, k > 1) || !t.context().is(context::AGB) {
        return None;
    }
    Some(Candidate::new(PiiKind::Agb, t.start, end, WITH_CONTEXT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::context::Phrases;

    fn find(text: &str, at: &str) -> Option<String> {
        let phrases = Phrases::built_in();
        let start = text.find(at).unwrap();
        let t = Token::new(text.as_bytes(), start, 0, &phrases);
        detect(&t).map(|c| text[c.start..c.end].to_string())
    }

    #[test]
    fn with_and_without_context() {
        assert_eq!(find("(AGB-code 01234567)", "0123"), Some("01234567".into()));
        assert_eq!(find("AGB: 03-123456.", "03"), Some("03-123456".into()));
        assert_eq!(
            find(
                r#""system":"http://fhir.nl/fhir/NamingSystem/agb-z","value":"01012345""#,
                "0101"
            ),
            Some("01012345".into())
        );
        assert_eq!(find("order 01234567", "0123"), None);
        assert_eq!(find("AGB 012345678", "0123"), None);
        assert_eq!(
            find("BSN 111222333, AGB? no: 01234567", "0123"),
            Some("01234567".into())
        );
    }
}
