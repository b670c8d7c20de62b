//! Applying an [`Operator`] to one finding.

use biv_core::PiiKind;

use crate::pii::config::Operator;
use crate::pii::pseudonym::PseudonymKey;

/// The longest replacement any operator writes for one finding, in bytes: a pseudonym with the
/// longest kind name and key id. (A mask is at most `[DATE_OF_BIRTH]`, 15 bytes.) The output of
/// a redaction is therefore at most the input plus this much per finding.
pub const MAX_REPLACEMENT_LEN: usize = crate::pii::pseudonym::MAX_PSEUDONYM_LEN;

/// Appends what `operator` puts in place of `value`, a finding of `kind`. A pseudonym without a
/// key falls back to the mask (the redactor refuses such a configuration up front; this keeps a
/// finding from ever being written in clear).
pub(crate) fn apply(
    operator: Operator,
    kind: PiiKind,
    value: &[u8],
    key: Option<&PseudonymKey>,
    out: &mut Vec<u8>,
) {
    match (operator, key) {
        (Operator::Drop, _) => {}
        (Operator::Pseudonym, Some(key)) => {
            out.extend_from_slice(key.pseudonym(kind, value).as_bytes())
        }
        _ => {
            out.push(b'[');
            out.extend(kind.as_str().bytes().map(|b| b.to_ascii_uppercase()));
            out.push(b']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use biv_core::SecretBytes;

    #[test]
    fn each_operator() {
        let key = PseudonymKey::new("t1", SecretBytes::new(vec![1; 32])).unwrap();
        let run = |op, key| {
            let mut out = Vec::new();
            apply(op, PiiKind::DateOfBirth, b"12-05-1978", key, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(run(Operator::Mask, None), "[DATE_OF_BIRTH]");
        assert_eq!(run(Operator::Mask, None), PiiKind::DateOfBirth.mask());
        assert_eq!(run(Operator::Drop, Some(&key)), "");
        assert_eq!(run(Operator::Pseudonym, None), "[DATE_OF_BIRTH]");
        let p = run(Operator::Pseudonym, Some(&key));
        assert!(
            p.starts_with("date_of_birth_t1_") && p.len() <= MAX_REPLACEMENT_LEN,
            "{p}"
        );
    }
}
