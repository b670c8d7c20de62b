//! The digest laid out once as a small document (headings, paragraphs, lists, tables), which
//! [`markdown`](super::markdown) and [`html`](super::html) write out. Every text that came from
//! a log or the audit log is an [`Inline::Text`] or [`Inline::Code`], escaped by the writer.

use biv_core::Timestamp;

use super::error::EncodeError;
use super::model::{AccessKind, Digest, GapKind};

/// A run of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inline {
    Text(String),
    Strong(String),
    Code(String),
}

/// A block of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    Heading(u8, String),
    Paragraph(Vec<Inline>),
    List(Vec<Vec<Inline>>),
    Table {
        headers: Vec<&'static str>,
        rows: Vec<Vec<Vec<Inline>>>,
    },
}

fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

fn code(s: impl Into<String>) -> Inline {
    Inline::Code(s.into())
}

fn cell(s: impl Into<String>) -> Vec<Inline> {
    vec![text(s)]
}

fn time_cell(t: Timestamp) -> Vec<Inline> {
    vec![text(t.to_string())]
}

fn number(n: u64) -> Vec<Inline> {
    cell(n.to_string())
}

/// The title and the blocks of the digest's document.
pub(crate) fn document(digest: &Digest) -> Result<(String, Vec<Block>), EncodeError> {
    let hash = digest.sha256_hex()?;
    let w = &digest.window;
    let title = format!("Daily log review {} – {}", w.start(), w.end());
    let mut doc = vec![Block::Paragraph(vec![
        text(format!(
            "Window {} to {} (end exclusive); baseline from {}. Digest SHA-256: ",
            w.start(),
            w.end(),
            digest.baseline_start
        )),
        code(hash.clone()),
    ])];
    summary(digest, &mut doc);
    logs(digest, &mut doc);
    errors(digest, &mut doc);
    access(digest, &mut doc);
    drops(digest, &mut doc);
    heartbeats(digest, &mut doc);
    doc.push(Block::Heading(2, "Sign-off".to_owned()));
    doc.push(Block::Paragraph(vec![
        text("Sign off by quoting the digest's SHA-256 "),
        code(hash),
        text(
            "; the sign-off (reviewer, time, a hash of the remarks) is recorded as the audit event log-review.sign-off.",
        ),
    ]));
    Ok((title, doc))
}

fn summary(d: &Digest, doc: &mut Vec<Block>) {
    let new = d.errors.fingerprints.iter().filter(|f| f.new).count();
    let by_kind: Vec<String> = AccessKind::ALL
        .iter()
        .map(|k| {
            let n = d.access.findings.iter().filter(|f| f.kind == *k).count();
            format!("{} {n}", k.title().to_lowercase())
        })
        .collect();
    let drops = if d.drops.checked {
        format!(
            "{} of {} series rose",
            d.drops.rose().count(),
            d.drops.series.len()
        )
    } else {
        "not checked (no counter readings given)".to_owned()
    };
    doc.push(Block::Heading(2, "Summary".to_owned()));
    doc.push(Block::List(vec![
        vec![text(format!(
            "Log records in the window: {} (lines not ECS JSON: {}; over-long lines: {})",
            d.logs.records, d.logs.unparseable, d.logs.over_long
        ))],
        vec![
            text(format!(
                "Error fingerprints: {} ({} records), ",
                d.errors.fingerprints.len(),
                d.errors.records
            )),
            Inline::Strong(format!("{new} new")),
        ],
        vec![text(format!(
            "Audit events in the window: {}; findings: {}",
            d.access.events,
            by_kind.join(", ")
        ))],
        vec![text(format!("Drop counters: {drops}"))],
        vec![text(format!(
            "Heartbeats: {} processes beating, {} gaps",
            d.heartbeats.sources.len(),
            d.heartbeats.gaps.len()
        ))],
    ]));
}

fn key_table(
    doc: &mut Vec<Block>,
    heading: &str,
    header: &'static str,
    counts: &[super::model::KeyCount],
) {
    doc.push(Block::Heading(3, heading.to_owned()));
    doc.push(Block::Table {
        headers: vec![header, "records"],
        rows: counts
            .iter()
            .map(|c| vec![vec![code(c.key.clone())], number(c.count)])
            .collect(),
    });
}

fn logs(d: &Digest, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(2, "Log records".to_owned()));
    key_table(doc, "By level", "log.level", &d.logs.by_level);
    key_table(doc, "By service", "service.name", &d.logs.by_service);
    key_table(doc, "By dataset", "event.dataset", &d.logs.by_dataset);
    doc.push(Block::Heading(3, "Files".to_owned()));
    doc.push(Block::Table {
        headers: vec![
            "file",
            "lines",
            "in window",
            "baseline",
            "outside",
            "unparseable",
            "over-long",
        ],
        rows: d
            .logs
            .files
            .iter()
            .map(|f| {
                vec![
                    vec![code(f.path.clone())],
                    number(f.lines),
                    number(f.in_window),
                    number(f.in_baseline),
                    number(f.outside),
                    number(f.unparseable),
                    number(f.over_long),
                ]
            })
            .collect(),
    });
}

fn errors(d: &Digest, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(2, "Errors".to_owned()));
    doc.push(Block::Paragraph(vec![text(format!(
        "Records at level {} grouped by fingerprint; new means not seen in the baseline. {} records were not grouped (fingerprint limit).",
        d.errors.levels.join(", "),
        d.errors.ungrouped
    ))]));
    doc.push(Block::Table {
        headers: vec![
            "",
            "fingerprint",
            "error.type",
            "pattern",
            "count",
            "baseline",
            "first seen",
            "last seen",
            "services",
            "example",
        ],
        rows: d
            .errors
            .fingerprints
            .iter()
            .map(|f| {
                let pattern = [&f.message_pattern, &f.error_message_pattern]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" / ");
                vec![
                    if f.new {
                        vec![Inline::Strong("NEW".to_owned())]
                    } else {
                        Vec::new()
                    },
                    vec![code(f.fingerprint.clone())],
                    cell(f.error_type.clone().unwrap_or_default()),
                    cell(pattern),
                    number(f.count),
                    number(f.baseline_count),
                    time_cell(f.first_seen),
                    time_cell(f.last_seen),
                    cell(f.services.join(", ")),
                    cell(f.example.clone()),
                ]
            })
            .collect(),
    });
}

fn access(d: &Digest, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(2, "Access (audit log)".to_owned()));
    doc.push(Block::Paragraph(vec![text(format!(
        "{} audit events in the window, {} in the baseline; {} duplicates ignored, {} unparseable lines. Subjects appear only as pseudonyms.",
        d.access.events, d.access.baseline_events, d.access.duplicates, d.access.unparseable
    ))]));
    doc.push(Block::List(
        d.access
            .rules
            .iter()
            .map(|r| vec![text(r.clone())])
            .collect(),
    ));
    for kind in AccessKind::ALL {
        doc.push(Block::Heading(3, kind.title().to_owned()));
        let rows: Vec<Vec<Vec<Inline>>> = d
            .access
            .findings
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| {
                vec![
                    time_cell(f.time),
                    vec![code(f.event_id.to_string())],
                    vec![code(f.user.clone())],
                    cell(f.role.clone().unwrap_or_default()),
                    vec![code(f.action_name.clone())],
                    f.subject.clone().map(code).into_iter().collect(),
                    cell(f.reason.clone()),
                ]
            })
            .collect();
        if rows.is_empty() {
            doc.push(Block::Paragraph(vec![text("None.")]));
        } else {
            doc.push(Block::Table {
                headers: vec![
                    "time", "event id", "user", "role", "action", "subject", "reason",
                ],
                rows,
            });
        }
    }
}

fn drops(d: &Digest, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(2, "Drop counters".to_owned()));
    if !d.drops.checked {
        doc.push(Block::Paragraph(vec![text(
            "No counter readings were given: log loss through dropped records was not checked.",
        )]));
        return;
    }
    let base = if d.drops.has_before {
        "Increase from the reading at the start of the window"
    } else {
        "No reading from the start of the window: the values count since each process started"
    };
    doc.push(Block::Paragraph(vec![text(format!(
        "{base}. Every drop counter should stay 0. {} lines of the readings were skipped.",
        d.drops.skipped_lines
    ))]));
    doc.push(Block::Table {
        headers: vec!["", "counter", "before", "after", "increase"],
        rows: d
            .drops
            .series
            .iter()
            .map(|s| {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
                    .collect();
                let name = if labels.is_empty() {
                    s.name.clone()
                } else {
                    format!("{}{{{}}}", s.name, labels.join(","))
                };
                vec![
                    if s.increase > 0 {
                        vec![Inline::Strong("ROSE".to_owned())]
                    } else {
                        Vec::new()
                    },
                    vec![code(name)],
                    cell(s.before.map_or("–".to_owned(), |b| b.to_string())),
                    number(s.after),
                    number(s.increase),
                ]
            })
            .collect(),
    });
}

/// A label value escaped as the Prometheus text format writes it.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn heartbeats(d: &Digest, doc: &mut Vec<Block>) {
    let h = &d.heartbeats;
    doc.push(Block::Heading(2, "Heartbeats".to_owned()));
    if h.sources.is_empty() {
        doc.push(Block::Paragraph(vec![Inline::Strong(
            "No heartbeat records in the window: either no process ran, or its logs did not arrive."
                .to_owned(),
        )]));
    } else {
        doc.push(Block::Table {
            headers: vec!["service", "node", "beats", "first", "last"],
            rows: h
                .sources
                .iter()
                .map(|s| {
                    vec![
                        vec![code(s.service.clone())],
                        vec![code(s.node.clone())],
                        number(s.beats),
                        time_cell(s.first),
                        time_cell(s.last),
                    ]
                })
                .collect(),
        });
    }
    if h.untracked > 0 {
        doc.push(Block::Paragraph(vec![Inline::Strong(format!(
            "{} heartbeats were not tracked: the limit of processes or beats was reached.",
            h.untracked
        ))]));
    }
    doc.push(Block::Heading(3, "Gaps".to_owned()));
    if h.gaps.is_empty() {
        doc.push(Block::Paragraph(vec![text(format!(
            "None: every process beat at least every {} s (with 50 % tolerance).",
            h.interval_seconds
        ))]));
        return;
    }
    doc.push(Block::Table {
        headers: vec!["service", "node", "kind", "from", "to", "missing beats"],
        rows: h
            .gaps
            .iter()
            .map(|g| {
                let kind = match g.kind {
                    GapKind::Missing => "missing beats (records lost)",
                    GapKind::Late => "late (stall or lag)",
                    GapKind::Restart => "restart",
                    GapKind::Leading => "none since window start",
                    GapKind::Trailing => "none until window end",
                };
                vec![
                    vec![code(g.service.clone())],
                    vec![code(g.node.clone())],
                    cell(kind),
                    time_cell(g.from),
                    time_cell(g.to),
                    number(g.missing_beats),
                ]
            })
            .collect(),
    });
}

impl Digest {
    /// The digest as Markdown (CommonMark with GFM tables). Text from the logs is escaped, so
    /// a message cannot add markup or HTML.
    ///
    /// # Errors
    /// [`EncodeError`] if the digest's hash cannot be computed (it always can).
    pub fn to_markdown(&self) -> Result<String, EncodeError> {
        let (title, blocks) = document(self)?;
        Ok(super::markdown::write(&title, &blocks))
    }

    /// The digest as one self-contained HTML page (inline style, no scripts or external
    /// resources, a Content-Security-Policy forbidding them). Text from the logs is escaped.
    ///
    /// # Errors
    /// [`EncodeError`] if the digest's hash cannot be computed (it always can).
    pub fn to_html(&self) -> Result<String, EncodeError> {
        let (title, blocks) = document(self)?;
        Ok(super::html::write(&title, &blocks))
    }
}
