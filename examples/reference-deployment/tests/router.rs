//! Drives the router in-process with `tower::ServiceExt::oneshot`: no socket, no binary.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt as _;

/// Disk thresholds that keep these tests independent of how full the build machine's disk is.
const NEVER_FAIL_ON_DISK: biv_reference::health::DiskThresholds =
    biv_reference::health::DiskThresholds {
        warn_below_percent: 0.0,
        fail_below_percent: 0.0,
    };

/// Sends one request to a fresh router and returns status, content type and JSON body.
async fn call(method: Method, uri: &str) -> (StatusCode, Option<String>, serde_json::Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("a valid request");
    let health = biv_reference::health::registry(
        &std::env::temp_dir(),
        NEVER_FAIL_ON_DISK,
        Arc::new(biv_core::SystemClock::new()),
    );
    health.refresh_now().await;
    let response = biv_reference::app::router(health)
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("reads the body");
    let json = serde_json::from_slice(&body).expect("the body is JSON");
    (status, content_type, json)
}

#[tokio::test]
async fn root_describes_the_service_and_its_controls() {
    let (status, content_type, about) = call(Method::GET, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(about["name"], "biv-reference");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(about["description"], biv_reference::app::DESCRIPTION);
    assert_eq!(about["note"], biv_reference::app::CONTROLS_NOTE);
    assert_eq!(about["wired"], 3);
    let controls = about["controls"].as_array().expect("a list of controls");
    assert_eq!(controls.len(), biv_reference::app::about().controls.len());
    for control in controls {
        assert!(
            ["availability", "integrity", "confidentiality"]
                .contains(&control["pillar"].as_str().expect("a pillar name")),
            "{control}"
        );
        assert!(control["control"].as_str().is_some_and(|c| !c.is_empty()));
        let expected = if control["control"].as_str().is_some_and(|c| {
            c.starts_with("health checks") || c.starts_with("metrics") || c == "deviation detectors"
        }) {
            "wired"
        } else {
            "planned"
        };
        assert_eq!(control["status"], expected, "{control}");
    }
}

#[tokio::test]
async fn health_routes_answer_health_json() {
    for (uri, keys) in [
        ("/health", &["data:writable", "disk:free"][..]),
        ("/health/ready", &["data:writable", "disk:free"][..]),
        ("/health/startup", &["data:writable"][..]),
        ("/health/live", &[][..]),
    ] {
        let (status, content_type, body) = call(Method::GET, uri).await;
        assert_eq!(
            content_type.as_deref(),
            Some("application/health+json"),
            "{uri}"
        );
        let expected_status = if body["status"] == "fail" {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected_status, "{uri}: {body}");
        let checks: Vec<&str> = body["checks"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(checks, keys, "{uri}");
    }
    let (_, _, live) = call(Method::GET, "/health/live").await;
    assert_eq!(live["status"], "pass");
    let (_, _, startup) = call(Method::GET, "/health/startup").await;
    assert_eq!(startup["status"], "pass", "the temp dir is writable");
    let (status, _, ready) = call(Method::GET, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["checks"]["disk:free"][0]["status"], "pass");
}

#[tokio::test]
async fn a_disk_under_the_fail_threshold_fails_readiness() {
    // No file system is 100 % free, so this threshold always fails.
    let health = biv_reference::health::registry(
        &std::env::temp_dir(),
        biv_reference::health::DiskThresholds {
            warn_below_percent: 100.0,
            fail_below_percent: 100.0,
        },
        Arc::new(biv_core::SystemClock::new()),
    );
    health.refresh_now().await;
    let response = biv_reference::app::router(health)
        .oneshot(Request::get("/health/ready").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["checks"]["disk:free"][0]["status"], "fail");
    assert_eq!(json["checks"]["data:writable"][0]["status"], "pass");
}

#[tokio::test]
async fn an_unwritable_data_dir_fails_readiness() {
    let missing =
        std::env::temp_dir().join(format!("biv-reference-missing-{}", std::process::id()));
    let health = biv_reference::health::registry(
        &missing,
        NEVER_FAIL_ON_DISK,
        Arc::new(biv_core::SystemClock::new()),
    );
    health.refresh_now().await;
    let response = biv_reference::app::router(health)
        .oneshot(Request::get("/health/ready").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["checks"]["data:writable"][0]["status"], "fail");
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    for uri in ["/nope", "/healthz", "/a/b/c?q=1"] {
        let (status, content_type, body) = call(Method::GET, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{uri}");
        assert_eq!(body["error"], "not_found", "{uri}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn other_methods_on_root_are_405_json() {
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let (status, content_type, body) = call(method.clone(), "/").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{method}"
        );
        assert_eq!(body["error"], "method_not_allowed", "{method}");
    }
}

/// Sends requests to one router and returns the `/metrics` text (with `accept`).
async fn scrape_after(
    paths: &[&str],
    accept: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let health = biv_reference::health::registry(
        &std::env::temp_dir(),
        NEVER_FAIL_ON_DISK,
        Arc::new(biv_core::SystemClock::new()),
    );
    health.refresh_now().await;
    let app = biv_reference::app::router(health);
    for path in paths {
        app.clone()
            .oneshot(Request::get(*path).body(Body::empty()).expect("a request"))
            .await
            .expect("the router is infallible");
    }
    let mut request = Request::get("/metrics");
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let response = app
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("the router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("reads the body");
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).expect("utf-8"),
    )
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let (status, content_type, text) =
        scrape_after(&["/", "/", "/health/live", "/patients/123456782"], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for line in [
        "http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 2\n",
        "http_requests_total{method=\"GET\",route=\"/health/live\",status=\"200\"} 1\n",
        "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n",
        "# TYPE http_request_duration_seconds histogram\n",
        "# TYPE process_cpu_seconds_total counter\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("123456782"), "paths never become labels");
}

#[tokio::test]
async fn metrics_speak_openmetrics_when_asked() {
    let (status, content_type, text) =
        scrape_after(&[], Some("application/openmetrics-text; version=1.0.0")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        content_type.as_deref(),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}
