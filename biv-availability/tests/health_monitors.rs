//! The ready-made monitors: each passes biv-testkit's `Monitor` conformance checks, and each
//! reports a broken dependency as `fail` with a reason.

use std::path::PathBuf;
use std::time::Duration;

use biv_availability::health::{
    DiskSpaceMonitor, FnMonitor, HttpMonitor, MemInfo, MemInfoError, MemoryMonitor, TcpMonitor,
    WritableDirMonitor,
};
use biv_core::{CheckResult, Monitor, Status};

/// A loopback TCP listener that accepts and drops connections; returns its address.
async fn accepting_listener() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address").to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    addr
}

/// A loopback HTTP server answering every request with `status`; returns its base URL.
async fn http_server(status: u16) -> String {
    let app = axum::Router::new().fallback(move || async move {
        axum::http::StatusCode::from_u16(status).expect("a valid status")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A closed loopback port, held (bound, not listening) until the test process ends.
fn closed_port() -> String {
    biv_testkit::net::ClosedPort::for_process()
        .expect("a closed port")
        .to_string()
}

/// A fresh directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "biv-health-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

mod tcp {
    use super::*;
    biv_testkit::monitor_conformance!(TcpMonitor::new(
        "loopback:responseTime",
        accepting_listener().await
    ));
}

mod tcp_closed {
    use super::*;
    biv_testkit::monitor_conformance!(TcpMonitor::new("closed:responseTime", closed_port()));
}

mod http {
    use super::*;
    biv_testkit::monitor_conformance!(
        HttpMonitor::new(
            "api:responseTime",
            &format!("{}/health", http_server(200).await)
        )
        .expect("a valid URL")
    );
}

mod http_500 {
    use super::*;
    biv_testkit::monitor_conformance!(
        HttpMonitor::new("api:responseTime", &http_server(500).await).expect("a valid URL")
    );
}

mod disk {
    use super::*;
    biv_testkit::monitor_conformance!(DiskSpaceMonitor::new("disk:free", std::env::temp_dir()));
}

mod disk_missing {
    use super::*;
    biv_testkit::monitor_conformance!(DiskSpaceMonitor::new(
        "disk:free",
        "/nonexistent/biv/health"
    ));
}

mod memory {
    use super::*;
    biv_testkit::monitor_conformance!(MemoryMonitor::new("memory:available"));
}

mod writable_dir {
    use super::*;
    // Probe files remove themselves, so the shared temp dir is left as it was.
    biv_testkit::monitor_conformance!(WritableDirMonitor::new(
        "data:writable",
        std::env::temp_dir()
    ));
}

mod closure {
    use super::*;
    biv_testkit::monitor_conformance!(FnMonitor::new("queue:depth", || async {
        CheckResult::warn("queue backing up").with_observed(1200.0, "items")
    }));
}

#[tokio::test]
async fn tcp_passes_on_an_open_port_and_fails_on_a_closed_one() {
    let open = TcpMonitor::new("a:b", accepting_listener().await);
    let result = open.check().await;
    assert_eq!(result.status, Status::Pass);
    assert_eq!(result.observed_unit.as_deref(), Some("ms"));
    let closed = TcpMonitor::new("a:b", closed_port()).check().await;
    assert_eq!(closed.status, Status::Fail);
    assert!(closed.output.unwrap().contains("cannot connect"));
}

#[tokio::test]
async fn http_judges_the_status_code() {
    for (status, expected) in [
        (200, Status::Pass),
        (204, Status::Pass),
        (302, Status::Pass),
        (404, Status::Fail),
        (503, Status::Fail),
    ] {
        let url = format!("{}/health/ready", http_server(status).await);
        let result = HttpMonitor::new("a:b", &url).unwrap().check().await;
        assert_eq!(result.status, expected, "status {status}");
        if expected == Status::Fail {
            assert!(result.output.unwrap().contains(&status.to_string()));
        }
    }
    let refused = HttpMonitor::new("a:b", &format!("http://{}/", closed_port()))
        .unwrap()
        .check()
        .await;
    assert_eq!(refused.status, Status::Fail);
}

#[tokio::test]
async fn http_times_out_on_a_server_that_never_answers() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let monitor = HttpMonitor::new("a:b", &format!("http://{addr}/"))
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let result = tokio::time::timeout(Duration::from_secs(5), monitor.check())
        .await
        .expect("the monitor enforces its own timeout");
    assert_eq!(result.status, Status::Fail);
    assert!(result.output.unwrap().contains("no answer"));
    held.abort();
}

#[test]
fn http_urls_are_checked() {
    assert!(HttpMonitor::new("a:b", "http://127.0.0.1:8080/health").is_ok());
    assert!(HttpMonitor::new("a:b", "http://localhost").is_ok());
    assert!(matches!(
        HttpMonitor::new("a:b", "https://example.org/"),
        Err(biv_availability::health::InvalidUrl::UnsupportedScheme)
    ));
    assert!(HttpMonitor::new("a:b", "http:///path").is_err());
    assert!(HttpMonitor::new("a:b", "http://host/a b").is_err());
    assert!(HttpMonitor::new("a:b", "http://user:pw@host/").is_err());
}

#[test]
fn meminfo_is_parsed() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/meminfo.txt"
    ))
    .unwrap();
    let info = MemInfo::parse(&text).unwrap();
    assert_eq!(info.total_bytes, 16_314_364 * 1024);
    assert_eq!(info.available_bytes, 1_221_832 * 1024);
    assert!((info.available_percent() - 7.489_302).abs() < 1e-3);
    assert_eq!(
        MemInfo::parse("MemTotal: 10 kB\n"),
        Err(MemInfoError::Missing("MemAvailable"))
    );
    assert_eq!(
        MemInfo::parse("MemTotal: ten kB\nMemAvailable: 1 kB\n"),
        Err(MemInfoError::Malformed("MemTotal"))
    );
}

#[tokio::test]
async fn memory_thresholds_grade_the_available_share() {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/meminfo.txt");
    let base = MemoryMonitor::new("memory:available").with_source(source);
    // 7.49 % available.
    let pass = base.clone().with_thresholds(5.0, 2.0).check().await;
    assert_eq!(pass.status, Status::Pass);
    let warn = base.clone().with_thresholds(10.0, 5.0).check().await;
    assert_eq!(warn.status, Status::Warn);
    assert!(warn.output.unwrap().contains("warning threshold"));
    let fail = base.clone().with_thresholds(20.0, 10.0).check().await;
    assert_eq!(fail.status, Status::Fail);
    assert_eq!(fail.observed_unit.as_deref(), Some("percent"));
    let missing = MemoryMonitor::new("m:a")
        .with_source("/nonexistent/meminfo")
        .check()
        .await;
    assert_eq!(missing.status, Status::Fail);
}

#[tokio::test]
async fn disk_thresholds_grade_the_available_share() {
    let dir = std::env::temp_dir();
    let never = DiskSpaceMonitor::new("disk:free", &dir).with_thresholds(0.0, 0.0);
    assert_eq!(never.check().await.status, Status::Pass);
    let always = DiskSpaceMonitor::new("disk:free", &dir).with_thresholds(101.0, 101.0);
    let result = always.check().await;
    assert_eq!(result.status, Status::Fail);
    assert!(result.output.unwrap().contains("bytes available"));
    let warns = DiskSpaceMonitor::new("disk:free", &dir).with_thresholds(101.0, 0.0);
    assert_eq!(warns.check().await.status, Status::Warn);
}

#[tokio::test]
async fn writable_dir_fails_when_the_directory_is_missing_and_leaves_nothing_behind() {
    let dir = temp_dir("leftovers");
    let ok = WritableDirMonitor::new("data:writable", &dir).check().await;
    assert_eq!(ok.status, Status::Pass);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let missing = WritableDirMonitor::new("data:writable", dir.join("missing"))
        .check()
        .await;
    assert_eq!(missing.status, Status::Fail);
    assert!(missing.output.unwrap().contains("cannot write"));
    std::fs::remove_dir_all(dir).unwrap();
}
