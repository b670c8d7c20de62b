//! Normalisers: the canonical form of a value before it is indexed, so equal values index equal.

use super::BlindIndexError;

/// How a value is normalised before indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Normalizer {
    /// The bytes as given.
    Exact,
    /// Leading and trailing white space removed.
    Trim,
    /// A BSN: digits with optional spaces, dots or dashes; eight digits get their leading zero
    /// back; the 11-proof must hold and `000000000` is refused.
    Bsn,
    /// An e-mail address: trimmed and lower-cased.
    EmailLower,
    /// Only the ASCII digits (phone numbers, record numbers); at least one.
    Digits,
    /// The last four digits (for "last four of the BSN" style lookups); at least four.
    Last4,
}

impl Normalizer {
    /// The normalised form of `value`.
    ///
    /// # Errors
    /// [`BlindIndexError::InvalidValue`] when the value cannot have this form.
    pub fn apply(self, value: &str) -> Result<String, BlindIndexError> {
        let invalid = |reason: &'static str| BlindIndexError::InvalidValue {
            normalizer: self,
            reason,
        };
        match self {
            Normalizer::Exact => Ok(value.to_owned()),
            Normalizer::Trim => Ok(value.trim().to_owned()),
            Normalizer::EmailLower => {
                let v = value.trim();
                if v.is_empty() || !v.contains('@') {
                    return Err(invalid("not an e-mail address"));
                }
                Ok(v.to_lowercase())
            }
            Normalizer::Digits => {
                let d: String = value.chars().filter(char::is_ascii_digit).collect();
                if d.is_empty() {
                    Err(invalid("no digits"))
                } else {
                    Ok(d)
                }
            }
            Normalizer::Last4 => {
                let d: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
                if d.len() < 4 {
                    return Err(invalid("fewer than four digits"));
                }
                Ok(d[d.len() - 4..].iter().collect())
            }
            Normalizer::Bsn => {
                let v = value.trim();
                if !v
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-'))
                {
                    return Err(invalid("a BSN holds only digits and separators"));
                }
                let mut d: String = v.chars().filter(char::is_ascii_digit).collect();
                if d.len() == 8 {
                    d.insert(0, '0');
                }
                if d.len() != 9 {
                    return Err(invalid(
                        "a BSN has 9 digits (or 8 without its leading zero)",
                    ));
                }
                if d == "000000000" || !eleven_proof(&d) {
                    return Err(invalid("fails the 11-proof"));
                }
                Ok(d)
            }
        }
    }
}

/// The BSN 11-proof: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11).
fn eleven_proof(digits: &str) -> bool {
    let sum: i64 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = i64::from(b - b'0');
            if i == 8 { -d } else { d * (9 - i as i64) }
        })
        .sum();
    sum % 11 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsn_forms_normalise_to_one_value() {
        for form in ["111222333", " 111 222 333 ", "111.222.333", "111-222-333"] {
            assert_eq!(Normalizer::Bsn.apply(form).unwrap(), "111222333", "{form}");
        }
        assert_eq!(Normalizer::Bsn.apply("12345672").unwrap(), "012345672");
        for bad in ["111222334", "000000000", "1112223333", "11122233a", ""] {
            assert!(Normalizer::Bsn.apply(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_normalisers() {
        assert_eq!(
            Normalizer::EmailLower
                .apply(" Jan.Jansen@Example.NL ")
                .unwrap(),
            "jan.jansen@example.nl"
        );
        assert!(Normalizer::EmailLower.apply("no at sign").is_err());
        assert_eq!(
            Normalizer::Digits.apply("+31 (0)6-1234 5678").unwrap(),
            "310612345678"
        );
        assert_eq!(Normalizer::Last4.apply("111 222 333").unwrap(), "2333");
        assert!(Normalizer::Last4.apply("12").is_err());
        assert_eq!(Normalizer::Trim.apply("  a b  ").unwrap(), "a b");
        assert_eq!(Normalizer::Exact.apply(" a ").unwrap(), " a ");
    }
}
