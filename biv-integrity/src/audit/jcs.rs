//! RFC 8785 JSON Canonicalization Scheme (JCS) for the values audit entries hold.

use serde_json::Value;

/// Why a JSON value has no canonical form here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalJsonError {
    /// A number that is not an integer of magnitude below 2^53. RFC 8785 serialises such numbers
    /// in ECMAScript's form; audit entries contain none, so biv refuses them rather than risk a
    /// form another implementation would not reproduce.
    #[error("number {0} is not an integer below 2^53; audit entries carry no such numbers")]
    UnsupportedNumber(String),
}

/// Serialises `value` in RFC 8785 canonical form: no white space, object members sorted by the
/// UTF-16 code units of their names, strings with the minimal escapes of ECMAScript's
/// `JSON.stringify`, integers in plain decimal.
///
/// # Errors
/// [`CanonicalJsonError::UnsupportedNumber`] for non-integers and integers of 2^53 or more.
///
/// ```
/// use biv_integrity::audit::canonical_json;
/// let v = serde_json::json!({"b": [true, null], "a": "é\n", "€": 1});
/// assert_eq!(canonical_json(&v)?, r#"{"a":"é\n","b":[true,null],"€":1}"#.as_bytes());
/// # Ok::<(), biv_integrity::audit::CanonicalJsonError>(())
/// ```
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, CanonicalJsonError> {
    let mut out = Vec::with_capacity(512);
    write_value(value, &mut out)?;
    Ok(out)
}

const SAFE_INTEGER: u64 = 1 << 53;

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalJsonError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let text = if let Some(u) = n.as_u64().filter(|u| *u < SAFE_INTEGER) {
                u.to_string()
            } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() < SAFE_INTEGER) {
                i.to_string()
            } else {
                return Err(CanonicalJsonError::UnsupportedNumber(n.to_string()));
            };
            out.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(member, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        String::from_utf8(canonical_json(v).unwrap()).unwrap()
    }

    #[test]
    fn rfc_8785_string_escapes() {
        // RFC 8785 §3.2.2.2: only these are escaped; everything else, U+2028 and DEL included,
        // stays literal.
        let v = json!("\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\"\\/\u{7f}\u{2028}é😀");
        assert_eq!(
            canon(&v),
            "\"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\\\"\\\\/\u{7f}\u{2028}é😀\""
        );
    }

    #[test]
    fn members_sort_by_utf16_code_units() {
        // RFC 8785 §3.2.3's sorting example: U+1F600 is the surrogate pair D83D DE00, so it
        // sorts after U+20AC and before U+FB33, unlike in code-point order.
        let v = json!({"\u{fb33}": 7, "😀": 6, "€": 5, "ö": 4, "\u{80}": 3, "1": 2, "\r": 1});
        assert_eq!(
            canon(&v),
            "{\"\\r\":1,\"1\":2,\"\u{80}\":3,\"ö\":4,\"€\":5,\"😀\":6,\"\u{fb33}\":7}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            canon(&json!([0, -1, 9007199254740991_u64, -9007199254740991_i64])),
            "[0,-1,9007199254740991,-9007199254740991]"
        );
        for bad in [
            json!(1.5),
            json!(9007199254740992_u64),
            json!(-9007199254740992_i64),
            json!(1e300),
        ] {
            assert!(
                matches!(
                    canonical_json(&bad),
                    Err(CanonicalJsonError::UnsupportedNumber(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn nesting_and_literals() {
        let v = json!({"z": {"b": [], "a": {}}, "a": [null, true, false, "x"]});
        assert_eq!(
            canon(&v),
            r#"{"a":[null,true,false,"x"],"z":{"a":{},"b":[]}}"#
        );
    }
}
