//! `PostgresMonitor` against the real server that `cargo xtask test` starts.

use biv_availability::health::PostgresMonitor;
use biv_core::{Monitor, Status};

mod reachable {
    use super::*;
    biv_testkit::monitor_conformance!(
        PostgresMonitor::new("postgres:responseTime", biv_testkit::servers::postgres_url()),
        #[ignore = "server: postgresql; run `cargo xtask test`"]
    );
}

#[tokio::test]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn pings_the_test_server() {
    let monitor = PostgresMonitor::new(
        "postgres:responseTime",
        biv_testkit::servers::postgres_url(),
    );
    let result = monitor.check().await;
    assert_eq!(result.status, Status::Pass, "{:?}", result.output);
    assert_eq!(result.observed_unit.as_deref(), Some("ms"));
}

#[tokio::test]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn a_missing_database_fails_without_printing_the_url() {
    let url = biv_testkit::servers::postgres_url();
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    let monitor = PostgresMonitor::new(
        "postgres:responseTime",
        format!("{base}/biv_no_such_database"),
    );
    let result = monitor.check().await;
    assert_eq!(result.status, Status::Fail);
    assert!(!format!("{monitor:?}").contains(base));
}

#[tokio::test]
async fn an_unreachable_server_fails() {
    let closed = biv_testkit::net::ClosedPort::new().unwrap();
    let port = closed.addr().port();
    let monitor = PostgresMonitor::new(
        "postgres:responseTime",
        format!("postgresql://biv@127.0.0.1:{port}/postgres"),
    );
    let result = monitor.check().await;
    assert_eq!(result.status, Status::Fail);
    assert!(result.output.unwrap().starts_with("postgresql: "));
}
