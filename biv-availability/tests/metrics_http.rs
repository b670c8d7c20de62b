//! The `/metrics` route and the RED layer through axum.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use biv_availability::metrics::{Format, ProcessCollector, RedLayer, Registry, metrics_router};
use tower::ServiceExt;

async fn body_text(resp: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn app(registry: &Arc<Registry>) -> Router {
    Router::new()
        .route("/patients/{id}", get(|| async { "ok" }))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        // the layer sees unmatched requests only through an explicit fallback
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(RedLayer::new(registry).expect("red"))
        .merge(metrics_router(registry.clone()))
}

async fn get_path(app: &Router, path: &str, accept: Option<&str>) -> axum::response::Response {
    let mut req = Request::get(path);
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    app.clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

#[tokio::test]
async fn metrics_route_negotiates_the_format() {
    let registry = Arc::new(Registry::new());
    registry.gauge("up", "Up.").expect("gauge").set(1.0);
    let app = app(&registry);
    let resp = get_path(&app, "/metrics", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        Format::Prometheus.content_type()
    );
    let text = body_text(resp).await;
    assert!(text.contains("up 1\n") && !text.contains("# EOF"));

    let resp = get_path(
        &app,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    )
    .await;
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        Format::OpenMetrics.content_type()
    );
    assert!(body_text(resp).await.ends_with("# EOF\n"));
}

#[tokio::test]
async fn red_layer_counts_by_route_template_and_status() {
    let registry = Arc::new(Registry::new());
    let app = app(&registry);
    for path in ["/patients/1", "/patients/2", "/boom", "/nope"] {
        get_path(&app, path, None).await;
    }
    let text = registry.encode(Format::Prometheus);
    for line in [
        "http_requests_total{method=\"GET\",route=\"/patients/{id}\",status=\"200\"} 2\n",
        "http_requests_total{method=\"GET\",route=\"/boom\",status=\"500\"} 1\n",
        "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n",
        "http_request_errors_total{method=\"GET\",route=\"/boom\"} 1\n",
        "http_request_duration_seconds_count{method=\"GET\",route=\"/patients/{id}\"} 2\n",
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/boom\",le=\"+Inf\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        !text.contains("/patients/1"),
        "raw paths stay out of the labels"
    );
}

#[tokio::test]
async fn invented_methods_share_one_label_value() {
    let registry = Arc::new(Registry::new());
    let app = app(&registry);
    for method in ["FOO1", "FOO2", "FOO3"] {
        let req = Request::builder()
            .method(method)
            .uri("/patients/1")
            .body(Body::empty())
            .expect("request");
        app.clone().oneshot(req).await.expect("infallible");
    }
    let text = registry.encode(Format::Prometheus);
    assert!(
        text.contains(
            "http_requests_total{method=\"_OTHER\",route=\"/patients/{id}\",status=\"405\"} 3\n"
        ),
        "{text}"
    );
    assert!(!text.contains("FOO"), "{text}");
}

#[cfg(target_os = "linux")]
#[test]
fn process_collector_reads_proc_self() {
    let registry = Registry::new();
    registry.register_collector(Arc::new(ProcessCollector::new()));
    let text = registry.encode(Format::Prometheus);
    for name in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
        "biv_host_load1 ",
        "biv_host_memory_available_bytes ",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    let start: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("process_start_time_seconds "))
        .expect("start time")
        .parse()
        .expect("number");
    assert!(start > 1_600_000_000.0);
}
