//! `promtool check metrics` (Prometheus 2.42) accepts biv's Prometheus text output.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use biv_availability::metrics::{Format, ProcessCollector, Registry};

fn sample_registry() -> Registry {
    let r = Registry::new();
    let c = r
        .counter_vec(
            "biv_http_requests",
            "HTTP requests.\nSecond line \\ with backslash.",
            &["route", "code"],
        )
        .expect("counter");
    c.with_label_values(&["/patients/{id}", "200"])
        .expect("labels")
        .inc_by(5);
    c.with_label_values(&["/a\"quoted\"\\path\n", "500"])
        .expect("labels")
        .inc();
    r.gauge("biv_in_flight", "Requests in flight.")
        .expect("gauge")
        .set(3.0);
    let h = r
        .histogram_vec(
            "biv_http_request_duration_seconds",
            "Latency.",
            &["route"],
            &[0.005, 0.1, 1.0],
        )
        .expect("histogram");
    h.with_label_values(&["/x"]).expect("labels").observe(0.05);
    r.register_collector(Arc::new(ProcessCollector::new()));
    r
}

#[test]
#[ignore = "server: prometheus; run `cargo xtask test`"]
fn promtool_check_metrics_accepts_the_text_format() {
    let promtool = biv_testkit::servers::prometheus().promtool;
    let text = sample_registry().encode(Format::Prometheus);
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool rejected:\n{}\n{}\n--- input ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
