//! Test evidence from PHPUnit's Open Test Reporting XML (`--log-otr`): an `<e:events>` stream
//! of `started` / `finished` events (opentest4j reporting, events 0.2.0).
//!
//! A started node with no started children is a test; the others are containers. A test's
//! status is its `finished` event's `<result status>`: `SUCCESSFUL` passes, `SKIPPED` and
//! `ABORTED` (PHPUnit's incomplete) are skipped, `FAILED` is a failure, `ERRORED` an error; a test
//! that never finished, or finished without a result, is an error. A container that finished
//! `FAILED`, `ERRORED` or `ABORTED`, or never finished, is a suite error. Tests are counted per
//! parent container, named by its `name`. `<git:commit>` in `<infrastructure>` is the commit the
//! report names.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::junit::{JunitError, JunitReport, SuiteCounts, TestCounts, attr};
use crate::review::github::sha256_hex;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Successful,
    Skipped,
    Aborted,
    Failed,
    Errored,
}

struct Node {
    name: String,
    parent: Option<String>,
    children: usize,
    finished: bool,
    status: Option<Status>,
}

fn not_otr(position: u64, message: impl Into<String>) -> JunitError {
    JunitError::NotOtr {
        position,
        message: message.into(),
    }
}

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_owned()
}

#[derive(Default)]
struct Stream {
    nodes: BTreeMap<String, Node>,
    order: Vec<String>,
    open: Vec<String>,
    /// The id of the `finished` element being read.
    finishing: Option<String>,
    commit: Option<String>,
    root_seen: bool,
}

impl Stream {
    fn start(&mut self, e: &BytesStart<'_>, position: u64) -> Result<(), JunitError> {
        let name = local(e);
        if self.open.is_empty() {
            if self.root_seen {
                return Err(JunitError::Malformed {
                    position,
                    message: "a second root element".into(),
                });
            }
            self.root_seen = true;
            if name != "events" {
                return Err(not_otr(
                    position,
                    format!("the root element is <{name}>, not <e:events>"),
                ));
            }
            return Ok(());
        }
        let id = || -> Result<String, JunitError> {
            attr(e, "id", position)?.ok_or_else(|| not_otr(position, format!("<{name}> has no id")))
        };
        match name.as_str() {
            "started" if self.open.len() == 1 => {
                let id = id()?;
                if self.nodes.contains_key(&id) {
                    return Err(not_otr(position, format!("node {id} started twice")));
                }
                let parent = match attr(e, "parentId", position)? {
                    Some(p) => Some(p),
                    None => attr(e, "parent", position)?,
                };
                if let Some(p) = &parent {
                    let node = self.nodes.get_mut(p).ok_or_else(|| {
                        not_otr(position, format!("node {id} has an unknown parent {p}"))
                    })?;
                    node.children += 1;
                }
                self.order.push(id.clone());
                self.nodes.insert(
                    id,
                    Node {
                        name: attr(e, "name", position)?.unwrap_or_default(),
                        parent,
                        children: 0,
                        finished: false,
                        status: None,
                    },
                );
            }
            "finished" if self.open.len() == 1 => {
                let id = id()?;
                let node = self.nodes.get_mut(&id).ok_or_else(|| {
                    not_otr(position, format!("node {id} finished, never started"))
                })?;
                if node.finished {
                    return Err(not_otr(position, format!("node {id} finished twice")));
                }
                node.finished = true;
                self.finishing = Some(id);
            }
            "result" if self.open.len() == 2 => {
                if let Some(id) = &self.finishing {
                    let text = attr(e, "status", position)?.unwrap_or_default();
                    let status = match text.as_str() {
                        "SUCCESSFUL" => Status::Successful,
                        "SKIPPED" => Status::Skipped,
                        "ABORTED" => Status::Aborted,
                        "FAILED" => Status::Failed,
                        "ERRORED" => Status::Errored,
                        _ => {
                            return Err(not_otr(
                                position,
                                format!("node {id}: unknown result status {text:?}"),
                            ));
                        }
                    };
                    if let Some(node) = self.nodes.get_mut(id) {
                        node.status = Some(status);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn counts(&self) -> Vec<SuiteCounts> {
        let mut suites: Vec<SuiteCounts> = Vec::new();
        let mut add = |name: &str, c: TestCounts| {
            let i = match suites.iter().position(|s| s.name == name) {
                Some(i) => i,
                None => {
                    suites.push(SuiteCounts {
                        name: name.to_owned(),
                        counts: TestCounts::default(),
                    });
                    suites.len() - 1
                }
            };
            let s = &mut suites[i].counts;
            s.tests += c.tests;
            s.failures += c.failures;
            s.errors += c.errors;
            s.skipped += c.skipped;
            s.suite_errors += c.suite_errors;
        };
        for id in &self.order {
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            let status = if node.finished { node.status } else { None };
            if node.children > 0 {
                if matches!(
                    (node.finished, status),
                    (false, _) | (_, Some(Status::Failed | Status::Errored | Status::Aborted))
                ) {
                    let c = TestCounts {
                        suite_errors: 1,
                        ..TestCounts::default()
                    };
                    add(&node.name, c);
                }
                continue;
            }
            let mut c = TestCounts {
                tests: 1,
                ..TestCounts::default()
            };
            match status {
                Some(Status::Successful) => {}
                Some(Status::Skipped | Status::Aborted) => c.skipped = 1,
                Some(Status::Failed) => c.failures = 1,
                Some(Status::Errored) | None => c.errors = 1,
            }
            let suite = node
                .parent
                .as_ref()
                .and_then(|p| self.nodes.get(p))
                .map_or("", |p| p.name.as_str());
            add(suite, c);
        }
        suites
    }
}

/// Parses a PHPUnit Open Test Reporting report (`phpunit --log-otr`).
///
/// ```
/// use biv_integrity::release::parse_otr;
/// let xml = br#"<e:events xmlns="https://schemas.opentest4j.org/reporting/core/0.2.0"
///     xmlns:e="https://schemas.opentest4j.org/reporting/events/0.2.0">
///  <e:started id="1" name="Tests\Unit\BsnTest" time="2026-11-20T09:00:00.000000Z"/>
///  <e:started id="2" parentId="1" name="testValid" time="2026-11-20T09:00:00.001000Z"/>
///  <e:finished id="2" time="2026-11-20T09:00:00.002000Z"><result status="SUCCESSFUL"/></e:finished>
///  <e:finished id="1" time="2026-11-20T09:00:00.003000Z"/>
/// </e:events>"#;
/// let report = parse_otr(xml)?;
/// assert_eq!(report.totals.tests, 1);
/// assert_eq!(report.suites[0].name, "Tests\\Unit\\BsnTest");
/// # Ok::<(), biv_integrity::release::JunitError>(())
/// ```
///
/// # Errors
/// [`JunitError::Malformed`] for XML that is not well-formed; [`JunitError::NotOtr`] for another
/// root, an event without id, a node started twice, finished twice or before it started, an
/// unknown parent or an unknown result status. Both name the byte position.
pub fn parse_otr(bytes: &[u8]) -> Result<JunitReport, JunitError> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut s = Stream::default();
    let mut in_commit = false;
    loop {
        let before = reader.buffer_position();
        let event = reader.read_event().map_err(|e| JunitError::Malformed {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        match event {
            Event::Start(e) => {
                s.start(&e, before)?;
                in_commit =
                    local(&e) == "commit" && s.open.last().is_some_and(|p| p == "infrastructure");
                s.open.push(local(&e));
            }
            Event::Empty(e) => {
                s.start(&e, before)?;
                if local(&e) == "finished" {
                    s.finishing = None;
                }
            }
            Event::End(e) => {
                s.open.pop();
                in_commit = false;
                if e.local_name().as_ref() == "finished" {
                    s.finishing = None;
                }
            }
            Event::Text(t) if in_commit => {
                let text = t.trim();
                if !text.is_empty() {
                    s.commit = Some(text.to_ascii_lowercase());
                }
            }
            Event::Text(t) if s.open.is_empty() && !t.chars().all(char::is_whitespace) => {
                return Err(JunitError::Malformed {
                    position: before,
                    message: "text outside the root element".into(),
                });
            }
            Event::DocType(_) => {
                return Err(JunitError::Malformed {
                    position: before,
                    message: "a DOCTYPE is not accepted in a test report".into(),
                });
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let end = reader.buffer_position();
    if let Some(open) = s.open.last() {
        return Err(JunitError::Malformed {
            position: end,
            message: format!("the document ends inside <{open}>"),
        });
    }
    if !s.root_seen {
        return Err(not_otr(end, "no root element"));
    }
    let suites = s.counts();
    let mut totals = TestCounts::default();
    for suite in &suites {
        let c = &suite.counts;
        totals.tests += c.tests;
        totals.failures += c.failures;
        totals.errors += c.errors;
        totals.skipped += c.skipped;
        totals.suite_errors += c.suite_errors;
    }
    Ok(JunitReport {
        sha256: sha256_hex(bytes),
        totals,
        suites,
        commit: s.commit,
    })
}
