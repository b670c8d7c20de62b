//! JUnit parsing of each fixture: PHPUnit (and Dusk, which runs on it) and jest-junit.

use biv_integrity::release::{
    Artifact, JunitError, TestCounts, TestEvidence, parse_junit, parse_otr,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/junit/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn counts(tests: u64, failures: u64, errors: u64, skipped: u64, suite_errors: u64) -> TestCounts {
    TestCounts {
        tests,
        failures,
        errors,
        skipped,
        suite_errors,
    }
}

#[test]
fn each_fixture_gives_its_counts() {
    let table = [
        ("phpunit-pass.xml", counts(5, 0, 0, 0, 0), 2, None),
        (
            "phpunit-failure.xml",
            counts(3, 1, 0, 1, 0),
            1,
            Some("1 failures"),
        ),
        (
            "phpunit-error.xml",
            counts(2, 0, 1, 0, 0),
            1,
            Some("1 errors"),
        ),
        ("dusk-pass.xml", counts(2, 0, 0, 0, 0), 1, None),
        ("jest-pass.xml", counts(3, 0, 0, 0, 0), 2, None),
        (
            "jest-failure.xml",
            counts(3, 1, 0, 1, 0),
            1,
            Some("1 failures"),
        ),
        (
            "jest-suite-failed.xml",
            counts(2, 0, 1, 0, 0),
            2,
            Some("1 errors"),
        ),
    ];
    let artifact =
        Artifact::new(format!("sha256:{}", "a".repeat(64)), "1".repeat(40)).expect("valid");
    for (name, want, suites, failure) in table {
        let bytes = fixture(name);
        let report = parse_junit(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.totals, want, "{name}");
        assert_eq!(report.suites.len(), suites, "{name}: {:?}", report.suites);
        assert_eq!(report.sha256.len(), 64, "{name}");
        let evidence = TestEvidence::from_junit(artifact.clone(), &bytes).expect("parses");
        let why = evidence.failure(10);
        match failure {
            None => assert_eq!(why, None, "{name}"),
            Some(text) => assert!(
                why.as_deref().is_some_and(|w| w.contains(text)),
                "{name}: {why:?}"
            ),
        }
    }
}

#[test]
fn phpunit_suites_are_named_by_class() {
    let report = parse_junit(&fixture("phpunit-pass.xml")).expect("parses");
    let names: Vec<&str> = report.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Tests\\Unit\\BsnValidatorTest",
            "Tests\\Feature\\PatientRecordTest"
        ]
    );
}

#[test]
fn root_attributes_are_not_trusted() {
    // The root claims 100 passing tests; only one test case is there.
    let xml = br#"<testsuites tests="100" failures="0"><testsuite name="s" tests="100"><testcase name="a"/></testsuite></testsuites>"#;
    assert_eq!(parse_junit(xml).expect("parses").totals.tests, 1);
    // A suite that claims a failure its cases do not show counts as a suite error.
    let xml = br#"<testsuite name="s" failures="1"><testcase name="a"/></testsuite>"#;
    assert_eq!(parse_junit(xml).expect("parses").totals.suite_errors, 1);
}

#[test]
fn zero_tests_and_too_many_skipped_do_not_pass() {
    let artifact =
        Artifact::new(format!("sha256:{}", "a".repeat(64)), "1".repeat(40)).expect("valid");
    let empty = TestEvidence::from_junit(artifact.clone(), b"<testsuites/>").expect("parses");
    assert_eq!(empty.failure(10).as_deref(), Some("no tests ran"));
    let xml =
        br#"<testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>"#;
    let half = TestEvidence::from_junit(artifact, xml).expect("parses");
    assert!(half.failure(10).is_some());
    assert_eq!(half.failure(50), None);
}

#[test]
fn malformed_xml_is_an_error_naming_the_position() {
    let err = parse_junit(&fixture("malformed.xml")).expect_err("malformed");
    match err {
        JunitError::Malformed { position, .. } => assert!(position > 60, "{position}"),
        other => panic!("{other:?}"),
    }
    for bad in [
        &b"<testsuites><testsuite>"[..],
        b"",
        b"<testsuites></testsuites><testsuites/>",
        b"<testsuites><testcase name=\"a\" x=></testsuites>",
        b"<!DOCTYPE x><testsuites/>",
    ] {
        assert!(
            matches!(
                parse_junit(bad),
                Err(JunitError::Malformed { .. } | JunitError::NotJunit { .. })
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(matches!(
        parse_junit(b"<html><body/></html>"),
        Err(JunitError::NotJunit { position: 0, .. })
    ));
    assert!(matches!(
        parse_junit(br#"<testsuite errors="many"/>"#),
        Err(JunitError::NotJunit { .. })
    ));
}

#[test]
fn open_test_reporting_fixtures_give_their_counts_and_commit() {
    let head = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    let table = [
        (
            "phpunit-otr-pass.xml",
            counts(2, 0, 0, 0, 0),
            Some(head),
            None,
        ),
        (
            "phpunit-otr-status.xml",
            counts(5, 1, 1, 2, 0),
            Some(head),
            Some("1 failures, 1 errors"),
        ),
        (
            "phpunit-otr-interrupted.xml",
            counts(2, 0, 1, 0, 1),
            None,
            Some("1 errors, 1 suite errors"),
        ),
    ];
    for (name, want, commit, failure) in table {
        let report = parse_otr(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.totals, want, "{name}");
        assert_eq!(report.commit.as_deref(), commit, "{name}");
        match failure {
            None => assert_eq!(report.failure(10), None, "{name}"),
            Some(text) => assert!(
                report.failure(10).is_some_and(|w| w.contains(text)),
                "{name}: {:?}",
                report.failure(10)
            ),
        }
    }
    let pass = parse_otr(&fixture("phpunit-otr-pass.xml")).expect("parses");
    assert_eq!(pass.suites.len(), 1);
    assert_eq!(pass.suites[0].name, "Tests\\Unit\\BsnValidatorTest");
}

#[test]
fn bad_open_test_reporting_is_an_error() {
    let head = r#"<e:events xmlns:e="https://schemas.opentest4j.org/reporting/events/0.2.0">"#;
    for body in [
        r#"<e:started name="x"/>"#,
        r#"<e:started id="1"/><e:started id="1"/>"#,
        r#"<e:finished id="9"/>"#,
        r#"<e:started id="2" parentId="1"/>"#,
        r#"<e:started id="1"/><e:finished id="1"><result status="GREEN"/></e:finished>"#,
        r#"<e:started id="1"/><e:finished id="1"/><e:finished id="1"/>"#,
    ] {
        let xml = format!("{head}{body}</e:events>");
        assert!(
            matches!(parse_otr(xml.as_bytes()), Err(JunitError::NotOtr { .. })),
            "{body}"
        );
    }
    assert!(matches!(
        parse_otr(&fixture("phpunit-pass.xml")),
        Err(JunitError::NotOtr { .. })
    ));
    assert!(matches!(
        parse_otr(b"<e:events><e:started id=\"1\">"),
        Err(JunitError::Malformed { .. })
    ));
}
