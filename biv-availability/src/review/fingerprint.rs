//! Error fingerprints: the same error with different ids, numbers or quoted values gets the
//! same fingerprint, so the digest can count it and tell a new error from a known one.

use sha2::{Digest as _, Sha256};

/// Characters of a text that normalisation looks at; the rest is ignored (very long messages
/// are fingerprinted by their first 4,096 characters).
pub const MAX_NORMALIZED_INPUT_CHARS: usize = 4096;

/// Replaces the variable parts of an error text with placeholders, so texts that differ only
/// in them compare equal. At each position where a token can start (the start of the text, or
/// after a character that is not a letter or digit) the first rule that matches applies:
///
/// | rule | example | placeholder |
/// |---|---|---|
/// | a string in `"…"` or `` `…` ``, or in `'…'` that opens and closes at a word boundary | `"u-1042"` | `<str>` |
/// | a UUID (8-4-4-4-12 hex digits) | `200d7b0c-26aa-4c8b-91b2-509c050b38fd` | `<uuid>` |
/// | an e-mail address | `a.devries@zorg.example` | `<email>` |
/// | an RFC 3339 / ISO 8601 date or date-time | `2026-11-26T09:30:00.123Z` | `<time>` |
/// | an IPv4 address, with a port if any | `10.20.4.17:5432` | `<ip>` |
/// | `0x` and hex digits, or 8+ hex digits holding both a digit and a letter a–f | `0x7f3a`, `ab25036f58a3` | `<hex>` |
/// | a number, with a decimal fraction if any | `5000`, `12.5` | `<n>` |
///
/// Digits glued to letters before them (`http2`, `sha256`, `worker3`) are part of a name and
/// stay. White space runs become one space; the result is trimmed. Placeholders from the
/// redactor (`[BSN]`) are constant already and stay.
///
/// ```
/// use biv_availability::review::normalize_error_text;
///
/// assert_eq!(
///     normalize_error_text("record mr-20431 not found for user \"u-1042\" after 5000ms"),
///     "record mr-<n> not found for user <str> after <n>ms"
/// );
/// assert_eq!(
///     normalize_error_text("lock 200d7b0c-26aa-4c8b-91b2-509c050b38fd held by 10.0.0.7:5432 since 2026-11-26T09:30:00Z"),
///     "lock <uuid> held by <ip> since <time>"
/// );
/// assert_eq!(normalize_error_text("mail to a.b@zorg.example failed: can't  connect"), "mail to <email> failed: can't connect");
/// ```
pub fn normalize_error_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().take(MAX_NORMALIZED_INPUT_CHARS).collect();
    let mut out = String::with_capacity(text.len().min(MAX_NORMALIZED_INPUT_CHARS));
    let mut pending_space = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            i += 1;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        let boundary = i == 0 || chars.get(i - 1).is_some_and(|p| !p.is_alphanumeric());
        match placeholder_at(&chars, i, boundary) {
            Some((len, placeholder)) => {
                out.push_str(placeholder);
                i += len.max(1);
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The fingerprint of an error: the first 16 hex digits of
/// `SHA-256("biv-error-fingerprint/v1\n" ‖ N(error.type) ‖ "\n" ‖ N(message) ‖ "\n" ‖ N(error.message))`
/// where `N` is [`normalize_error_text`] and an absent field is the empty text.
///
/// ```
/// use biv_availability::review::error_fingerprint;
///
/// let a = error_fingerprint(Some("io"), Some("lookup failed"), Some("timeout after 5000 ms on 10.0.0.7"));
/// let b = error_fingerprint(Some("io"), Some("lookup failed"), Some("timeout after 250 ms on 10.0.0.9"));
/// let c = error_fingerprint(Some("db"), Some("lookup failed"), Some("timeout after 250 ms on 10.0.0.9"));
/// assert_eq!(a, b);
/// assert_ne!(b, c);
/// assert_eq!(a.len(), 16);
/// ```
pub fn error_fingerprint(
    error_type: Option<&str>,
    message: Option<&str>,
    error_message: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"biv-error-fingerprint/v1\n");
    for (i, part) in [error_type, message, error_message].into_iter().enumerate() {
        if i > 0 {
            hasher.update(b"\n");
        }
        hasher.update(normalize_error_text(part.unwrap_or_default()).as_bytes());
    }
    hex(&hasher.finalize()[..8])
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Length of the token a rule matches at a position.
type Rule = fn(&[char], usize) -> Option<usize>;

fn placeholder_at(chars: &[char], i: usize, boundary: bool) -> Option<(usize, &'static str)> {
    let c = *chars.get(i)?;
    if c == '"' || c == '`' || (c == '\'' && boundary) {
        let close = chars.get(i + 1..)?.iter().position(|&d| d == c)? + i + 1;
        let glued = chars.get(close + 1).is_some_and(|d| d.is_alphanumeric());
        return (c != '\'' || !glued).then_some((close - i + 1, "<str>"));
    }
    if !boundary {
        return None;
    }
    let rules: [(Rule, &'static str); 6] = [
        (uuid_len, "<uuid>"),
        (email_len, "<email>"),
        (time_len, "<time>"),
        (ipv4_len, "<ip>"),
        (hex_len, "<hex>"),
        (number_len, "<n>"),
    ];
    rules
        .iter()
        .find_map(|(rule, placeholder)| rule(chars, i).map(|len| (len, *placeholder)))
}

fn at(chars: &[char], i: usize) -> char {
    chars.get(i).copied().unwrap_or('\0')
}

/// Length of the run from `i` of characters satisfying `f`.
fn run(chars: &[char], i: usize, f: impl Fn(char) -> bool) -> usize {
    chars
        .get(i..)
        .map_or(0, |rest| rest.iter().take_while(|&&c| f(c)).count())
}

/// A token must not continue into letters or digits.
fn ends_token(chars: &[char], end: usize) -> bool {
    !at(chars, end).is_alphanumeric()
}

fn uuid_len(chars: &[char], i: usize) -> Option<usize> {
    let mut pos = i;
    for (n, group) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if n > 0 {
            (at(chars, pos) == '-').then_some(())?;
            pos += 1;
        }
        (run(chars, pos, |c| c.is_ascii_hexdigit()) >= group).then_some(())?;
        pos += group;
    }
    ends_token(chars, pos).then_some(pos - i)
}

fn email_len(chars: &[char], i: usize) -> Option<usize> {
    let local = run(chars, i, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
    });
    (local > 0 && at(chars, i + local) == '@').then_some(())?;
    let start = i + local + 1;
    let mut domain = run(chars, start, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
    });
    while domain > 0 && at(chars, start + domain - 1) == '.' {
        domain -= 1;
    }
    let text: String = chars.get(start..start + domain)?.iter().collect();
    (text.contains('.') && !text.starts_with('.')).then_some(local + 1 + domain)
}

/// Exactly `n` ASCII digits at `i`.
fn digits(chars: &[char], i: usize, n: usize) -> bool {
    (i..i + n).all(|j| at(chars, j).is_ascii_digit())
}

fn time_len(chars: &[char], i: usize) -> Option<usize> {
    let date = digits(chars, i, 4)
        && at(chars, i + 4) == '-'
        && digits(chars, i + 5, 2)
        && at(chars, i + 7) == '-'
        && digits(chars, i + 8, 2);
    date.then_some(())?;
    let mut pos = i + 10;
    if matches!(at(chars, pos), 'T' | 't' | ' ')
        && digits(chars, pos + 1, 2)
        && at(chars, pos + 3) == ':'
        && digits(chars, pos + 4, 2)
    {
        pos += 6;
        if at(chars, pos) == ':' && digits(chars, pos + 1, 2) {
            pos += 3;
            if matches!(at(chars, pos), '.' | ',') && at(chars, pos + 1).is_ascii_digit() {
                pos += 1 + run(chars, pos + 1, |c| c.is_ascii_digit());
            }
        }
        match at(chars, pos) {
            'Z' | 'z' => pos += 1,
            '+' | '-' if digits(chars, pos + 1, 2) => {
                pos += 3;
                if at(chars, pos) == ':' && digits(chars, pos + 1, 2) {
                    pos += 3;
                } else if digits(chars, pos, 2) {
                    pos += 2;
                }
            }
            _ => {}
        }
    }
    ends_token(chars, pos).then_some(pos - i)
}

fn ipv4_len(chars: &[char], i: usize) -> Option<usize> {
    let mut pos = i;
    for n in 0..4 {
        if n > 0 {
            (at(chars, pos) == '.').then_some(())?;
            pos += 1;
        }
        let d = run(chars, pos, |c| c.is_ascii_digit());
        (1..=3).contains(&d).then_some(())?;
        pos += d;
    }
    if at(chars, pos) == ':' {
        let port = run(chars, pos + 1, |c| c.is_ascii_digit());
        if port > 0 {
            pos += 1 + port;
        }
    }
    ends_token(chars, pos).then_some(pos - i)
}

fn hex_len(chars: &[char], i: usize) -> Option<usize> {
    if at(chars, i) == '0' && matches!(at(chars, i + 1), 'x' | 'X') {
        let n = run(chars, i + 2, |c| c.is_ascii_hexdigit());
        return (n > 0 && ends_token(chars, i + 2 + n)).then_some(n + 2);
    }
    let n = run(chars, i, |c| c.is_ascii_hexdigit());
    let token = chars.get(i..i + n)?;
    let mixed = token.iter().any(char::is_ascii_digit) && token.iter().any(|c| c.is_alphabetic());
    (n >= 8 && mixed && ends_token(chars, i + n)).then_some(n)
}

fn number_len(chars: &[char], i: usize) -> Option<usize> {
    let whole = run(chars, i, |c| c.is_ascii_digit());
    (whole > 0).then_some(())?;
    let mut len = whole;
    if at(chars, i + len) == '.' {
        let fraction = run(chars, i + len + 1, |c| c.is_ascii_digit());
        if fraction > 0 {
            len += 1 + fraction;
        }
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_replaces_its_token() {
        for (input, expected) in [
            (
                "id 200D7B0C-26AA-4C8B-91B2-509C050B38FD gone",
                "id <uuid> gone",
            ),
            ("to <a_b+c@mail.zorg.nl>.", "to <<email>>."),
            ("at 2026-11-26 09:30:00,5+01:00 ok", "at <time> ok"),
            ("on 2026-11-26", "on <time>"),
            ("peer 192.168.1.20 refused", "peer <ip> refused"),
            (
                "ptr 0xDEADbeef and sha ab25036f58a3",
                "ptr <hex> and sha <hex>",
            ),
            (
                "deadbeefcafe stays, 12345678 is a number",
                "deadbeefcafe stays, <n> is a number",
            ),
            (
                "took 12.5s, -3 left, v2 http2 sha256",
                "took <n>s, -<n> left, v2 http2 sha256",
            ),
            ("say 'hello there' don't `cmd 1`", "say <str> don't <str>"),
            ("unclosed \"quote 12", "unclosed \"quote <n>"),
            ("  lots \n\t of   space  ", "lots of space"),
            ("user [BSN] not found", "user [BSN] not found"),
        ] {
            assert_eq!(normalize_error_text(input), expected, "{input}");
        }
    }

    #[test]
    fn fingerprint_separates_fields() {
        assert_ne!(
            error_fingerprint(Some("a"), Some("b"), None),
            error_fingerprint(None, Some("a"), Some("b"))
        );
        assert_eq!(
            error_fingerprint(None, Some("x"), None),
            error_fingerprint(Some(" "), Some("x"), Some(""))
        );
    }
}
