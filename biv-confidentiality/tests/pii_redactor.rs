//! `PiiRedactor` against biv-core's `Redactor` contract (biv-testkit's conformance checks), with
//! each operator; and bad input: invalid UTF-8, huge lines, binary noise, adversarial repeats.

use std::time::{Duration, Instant};

use biv_confidentiality::pii::{
    MAX_REPLACEMENT_LEN, Operator, PiiConfig, PiiRedactor, PseudonymKey,
};
use biv_core::{PiiKind, Redactor, SecretBytes};
use proptest::prelude::*;

fn masking() -> PiiRedactor {
    PiiRedactor::new(&PiiConfig::default()).expect("the default configuration is valid")
}

fn pseudonymising() -> PiiRedactor {
    let mut config = PiiConfig::default();
    for kind in [PiiKind::Bsn, PiiKind::Email, PiiKind::Iban, PiiKind::Phone] {
        config = config.with_operator(kind, Operator::Pseudonym);
    }
    let key = PseudonymKey::new("t1", SecretBytes::new(vec![9; 32])).expect("a valid key");
    PiiRedactor::with_pseudonym_key(&config, key).expect("a valid configuration")
}

fn dropping() -> PiiRedactor {
    let mut config = PiiConfig::default();
    for kind in [PiiKind::Bsn, PiiKind::Email, PiiKind::Secret] {
        config = config.with_operator(kind, Operator::Drop);
    }
    PiiRedactor::new(&config).expect("a valid configuration")
}

mod masks {
    use super::*;
    biv_testkit::redactor_conformance!(masking());
}

mod pseudonyms {
    use super::*;
    biv_testkit::redactor_conformance!(pseudonymising());
}

mod drops {
    use super::*;
    biv_testkit::redactor_conformance!(dropping());
}

/// Each hostile input is scanned within a generous time budget (linear time: no input makes the
/// scanner backtrack).
#[test]
fn hostile_inputs_are_linear_and_bounded() {
    let r = masking();
    let inputs: Vec<Vec<u8>> = vec![
        "1".repeat(2_000_000).into_bytes(),
        "1 ".repeat(300_000).into_bytes(),
        "1-".repeat(1_000_000).into_bytes(),
        "111222333 ".repeat(200_000).into_bytes(),
        "@".repeat(2_000_000).into_bytes(),
        "a@".repeat(1_000_000).into_bytes(),
        format!("{}@", "a.".repeat(1_000_000)).into_bytes(),
        format!("{}@{}", "a".repeat(1_000_000), "b.".repeat(500_000)).into_bytes(),
        "password=".repeat(200_000).into_bytes(),
        "token=x".repeat(300_000).into_bytes(),
        "Bearer ".repeat(300_000).into_bytes(),
        "-----BEGIN PRIVATE KEY-----".repeat(40_000).into_bytes(),
        "NL91 ".repeat(400_000).into_bytes(),
        "+31 ".repeat(500_000).into_bytes(),
        "(0".repeat(300_000).into_bytes(),
        "geb. 12-05-1978 ".repeat(120_000).into_bytes(),
        "1234 AB ".repeat(250_000).into_bytes(),
        "%40".repeat(200_000).into_bytes(),
        format!("{}@", "x://a:".repeat(300_000)).into_bytes(),
        (0..2_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect(),
    ];
    for input in &inputs {
        let start = Instant::now();
        let out = r.redact_bytes(input);
        let took = start.elapsed();
        let findings = r.scanner().scan_bytes(input).len();
        assert!(
            out.len() <= input.len() + findings * MAX_REPLACEMENT_LEN,
            "output {} for input {}",
            out.len(),
            input.len()
        );
        assert!(
            took < Duration::from_secs(20),
            "{} bytes starting {:?} took {took:?}",
            input.len(),
            String::from_utf8_lossy(&input[..20])
        );
    }
}

#[test]
fn a_long_line_of_real_text_is_fully_redacted() {
    let r = masking();
    let line = "bsn=111222333 mail=jan@example.nl ".repeat(50_000);
    let out = r.redact(&line);
    assert!(!out.contains("111222333") && !out.contains("jan@example.nl"));
    assert_eq!(out, "bsn=[BSN] mail=[EMAIL] ".repeat(50_000));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes: no panic, findings well-formed, output bounded, str and bytes APIs agree.
    #[test]
    fn any_bytes(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let r = masking();
        let findings = r.scanner().scan_bytes(&input);
        let mut end = 0;
        for f in &findings {
            prop_assert!(f.start >= end && f.start < f.end && f.end <= input.len());
            prop_assert!((0.0..=1.0).contains(&f.confidence));
            end = f.end;
        }
        let out = r.redact_bytes(&input);
        prop_assert!(out.len() <= input.len() + findings.len() * MAX_REPLACEMENT_LEN);
        if let Ok(text) = std::str::from_utf8(&input) {
            let redacted = r.redact(text);
            prop_assert_eq!(redacted.as_bytes(), &*out);
        }
    }

    /// Text built from PII-like pieces: streaming in random chunk sizes gives exactly the
    /// whole-input result.
    #[test]
    fn streaming_matches_whole_input(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("BSN 111222333 "), Just("1112.22.333"), Just("jan@example.nl"), Just("%40"),
                Just("NL91ABNA0417164300"), Just("NL91 ABNA 0417 1643 00"), Just("06-12345678"),
                Just("+31 6 12345678"), Just("geb. 12-05-1978"), Just("3511 LX 12"), Just("AGB 01234567"),
                Just("password=Hunter2"), Just("Bearer eyJhbGciOi.x9"), Just("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"),
                Just(" "), Just("\n"), Just("x"), Just("1"), Just("é"), Just(":"), Just("="), Just("@"), Just("-"),
            ],
            0..200,
        ),
        chunk in 1usize..300,
    ) {
        let input: String = pieces.concat();
        let r = pseudonymising();
        let whole = r.redact_bytes(input.as_bytes()).into_owned();
        let mut stream = r.stream();
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(chunk) {
            stream.push(c, &mut out);
        }
        stream.finish(&mut out);
        prop_assert_eq!(out, whole);
    }
}

#[test]
fn idempotent_on_its_own_output() {
    let r = pseudonymising();
    let text = "BSN 111222333, jan@example.nl, NL91ABNA0417164300, 06-12345678, password=x1";
    let once = r.redact(text).into_owned();
    assert_eq!(r.redact(&once), once, "redacting twice changes nothing");
    let m = masking();
    let masked = m.redact(text).into_owned();
    assert_eq!(m.redact(&masked), masked);
}
