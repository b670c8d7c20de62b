//! The exact exposition text: Prometheus text 0.0.4 and OpenMetrics 1.0.

use biv_availability::metrics::{
    Format, MetricFamily, MetricKind, MetricsError, Registry, Sample, SampleValue, encode,
};

fn registry() -> Registry {
    let r = Registry::new();
    let c = r
        .counter_vec("http_requests", "Requests.\nBy path \\ method.", &["path"])
        .expect("counter");
    c.with_label_values(&["/a\"b\\c\nd"])
        .expect("labels")
        .inc_by(3);
    c.with_label_values(&["/"]).expect("labels").inc();
    r.gauge("in_flight", "Requests in \"flight\".")
        .expect("gauge")
        .set(2.5);
    let h = r
        .histogram("latency_seconds", "Latency.", &[0.1, 0.5])
        .expect("histogram");
    h.observe(0.05);
    h.observe(0.1);
    h.observe(0.3);
    h.observe(7.0);
    r
}

#[test]
fn prometheus_text_0_0_4() {
    let expected = "\
# HELP http_requests_total Requests.\\nBy path \\\\ method.
# TYPE http_requests_total counter
http_requests_total{path=\"/\"} 1
http_requests_total{path=\"/a\\\"b\\\\c\\nd\"} 3
# HELP in_flight Requests in \"flight\".
# TYPE in_flight gauge
in_flight 2.5
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"0.1\"} 2
latency_seconds_bucket{le=\"0.5\"} 3
latency_seconds_bucket{le=\"+Inf\"} 4
latency_seconds_sum 7.45
latency_seconds_count 4
";
    assert_eq!(registry().encode(Format::Prometheus), expected);
}

#[test]
fn openmetrics_1_0() {
    let expected = "\
# HELP http_requests Requests.\\nBy path \\\\ method.
# TYPE http_requests counter
http_requests_total{path=\"/\"} 1
http_requests_total{path=\"/a\\\"b\\\\c\\nd\"} 3
# HELP in_flight Requests in \\\"flight\\\".
# TYPE in_flight gauge
in_flight 2.5
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"0.1\"} 2
latency_seconds_bucket{le=\"0.5\"} 3
latency_seconds_bucket{le=\"+Inf\"} 4
latency_seconds_sum 7.45
latency_seconds_count 4
# EOF
";
    assert_eq!(registry().encode(Format::OpenMetrics), expected);
}

#[test]
fn labelled_histograms_put_le_last_and_special_floats_are_spelled() {
    let r = Registry::new();
    let h = r
        .histogram_vec("d", "D.", &["route"], &[1.0])
        .expect("histogram");
    h.with_label_values(&["/x"]).expect("labels").observe(0.5);
    let text = r.encode(Format::Prometheus);
    assert!(
        text.contains("d_bucket{route=\"/x\",le=\"1\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("d_bucket{route=\"/x\",le=\"+Inf\"} 1\n"));
    assert!(text.contains("d_count{route=\"/x\"} 1\n"));
    // OpenMetrics writes bucket bounds as canonical floats
    let text = r.encode(Format::OpenMetrics);
    assert!(
        text.contains("d_bucket{route=\"/x\",le=\"1.0\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("d_bucket{route=\"/x\",le=\"+Inf\"} 1\n"));
    let fams = [MetricFamily::new("g", "G.", MetricKind::Gauge)
        .with_sample(Sample::new(
            vec![("k".into(), "a".into())],
            SampleValue::Gauge(f64::NAN),
        ))
        .with_sample(Sample::new(
            vec![("k".into(), "b".into())],
            SampleValue::Gauge(f64::INFINITY),
        ))
        .with_sample(Sample::new(
            vec![("k".into(), "c".into())],
            SampleValue::Gauge(f64::NEG_INFINITY),
        ))];
    assert_eq!(
        encode(&fams, Format::Prometheus),
        "# HELP g G.\n# TYPE g gauge\ng{k=\"a\"} NaN\ng{k=\"b\"} +Inf\ng{k=\"c\"} -Inf\n"
    );
}

#[test]
fn names_and_labels_are_validated() {
    let r = Registry::new();
    assert!(matches!(
        r.counter("1abc", "x"),
        Err(MetricsError::MetricName(_))
    ));
    assert!(matches!(
        r.counter("jobs_total", "x"),
        Err(MetricsError::MetricName(_))
    ));
    assert!(matches!(
        r.counter_vec("a", "x", &["__x"]),
        Err(MetricsError::LabelName(_))
    ));
    assert!(matches!(
        r.histogram_vec("h", "x", &["le"], &[1.0]),
        Err(MetricsError::LabelName(_))
    ));
    assert!(matches!(
        r.histogram("h", "x", &[2.0, 1.0]),
        Err(MetricsError::Buckets)
    ));
    assert!(matches!(
        r.histogram("h", "x", &[]),
        Err(MetricsError::Buckets)
    ));
    r.gauge("g", "x").expect("gauge");
    assert!(matches!(r.gauge("g", "x"), Err(MetricsError::Duplicate(_))));
    let v = r.counter_vec("c", "x", &["a", "b"]).expect("vec");
    assert!(matches!(
        v.with_label_values(&["1"]),
        Err(MetricsError::LabelCount {
            expected: 2,
            got: 1,
            ..
        })
    ));
}

#[test]
fn no_two_families_write_the_same_name() {
    let r = Registry::new();
    assert!(matches!(
        r.counter_vec("x", "h", &["a", "a"]),
        Err(MetricsError::LabelName(_))
    ));
    r.counter("foo", "h").expect("counter");
    assert!(matches!(
        r.gauge("foo_total", "h"),
        Err(MetricsError::Duplicate(_))
    ));
    r.histogram("h", "h", &[1.0]).expect("histogram");
    for taken in ["h_count", "h_sum", "h_bucket"] {
        assert!(
            matches!(r.gauge(taken, "h"), Err(MetricsError::Duplicate(_))),
            "{taken}"
        );
    }
    r.gauge("up", "h").expect("gauge");
    assert!(matches!(
        r.histogram("up_bucket_x", "h", &[1.0]).map(|_| ()),
        Ok(())
    ));
    assert!(matches!(
        r.counter("up", "h"),
        Err(MetricsError::Duplicate(_))
    ));
    // Every name appears under exactly one # TYPE line.
    let text = r.encode(Format::Prometheus);
    let mut types: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let before = types.len();
    types.sort_unstable();
    types.dedup();
    assert_eq!(types.len(), before, "{text}");
}

#[test]
fn children_are_shared_and_counts_add_up_across_threads() {
    let r = std::sync::Arc::new(Registry::new());
    let v = r.counter_vec("hits", "Hits.", &["k"]).expect("vec");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let v = v.clone();
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    v.with_label_values(&["same"]).expect("labels").inc();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(
        v.with_label_values(&["same"]).expect("labels").get(),
        40_000
    );
}

#[test]
fn content_negotiation() {
    let cases = [
        (None, Format::Prometheus),
        (Some("*/*"), Format::Prometheus),
        (Some("text/plain;version=0.0.4"), Format::Prometheus),
        (Some("application/openmetrics-text"), Format::OpenMetrics),
        (
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics,
        ),
        (
            Some("application/openmetrics-text;version=0.0.1"),
            Format::Prometheus,
        ),
        (
            Some("application/openmetrics-text;q=0.2,text/plain;q=0.9"),
            Format::Prometheus,
        ),
        (Some("application/openmetrics-text;q=0"), Format::Prometheus),
        // Prometheus 2.42's scrape Accept header
        (
            Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            ),
            Format::OpenMetrics,
        ),
    ];
    for (accept, expected) in cases {
        assert_eq!(Format::negotiate(accept), expected, "{accept:?}");
    }
}

#[test]
fn label_combinations_beyond_the_limit_share_one_overflow_series() {
    let registry = Registry::with_series_limit(3);
    let by_path = registry
        .counter_vec("requests", "Requests.", &["path", "status"])
        .unwrap();
    let latency = registry
        .histogram_vec("latency_seconds", "Latency.", &["path"], &[0.1])
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let by_path = by_path.clone();
            let latency = latency.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    let path = format!("/p/{}", (t * 250 + i) % 10);
                    by_path.with_label_values(&[&path, "200"]).unwrap().inc();
                    latency.with_label_values(&[&path]).unwrap().observe(0.05);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let text = registry.encode(Format::Prometheus);
    let counters: Vec<(&str, u64)> = text
        .lines()
        .filter(|l| l.starts_with("requests_total{"))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series, value.parse().unwrap())
        })
        .collect();
    // Three real combinations and the overflow series, nothing more; no increment is lost.
    assert_eq!(counters.len(), 4, "{text}");
    assert_eq!(counters.iter().map(|(_, v)| v).sum::<u64>(), 1000);
    assert!(
        counters
            .iter()
            .any(|(s, _)| *s == r#"requests_total{path="__overflow__",status="__overflow__"}"#),
        "{text}"
    );
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("latency_seconds_count{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 4, "{text}");
    assert_eq!(counts.iter().sum::<u64>(), 1000);
}

#[test]
fn the_default_limit_keeps_2000_combinations() {
    let registry = Registry::new();
    let by_id = registry.counter_vec("hits", "Hits.", &["id"]).unwrap();
    for i in 0..2500 {
        by_id.with_label_values(&[&i.to_string()]).unwrap().inc();
    }
    let text = registry.encode(Format::Prometheus);
    let series = text
        .lines()
        .filter(|l| l.starts_with("hits_total{"))
        .count();
    assert_eq!(series, biv_availability::metrics::DEFAULT_SERIES_LIMIT + 1);
    assert!(text.contains("hits_total{id=\"__overflow__\"} 500\n"));
}

#[test]
fn removed_children_disappear_and_free_their_place_under_the_limit() {
    let registry = Registry::with_series_limit(2);
    let by_user = registry
        .counter_vec("logins", "Logins.", &["user", "site"])
        .unwrap();
    by_user.with_label_values(&["ann", "a"]).unwrap().inc();
    by_user.with_label_values(&["bob", "a"]).unwrap().inc();
    assert!(by_user.remove_label_values(&["ann", "a"]));
    assert!(!by_user.remove_label_values(&["ann", "a"]));
    // The freed place takes a new combination instead of the overflow series.
    by_user.with_label_values(&["cyd", "b"]).unwrap().inc();
    let text = registry.encode(Format::Prometheus);
    assert!(!text.contains("ann"), "{text}");
    assert!(
        text.contains("logins_total{user=\"cyd\",site=\"b\"} 1\n"),
        "{text}"
    );
    assert!(!text.contains("__overflow__"), "{text}");
    assert_eq!(by_user.remove_matching(1, "a"), 1);
    assert_eq!(by_user.remove_matching(7, "a"), 0);
    let text = registry.encode(Format::Prometheus);
    assert!(!text.contains("bob"), "{text}");
}
