//! The scanner's shortcuts (docs/performance.md, "Finding personal data"): whole stretches of
//! log digits skipped at once, the date-of-birth hint, `-----BEGIN ` found by substring search,
//! keys that cannot name a secret rejected early. Inputs aimed at each of them stay linear in
//! time, and findings next to the skipped stretches are still found with their exact ranges.
//! (That the shortcuts change no finding at all is checked against a scan without them by the
//! property tests in `src/pii/scanner.rs`.)

use std::time::{Duration, Instant};

use biv_confidentiality::pii::{PiiConfig, PiiScanner, StreamScanner};
use biv_core::PiiKind;

fn scanner() -> PiiScanner {
    PiiScanner::new(&PiiConfig::default()).expect("the default configuration is valid")
}

fn found(text: &str) -> Vec<(PiiKind, &str)> {
    scanner()
        .scan(text)
        .into_iter()
        .map(|f| (f.kind, &text[f.start..f.end]))
        .collect()
}

#[test]
fn shortcut_inputs_are_linear() {
    let s = scanner();
    let inputs: Vec<String> = vec![
        "1.".repeat(1_000_000),
        "1a".repeat(1_000_000),
        "12:".repeat(700_000),
        "2024-03-12T14:02:11.482Z ".repeat(80_000),
        "b".repeat(2_000_000),
        "b 1 ".repeat(500_000),
        "geb 1 ".repeat(300_000),
        "dob 1-2-3 ".repeat(200_000),
        "x ".repeat(1_000_000) + "geb. 12-05-1978",
        "-----BEGIN ".repeat(200_000),
        "------BEGIN PRIVATE KEY-----".repeat(70_000),
        "level=1 ".repeat(250_000),
        format!("{}password=x", "a".repeat(2_000_000)),
        "\"status\":200,".repeat(150_000),
        "March 3 1961 ".repeat(150_000),
    ];
    for input in &inputs {
        let start = Instant::now();
        let findings = s.scan(input);
        let took = start.elapsed();
        assert!(findings.len() <= input.len());
        assert!(
            took < Duration::from_secs(20),
            "{} bytes starting {:?} took {took:?}",
            input.len(),
            &input[..20]
        );
    }
}

#[test]
fn findings_right_after_skipped_stretches() {
    assert_eq!(
        found("2024-03-12T14:02:11.482Z bsn=111222333 10.0.12.7 tel 06-12345678"),
        vec![(PiiKind::Bsn, "111222333"), (PiiKind::Phone, "06-12345678")]
    );
    assert_eq!(
        found("id=0192f3a4-5b6c-7d8e 3511 LX 12 heap=2048 MB"),
        vec![(PiiKind::Postcode, "3511 LX 12")]
    );
    assert_eq!(
        found("v4.2.1 geboren op 3-4-1956, 14:02 x 12-05-1978"),
        vec![(PiiKind::DateOfBirth, "3-4-1956")]
    );
    assert_eq!(
        found("D.O.B. 12.05.1978; born March 3, 1961"),
        vec![
            (PiiKind::DateOfBirth, "12.05.1978"),
            (PiiKind::DateOfBirth, "March 3, 1961")
        ]
    );
    assert_eq!(
        found(
            "ts=12:30:01 follow-up x-y --- -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY----- ok"
        ),
        vec![(
            PiiKind::Secret,
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"
        )]
    );
    assert_eq!(
        found(r#"{"log.level":"info","status":200,"db_password":"s3cr3t","pid":4821}"#),
        vec![(PiiKind::Secret, "s3cr3t")]
    );
    assert_eq!(
        found("BSN 1112.22.333 and 1.2.3 and 111 222 333 and 12-34-567"),
        vec![(PiiKind::Bsn, "1112.22.333"), (PiiKind::Bsn, "111 222 333")]
    );
}

#[test]
fn a_pem_line_split_across_chunks_is_found() {
    let text = b"x-y ------BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
    let s = scanner();
    let whole = s.scan_bytes(text);
    assert_eq!(whole.len(), 1);
    for cut in 1..text.len() {
        let mut stream = StreamScanner::new(&s);
        let mut out = Vec::new();
        stream.push(&text[..cut], &mut out);
        stream.push(&text[cut..], &mut out);
        stream.finish(&mut out);
        assert_eq!(out, whole, "cut at {cut}");
    }
}
