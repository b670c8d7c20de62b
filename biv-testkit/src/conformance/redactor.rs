//! Conformance checks for [`Redactor`] implementations.

use std::sync::Arc;

use biv_core::Redactor;

/// Texts with personal data, in the shapes biv sees: a log line, JSON, Dutch prose, a trace.
const SAMPLES: &[&str] = &[
    "GET /patients/search?email=jan.jansen@example.nl 200",
    r#"{"msg":"lookup","bsn":"111222333","user":"u-1042"}"#,
    "Patiënt (BSN 111222333) belde; mail naar jan.jansen@example.nl — geen bijzonderheden.",
    "thread 'main' panicked at 'invalid id 111222333', src/main.rs:10:5",
    "é😀ñ jan.jansen@example.nl ü",
];

const EMAIL: &str = "jan.jansen@example.nl";
/// Passes the 11-proof: 9·1+8·1+7·1+6·2+5·2+4·2+3·3+2·3−1·3 = 66 = 6·11.
const BSN: &str = "111222333";

/// Every finding lies inside the text, on character boundaries, sorted and non-overlapping.
pub async fn findings_are_well_formed(redactor: Arc<dyn Redactor>) {
    for text in SAMPLES {
        let findings = redactor.scan(text);
        let mut end = 0;
        for f in &findings {
            assert!(
                f.start < f.end && f.end <= text.len(),
                "finding {f:?} outside {text:?}"
            );
            assert!(
                text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
                "finding {f:?} splits a character"
            );
            assert!(
                f.start >= end,
                "findings overlap or are unsorted: {findings:?}"
            );
            assert!(
                (0.0..=1.0).contains(&f.confidence),
                "confidence out of range: {f:?}"
            );
            end = f.end;
        }
    }
}

/// What `scan` reports does not survive `redact`.
pub async fn redaction_removes_what_scan_finds(redactor: Arc<dyn Redactor>) {
    for text in SAMPLES {
        let redacted = redactor.redact(text);
        for f in redactor.scan(text) {
            let found = &text[f.start..f.end];
            assert!(
                !redacted.contains(found),
                "{found:?} survived redaction: {redacted:?}"
            );
        }
    }
}

/// Text without personal data passes unchanged and yields no findings.
pub async fn clean_text_is_left_alone(redactor: Arc<dyn Redactor>) {
    let clean = "Controle over 2 weken; bloeddruk 120/80, pols 72. Request took 35 ms.";
    assert!(
        redactor.scan(clean).is_empty(),
        "findings in clean text: {:?}",
        redactor.scan(clean)
    );
    assert_eq!(redactor.redact(clean), clean);
}

/// An e-mail address and a checksum-valid BSN are removed from every sample.
pub async fn email_and_bsn_are_removed(redactor: Arc<dyn Redactor>) {
    for text in SAMPLES {
        let redacted = redactor.redact(text);
        assert!(!redacted.contains(EMAIL), "e-mail survived: {redacted:?}");
        assert!(!redacted.contains(BSN), "BSN survived: {redacted:?}");
    }
}

/// Long and odd inputs neither panic nor blow up the output.
pub async fn hostile_input_is_handled(redactor: Arc<dyn Redactor>) {
    let inputs = [
        "1".repeat(200_000),
        "@".repeat(100_000),
        "a@".repeat(50_000),
        "\u{0}\u{feff}\u{202e}".repeat(10_000),
        "1 ".repeat(100_000),
    ];
    for text in &inputs {
        let redacted = redactor.redact(text);
        assert!(
            redacted.len() <= text.len() * 2 + 64,
            "output grew from {} to {} bytes",
            text.len(),
            redacted.len()
        );
    }
}
