//! Validated identifiers used in audit events.

use std::fmt;
use std::str::FromStr;

use crate::error::{InvalidName, check_name};

/// A 128-bit event identifier, written as a lower-case hyphenated UUID.
///
/// biv-core has no randomness of its own (capabilities are injected): the host makes the 16
/// bytes, normally from a CSPRNG (UUID v4) or as a UUID v7.
///
/// ```
/// use biv_core::EventId;
///
/// let id = EventId::from_bytes([0x5e; 16]);
/// assert_eq!(id.to_string(), "5e5e5e5e-5e5e-5e5e-5e5e-5e5e5e5e5e5e");
/// assert_eq!(id.to_string().parse::<EventId>()?, id);
/// # Ok::<(), biv_core::InvalidName>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId([u8; 16]);

impl EventId {
    /// An id from its 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        EventId(bytes)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl FromStr for EventId {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const RULE: &str = "a lower-case hyphenated UUID (8-4-4-4-12 hex digits)";
        let err = || InvalidName::new("event id", s, RULE);
        let b = s.as_bytes();
        if b.len() != 36 {
            return Err(err());
        }
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut i = 0;
        while i < 36 {
            if matches!(i, 8 | 13 | 18 | 23) {
                if b[i] != b'-' {
                    return Err(err());
                }
                i += 1;
                continue;
            }
            let hi = hex_val(b[i]).ok_or_else(err)?;
            let lo = hex_val(b[i + 1]).ok_or_else(err)?;
            out[n] = hi << 4 | lo;
            n += 1;
            i += 2;
        }
        Ok(EventId(out))
    }
}

impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// A domain action name such as `record.read`, `prescription.update` or `key.shred`.
///
/// Rule: 1–64 characters from `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter. The name
/// says *what* happened in the host's vocabulary; [`EventAction`](crate::EventAction) gives the
/// NEN 7513 class (C/R/U/D/E).
///
/// ```
/// use biv_core::ActionName;
/// assert!(ActionName::new("record.read").is_ok());
/// assert!(ActionName::new("Record Read").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActionName(String);

impl ActionName {
    /// Validates and wraps an action name.
    ///
    /// # Errors
    /// [`InvalidName`] when it breaks the rule above.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidName> {
        let name = name.into();
        check_name(
            "action name",
            &name,
            64,
            |b| b.is_ascii_lowercase(),
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'),
            "1-64 of [a-z0-9._-], starting with a letter",
        )?;
        Ok(ActionName(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ActionName {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ActionName::new(s)
    }
}

impl From<ActionName> for String {
    fn from(n: ActionName) -> String {
        n.0
    }
}

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionName({})", self.0)
    }
}

/// A pseudonymous reference to a patient or other data subject: `scheme:key_id:value`.
///
/// Audit records never hold a BSN or patient number in clear. The host (or
/// biv-confidentiality's pseudonymiser) computes a keyed pseudonym and passes it here, e.g.
/// `hmac-sha256:tenant1-2026:` followed by 64 hex digits. The key id lets the pseudonym key
/// rotate; the scheme names the construction.
///
/// Rules: `scheme` 1–32 of `[a-z0-9-]`; `key_id` 1–64 of `[A-Za-z0-9._-]`; `value` 16–128 of
/// `[A-Za-z0-9_-]` (hex or base64url). The length floor means a 9-digit BSN or a short record
/// number can never pass as a pseudonym by mistake.
///
/// ```
/// use biv_core::SubjectRef;
///
/// let s = SubjectRef::parse("hmac-sha256:t1-2026:9f86d081884c7d659a2feaa0c55ad015")?;
/// assert_eq!(s.key_id(), "t1-2026");
/// assert!(SubjectRef::parse("bsn:plain:123456782").is_err());
/// # Ok::<(), biv_core::InvalidName>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubjectRef {
    text: String,
    scheme_end: usize,
    key_end: usize,
}

impl SubjectRef {
    /// Builds a reference from its three parts.
    ///
    /// # Errors
    /// [`InvalidName`] naming the part that breaks its rule.
    pub fn new(scheme: &str, key_id: &str, value: &str) -> Result<Self, InvalidName> {
        check_name(
            "pseudonym scheme",
            scheme,
            32,
            |b| b.is_ascii_lowercase() || b.is_ascii_digit(),
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
            "1-32 of [a-z0-9-]",
        )?;
        check_name(
            "pseudonym key id",
            key_id,
            64,
            is_key_char,
            is_key_char,
            "1-64 of [A-Za-z0-9._-]",
        )?;
        let value_ok = (16..=128).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !value_ok {
            return Err(InvalidName::new(
                "pseudonym value",
                value,
                "16-128 of [A-Za-z0-9_-] (hex or base64url of a keyed hash)",
            ));
        }
        Ok(SubjectRef {
            text: format!("{scheme}:{key_id}:{value}"),
            scheme_end: scheme.len(),
            key_end: scheme.len() + 1 + key_id.len(),
        })
    }

    /// Parses the `scheme:key_id:value` text form.
    ///
    /// # Errors
    /// [`InvalidName`] when the text does not have three valid parts.
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(s), Some(k), Some(v)) => Self::new(s, k, v),
            _ => Err(InvalidName::new(
                "subject reference",
                "<not shown>",
                "scheme:key_id:value",
            )),
        }
    }

    /// The pseudonym construction, e.g. `hmac-sha256`.
    pub fn scheme(&self) -> &str {
        &self.text[..self.scheme_end]
    }

    /// The id of the key the pseudonym was made with.
    pub fn key_id(&self) -> &str {
        &self.text[self.scheme_end + 1..self.key_end]
    }

    /// The pseudonym itself.
    pub fn value(&self) -> &str {
        &self.text[self.key_end + 1..]
    }

    /// The whole text form.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Free-text or structured detail of an event, sealed for its data subject: the text form of a
/// biv ciphertext (`bv1:` followed by unpadded base64url).
///
/// Audit entries never hold prose or clinical detail in clear. The host encrypts the detail with
/// the data subject's key (biv-confidentiality's `Encryptor`) and stores only this sealed form in
/// the log; erasing the subject's key (crypto-shredding) makes the detail unreadable while every
/// proof over the log stays valid, because the hashed bytes do not change.
///
/// Rule: `bv1:` then 1–65,000 characters of `[A-Za-z0-9_-]`.
///
/// ```
/// use biv_core::SealedDetail;
/// assert!(SealedDetail::parse("bv1:AQEBAAAAAAAAACoKCwwNDg8QERITFA").is_ok());
/// assert!(SealedDetail::parse("patient complained about dizziness").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SealedDetail(String);

impl SealedDetail {
    /// Validates the text form.
    ///
    /// # Errors
    /// [`InvalidName`] when the text is not `bv1:` plus base64url.
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        let body = text.strip_prefix("bv1:").unwrap_or("");
        let ok = !body.is_empty()
            && body.len() <= 65_000
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(SealedDetail(text.to_owned()))
        } else {
            Err(InvalidName::new(
                "sealed detail",
                "<not shown>",
                "bv1: followed by 1-65000 base64url characters",
            ))
        }
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SealedDetail {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SealedDetail::parse(&s)
    }
}

impl From<SealedDetail> for String {
    fn from(s: SealedDetail) -> String {
        s.0
    }
}

impl fmt::Debug for SealedDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedDetail(<{} chars>)", self.0.len())
    }
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

impl TryFrom<String> for SubjectRef {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SubjectRef::parse(&s)
    }
}

impl From<SubjectRef> for String {
    fn from(s: SubjectRef) -> String {
        s.text
    }
}

impl fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for SubjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectRef({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_rejects_malformed_text() {
        for bad in [
            "",
            "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e",
            "5E5E5E5E-5E5E-5E5E-5E5E-5E5E5E5E5E5E",
            "5e5e5e5e-5e5e-5e5e-5e5e-5e5e5e5e5e5g",
            "5e5e5e5e-5e5e-5e5e-5e5e5-e5e5e5e5e5e",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn subject_ref_parts_and_rules() {
        let s = SubjectRef::new("hmac-sha256", "k.1", "abcdefABCDEF0123_-").unwrap();
        assert_eq!(
            (s.scheme(), s.key_id(), s.value()),
            ("hmac-sha256", "k.1", "abcdefABCDEF0123_-")
        );
        assert_eq!(SubjectRef::parse(s.as_str()).unwrap(), s);
        assert!(SubjectRef::new("HMAC", "k", "abcdefabcdefabcd").is_err());
        assert!(SubjectRef::new("hmac", "", "abcdefabcdefabcd").is_err());
        assert!(SubjectRef::new("hmac", "k", "123456782").is_err());
        assert!(SubjectRef::new("hmac", "k", "abcdefabcdefabc:").is_err());
        assert!(SubjectRef::parse("hmac:k").is_err());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SubjectRef>(&json).unwrap(), s);
        assert!(serde_json::from_str::<SubjectRef>("\"bsn:x:123\"").is_err());
    }

    #[test]
    fn action_name_rule() {
        for good in ["record.read", "a", "key.shred-v2_x"] {
            assert!(ActionName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "1read", "Read", "record read", &"a".repeat(65)] {
            assert!(ActionName::new(bad).is_err(), "{bad}");
        }
    }
}
