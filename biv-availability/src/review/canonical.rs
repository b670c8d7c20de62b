//! Canonical JSON (RFC 8785, JCS, for values without fractional numbers), so the digest's hash
//! does not depend on how a JSON library orders keys.

use std::fmt::Write as _;

use serde_json::Value;

/// Appends the canonical form of `value`: no white space, object members sorted by the UTF-16
/// code units of their names, strings escaped as JCS asks (serde_json's escaping: `\"`, `\\`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, other controls as `\u00xx`, everything else as UTF-8).
pub(crate) fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // The digest holds integers only; their decimal text is canonical.
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_members_and_escapes_like_jcs() {
        let v: Value = serde_json::from_str(
            r#"{"b":[1,{"z":null,"a":true}],"a":"x\"\\\b\f\n\r\t\u0001é😀","\u00e9":0,"😀":1,"\uff61":2}"#,
        )
        .unwrap();
        let mut out = String::new();
        write_canonical(&mut out, &v);
        // UTF-16 order: "a" < "b" < "é" (U+00E9) < "😀" (D83D…) < "｡" (U+FF61).
        assert_eq!(
            out,
            "{\"a\":\"x\\\"\\\\\\b\\f\\n\\r\\t\\u0001é😀\",\"b\":[1,{\"a\":true,\"z\":null}],\"é\":0,\"😀\":1,\"｡\":2}"
        );
    }
}
