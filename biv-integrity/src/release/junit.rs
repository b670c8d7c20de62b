//! Test evidence from JUnit XML, as PHPUnit (and Laravel Dusk, which runs on it) and jest-junit
//! write it.
//!
//! Totals are recomputed from the `<testcase>` elements; the count attributes of `<testsuites>`
//! and `<testsuite>` are never trusted to lower a count. A `<testsuite>` whose own `errors` or
//! `failures` attribute is higher than what its test cases show (a suite that failed to load),
//! or that holds an `<error>`/`<failure>` outside any test case, counts as a suite error.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};

use super::model::Artifact;
use crate::review::github::sha256_hex;

/// Why a JUnit report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JunitError {
    /// Not well-formed XML.
    #[error("malformed XML at byte {position}: {message}")]
    Malformed {
        /// Byte offset into the report.
        position: u64,
        /// What is wrong.
        message: String,
    },
    /// Well-formed, but not a JUnit report.
    #[error("not a JUnit report at byte {position}: {message}")]
    NotJunit {
        /// Byte offset into the report.
        position: u64,
        /// What is wrong.
        message: String,
    },
    /// Well-formed, but not an Open Test Reporting event stream.
    #[error("not an Open Test Reporting report at byte {position}: {message}")]
    NotOtr {
        /// Byte offset into the report.
        position: u64,
        /// What is wrong.
        message: String,
    },
}

/// Counts of test cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCounts {
    /// Test cases.
    pub tests: u64,
    /// Test cases with a `<failure>`.
    pub failures: u64,
    /// Test cases with an `<error>` (and no `<failure>`… an error wins).
    pub errors: u64,
    /// Test cases with `<skipped>` and neither failure nor error.
    pub skipped: u64,
    /// Suite-level errors: a suite that failed to load or reports more errors or failures than
    /// its test cases show.
    pub suite_errors: u64,
}

impl TestCounts {
    fn add(&mut self, o: &TestCounts) {
        self.tests += o.tests;
        self.failures += o.failures;
        self.errors += o.errors;
        self.skipped += o.skipped;
        self.suite_errors += o.suite_errors;
    }
}

/// One `<testsuite>` that holds test cases directly, or a suite error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteCounts {
    /// Its `name` attribute (empty when absent).
    pub name: String,
    /// Counts of its own test cases (not those of nested suites).
    #[serde(flatten)]
    pub counts: TestCounts,
}

/// A parsed JUnit report: per-suite counts, totals and the report's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JunitReport {
    /// Lower-case hex SHA-256 of the exact bytes.
    pub sha256: String,
    /// Totals over all suites.
    pub totals: TestCounts,
    /// The suites in document order.
    pub suites: Vec<SuiteCounts>,
    /// The commit the report itself names (Open Test Reporting's `git:commit`); JUnit XML
    /// names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl JunitReport {
    /// `None` when the report passes — at least one test, no failure, error or suite error,
    /// skipped tests at most `max_skipped_percent` of all — else why not.
    pub fn failure(&self, max_skipped_percent: u8) -> Option<String> {
        let t = &self.totals;
        if t.tests == 0 {
            return Some("no tests ran".into());
        }
        if t.failures + t.errors + t.suite_errors > 0 {
            return Some(format!(
                "{} failures, {} errors, {} suite errors in {} tests",
                t.failures, t.errors, t.suite_errors, t.tests
            ));
        }
        if u128::from(t.skipped) * 100 > u128::from(t.tests) * u128::from(max_skipped_percent) {
            return Some(format!(
                "{} of {} tests skipped, more than {max_skipped_percent}%",
                t.skipped, t.tests
            ));
        }
        None
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CaseStatus {
    Passed,
    Skipped,
    Failed,
    Error,
}

struct SuiteFrame {
    name: String,
    declared_bad: u64,
    own: TestCounts,
    /// Own plus nested suites.
    all: TestCounts,
}

struct Parser {
    suites: Vec<SuiteCounts>,
    stack: Vec<SuiteFrame>,
    case: Option<CaseStatus>,
    open: Vec<String>,
    root_seen: bool,
}

pub(super) fn attr(
    e: &BytesStart<'_>,
    key: &str,
    position: u64,
) -> Result<Option<String>, JunitError> {
    for a in e.attributes() {
        let a = a.map_err(|err| JunitError::Malformed {
            position,
            message: err.to_string(),
        })?;
        if a.key.as_ref() == key {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| JunitError::Malformed {
                    position,
                    message: err.to_string(),
                })?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn count_attr(e: &BytesStart<'_>, key: &str, position: u64) -> Result<u64, JunitError> {
    match attr(e, key, position)? {
        None => Ok(0),
        Some(v) => v.trim().parse::<u64>().map_err(|_| JunitError::NotJunit {
            position,
            message: format!("attribute {} is not a count: {v:?}", key),
        }),
    }
}

impl Parser {
    fn start(&mut self, e: &BytesStart<'_>, position: u64, empty: bool) -> Result<(), JunitError> {
        let name = e.name().as_ref().to_owned();
        if self.open.is_empty() {
            if self.root_seen {
                return Err(JunitError::Malformed {
                    position,
                    message: "a second root element".into(),
                });
            }
            self.root_seen = true;
            if name != "testsuites" && name != "testsuite" {
                return Err(JunitError::NotJunit {
                    position,
                    message: format!(
                        "the root element is <{}>, not <testsuites> or <testsuite>",
                        name
                    ),
                });
            }
        }
        match name.as_str() {
            "testsuite" if self.case.is_none() => {
                let declared_bad = count_attr(e, "errors", position)?
                    .saturating_add(count_attr(e, "failures", position)?);
                self.stack.push(SuiteFrame {
                    name: attr(e, "name", position)?.unwrap_or_default(),
                    declared_bad,
                    own: TestCounts::default(),
                    all: TestCounts::default(),
                });
                if empty {
                    self.end_suite();
                }
            }
            "testcase" if self.case.is_none() => {
                if self.stack.is_empty() {
                    return Err(JunitError::NotJunit {
                        position,
                        message: "a <testcase> outside any <testsuite>".into(),
                    });
                }
                self.case = Some(CaseStatus::Passed);
                if empty {
                    self.end_case();
                }
            }
            "failure" | "error" | "skipped" => {
                let status = match name.as_str() {
                    "failure" => CaseStatus::Failed,
                    "error" => CaseStatus::Error,
                    _ => CaseStatus::Skipped,
                };
                match (&mut self.case, self.stack.last_mut()) {
                    (Some(case), _) => *case = (*case).max(status),
                    (None, Some(suite)) if status != CaseStatus::Skipped => {
                        suite.own.suite_errors += 1;
                        suite.all.suite_errors += 1;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if !empty {
            self.open.push(name);
        }
        Ok(())
    }

    fn end(&mut self, name: &str) {
        self.open.pop();
        if self.open.iter().any(|n| n == "testcase") {
            return;
        }
        match name {
            "testcase" => self.end_case(),
            "testsuite" => self.end_suite(),
            _ => {}
        }
    }

    fn end_case(&mut self) {
        let Some(status) = self.case.take() else {
            return;
        };
        let Some(suite) = self.stack.last_mut() else {
            return;
        };
        let mut c = TestCounts {
            tests: 1,
            ..TestCounts::default()
        };
        match status {
            CaseStatus::Passed => {}
            CaseStatus::Skipped => c.skipped = 1,
            CaseStatus::Failed => c.failures = 1,
            CaseStatus::Error => c.errors = 1,
        }
        suite.own.add(&c);
        suite.all.add(&c);
    }

    fn end_suite(&mut self) {
        let Some(mut frame) = self.stack.pop() else {
            return;
        };
        let seen = frame.all.failures + frame.all.errors + frame.all.suite_errors;
        if frame.declared_bad > seen {
            let missing = frame.declared_bad - seen;
            frame.own.suite_errors += missing;
            frame.all.suite_errors += missing;
        }
        if let Some(parent) = self.stack.last_mut() {
            parent.all.add(&frame.all);
        }
        if frame.own.tests > 0 || frame.own.suite_errors > 0 {
            self.suites.push(SuiteCounts {
                name: frame.name,
                counts: frame.own,
            });
        }
    }
}

/// Parses a JUnit XML report.
///
/// ```
/// use biv_integrity::release::parse_junit;
/// let xml = br#"<testsuites><testsuite name="unit">
///   <testcase name="a"/><testcase name=""><skipped/></testcase>
/// </testsuite></testsuites>"#;
/// let report = parse_junit(xml)?;
/// assert_eq!((report.totals.tests, report.totals.skipped), (2, 1));
/// assert!(parse_junit(b"<testsuites><testsuite>").is_err());
/// # Ok::<(), biv_integrity::release::JunitError>(())
/// ```
///
/// # Errors
/// [`JunitError::Malformed`] for XML that is not well-formed (unclosed or mismatched elements,
/// bad attributes, a DOCTYPE), [`JunitError::NotJunit`] for another root element, a test case
/// outside a suite or a count attribute that is not a number; both name the byte position.
pub fn parse_junit(bytes: &[u8]) -> Result<JunitReport, JunitError> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut p = Parser {
        suites: Vec::new(),
        stack: Vec::new(),
        case: None,
        open: Vec::new(),
        root_seen: false,
    };
    loop {
        let before = reader.buffer_position();
        let event = reader.read_event().map_err(|e| JunitError::Malformed {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        match event {
            Event::Start(e) => p.start(&e, before, false)?,
            Event::Empty(e) => p.start(&e, before, true)?,
            Event::End(e) => p.end(e.name().as_ref()),
            Event::DocType(_) => {
                return Err(JunitError::Malformed {
                    position: before,
                    message: "a DOCTYPE is not accepted in a test report".into(),
                });
            }
            Event::Text(t) if p.open.is_empty() && !t.chars().all(char::is_whitespace) => {
                return Err(JunitError::Malformed {
                    position: before,
                    message: "text outside the root element".into(),
                });
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let end = reader.buffer_position();
    if let Some(open) = p.open.last() {
        return Err(JunitError::Malformed {
            position: end,
            message: format!("the document ends inside <{}>", open),
        });
    }
    if !p.root_seen {
        return Err(JunitError::NotJunit {
            position: end,
            message: "no root element".into(),
        });
    }
    let mut totals = TestCounts::default();
    for s in &p.suites {
        totals.add(&s.counts);
    }
    Ok(JunitReport {
        sha256: sha256_hex(bytes),
        totals,
        suites: p.suites,
        commit: None,
    })
}

/// A test report bound to the artifact it tested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEvidence {
    /// The artifact the tests ran against (given alongside the report by the CI job).
    pub artifact: Artifact,
    /// The parsed report with its digest.
    pub report: JunitReport,
}

impl TestEvidence {
    /// Parses a JUnit report and binds it to an artifact.
    ///
    /// # Errors
    /// See [`parse_junit`].
    pub fn from_junit(artifact: Artifact, bytes: &[u8]) -> Result<Self, JunitError> {
        Ok(TestEvidence {
            artifact,
            report: parse_junit(bytes)?,
        })
    }

    /// Parses a PHPUnit Open Test Reporting report and binds it to an artifact.
    ///
    /// # Errors
    /// See [`super::parse_otr`].
    pub fn from_otr(artifact: Artifact, bytes: &[u8]) -> Result<Self, JunitError> {
        Ok(TestEvidence {
            artifact,
            report: super::otr::parse_otr(bytes)?,
        })
    }

    /// `None` when the report passes, else why not: see [`JunitReport::failure`].
    pub fn failure(&self, max_skipped_percent: u8) -> Option<String> {
        self.report.failure(max_skipped_percent)
    }
}
