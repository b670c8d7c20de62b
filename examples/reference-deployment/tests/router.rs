//! Drives the router in-process with `tower::ServiceExt::oneshot`: no socket, no binary.

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt as _;

/// Sends one request to a fresh router and returns status, content type and JSON body.
async fn call(method: Method, uri: &str) -> (StatusCode, Option<String>, serde_json::Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("a valid request");
    let response = biv_reference::app::router()
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
async fn root_describes_the_service_and_its_planned_controls() {
    let (status, content_type, about) = call(Method::GET, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(about["name"], "biv-reference");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(about["description"], biv_reference::app::DESCRIPTION);
    assert_eq!(about["note"], biv_reference::app::CONTROLS_NOTE);
    assert_eq!(about["wired"], 0);
    let controls = about["controls"].as_array().expect("a list of controls");
    assert_eq!(controls.len(), biv_reference::app::about().controls.len());
    for control in controls {
        assert!(
            ["availability", "integrity", "confidentiality"]
                .contains(&control["pillar"].as_str().expect("a pillar name")),
            "{control}"
        );
        assert!(control["control"].as_str().is_some_and(|c| !c.is_empty()));
        assert_eq!(control["status"], "planned");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    for uri in ["/nope", "/health", "/a/b/c?q=1"] {
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
