//! The registry: groups, criticality, caching, panics, timeouts, staleness, shutdown and the
//! HTTP routes.

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use biv_availability::health::{
    CheckOptions, FnMonitor, Group, HealthRegistry, HealthReport, health_router, shutdown_after,
};
use biv_core::{CheckResult, Status, Timestamp};
use biv_testkit::ManualClock;
use tower::ServiceExt;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").expect("a valid timestamp"),
    ))
}

fn fixed(
    name: &str,
    result: CheckResult,
) -> FnMonitor<impl Fn() -> std::future::Ready<CheckResult>> {
    FnMonitor::new(name, move || std::future::ready(result.clone()))
}

async fn get(registry: &HealthRegistry, path: &str) -> (StatusCode, String, HealthReport) {
    let response = health_router::<()>(registry.clone())
        .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII").to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    let report = HealthReport::from_json(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, content_type, report)
}

#[tokio::test]
async fn groups_select_their_checks_and_criticality_softens_failures() {
    let registry = HealthRegistry::builder(clock())
        .check(
            fixed("process:alive", CheckResult::pass()),
            CheckOptions::new([Group::Live, Group::Ready]),
        )
        .check(
            fixed("cache:responseTime", CheckResult::fail("cache down")),
            CheckOptions::new([Group::Ready]).non_critical(),
        )
        .check(
            fixed("migrations:applied", CheckResult::pass()),
            CheckOptions::new([Group::Startup]),
        )
        .check(
            fixed("batch:lag", CheckResult::fail("lagging")),
            CheckOptions::new([Group::Custom("batch".into())]),
        )
        .build();
    registry.refresh_now().await;

    let live = registry.report(&Group::Live);
    assert_eq!(live.status, Status::Pass);
    assert_eq!(live.checks.keys().collect::<Vec<_>>(), ["process:alive"]);

    let ready = registry.report(&Group::Ready);
    assert_eq!(ready.status, Status::Warn);
    let cache = &ready.checks["cache:responseTime"][0];
    assert_eq!(cache.status, Status::Warn);
    assert_eq!(cache.output.as_deref(), Some("cache down"));
    assert_eq!(cache.time.as_deref(), Some("2026-11-26T12:00:00Z"));

    assert_eq!(registry.report(&Group::Startup).status, Status::Pass);
    assert_eq!(
        registry.report(&Group::Custom("batch".into())).status,
        Status::Fail
    );
    let all = registry.report_all();
    assert_eq!(all.status, Status::Fail);
    assert_eq!(all.checks.len(), 4);
}

#[tokio::test]
async fn probes_read_the_cache_and_never_run_a_check() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let registry = HealthRegistry::builder(clock())
        .check(
            FnMonitor::new("db:ping", move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { CheckResult::pass() }
            }),
            CheckOptions::new([Group::Ready]),
        )
        .build();
    let before = registry.report(&Group::Ready);
    assert_eq!(
        before.status,
        Status::Fail,
        "not checked yet counts as fail"
    );
    assert_eq!(
        before.checks["db:ping"][0].output.as_deref(),
        Some("not checked yet")
    );
    registry.refresh_now().await;
    for _ in 0..50 {
        assert_eq!(get(&registry, "/health/ready").await.0, StatusCode::OK);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panicking_check_fails_with_its_message() {
    let registry = HealthRegistry::builder(clock())
        .check(
            FnMonitor::new("broken:check", || async {
                panic!("index out of range in the pool");
            }),
            CheckOptions::new([Group::Ready]),
        )
        .build();
    registry.refresh_now().await;
    let report = registry.report(&Group::Ready);
    assert_eq!(report.status, Status::Fail);
    let output = report.checks["broken:check"][0].output.clone().unwrap();
    assert!(output.contains("panicked"), "{output}");
    assert!(
        output.contains("index out of range in the pool"),
        "{output}"
    );
}

#[tokio::test]
async fn a_hanging_check_times_out_as_fail() {
    let registry = HealthRegistry::builder(clock())
        .check(
            FnMonitor::new("slow:dependency", std::future::pending::<CheckResult>),
            CheckOptions::new([Group::Ready]).timeout(Duration::from_millis(100)),
        )
        .build();
    tokio::time::timeout(Duration::from_secs(10), registry.refresh_now())
        .await
        .expect("the registry bounds every check by its timeout");
    let report = registry.report(&Group::Ready);
    assert_eq!(report.status, Status::Fail);
    let output = report.checks["slow:dependency"][0].output.clone().unwrap();
    assert!(output.contains("timed out"), "{output}");
}

#[tokio::test]
async fn stale_results_fail() {
    let clock = clock();
    let registry = HealthRegistry::builder(clock.clone())
        .check(
            fixed("db:ping", CheckResult::pass()),
            CheckOptions::new([Group::Ready])
                .interval(Duration::from_secs(10))
                .timeout(Duration::from_secs(1)),
        )
        .build();
    registry.refresh_now().await;
    clock.advance(Duration::from_secs(21));
    assert_eq!(registry.report(&Group::Ready).status, Status::Pass);
    clock.advance(Duration::from_secs(1));
    let report = registry.report(&Group::Ready);
    assert_eq!(report.status, Status::Fail);
    assert!(
        report.checks["db:ping"][0]
            .output
            .as_deref()
            .unwrap()
            .contains("stale")
    );
}

#[tokio::test]
async fn the_background_refresh_updates_the_cache() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let registry = HealthRegistry::builder(clock())
        .check(
            FnMonitor::new("db:ping", move || {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        CheckResult::fail("starting")
                    } else {
                        CheckResult::pass()
                    }
                }
            }),
            CheckOptions::new([Group::Ready]).interval(Duration::from_millis(20)),
        )
        .build();
    let task = registry.spawn_refresh();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while registry.report(&Group::Ready).status != Status::Pass {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refresh never passed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.stop();
    assert!(runs.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn routes_answer_health_json_with_the_right_status() {
    let registry = HealthRegistry::builder(clock())
        .check(
            fixed("process:alive", CheckResult::pass()),
            CheckOptions::new([Group::Live]),
        )
        .check(
            fixed(
                "disk:free",
                CheckResult::fail("2% free").with_observed(2.0, "percent"),
            ),
            CheckOptions::new([Group::Ready]),
        )
        .check(
            fixed("export:lag", CheckResult::warn("behind")),
            CheckOptions::new([Group::Custom("export".into())]),
        )
        .build();
    registry.refresh_now().await;

    let (status, content_type, report) = get(&registry, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/health+json");
    assert_eq!(report.status, Status::Pass);

    let (status, _, report) = get(&registry, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let disk = &report.checks["disk:free"][0];
    assert_eq!(disk.observed_value, Some(2.0));
    assert_eq!(disk.observed_unit.as_deref(), Some("percent"));
    assert_eq!(disk.component_type.as_deref(), Some("component"));

    let (status, _, report) = get(&registry, "/health/startup").await;
    assert_eq!((status, report.status), (StatusCode::OK, Status::Pass));

    let (status, _, report) = get(&registry, "/health/export").await;
    assert_eq!((status, report.status), (StatusCode::OK, Status::Warn));

    let (status, _, report) = get(&registry, "/health").await;
    assert_eq!(
        (status, report.status),
        (StatusCode::SERVICE_UNAVAILABLE, Status::Fail)
    );
    assert_eq!(report.checks.len(), 3);

    let missing = health_router::<()>(registry.clone())
        .oneshot(Request::get("/health/nope").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_shutdown_readiness_fails_first_and_liveness_stays() {
    let registry = HealthRegistry::builder(clock())
        .check(
            fixed("process:alive", CheckResult::pass()),
            CheckOptions::new([Group::Live, Group::Ready]),
        )
        .build();
    registry.refresh_now().await;
    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = tokio::spawn(shutdown_after(
        registry.clone(),
        async move {
            let _ = signal_rx.await;
        },
        Duration::from_millis(50),
    ));
    assert_eq!(get(&registry, "/health/ready").await.0, StatusCode::OK);
    signal_tx.send(()).unwrap();
    shutdown.await.unwrap();
    let (status, _, report) = get(&registry, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(report.checks.contains_key("shutdown:draining"));
    assert_eq!(get(&registry, "/health/live").await.0, StatusCode::OK);
}

#[tokio::test]
async fn serves_over_http_and_drains_on_shutdown() {
    let registry = HealthRegistry::builder(clock())
        .check(
            fixed("process:alive", CheckResult::pass()),
            CheckOptions::new([Group::Live, Group::Ready]),
        )
        .build();
    registry.refresh_now().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, health_router(registry.clone()))
            .with_graceful_shutdown(shutdown_after(
                registry.clone(),
                async move {
                    let _ = signal_rx.await;
                },
                Duration::from_millis(20),
            ))
            .into_future(),
    );
    let ready = biv_availability::health::HttpMonitor::new(
        "self:ready",
        &format!("http://{addr}/health/ready"),
    )
    .unwrap();
    use biv_core::Monitor;
    assert_eq!(ready.check().await.status, Status::Pass);
    signal_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops after draining")
        .unwrap()
        .unwrap();
    assert!(registry.is_shutting_down());
}
