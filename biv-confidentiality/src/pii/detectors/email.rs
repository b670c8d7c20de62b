//! E-mail addresses: a pragmatic subset of RFC 5322. The local part is letters, digits,
//! `. _ % + -` and non-ASCII (RFC 6531), at most 64 bytes, no leading, trailing or double dot;
//! the domain is at least two dot-separated labels of letters, digits and inner hyphens, with an
//! alphabetic top-level label of two or more letters (or `xn--…`), at most 253 bytes. In
//! URL-encoded text `%40` stands for the `@` (and `%2B`-style escapes may appear in the local
//! part).

use biv_core::PiiKind;

use super::Candidate;
use crate::pii::bytes::{is_alnum, is_alpha, is_word};

/// Confidence of an address.
const ADDRESS: f32 = 0.95;
/// An address with `%40` for the `@`.
const URL_ENCODED: f32 = 0.9;
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

#[inline]
fn is_local(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'.' | b'_' | b'+' | b'-') || b >= 0x80
}

#[inline]
fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// An address around the `@` (or `%40`) at `at`; nothing before `floor` is looked at.
pub(crate) fn detect(bytes: &[u8], at: usize, floor: usize) -> Option<Candidate> {
    let (sep_len, confidence) = match bytes[at] {
        b'@' => (1, ADDRESS),
        b'%' if bytes.get(at + 1..at + 3) == Some(b"40") => (3, URL_ENCODED),
        _ => return None,
    };
    let url_encoded = sep_len == 3;

    // Local part, backwards.
    let mut start = at;
    loop {
        if start <= floor || at - start > MAX_LOCAL {
            break;
        }
        let b = bytes[start - 1];
        // In URL-encoded text a `%` starts an escape such as `%2B`, whose hex digits were
        // already taken as local characters.
        let escape = url_encoded
            && b == b'%'
            && bytes
                .get(start..start + 2)
                .is_some_and(|h| h.iter().all(|&c| is_hex(c)));
        if is_local(b) || escape {
            start -= 1;
        } else {
            break;
        }
    }
    if at - start > MAX_LOCAL {
        return None;
    }
    if start > 0 && start == floor && bytes.get(start - 1).copied().is_some_and(is_local) {
        return None; // the local part would run into the previous finding
    }
    while start < at && bytes[start] == b'.' {
        start += 1;
    }
    let local = &bytes[start..at];
    if local.is_empty() || local.ends_with(b".") || local.windows(2).any(|w| w == b"..") {
        return None;
    }
    if url_encoded && local.len() >= 2 && local[local.len() - 1] == b'%' {
        return None;
    }

    // Domain, forwards.
    let domain_start = at + sep_len;
    let mut i = domain_start;
    let mut labels = 0;
    let mut last_label;
    loop {
        let label_start = i;
        while i < bytes.len()
            && (is_alnum(bytes[i]) || bytes[i] == b'-')
            && i - label_start < MAX_LABEL + 1
        {
            i += 1;
        }
        let label = &bytes[label_start..i];
        if label.is_empty()
            || label.len() > MAX_LABEL
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
        {
            return None;
        }
        labels += 1;
        last_label = (label_start, i);
        if i - domain_start > MAX_DOMAIN {
            return None;
        }
        if i + 1 < bytes.len() && bytes[i] == b'.' && is_alnum(bytes[i + 1]) {
            i += 1;
            continue;
        }
        break;
    }
    if labels < 2 {
        return None;
    }
    let tld = &bytes[last_label.0..last_label.1];
    let tld_ok = (tld.len() >= 2 && tld.iter().all(|&b| is_alpha(b)))
        || (tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--"));
    if !tld_ok {
        return None;
    }
    if bytes
        .get(i)
        .copied()
        .is_some_and(|b| is_word(b) || b == b'@')
    {
        return None;
    }
    Some(Candidate::new(PiiKind::Email, start, i, confidence))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Option<&str> {
        let at = text.find('@').or_else(|| text.find("%40")).unwrap();
        detect(text.as_bytes(), at, 0).map(|c| &text[c.start..c.end])
    }

    #[test]
    fn addresses() {
        assert_eq!(
            find("mail jan.jansen@example.nl."),
            Some("jan.jansen@example.nl")
        );
        assert_eq!(find("?email=jan@example.nl&x=1"), Some("jan@example.nl"));
        assert_eq!(
            find("<p.de.vries+epd@mail.example.co.uk>"),
            Some("p.de.vries+epd@mail.example.co.uk")
        );
        assert_eq!(find("jürgen@example.de"), Some("jürgen@example.de"));
        assert_eq!(
            find("email=jan%2Bx%40example.nl&n"),
            Some("jan%2Bx%40example.nl")
        );
        assert_eq!(
            find("x@xn--bcher-kva.example"),
            Some("x@xn--bcher-kva.example")
        );
    }

    #[test]
    fn not_addresses() {
        assert_eq!(find("@Override"), None);
        assert_eq!(find("user@localhost"), None);
        assert_eq!(find("a@b.c"), None);
        assert_eq!(find("jan..x@example.nl"), None);
        assert_eq!(find("jan@-example.nl"), None);
        assert_eq!(find("jan@example.n1"), None);
        assert_eq!(find(&format!("{}@example.nl", "a".repeat(65))), None);
    }
}
