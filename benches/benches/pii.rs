//! Finding personal data: biv's single-pass scanner against the baseline a host would otherwise
//! write — the `regex` crate running one regular expression per kind over the same text (nine
//! passes), with the same checksum validation for BSN and IBAN.
//!
//! Two texts of 1 MiB: Dutch and English clinical prose and log lines without personal data,
//! and the same text with one finding per KiB (the nine kinds in turn).
//!
//! Single criterion runs move by ±30 % on a shared machine. For a steadier figure, set
//! `BIV_PII_BEST_OF=15` (any count): instead of criterion, the scan, the redaction and the
//! baseline then run interleaved (scan, redact, baseline, scan, …) that many times per text,
//! and the best time of each is printed with the ratio. `BIV_PII_ONLY=scan_dirty` (or
//! `scan_clean`, `baseline_dirty`, …) runs just one of them in a loop of that many
//! iterations, for a profiler.

use std::hint::black_box;
use std::time::{Duration, Instant};

use biv_confidentiality::pii::{PiiConfig, PiiRedactor, PiiScanner};
use biv_core::Redactor;
use criterion::{Criterion, Throughput, criterion_group};
use regex::Regex;

const SIZE: usize = 1 << 20;

/// Text without personal data: prose with numbers, timestamps, ids, amounts, versions.
const CLEAN: &[&str] = &[
    "Anamnese: sinds 3 weken hoesten, koorts tot 38,9 °C, 2x per nacht zweten. ",
    "Controle over 2 weken; bloeddruk 120/80, pols 72, saturatie 97%. ",
    "Lab: Hb 8,1 mmol/L, CRP 14 mg/L, eGFR 58 ml/min/1,73m², kalium 4,2. ",
    "Follow-up in 3 months. HbA1c 48 mmol/mol, LDL 2.9; continue metformin 500 mg twice daily. ",
    "2024-03-12T14:02:11.482Z INFO  http.server GET /health 200 512B in 35ms pid=4821 version=4.2.1\n",
    "2024-03-12T14:02:12.017Z WARN  gc pause 41ms heap=2048 MB request_id=0192f3a4-5b6c-7d8e-9f00-112233445566\n",
    "{\"@timestamp\":\"2024-03-12T14:02:13.100Z\",\"log.level\":\"info\",\"message\":\"request done\",\"duration_ms\":12,\"status\":200}\n",
    "Medicatie: metoprolol 2dd 50 mg, pantoprazol 40 mg; allergie: penicilline. ",
    "The upgrade to release 4.2.1 finished at 02:14 UTC; 1024 records migrated in 35 s, 0 errors. ",
    "10.0.12.7 - - [12/Mar/2024:14:02:11 +0100] \"GET /api/v2/status HTTP/1.1\" 200 734 \"-\" \"curl/8.5.0\"\n",
    "Herinnering: teamoverleg dinsdag om 14:00 in kamer 2.14, roosters week 12-15. ",
    "thread 'tokio-runtime-worker' panicked at src/billing.rs:212:17: index out of bounds\n",
];

/// One of each kind, inserted in turn.
const FINDINGS: &[&str] = &[
    " BSN 111222333 ",
    " mail jan.jansen@example.nl ",
    " IBAN NL91ABNA0417164300 ",
    " tel. 06-12345678 ",
    " geb. 12-05-1978 ",
    " adres Kerkstraat 5, 3511 LX 12 ",
    " AGB-code 01234567 ",
    " patiëntnummer 7654321 ",
    " password=Hunter2! ",
];

fn clean_text() -> String {
    let mut text = String::with_capacity(SIZE + 256);
    let mut state: u32 = 12345;
    while text.len() < SIZE {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        text.push_str(CLEAN[(state >> 16) as usize % CLEAN.len()]);
    }
    text
}

fn text_with_findings() -> String {
    let clean = clean_text();
    let mut text = String::with_capacity(SIZE + SIZE / 32);
    let mut next = 0;
    for (i, piece) in clean.split_inclusive(' ').enumerate() {
        text.push_str(piece);
        if text.len() >= (next + 1) * 1024 {
            text.push_str(FINDINGS[next % FINDINGS.len()]);
            next += 1;
        }
        let _ = i;
    }
    text
}

/// One regular expression per kind, as a host would write them (ASCII word boundaries, so
/// the regex crate keeps its fast DFA on non-ASCII text).
fn baseline_regexes() -> Vec<(&'static str, Regex)> {
    let patterns = [
        (
            "bsn",
            r"(?-u:\b)(?:\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3}[ -]\d{3}[ -]\d{3})(?-u:\b)",
        ),
        (
            "iban",
            r"(?-u:\b)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?-u:\b)",
        ),
        (
            "email",
            r"(?-u:\b)[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?-u:\b)",
        ),
        (
            "phone",
            r"(?:\+|00)31[ -]?(?:\(0\))?[ -]?\d(?:[ -]?\d){8}|(?-u:\b)0\d(?:[ -]?\d){8}(?-u:\b)|\+\d(?:[ -]?\d){7,14}",
        ),
        (
            "date_of_birth",
            r"(?i)(?-u:\b)(?:geboortedatum|geb\.|geboren|dob|born|date of birth)\W{0,20}\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}",
        ),
        (
            "postcode",
            r"(?-u:\b)[1-9]\d{3} ?[A-Z]{2}(?-u:\b)(?: ?\d{1,5})?",
        ),
        ("agb", r"(?i)(?-u:\b)agb(?:-code)?\W{0,5}\d{8}(?-u:\b)"),
        (
            "record_number",
            r"(?i)(?:patiëntnummer|patientnummer|mrn|dossiernummer)\W{0,5}\d{6,10}(?-u:\b)",
        ),
        (
            "secret",
            r#"(?i)(?:password|passwd|pwd|secret|token|api[_-]?key)["']?\s*[:=]\s*["']?[^\s"'&,;]+|bearer\s+[A-Za-z0-9\-._~+/]+=*|-----BEGIN [A-Z ]*PRIVATE KEY-----"#,
        ),
    ];
    patterns
        .into_iter()
        .map(|(name, p)| (name, Regex::new(p).expect("valid baseline regex")))
        .collect()
}

fn eleven_proof(digits: &[u8]) -> bool {
    let d: Vec<i32> = digits
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| i32::from(b - b'0'))
        .collect();
    d.len() == 9
        && (0..9)
            .map(|i| if i == 8 { -d[i] } else { (9 - i as i32) * d[i] })
            .sum::<i32>()
            % 11
            == 0
}

fn mod97(iban: &str) -> bool {
    let chars: Vec<u8> = iban.bytes().filter(|b| b.is_ascii_alphanumeric()).collect();
    if chars.len() < 5 {
        return false;
    }
    let mut rem = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        rem = if c.is_ascii_digit() {
            (rem * 10 + u32::from(c - b'0')) % 97
        } else {
            (rem * 100 + u32::from(c.to_ascii_uppercase() - b'A') + 10) % 97
        };
    }
    rem == 1
}

/// The baseline: each kind's regex over the whole text, BSN and IBAN candidates validated.
fn baseline_scan(regexes: &[(&str, Regex)], text: &str) -> usize {
    let mut found = 0;
    for (name, re) in regexes {
        for m in re.find_iter(text) {
            let ok = match *name {
                "bsn" => eleven_proof(m.as_str().as_bytes()),
                "iban" => mod97(m.as_str()),
                _ => true,
            };
            found += usize::from(ok);
        }
    }
    found
}

fn bench(c: &mut Criterion) {
    let scanner = PiiScanner::new(&PiiConfig::default()).expect("default config");
    let redactor = PiiRedactor::new(&PiiConfig::default()).expect("default config");
    let regexes = baseline_regexes();
    let clean = clean_text();
    let dirty = text_with_findings();
    assert!(
        scanner.scan(&clean).is_empty(),
        "the clean text has no findings"
    );
    let per_kib = scanner.scan(&dirty).len() as f64 / (dirty.len() as f64 / 1024.0);
    assert!(
        (0.9..=1.1).contains(&per_kib),
        "one finding per KiB, got {per_kib}"
    );

    for (name, text) in [("clean", &clean), ("one_finding_per_kib", &dirty)] {
        let mut group = c.benchmark_group(format!("pii_{name}"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function("biv_scan", |b| {
            b.iter(|| scanner.scan(black_box(text)).len())
        });
        group.bench_function("biv_redact", |b| {
            b.iter(|| redactor.redact(black_box(text)).len())
        });
        group.bench_function("baseline_regex_per_kind", |b| {
            b.iter(|| baseline_scan(&regexes, black_box(text)))
        });
        group.finish();
    }
}

/// The best of `rounds` interleaved timings of the scan, the redaction and the baseline on both
/// texts (the `BIV_PII_BEST_OF` mode, see the module docs).
fn best_of(rounds: usize) {
    let scanner = PiiScanner::new(&PiiConfig::default()).expect("default config");
    let redactor = PiiRedactor::new(&PiiConfig::default()).expect("default config");
    let regexes = baseline_regexes();
    for (name, text) in [
        ("clean", clean_text()),
        ("one_finding_per_kib", text_with_findings()),
    ] {
        let mut best = [Duration::MAX; 3];
        for _ in 0..rounds {
            let runs: [&dyn Fn() -> usize; 3] = [
                &|| scanner.scan(black_box(&text)).len(),
                &|| redactor.redact(black_box(&text)).len(),
                &|| baseline_scan(&regexes, black_box(&text)),
            ];
            for (slot, run) in best.iter_mut().zip(runs) {
                let start = Instant::now();
                black_box(run());
                *slot = (*slot).min(start.elapsed());
            }
        }
        let mbps = |d: Duration| text.len() as f64 / d.as_secs_f64() / 1e6;
        let [scan, redact, baseline] = best;
        println!(
            "pii_{name}: best of {rounds}: biv_scan {scan:.2?} ({:.0} MB/s), biv_redact {redact:.2?} ({:.0} MB/s), \
             baseline {baseline:.2?} ({:.0} MB/s); scan {:.2}x, redact {:.2}x the baseline",
            mbps(scan),
            mbps(redact),
            mbps(baseline),
            baseline.as_secs_f64() / scan.as_secs_f64(),
            baseline.as_secs_f64() / redact.as_secs_f64(),
        );
    }
}

/// Runs one of the six measurements `rounds` times (the `BIV_PII_ONLY` mode, for a profiler).
fn only(which: &str, rounds: usize) {
    let scanner = PiiScanner::new(&PiiConfig::default()).expect("default config");
    let redactor = PiiRedactor::new(&PiiConfig::default()).expect("default config");
    let regexes = baseline_regexes();
    let (what, text) = match which.rsplit_once('_') {
        Some((what, "clean")) => (what, clean_text()),
        Some((what, "dirty")) => (what, text_with_findings()),
        _ => panic!("BIV_PII_ONLY: expected scan|redact|baseline _clean|_dirty, got {which}"),
    };
    let mut total = 0;
    for _ in 0..rounds {
        total += match what {
            "scan" => scanner.scan(black_box(&text)).len(),
            "redact" => redactor.redact(black_box(&text)).len(),
            "baseline" => baseline_scan(&regexes, black_box(&text)),
            _ => panic!("BIV_PII_ONLY: unknown measurement {what}"),
        };
    }
    println!("{which}: {rounds} rounds, {total}");
}

criterion_group!(benches, bench);

fn main() {
    let rounds = std::env::var("BIV_PII_BEST_OF")
        .ok()
        .map(|n| n.parse::<usize>().expect("BIV_PII_BEST_OF is a count"));
    match (rounds, std::env::var("BIV_PII_ONLY").ok()) {
        (Some(rounds), Some(which)) => only(&which, rounds),
        (Some(rounds), None) => best_of(rounds),
        (None, _) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
