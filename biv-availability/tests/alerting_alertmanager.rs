//! `AlertmanagerNotifier`: the request it sends, how it reads answers, re-sending, and — with
//! the real Alertmanager that `cargo xtask test` starts — delivery to a receiver.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use biv_availability::alerting::{AlertmanagerConfigError, AlertmanagerNotifier};
use biv_core::{
    Alert, Clock, Finding, Notifier, NotifyError, PiiKind, Redactor, Severity, SystemClock,
};

/// A stand-in Alertmanager for the answer paths: records each body, answers with `status`.
#[derive(Debug, Clone)]
struct Recorder {
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
    status: Arc<Mutex<StatusCode>>,
    /// How long to wait before answering a body whose first alert has this name.
    slow: Arc<Mutex<Option<(String, Duration)>>>,
}

impl Recorder {
    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().expect("test setup").clone()
    }
    fn authorizations(&self) -> Vec<Option<String>> {
        self.authorizations.lock().expect("test setup").clone()
    }
    fn answer(&self, status: StatusCode) {
        *self.status.lock().expect("test setup") = status;
    }
    fn slow_for(&self, alertname: &str, delay: Duration) {
        *self.slow.lock().expect("test setup") = Some((alertname.to_owned(), delay));
    }
}

async fn record(
    State(r): State<Recorder>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let json: serde_json::Value = serde_json::from_slice(&body).expect("the body is JSON");
    let delay = r
        .slow
        .lock()
        .expect("test setup")
        .clone()
        .filter(|(name, _)| {
            json[0]["labels"]["alertname"] == name.as_str() && json[0].get("endsAt").is_none()
        })
        .map(|(_, d)| d);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    r.authorizations.lock().expect("test setup").push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    );
    r.bodies.lock().expect("test setup").push(json);
    let status = *r.status.lock().expect("test setup");
    let text = if status.is_success() {
        ""
    } else {
        "\"bad alert\""
    };
    (status, text)
}

/// Starts a recorder under `/prefix/api/v2/alerts`; returns it and its base URL.
async fn recorder() -> (Recorder, String) {
    let r = Recorder {
        bodies: Arc::default(),
        authorizations: Arc::default(),
        status: Arc::new(Mutex::new(StatusCode::OK)),
        slow: Arc::default(),
    };
    let app = Router::new()
        .route("/prefix/api/v2/alerts", post(record))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test setup");
    let url = format!(
        "http://{}/prefix/",
        listener.local_addr().expect("test setup")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, url)
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let addr = biv_testkit::net::ClosedPort::for_process().expect("a closed port");
    format!("http://{addr}")
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock::new())
}

fn alert(name: &str) -> Alert {
    Alert::new(name, Severity::Critical, SystemClock::new().now())
        .expect("test setup")
        .with_label("service", "ehr-api")
        .expect("test setup")
        .with_annotation("summary", "audit appends are failing")
}

/// Masks the one BSN this test uses.
#[derive(Debug)]
struct MaskBsn;

impl Redactor for MaskBsn {
    fn scan(&self, text: &str) -> Vec<Finding> {
        text.match_indices("111222333")
            .map(|(at, m)| Finding::new(PiiKind::Bsn, at, at + m.len(), 1.0))
            .collect()
    }
    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        Cow::Owned(text.replace("111222333", "[BSN]"))
    }
}

#[tokio::test]
async fn posts_alertmanagers_v2_body_with_personal_data_redacted() {
    let (recorder, url) = recorder().await;
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .redactor(Arc::new(MaskBsn))
        .bearer_token("s3cret-token")
        .expect("a valid token")
        .build()
        .expect("test setup");
    let alert = alert("BivTestRedaction")
        .with_label("patient_hint", "bsn 111222333")
        .expect("test setup")
        .with_annotation("description", "read of 111222333 failed");
    notifier.notify(&alert).await.expect("test setup");
    let bodies = recorder.bodies();
    assert_eq!(bodies.len(), 1);
    let sent = &bodies[0][0];
    assert_eq!(sent["labels"]["alertname"], "BivTestRedaction");
    assert_eq!(sent["labels"]["severity"], "critical");
    assert_eq!(sent["labels"]["patient_hint"], "bsn [BSN]");
    assert_eq!(sent["annotations"]["description"], "read of [BSN] failed");
    assert_eq!(
        sent["startsAt"],
        alert.starts_at().to_rfc3339_millis().as_str()
    );
    assert!(sent.get("endsAt").is_none(), "a firing alert has no end");
    assert!(!bodies[0].to_string().contains("111222333"));
    assert_eq!(
        recorder.authorizations(),
        [Some("Bearer s3cret-token".to_owned())]
    );
    assert!(!format!("{notifier:?}").contains("s3cret"));
}

#[tokio::test]
async fn firing_alerts_are_resent_until_resolved() {
    let (recorder, url) = recorder().await;
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .build()
        .expect("test setup");
    let firing = alert("BivTestResend");
    notifier.notify(&firing).await.expect("test setup");
    notifier
        .notify(&alert("BivTestOther"))
        .await
        .expect("test setup");
    assert_eq!(notifier.active().len(), 2);

    notifier.resend_now().await.expect("test setup");
    let resent = recorder.bodies().pop().expect("test setup");
    assert_eq!(
        resent.as_array().expect("test setup").len(),
        2,
        "both in one request"
    );

    let resolved = firing
        .clone()
        .resolved_at(SystemClock::new().now())
        .expect("test setup");
    notifier.notify(&resolved).await.expect("test setup");
    let sent = recorder.bodies().pop().expect("test setup");
    assert!(sent[0]["endsAt"].is_string());
    assert_eq!(notifier.active().len(), 1);
    assert_eq!(notifier.active()[0].name(), "BivTestOther");

    // The background task re-sends without being asked.
    let before = recorder.bodies().len();
    let _task = notifier
        .spawn_resend(Duration::from_millis(20))
        .expect("inside a runtime");
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorder.bodies().len() < before + 2 {
        assert!(Instant::now() < deadline, "no resend arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        recorder.bodies().last().expect("test setup")[0]["labels"]["alertname"],
        "BivTestOther"
    );
}

#[tokio::test]
async fn a_4xx_is_rejected_and_forgotten_a_5xx_is_unavailable_and_kept() {
    let (recorder, url) = recorder().await;
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .build()
        .expect("test setup");

    recorder.answer(StatusCode::BAD_REQUEST);
    let err = notifier
        .notify(&alert("BivTestRejected"))
        .await
        .unwrap_err();
    match err {
        NotifyError::Rejected(message) => {
            assert!(message.contains("HTTP 400"), "{message}");
            assert!(message.contains("bad alert"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(notifier.active().is_empty());

    recorder.answer(StatusCode::SERVICE_UNAVAILABLE);
    let err = notifier.notify(&alert("BivTestLater")).await.unwrap_err();
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");
    assert_eq!(notifier.active().len(), 1, "kept for the resend");

    recorder.answer(StatusCode::OK);
    notifier.resend_now().await.expect("test setup");
    assert_eq!(
        recorder.bodies().last().expect("test setup")[0]["labels"]["alertname"],
        "BivTestLater"
    );
}

#[tokio::test]
async fn one_reachable_alertmanager_is_enough() {
    let (recorder, url) = recorder().await;
    let dead = closed_port_url();
    let notifier = AlertmanagerNotifier::builder(&[&dead, &url], clock())
        .build()
        .expect("test setup");
    notifier
        .notify(&alert("BivTestHa"))
        .await
        .expect("test setup");
    assert_eq!(recorder.bodies().len(), 1);

    let other_dead = closed_port_url();
    let notifier = AlertmanagerNotifier::builder(&[&dead, &other_dead], clock())
        .build()
        .expect("test setup");
    match notifier.notify(&alert("BivTestHa")).await.unwrap_err() {
        NotifyError::Unavailable(e) => {
            let text = e.to_string();
            assert!(text.contains(dead.trim_start_matches("http://")), "{text}");
            assert!(
                text.contains(other_dead.trim_start_matches("http://")),
                "{text}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_alertmanager_that_never_answers_times_out() {
    // Accepts connections, never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test setup");
    let url = format!("http://{}", listener.local_addr().expect("test setup"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .timeout(Duration::from_millis(200))
        .build()
        .expect("test setup");
    let started = Instant::now();
    let err = notifier.notify(&alert("BivTestHang")).await.unwrap_err();
    assert!(
        matches!(&err, NotifyError::Unavailable(e) if e.to_string().contains("no answer within 200 ms")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn bad_configuration_is_refused() {
    assert_eq!(
        AlertmanagerNotifier::builder(&[], clock())
            .build()
            .unwrap_err(),
        AlertmanagerConfigError::NoUrl
    );
    for (url, why, shown) in [
        ("https://am:9093", "https", "https://am:9093"),
        ("am:9093", "http://", "am:9093"),
        ("ftp://am", "http://", "ftp://am"),
        ("http://am:9093/?x=1", "query", "http://am:9093/?x=1"),
        ("not a url", "not a URL", "not a url"),
        (
            "http://user:s3cret@am:9093/",
            "credentials in the URL",
            "http://<redacted>@am:9093/",
        ),
    ] {
        match AlertmanagerNotifier::builder(&[url], clock())
            .build()
            .unwrap_err()
        {
            err @ AlertmanagerConfigError::Url { .. } => {
                let AlertmanagerConfigError::Url { url: got, reason } = &err else {
                    unreachable!()
                };
                assert_eq!(got, shown);
                assert!(reason.contains(why), "{url}: {reason}");
                assert!(!err.to_string().contains("s3cret"), "{err}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(matches!(
        AlertmanagerNotifier::builder(&["http://am:9093"], clock()).bearer_token("a\nb"),
        Err(AlertmanagerConfigError::Credential)
    ));
    let builder = AlertmanagerNotifier::builder(&["http://am:9093"], clock())
        .bearer_token("s3cret-token")
        .unwrap();
    assert!(!format!("{builder:?}").contains("s3cret"));
    let notifier = builder.build().unwrap();
    assert!(!format!("{notifier:?}").contains("s3cret"));
    // Outside a runtime the resend task is an error, not a panic.
    assert_eq!(
        notifier.spawn_resend(Duration::from_secs(1)).unwrap_err(),
        AlertmanagerConfigError::NoRuntime
    );
}

#[tokio::test]
async fn a_slow_firing_post_cannot_undo_a_later_resolve() {
    let (recorder, url) = recorder().await;
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .build()
        .expect("test setup");
    let firing = alert("BivTestRace");
    recorder.slow_for("BivTestRace", Duration::from_millis(300));
    let slow = {
        let notifier = notifier.clone();
        let firing = firing.clone();
        tokio::spawn(async move { notifier.notify(&firing).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let resolved = firing.resolved_at(SystemClock::new().now()).unwrap();
    notifier.notify(&resolved).await.unwrap();
    slow.await.unwrap().unwrap();
    assert!(notifier.active().is_empty(), "the resolve stands");
}

#[tokio::test]
async fn a_resolve_that_crosses_a_resend_is_sent_again_after_it() {
    let (recorder, url) = recorder().await;
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .build()
        .expect("test setup");
    let firing = alert("BivTestCross");
    notifier.notify(&firing).await.unwrap();
    recorder.slow_for("BivTestCross", Duration::from_millis(300));
    let resend = {
        let notifier = notifier.clone();
        tokio::spawn(async move { notifier.resend_now().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let resolved = firing.resolved_at(SystemClock::new().now()).unwrap();
    notifier.notify(&resolved).await.unwrap();
    resend.await.unwrap().unwrap();
    // The last word Alertmanager got is the resolution, not the stale firing resend.
    let last = recorder.bodies().pop().unwrap();
    assert_eq!(last[0]["labels"]["alertname"], "BivTestCross");
    assert!(last[0]["endsAt"].is_string(), "{last}");
}

#[tokio::test]
async fn alerts_whose_end_has_passed_are_no_longer_resent() {
    let (recorder, url) = recorder().await;
    let clock = Arc::new(biv_testkit::ManualClock::new(SystemClock::new().now()));
    let notifier = AlertmanagerNotifier::builder(&[&url], clock.clone())
        .build()
        .expect("test setup");
    let ends_soon = Alert::new("BivTestEnds", Severity::Info, clock.now())
        .unwrap()
        .resolved_at(clock.now().checked_add(Duration::from_secs(60)).unwrap())
        .unwrap();
    notifier.notify(&ends_soon).await.unwrap();
    assert_eq!(notifier.active().len(), 1, "still firing until its end");
    clock.advance(Duration::from_secs(61));
    let posts = recorder.bodies().len();
    notifier.resend_now().await.unwrap();
    assert!(notifier.active().is_empty());
    assert_eq!(recorder.bodies().len(), posts, "nothing left to resend");
}

#[tokio::test]
async fn throttling_and_proxy_refusals_keep_the_alert_for_the_resend() {
    let (recorder, url) = recorder().await;
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .build()
        .expect("test setup");
    for status in [
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::REQUEST_TIMEOUT,
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
    ] {
        recorder.answer(status);
        let err = notifier.notify(&alert("BivTestKept")).await.unwrap_err();
        assert!(
            matches!(err, NotifyError::Unavailable(_)),
            "{status}: {err:?}"
        );
        assert_eq!(notifier.active().len(), 1, "{status}");
    }
}

#[tokio::test]
async fn deliveries_are_counted_as_metrics() {
    let (recorder, url) = recorder().await;
    let notifier = AlertmanagerNotifier::builder(&[&url], clock())
        .build()
        .expect("test setup");
    let registry = biv_availability::metrics::Registry::new();
    registry.register_collector(Arc::new(notifier.clone()));
    notifier.notify(&alert("BivTestCount")).await.unwrap();
    recorder.answer(StatusCode::BAD_REQUEST);
    let _ = notifier.notify(&alert("BivTestRefused")).await;
    let text = registry.encode(biv_availability::metrics::Format::Prometheus);
    assert!(
        text.contains("biv_alerts_sent_total{outcome=\"delivered\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("biv_alerts_sent_total{outcome=\"rejected\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("biv_alerts_active 1\n"), "{text}");
}

#[tokio::test]
#[ignore = "server: alertmanager; run by cargo xtask test"]
async fn the_real_alertmanager_notifies_firing_then_resolved() {
    let am = biv_testkit::servers::alertmanager();
    let notifier = AlertmanagerNotifier::builder(&[&am.url], clock())
        .build()
        .expect("test setup");
    let name = format!("BivTestDelivery{}", std::process::id());
    let firing = alert(&name).with_annotation("runbook_url", "https://runbooks.invalid/audit");
    notifier.notify(&firing).await.expect("test setup");

    // Alertmanager holds it as active, with our labels and annotations.
    let listed = listed_alerts(&am.url, &name).await;
    assert_eq!(listed.as_array().expect("test setup").len(), 1, "{listed}");
    assert_eq!(listed[0]["labels"]["service"], "ehr-api");
    assert_eq!(listed[0]["status"]["state"], "active");
    assert_eq!(
        listed[0]["annotations"]["runbook_url"],
        "https://runbooks.invalid/audit"
    );

    // The receiver gets it after group_wait (1 s) …
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = am.notifications_for(&name);
        if seen.iter().any(|n| n["status"] == "firing") {
            break;
        }
        assert!(Instant::now() < deadline, "no firing notification");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // … and the resolve after group_interval (5 s).
    let resolved = firing
        .resolved_at(SystemClock::new().now())
        .expect("test setup");
    notifier.notify(&resolved).await.expect("test setup");
    loop {
        let seen = am.notifications_for(&name);
        if let Some(n) = seen.iter().find(|n| n["status"] == "resolved") {
            assert_eq!(n["alerts"][0]["labels"]["severity"], "critical");
            assert_eq!(n["alerts"][0]["status"], "resolved");
            break;
        }
        assert!(Instant::now() < deadline, "no resolved notification");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(notifier.active().is_empty());
}

#[tokio::test]
#[ignore = "server: alertmanager; run by cargo xtask test"]
async fn the_real_alertmanager_takes_an_alert_with_a_hyphenated_annotation_name() {
    let am = biv_testkit::servers::alertmanager();
    let notifier = AlertmanagerNotifier::builder(&[&am.url], clock())
        .build()
        .expect("test setup");
    let name = format!("BivTestAnnotationName{}", std::process::id());
    // Alertmanager refuses a whole alert (HTTP 400) whose annotation name is no label name.
    let firing = alert(&name).with_annotation("runbook-url", "https://runbooks.invalid/disk");
    notifier.notify(&firing).await.expect("delivered");
    let listed = listed_alerts(&am.url, &name).await;
    assert_eq!(
        listed[0]["annotations"]["runbook_url"], "https://runbooks.invalid/disk",
        "{listed}"
    );
    let resolved = firing
        .resolved_at(SystemClock::new().now())
        .expect("test setup");
    notifier.notify(&resolved).await.expect("resolved");
}

/// The alerts Alertmanager holds under `alertname`, from its API.
async fn listed_alerts(am_url: &str, name: &str) -> serde_json::Value {
    let url = format!(
        "{}/api/v2/alerts?filter=alertname%3D%22{name}%22",
        am_url.trim_end_matches('/')
    );
    let body = tokio::task::spawn_blocking(move || http_get(&url))
        .await
        .expect("test setup");
    serde_json::from_str(&body).expect("test setup")
}

/// A plain HTTP/1.0 GET (the test's own, independent of the code under test).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("test setup");
    let (authority, path) = rest.split_at(rest.find('/').expect("test setup"));
    let mut stream = std::net::TcpStream::connect(authority).expect("test setup");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").expect("test setup");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("test setup");
    let (head, body) = response.split_once("\r\n\r\n").expect("test setup");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_owned()
}
