//! Credentials: the value of a `password=…` / `"token": "…"` pair, the credentials of an
//! `Authorization` header, the token after `Bearer` or `Basic`, and PEM private key blocks.
//!
//! The span is the secret itself: the value without its key or quotes, the token without its
//! scheme word, and for a PEM block everything from `-----BEGIN` to the end of the `-----END`
//! line. Placeholders (`${DB_PASSWORD}`, `<redacted>`, `***`, `null`, an earlier `[SECRET]`) are
//! not secrets.

use biv_core::PiiKind;
use memchr::memmem;

use super::{Candidate, MAX_SPAN};
use crate::pii::bytes::{at, is_alnum, is_word, starts_with_ignore_case, word_start};

/// A key–value pair.
const PAIR: f32 = 0.9;
/// A token after `Bearer`/`Basic`.
const SCHEME: f32 = 0.95;
/// A PEM private key block.
const PEM: f32 = 0.99;

/// The longest secret value taken.
const MAX_VALUE: usize = 8 * 1024;
/// The longest key looked at.
const MAX_KEY: usize = 48;

/// Key endings (lower case, without `_ - .`) that name a secret.
const SECRET_KEYS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"pwd",
    b"passphrase",
    b"wachtwoord",
    b"secret",
    b"token",
    b"apikey",
    b"privatekey",
    b"secretkey",
    b"accesskey",
    b"credential",
    b"credentials",
    b"authorization",
];

/// Values that are placeholders, not secrets (compared case-insensitively).
const PLACEHOLDERS: &[&[u8]] = &[
    b"null",
    b"none",
    b"nil",
    b"undefined",
    b"true",
    b"false",
    b"redacted",
    b"hidden",
    b"masked",
    b"removed",
    b"n/a",
];

#[inline]
fn is_key_char(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'_' | b'-' | b'.')
}

#[inline]
fn is_token_char(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Ends an unquoted value.
#[inline]
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'&' | b',' | b';' | b'"' | b'\'' | b')' | b']' | b'}' | b'<' | b'>'
        )
}

/// The secret value of a `key=value` or `key: value` pair whose `=` or `:` is at `sep`. The key
/// is only context (it may lie before the previous finding or a stream's commit point); the span
/// starts after `sep`.
pub(crate) fn key_value(bytes: &[u8], sep: usize) -> Option<Candidate> {
    let k = key_end(bytes, sep)?;
    if !may_name_a_secret_3(bytes, k) {
        return None;
    }
    value_of_pair(bytes, sep, k)
}

/// [`key_value`] without the quick looks at the key's last characters.
#[cfg(test)]
fn key_value_reference(bytes: &[u8], sep: usize) -> Option<Candidate> {
    value_of_pair(bytes, sep, key_end_with(bytes, sep, false)?)
}

/// The secret of the pair whose key ends at `k` and whose separator is at `sep`.
fn value_of_pair(bytes: &[u8], sep: usize, mut k: usize) -> Option<Candidate> {
    let key_end = k;
    while k > 0 && is_key_char(bytes[k - 1]) && key_end - k <= MAX_KEY {
        k -= 1;
    }
    if key_end == k || key_end - k > MAX_KEY {
        return None;
    }
    let mut norm = [0u8; MAX_KEY];
    let mut n = 0;
    for &c in &bytes[k..key_end] {
        if is_alnum(c) {
            norm[n] = c.to_ascii_lowercase();
            n += 1;
        }
    }
    let norm = &norm[..n];
    let named = SECRET_KEYS.iter().find(|w| ends_with(norm, w));
    // Other `…_key` names (`app_key`, `encryption_key`) only with a value that looks like key
    // material; `cache_key=user:42` and `sort_key=created_at` are not secrets.
    let key_named = named.is_none() && ends_with(norm, b"key");
    if named.is_none() && !key_named {
        return None;
    }

    // The value.
    let mut v = sep + 1;
    let mut spaces = 0;
    while at(bytes, v) == Some(b' ') && spaces < 3 {
        v += 1;
        spaces += 1;
    }
    let (mut start, mut end) = value_at(bytes, v)?;
    if named.is_some_and(|n| *n == b"authorization") {
        // "Authorization: Bearer abc" → the credentials after the scheme word.
        let mut j = start;
        while j < bytes.len() && j - start <= 12 && bytes[j].is_ascii_alphabetic() {
            j += 1;
        }
        if j > start && at(bytes, j) == Some(b' ') {
            let mut c = j;
            while at(bytes, c) == Some(b' ') {
                c += 1;
            }
            let quoted = matches!(bytes[v], b'"' | b'\'');
            let limit = if quoted {
                end
            } else {
                bytes.len().min(c + MAX_VALUE)
            };
            let mut e = c;
            while e < limit && !ends_value(bytes[e]) {
                e += 1;
            }
            start = c;
            end = e;
        }
    }
    let value = &bytes[start..end];
    if !is_secret_value(value) || (key_named && !looks_like_key_material(value)) {
        return None;
    }
    Some(Candidate::new(PiiKind::Secret, start, end, PAIR))
}

/// Where the key of a pair whose `=` or `:` is at `sep` ends, if the pair may hold a secret:
/// not `==`, `::` or `:/`; the key (before at most two spaces and an optional quote) ends in a
/// letter, and its last two letters or digits end a secret key name. Everything [`key_value`]
/// looks at before it reads the whole key; the scanner asks it before calling [`key_value`].
#[inline]
pub(crate) fn key_end(bytes: &[u8], sep: usize) -> Option<usize> {
    key_end_with(bytes, sep, true)
}

/// [`key_end`]; `check_name` turns the look at the last two characters on.
#[inline]
fn key_end_with(bytes: &[u8], sep: usize, check_name: bool) -> Option<usize> {
    let s = bytes[sep];
    match (s, at(bytes, sep + 1)) {
        (b'=', Some(b'=')) | (b':', Some(b':')) | (b':', Some(b'/')) => return None,
        _ => {}
    }
    // The key, backwards: optional spaces (for ':'), an optional closing quote, key characters.
    let mut k = sep;
    while k > 0 && k + 2 > sep && bytes[k - 1] == b' ' {
        k -= 1;
    }
    if k > 0 && matches!(bytes[k - 1], b'"' | b'\'') {
        k -= 1;
    }
    // Keys end in a letter; "14:02", "=5" and "): " are not pairs.
    if k == 0 || !bytes[k - 1].is_ascii_alphabetic() {
        return None;
    }
    // Every secret key name ends in one of these letters ("password", "passphrase", "secret",
    // "token", "apikey", "credential", "credentials"); most other keys are rejected here.
    if !matches!(
        bytes[k - 1].to_ascii_lowercase(),
        b'd' | b'e' | b't' | b'n' | b'y' | b'l' | b's'
    ) {
        return None;
    }
    (!check_name || may_name_a_secret(bytes, k)).then_some(k)
}

/// A quick look at the last two letters or digits of the key ending at `key_end` (its last
/// byte a letter), ignoring the `_ - .` that normalising drops: every name in [`SECRET_KEYS`],
/// and `key`, ends in one of these pairs. Most keys (`level`, `status`, `message`, `pid`,
/// `request_id`) are rejected here without being normalised.
#[inline]
fn may_name_a_secret(bytes: &[u8], key_end: usize) -> bool {
    let last = bytes[key_end - 1].to_ascii_lowercase();
    let Some((prev, _)) = alnum_before(bytes, key_end - 1) else {
        return false;
    };
    matches!(
        (prev, last),
        (b'r' | b'w', b'd')
            | (b's', b'e')
            | (b'e', b't')
            | (b'e' | b'o', b'n')
            | (b'e', b'y')
            | (b'a', b'l')
            | (b'l', b's')
    )
}

/// After [`may_name_a_secret`], the same look at the last three letters or digits (four for
/// `…ion`): every name ends in one of these. `Anamnese` and `version`, whose last two letters do
/// end a name (`passphrase`, `authorization`), stop here without being normalised. Kept out of
/// [`key_end`], which the scanner inlines at every `:` and `=`.
fn may_name_a_secret_3(bytes: &[u8], key_end: usize) -> bool {
    let last = bytes[key_end - 1].to_ascii_lowercase();
    let Some((prev, p)) = alnum_before(bytes, key_end - 1) else {
        return false;
    };
    let Some((prev2, p2)) = alnum_before(bytes, p) else {
        return false;
    };
    match (prev2, prev, last) {
        (b'o', b'r', b'd') // password, wachtwoord
        | (b's' | b'p', b'w', b'd') // passwd, pwd
        | (b'a', b's', b'e') // passphrase
        | (b'r', b'e', b't') // secret
        | (b'k', b'e', b'n') // token
        | (b'k', b'e', b'y') // apikey, privatekey, …, and other `…key` names
        | (b'i', b'a', b'l') // credential
        | (b'a', b'l', b's') => true, // credentials
        // authorization
        (b'i', b'o', b'n') => alnum_before(bytes, p2).is_some_and(|(prev3, _)| prev3 == b't'),
        _ => false,
    }
}

/// The letter or digit before the key byte at `p`, skipping `_ - .`, in lower case, and where it
/// is; `None` if the key has none there.
#[inline]
fn alnum_before(bytes: &[u8], p: usize) -> Option<(u8, usize)> {
    let mut j = p;
    while j > 0 && matches!(bytes[j - 1], b'_' | b'-' | b'.') {
        j -= 1;
    }
    let q = j.checked_sub(1)?;
    is_alnum(bytes[q]).then(|| (bytes[q].to_ascii_lowercase(), q))
}

/// At least 16 characters with letters and digits, or a `base64:` / `hex:` prefix.
fn looks_like_key_material(value: &[u8]) -> bool {
    let prefixed =
        starts_with_ignore_case(value, 0, b"base64:") || starts_with_ignore_case(value, 0, b"hex:");
    let mixed = value.iter().any(u8::is_ascii_alphabetic) && value.iter().any(u8::is_ascii_digit);
    prefixed || (value.len() >= 16 && mixed)
}

/// The password of a URL with credentials, `scheme://user:password@host`, whose `@` is at `at`.
pub(crate) fn url_password(bytes: &[u8], at: usize, floor: usize) -> Option<Candidate> {
    const MAX_PART: usize = 256;
    let stop = |b: u8| {
        b.is_ascii_whitespace() || matches!(b, b'/' | b'@' | b':' | b'"' | b'\'' | b'<' | b'>')
    };
    let mut p = at;
    while p > floor && at - p <= MAX_PART && !stop(bytes[p - 1]) {
        p -= 1;
    }
    if p == at || p <= floor || bytes[p - 1] != b':' {
        return None;
    }
    let colon = p - 1;
    let mut u = colon;
    while u > 0 && colon - u <= MAX_PART && !stop(bytes[u - 1]) {
        u -= 1;
    }
    if u == colon || u < 3 || &bytes[u - 3..u] != b"://" {
        return None;
    }
    let scheme_end = u - 3;
    let mut s = scheme_end;
    while s > 0
        && (bytes[s - 1].is_ascii_alphanumeric() || matches!(bytes[s - 1], b'+' | b'-' | b'.'))
    {
        s -= 1;
    }
    if s == scheme_end || !bytes[s].is_ascii_alphabetic() {
        return None;
    }
    let password = &bytes[p..at];
    if !is_secret_value(password) {
        return None;
    }
    Some(Candidate::new(PiiKind::Secret, p, at, PAIR))
}

/// `a.ends_with(b)` for short slices, last byte first (most keys differ there).
#[inline]
fn ends_with(a: &[u8], b: &[u8]) -> bool {
    a.len() >= b.len() && a.iter().rev().zip(b.iter().rev()).all(|(x, y)| x == y)
}

/// The value starting at `v`: quoted (up to the closing quote, `\"` escapes skipped) or bare (up
/// to a delimiter).
fn value_at(bytes: &[u8], v: usize) -> Option<(usize, usize)> {
    let first = at(bytes, v)?;
    if first == b'"' || first == b'\'' {
        let start = v + 1;
        let limit = bytes.len().min(start + MAX_VALUE);
        let mut i = start;
        while i < limit {
            match bytes[i] {
                b'\\' => i += 2,
                b'\n' | b'\r' => break,
                c if c == first => return Some((start, i)),
                _ => i += 1,
            }
        }
        return Some((start, i.min(limit)));
    }
    let limit = bytes.len().min(v + MAX_VALUE);
    let mut i = v;
    while i < limit && !ends_value(bytes[i]) {
        i += 1;
    }
    Some((v, i))
}

/// Whether a value is a real secret rather than empty or a placeholder.
fn is_secret_value(value: &[u8]) -> bool {
    let Some(&first) = value.first() else {
        return false;
    };
    if matches!(first, b'$' | b'{' | b'[' | b'<' | b'%') {
        return false;
    }
    if value
        .iter()
        .all(|&b| matches!(b, b'*' | b'x' | b'X' | b'.' | b'#' | b'-'))
    {
        return false;
    }
    !PLACEHOLDERS.iter().any(|p| value.eq_ignore_ascii_case(p))
}

/// The token after `Bearer ` or `Basic ` at `i`.
pub(crate) fn scheme_token(bytes: &[u8], i: usize) -> Option<Candidate> {
    if !matches!(at(bytes, i + 1), Some(b'e' | b'E' | b'a' | b'A')) || !word_start(bytes, i) {
        return None;
    }
    let scheme_len = if starts_with_ignore_case(bytes, i, b"bearer ") {
        7
    } else if starts_with_ignore_case(bytes, i, b"basic ") {
        6
    } else {
        return None;
    };
    let start = i + scheme_len;
    let limit = bytes.len().min(start + MAX_VALUE);
    let mut end = start;
    while end < limit && is_token_char(bytes[end]) {
        end += 1;
    }
    if at(bytes, end).is_some_and(|b| is_word(b) && !is_alnum(b)) {
        return None;
    }
    let token = &bytes[start..end];
    let shaped = token.iter().any(|&b| !b.is_ascii_alphabetic()) || token.len() >= 20;
    if token.len() < 8 || !shaped {
        return None;
    }
    Some(Candidate::new(PiiKind::Secret, start, end, SCHEME))
}

/// Where the next `-----END ` is, remembered across the BEGIN lines of one scan so that a text
/// full of BEGIN lines without END lines is still searched only once (linear time).
#[derive(Debug, Default)]
pub(crate) struct PemEnds {
    /// A search from `from` found the next END line at `at` (`None`: none up to the end).
    last: Option<(usize, Option<usize>)>,
}

impl PemEnds {
    fn next_end(&mut self, bytes: &[u8], from: usize) -> Option<usize> {
        if let Some((searched_from, found)) = self.last
            && searched_from <= from
            && found.is_none_or(|at| at >= from)
        {
            return found;
        }
        let found = memmem::find(&bytes[from..], b"-----END ").map(|p| from + p);
        self.last = Some((from, found));
        found
    }
}

/// A PEM private key block starting at `i` (`-----BEGIN … PRIVATE KEY…-----`).
pub(crate) fn pem(bytes: &[u8], i: usize, ends: &mut PemEnds) -> Option<Candidate> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    if at(bytes, i + 4) != Some(b'-') || !bytes[i..].starts_with(BEGIN) {
        return None;
    }
    let label_start = i + BEGIN.len();
    let label_len = bytes[label_start..bytes.len().min(label_start + 64)]
        .iter()
        .position(|&b| b == b'-')?;
    let label = &bytes[label_start..label_start + label_len];
    if !bytes[label_start + label_len..].starts_with(b"-----")
        || memmem::find(label, b"PRIVATE KEY").is_none()
    {
        return None;
    }
    let body = label_start + label_len + 5;
    let limit = bytes.len().min(i + MAX_SPAN);
    if let Some(p) = ends.next_end(bytes, body).filter(|&p| p + 9 <= limit) {
        let end_line = p + 9;
        let window = &bytes[end_line..limit.max(end_line)];
        if let Some(q) = window.iter().take(72).position(|&b| b == b'-') {
            let close = end_line + q;
            if bytes[close..].starts_with(b"-----") {
                return Some(Candidate::new(PiiKind::Secret, i, close + 5, PEM));
            }
        }
    }
    // No END line (a truncated log line): everything that looks like the base64 body.
    let mut end = body;
    while end < limit
        && (bytes[end].is_ascii_alphanumeric()
            || matches!(
                bytes[end],
                b'+' | b'/' | b'=' | b'\\' | b'\n' | b'\r' | b' ' | b'\t'
            ))
    {
        end += 1;
    }
    while end > body && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    Some(Candidate::new(PiiKind::Secret, i, end, PEM))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Option<&str> {
        let sep = text.find(['=', ':']).unwrap();
        key_value(text.as_bytes(), sep).map(|c| &text[c.start..c.end])
    }

    proptest::proptest! {
        /// The quick look at the key changes nothing: with and without it, the same answer.
        #[test]
        fn key_look_is_only_a_shortcut(
            atoms in proptest::collection::vec(proptest::sample::select(&[
                "password", "passwd", "pwd", "Passphrase", "wachtwoord", "secret", "TOKEN",
                "api", "key", "_key", "private", "credential", "credentials", "authorization",
                "level", "status", "version", "pid", "id", "sort", "cache", "-", "_", ".", "\"",
                "'", " ", "  ", "=", ":", "==", "::", ":/", "x", "d", "s", "n", "y", "l", "e",
                "t", "Hunter2!", "abc123def456ghi789", "base64:q83v", "Bearer eyJ", "${X}",
                "null", "1", "é", "Anamnese", "ion", "o", "r", "w", "a", "k", "i", "p", "pw",
                "pass", "word", "cret", "ken", "ential", "ization", "ion", "tion", "sion", "t",
            ][..]), 0..12),
        ) {
            let text = atoms.concat();
            let bytes = text.as_bytes();
            for sep in (0..bytes.len()).filter(|&p| matches!(bytes[p], b'=' | b':')) {
                proptest::prop_assert_eq!(
                    key_value(bytes, sep),
                    key_value_reference(bytes, sep),
                    "{:?} at {}",
                    text,
                    sep
                );
            }
        }
    }

    #[test]
    fn pairs() {
        assert_eq!(kv("password=Hunter2! sslmode=x"), Some("Hunter2!"));
        assert_eq!(
            kv(r#"{"db_password": "s3cr\"et", "x":1}"#),
            Some(r#"s3cr\"et"#)
        );
        assert_eq!(kv("?token=abc123&retry=3"), Some("abc123"));
        assert_eq!(kv("X-Api-Key: k-123 more"), Some("k-123"));
        assert_eq!(kv("wachtwoord=geheim123"), Some("geheim123"));
        assert_eq!(
            kv("Authorization: Bearer eyJabc.def, Accept"),
            Some("eyJabc.def")
        );
        assert_eq!(
            kv("'Authorization: Basic dXNlcjpwYXNz'"),
            Some("dXNlcjpwYXNz")
        );
        assert_eq!(
            kv("aws_secret_access_key = abc/DEF+123"),
            Some("abc/DEF+123")
        );
        assert_eq!(
            kv("APP_KEY=base64:q83vEjRWeJA="),
            Some("base64:q83vEjRWeJA=")
        );
        assert_eq!(
            kv("encryption_key: 9f86d081884c7d659a2f"),
            Some("9f86d081884c7d659a2f")
        );
    }

    #[test]
    fn not_secrets() {
        for text in [
            "password=${DB_PASSWORD}",
            "token=<redacted>",
            "password=",
            r#""password": null"#,
            r#""password": """#,
            "password=***",
            "token: [SECRET]",
            "max_tokens=1024",
            "token_type=Bearer",
            "token==x",
            "std::token",
            "tokens: 5",
            "https://x",
            "cache_key=user:42",
            "sort_key=created_at",
            "primary_key: id",
        ] {
            assert_eq!(kv(text), None, "{text}");
        }
    }

    #[test]
    fn url_credentials() {
        let find = |t: &'static str| {
            url_password(t.as_bytes(), t.rfind('@').unwrap(), 0).map(|c| &t[c.start..c.end])
        };
        assert_eq!(
            find("DSN postgresql://epd:S3#cr%t@db.internal:5432/epd"),
            Some("S3#cr%t")
        );
        assert_eq!(find("https://user:pw123@example.nl/"), Some("pw123"));
        assert_eq!(find("mailto:jan@example.nl"), None);
        assert_eq!(find("see http://example.nl/a:b@c"), None);
        assert_eq!(
            find("redis://:p4ss@cache:6379"),
            None,
            "no user: not this form"
        );
    }

    #[test]
    fn bearer_and_basic() {
        let t = "Authorization: Bearer eyJhbGciOi.J9x-_ ok";
        let c = scheme_token(t.as_bytes(), t.find("Bearer").unwrap()).unwrap();
        assert_eq!(&t[c.start..c.end], "eyJhbGciOi.J9x-_");
        let t = "the bearer tokens expire";
        assert_eq!(scheme_token(t.as_bytes(), t.find("bearer").unwrap()), None);
        let t = "basic information";
        assert_eq!(scheme_token(t.as_bytes(), 0), None);
    }

    #[test]
    fn pem_blocks() {
        let t = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\nnext";
        let c = pem(
            t.as_bytes(),
            t.find("-----").unwrap(),
            &mut PemEnds::default(),
        )
        .unwrap();
        assert!(t[c.start..c.end].ends_with("-----END RSA PRIVATE KEY-----"));
        let t = r#"{"k":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"}"#;
        let c = pem(
            t.as_bytes(),
            t.find("-----").unwrap(),
            &mut PemEnds::default(),
        )
        .unwrap();
        assert!(t[c.start..c.end].ends_with("END PRIVATE KEY-----"));
        let t = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\nAwEHoUQDQgAE";
        let c = pem(t.as_bytes(), 0, &mut PemEnds::default()).unwrap();
        assert_eq!(c.end, t.len());
        let t = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(pem(t.as_bytes(), 0, &mut PemEnds::default()), None);
    }
}
