//! The ECS layer's lines follow elastic/ecs-logging, carry no personal data the redactor finds,
//! and every refused record is counted; the writer sink keeps the LogSink contract.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use biv_availability::logging::{ECS_VERSION, EcsLayer, ServiceInfo, WriterSink};
use biv_core::{Dataset, Finding, LogSink, PiiKind, Redactor, Timestamp};
use biv_testkit::{InMemoryLogSink, ManualClock, log_sink_conformance};
use tracing_subscriber::prelude::*;

/// Masks every run of nine digits (a stand-in for biv-confidentiality's redactor).
#[derive(Debug)]
struct NineDigits;

impl Redactor for NineDigits {
    fn scan(&self, text: &str) -> Vec<Finding> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i + 9 <= b.len() {
            if b[i..i + 9].iter().all(u8::is_ascii_digit) {
                out.push(Finding::new(PiiKind::Bsn, i, i + 9, 0.9));
                i += 9;
            } else {
                i += 1;
            }
        }
        out
    }
}

fn capture(capacity: usize, f: impl FnOnce()) -> (Vec<String>, u64) {
    let sink = Arc::new(InMemoryLogSink::with_capacity(capacity));
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-26T09:30:00.123456Z").expect("timestamp"),
    ));
    let layer = EcsLayer::new(
        ServiceInfo::new("ehr-api")
            .with_version("4.2.1")
            .with_environment("acceptance"),
        Arc::new(NineDigits),
        sink.clone(),
        clock,
    );
    let drops = layer.drops();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    (sink.lines(), drops.total())
}

#[test]
fn lines_follow_the_ecs_logging_spec() {
    let (lines, _) = capture(100, || {
        tracing::info!(
            user.id = "u-1042",
            http.response.status_code = 200u64,
            "request served"
        );
        tracing::warn!(event.dataset = "access", "slow");
    });
    let first = &lines[0];
    assert!(first.starts_with(r#"{"@timestamp":"2026-11-26T09:30:00.123Z","log.level":"info","message":"request served","ecs.version":""#), "{first}");
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(v["ecs.version"], ECS_VERSION);
    assert_eq!(v["service.name"], "ehr-api");
    assert_eq!(v["service.version"], "4.2.1");
    assert_eq!(v["service.environment"], "acceptance");
    assert_eq!(v["event.dataset"], "application");
    assert_eq!(v["user.id"], "u-1042");
    assert_eq!(v["http.response.status_code"], 200);
    assert!(v["log.logger"].as_str().unwrap().contains("logging_ecs"));
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(
        (
            second["log.level"].as_str(),
            second["event.dataset"].as_str()
        ),
        (Some("warn"), Some("access"))
    );
}

#[test]
fn personal_data_is_redacted_everywhere_in_the_line() {
    let (lines, _) = capture(100, || {
        tracing::error!(
            patient.bsn = "111222333",
            note = "called 123456782 back",
            "lookup of 111222333 failed"
        );
    });
    let line = &lines[0];
    for bsn in ["111222333", "123456782"] {
        assert!(!line.contains(bsn), "{line}");
    }
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["message"], "lookup of [BSN] failed");
    assert_eq!(v["patient.bsn"], "[BSN]");
    assert_eq!(v["labels"]["note"], "called [BSN] back");
}

#[test]
fn labels_are_sanitised_and_reserved_keys_never_repeat() {
    let (lines, _) = capture(100, || {
        tracing::info!(
            labels.tenant.name = "zorg-noord",
            plain = true,
            log.level = "forged",
            service.name = "other",
            "x"
        );
    });
    let line = &lines[0];
    assert_eq!(line.matches("\"log.level\"").count(), 1, "{line}");
    assert_eq!(line.matches("\"service.name\"").count(), 1, "{line}");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["labels"]["tenant_name"], "zorg-noord");
    assert_eq!(v["labels"]["plain"], true);
    assert_eq!(v["log.level"], "info");
    assert_eq!(v["service.name"], "ehr-api");
}

#[test]
fn hostile_text_stays_one_valid_json_line() {
    let (lines, _) = capture(100, || {
        tracing::info!(
            path = "a\"b\\c",
            "line1\nline2\r\t\u{1}\u{1f} end \"quoted\""
        );
    });
    assert_eq!(lines.len(), 1);
    assert!(!lines[0].contains('\n'));
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["message"], "line1\nline2\r\t\u{1}\u{1f} end \"quoted\"");
    assert_eq!(v["labels"]["path"], "a\"b\\c");
}

#[test]
fn errors_become_error_message_and_refusals_are_counted() {
    let err = std::io::Error::other("disk full");
    let (lines, drops) = capture(1, || {
        tracing::error!(
            error = &err as &(dyn std::error::Error + 'static),
            "write failed"
        );
        tracing::info!("dropped: the sink holds one record");
        tracing::info!("dropped too");
    });
    assert_eq!(lines.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["error.message"], "disk full");
    assert_eq!(drops, 2);
}

log_sink_conformance!(WriterSink::new(Vec::<u8>::new(), 4096).expect("writer sink"));

/// A writer that appends into shared memory, optionally stalling.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>, Arc<Mutex<bool>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        while *self.1.lock().expect("lock") {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_writer_sink_writes_lines_in_order_and_reports_what_is_pending() {
    let shared = Shared::default();
    let sink = WriterSink::new(shared.clone(), 8).unwrap();
    for n in 0..5 {
        sink.submit(biv_testkit::sample_log_record(n)).unwrap();
    }
    sink.flush(Duration::from_secs(5)).unwrap();
    let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    for (n, line) in lines.iter().enumerate() {
        assert!(line.contains(&format!("request {n} served")), "{line}");
    }
    // A stalled writer: the queue fills, further records are refused and counted, flush times out.
    *shared.1.lock().unwrap() = true;
    let refused = (0..50)
        .filter(|n| {
            sink.submit(biv_testkit::sample_log_record(100 + n))
                .is_err()
        })
        .count();
    assert!(refused > 0 && sink.full_drops() as usize == refused);
    assert!(matches!(
        sink.flush(Duration::from_millis(50)),
        Err(biv_core::LogFlushError::Timeout { .. })
    ));
    *shared.1.lock().unwrap() = false;
    sink.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(Dataset::Application.as_str(), "application");
}

#[test]
fn the_access_layer_logs_each_request_redacted() {
    use axum::{Router, body::Body, http::Request, routing::get};
    use biv_availability::logging::AccessLogLayer;
    use tower::ServiceExt;

    let (lines, drops) = capture(100, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let app: Router = Router::new()
                .route("/patients", get(|| async { "ok" }))
                .layer(AccessLogLayer::new());
            let request = Request::get("/patients?bsn=111222333")
                .header("user-agent", "curl/8.5")
                .body(Body::empty())
                .expect("request");
            let response = app.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), 200);
            let missing = Request::get("/nothing")
                .body(Body::empty())
                .expect("request");
            let response = app.oneshot(missing).await.expect("response");
            assert_eq!(response.status(), 404);
        });
    });
    assert_eq!(drops, 0);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(first["event.dataset"], "access", "{first}");
    assert_eq!(first["http.request.method"], "GET");
    assert_eq!(first["url.path"], "/patients");
    assert_eq!(first["http.response.status_code"], 200);
    assert_eq!(first["user_agent.original"], "curl/8.5");
    assert!(first["event.duration"].as_u64().is_some(), "{first}");
    assert!(!lines[0].contains("111222333"), "BSN leaked: {}", lines[0]);
    let second: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
    assert_eq!(second["http.response.status_code"], 404);
    assert!(second.get("url.query").is_none(), "{second}");
}

#[test]
fn numbers_holding_personal_data_are_redacted_too() {
    let (lines, _) = capture(100, || {
        tracing::info!(
            patient.bsn = 111_222_333i64,
            patient.visits = 12u64,
            labels.bsn = 111_222_333u64,
            "lookup"
        );
    });
    assert!(!lines[0].contains("111222333"), "BSN leaked: {}", lines[0]);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(v["patient.bsn"], "[BSN]", "{v}");
    assert_eq!(v["patient.visits"], 12, "{v}");
    assert_eq!(v["labels"]["bsn"], "[BSN]", "{v}");
}

/// Counts how often each top-level key occurs in a flat JSON object line.
fn key_counts(line: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut depth = 0usize;
    let mut chars = line.char_indices().peekable();
    let mut expect_key = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => {
                depth += 1;
                expect_key = depth == 1;
            }
            '}' => depth -= 1,
            ',' if depth == 1 => expect_key = true,
            '"' => {
                let start = i + 1;
                let mut end = start;
                let mut escaped = false;
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = j;
                        break;
                    }
                }
                if expect_key {
                    *counts.entry(line[start..end].to_owned()).or_insert(0) += 1;
                    expect_key = false;
                }
            }
            _ => {}
        }
    }
    counts
}

#[test]
fn a_key_is_never_written_twice() {
    let err = std::io::Error::other("boom");
    let (lines, _) = capture(100, || {
        tracing::error!(
            error = &err as &(dyn std::error::Error + 'static),
            error.message = "explicit",
            "failed"
        );
        tracing::error!(error = &err as &(dyn std::error::Error + 'static), "failed");
        tracing::info!(a.b = 1u64, a.b = 2u64, "twice");
    });
    for line in &lines {
        let counts = key_counts(line);
        assert!(counts.values().all(|&n| n == 1), "duplicate key in {line}");
    }
    let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(first["error.message"], "explicit", "{first}");
    let second: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
    assert_eq!(second["error.message"], "boom", "{second}");
    let third: serde_json::Value = serde_json::from_str(&lines[2]).expect("json");
    assert_eq!(third["a.b"], 2, "{third}");
}

/// A writer whose next answers are scripted: `Some(kind)` fails one call with that error kind,
/// `None` takes at most `partial` bytes (or all when `partial` is 0).
#[derive(Clone, Default)]
struct Scripted {
    out: Arc<Mutex<Vec<u8>>>,
    script: Arc<Mutex<std::collections::VecDeque<Option<std::io::ErrorKind>>>>,
    partial: Arc<Mutex<usize>>,
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(Some(kind)) = self.script.lock().expect("lock").pop_front() {
            return Err(kind.into());
        }
        let limit = *self.partial.lock().expect("lock");
        let n = if limit == 0 {
            buf.len()
        } else {
            limit.min(buf.len())
        };
        self.out.lock().expect("lock").extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_writer_sink_waits_out_would_block_and_recovers_from_a_failure() {
    use std::io::ErrorKind;
    let w = Scripted::default();
    let sink = WriterSink::new(w.clone(), 64).expect("sink");
    // a non-blocking stdout answering WouldBlock: nothing is lost
    w.script.lock().expect("lock").extend([
        Some(ErrorKind::WouldBlock),
        Some(ErrorKind::Interrupted),
        Some(ErrorKind::WouldBlock),
    ]);
    for n in 0..3 {
        sink.submit(biv_testkit::sample_log_record(n))
            .expect("submit");
    }
    sink.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(sink.lost_records(), 0);
    // half a line goes out, then the disk fails: that batch is counted as lost
    *w.partial.lock().expect("lock") = 10;
    w.script
        .lock()
        .expect("lock")
        .extend([None, Some(ErrorKind::StorageFull)]);
    sink.submit(biv_testkit::sample_log_record(3))
        .expect("submit");
    assert!(matches!(
        sink.flush(Duration::from_secs(5)),
        Err(biv_core::LogFlushError::Backend(_))
    ));
    assert_eq!(sink.lost_records(), 1);
    // the disk is back: the sink writes again, on a fresh line
    *w.partial.lock().expect("lock") = 0;
    sink.submit(biv_testkit::sample_log_record(4))
        .expect("submit after recovery");
    sink.flush(Duration::from_secs(5))
        .expect("flush after recovery");
    let text = String::from_utf8(w.out.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for (n, line) in lines.iter().take(3).enumerate() {
        assert!(line.contains(&format!("request {n} served")), "{text}");
    }
    assert!(
        !lines[3].contains("served"),
        "the torn line stands alone: {text}"
    );
    assert!(lines[4].contains("request 4 served"), "{text}");
    // the loss is exposed as a metric
    let registry = biv_availability::metrics::Registry::new();
    registry.register_collector(Arc::new(sink));
    let metrics = registry.encode(biv_availability::metrics::Format::Prometheus);
    assert!(
        metrics.contains("biv_log_records_lost_total 1\n"),
        "{metrics}"
    );
}
