//! The scanner's shortcuts (docs/performance.md, "Finding personal data"): whole stretches of
//! log digits skipped at once, the date-of-birth hint, `-----BEGIN ` found by substring search,
//! keys that cannot name a secret rejected early (by their last two, then three letters), month
//! names looked up only after a three-letter look, the context words read only up to the
//! nearest phrase. Inputs aimed at each of them stay linear in
//! time, and findings next to the skipped stretches are still found with their exact ranges.
//! (That the shortcuts change no finding at all is checked against a scan without them by the
//! property tests in `src/pii/scanner.rs`.)

use std::time::{Duration, Instant};

use biv_confidentiality::pii::{PiiConfig, PiiScanner, RecordPattern, StreamScanner};
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

#[test]
fn month_names_after_the_three_letter_look() {
    assert_eq!(
        found("sinds 3 weken; geb. 12 mei 1978, pols 72; born Sept. 3, 1961; dob 4 MAART 1950"),
        vec![
            (PiiKind::DateOfBirth, "12 mei 1978"),
            (PiiKind::DateOfBirth, "Sept. 3, 1961"),
            (PiiKind::DateOfBirth, "4 MAART 1950"),
        ]
    );
    // Words that share a month's first or last three letters are still not months.
    assert_eq!(found("geb. 12 meiden 1978, born Octopus 3, 1961"), vec![]);
}

#[test]
fn context_read_up_to_the_nearest_phrase() {
    // The nearest phrase decides; a farther one does not matter.
    assert_eq!(
        found("bsn geb. 12-05-1978 and geb. bsn 111222333"),
        vec![
            (PiiKind::DateOfBirth, "12-05-1978"),
            (PiiKind::Bsn, "111222333")
        ]
    );
    assert_eq!(found("geb. bsn 12-05-1978"), vec![]);
    // A number word one word behind the nearest phrase still weakens a BSN: the word after
    // that phrase is read too.
    let s = PiiScanner::new(&PiiConfig::default().with_min_confidence(0.01))
        .expect("a valid configuration");
    let text = "order tel 111222333 and xx tel 111222333";
    let found = s.scan(text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].confidence < found[1].confidence, "{found:?}");
}

#[test]
fn keys_rejected_by_their_last_letters() {
    assert_eq!(
        found(
            "version=4.2.1 Anamnese: koorts passphrase=correct-horse authorization: Basic dXNlcg== api_key=abc123def456ghi789"
        ),
        vec![
            (PiiKind::Secret, "correct-horse"),
            (PiiKind::Secret, "dXNlcg=="),
            (PiiKind::Secret, "abc123def456ghi789"),
        ]
    );
}

#[test]
fn configured_patterns_at_bytes_other_anchors_check() {
    let config = PiiConfig::default()
        .with_record_pattern(RecordPattern::new(":#{6}"))
        .with_record_pattern(RecordPattern::new("-#{6}"))
        .with_record_pattern(RecordPattern::new("=#{6}"))
        .with_record_pattern(RecordPattern::new("a{2}#{4}"))
        .with_record_pattern(RecordPattern::new("#{25,30}"));
    let s = PiiScanner::new(&config).expect("a valid configuration");
    let text = "(:123456) (-234567) (=345678) bx1234 id 12345678901234567890123456 x";
    let with_patterns: Vec<_> = s
        .scan(text)
        .into_iter()
        .map(|f| (f.kind, &text[f.start..f.end]))
        .collect();
    assert_eq!(
        with_patterns,
        vec![
            (PiiKind::RecordNumber, ":123456"),
            (PiiKind::RecordNumber, "-234567"),
            (PiiKind::RecordNumber, "=345678"),
            (PiiKind::RecordNumber, "bx1234"),
            (PiiKind::RecordNumber, "12345678901234567890123456"),
        ]
    );
    // Without such patterns, a run longer than any built-in kind is nothing.
    assert_eq!(found("id 12345678901234567890123456 x"), vec![]);
}
