//! Smoke tests of the test harness: each server that `cargo xtask test` starts really does
//! its job, reached through `biv_testkit::servers` exactly as the project's tests reach it.
//!
//! All are `#[ignore]`d (plain `cargo test` lists them as ignored); `cargo xtask test` runs
//! them; `cargo xtask test -- harness_` runs only these.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use biv_testkit::servers;

/// A marker no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Polls `check` every 100 ms for at most `timeout`; panics with `what` on timeout.
fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A one-shot HTTP/1.1 request over a plain TCP stream; returns (status, body).
fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("{host} is not an address"));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|err| panic!("connecting to {addr}: {err}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("setting a read timeout");
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap_or_else(|err| panic!("sending {method} {url}: {err}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|err| panic!("reading the answer to {method} {url}: {err}"));
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
#[ignore = "server: postgresql; run `cargo xtask test`"]
async fn harness_postgres_stores_and_reads_a_row() {
    let url = servers::postgres_url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| panic!("connecting to {url}: {err}"));
    let connection = tokio::spawn(connection);

    let version: String = client
        .query_one("SHOW server_version_num", &[])
        .await
        .unwrap()
        .get(0);
    let version: u32 = version.parse().unwrap();
    assert!(version >= 150_000, "PostgreSQL 15 or newer, got {version}");

    client
        .batch_execute("CREATE TEMP TABLE harness_smoke (id int PRIMARY KEY, note text NOT NULL)")
        .await
        .unwrap();
    let note = unique("pg");
    let inserted = client
        .execute(
            "INSERT INTO harness_smoke (id, note) VALUES ($1, $2)",
            &[&42_i32, &note],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let row = client
        .query_one("SELECT note FROM harness_smoke WHERE id = $1", &[&42_i32])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), note);

    drop(client);
    connection.await.unwrap().unwrap();
}

#[test]
#[ignore = "server: rsyslog; run `cargo xtask test`"]
fn harness_rsyslog_writes_an_octet_counted_rfc5424_message() {
    let syslog = servers::rsyslog();
    let marker = unique("syslog");
    let message = format!(
        "<134>1 2026-11-26T12:00:00.000Z biv-host biv-smoke 4242 SMOKE42 \
         [biv@32473 marker=\"{marker}\"] harness smoke test {marker}"
    );
    let mut stream = TcpStream::connect(syslog.addr).unwrap();
    write!(stream, "{} {message}", message.len()).unwrap();
    stream.flush().unwrap();
    drop(stream);

    let line = poll(
        "the message in the rsyslog output",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&syslog.output)
                .ok()?
                .lines()
                .find(|line| line.contains(&format!("test {marker}")))
                .map(str::to_owned)
        },
    );
    assert!(line.starts_with("<134>1 "), "{line}");
    assert!(
        line.contains(" biv-smoke 4242 SMOKE42 "),
        "app-name, procid and msgid: {line}"
    );
    assert!(
        line.contains(&format!("[biv@32473 marker=\"{marker}\"]")),
        "{line}"
    );
}

#[test]
#[ignore = "server: rsyslog; run `cargo xtask test`"]
fn harness_rsyslog_tls_input_verifies_and_receives_a_message() {
    let syslog = servers::rsyslog_tls();
    let marker = unique("syslog-tls");
    let message = format!(
        "<134>1 2026-11-26T12:00:00.000Z biv-host biv-smoke 4242 SMOKETLS - harness tls {marker}"
    );
    // `openssl s_client` as the TLS client: it verifies the certificate against the CA the
    // harness exported, for the name the harness documents, and fails the handshake otherwise.
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
        .arg("-connect")
        .arg(syslog.addr.to_string())
        .arg("-CAfile")
        .arg(&syslog.ca_file)
        .args(["-verify_hostname", &syslog.server_name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the openssl CLI");
    write!(
        child.stdin.take().expect("piped stdin"),
        "{} {message}",
        message.len()
    )
    .expect("writing to openssl s_client");
    let out = child.wait_with_output().expect("openssl s_client");
    assert!(
        out.status.success(),
        "openssl s_client: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let line = poll(
        "the TLS message in the rsyslog output",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&syslog.output)
                .ok()?
                .lines()
                .find(|line| line.contains(&format!("harness tls {marker}")))
                .map(str::to_owned)
        },
    );
    assert!(line.starts_with("<134>1 "), "{line}");
    assert!(line.contains(" biv-smoke 4242 SMOKETLS "), "{line}");
}

#[test]
#[ignore = "server: alertmanager; run `cargo xtask test`"]
fn harness_alertmanager_notifies_the_webhook() {
    let alertmanager = servers::alertmanager();
    let alertname = unique("HarnessSmoke").replace('-', "_");
    let alerts = serde_json::json!([{
        "labels": {"alertname": alertname, "service": "xtask", "severity": "info"},
        "annotations": {"summary": "harness smoke test"},
        "generatorURL": "http://127.0.0.1/xtask"
    }]);
    let (status, body) = http(
        "POST",
        &format!("{}/api/v2/alerts", alertmanager.url),
        Some(&alerts.to_string()),
    );
    assert_eq!(status, 200, "{body}");

    let notification = poll("the webhook notification", Duration::from_secs(20), || {
        std::fs::read_to_string(&alertmanager.webhook_log)
            .ok()?
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|value| {
                value["alerts"].as_array().is_some_and(|alerts| {
                    alerts.iter().any(|a| a["labels"]["alertname"] == alertname)
                })
            })
    });
    assert_eq!(notification["status"], "firing", "{notification}");
    assert_eq!(notification["receiver"], "hook", "{notification}");
    assert_eq!(
        notification["commonLabels"]["service"], "xtask",
        "{notification}"
    );
}

#[test]
#[ignore = "server: prometheus; run `cargo xtask test`"]
fn harness_prometheus_is_ready_scrapes_and_knows_alertmanager() {
    let prometheus = servers::prometheus();
    let alertmanager = servers::alertmanager();
    let (status, _) = http("GET", &format!("{}/-/ready", prometheus.url), None);
    assert_eq!(status, 200);

    // The first self-scrape takes ~5 s; the Alertmanager is discovered on the same tick.
    poll("a sample of up == 1", Duration::from_secs(30), || {
        let (_, body) = http(
            "GET",
            &format!("{}/api/v1/query?query=up", prometheus.url),
            None,
        );
        let value: serde_json::Value = serde_json::from_str(&body).ok()?;
        let results = value["data"]["result"].as_array()?;
        results
            .iter()
            .any(|result| result["value"][1] == "1")
            .then_some(())
    });
    let am_host = alertmanager.url.trim_start_matches("http://");
    poll(
        "the Alertmanager in /api/v1/alertmanagers",
        Duration::from_secs(30),
        || {
            let (_, body) = http(
                "GET",
                &format!("{}/api/v1/alertmanagers", prometheus.url),
                None,
            );
            body.contains(am_host).then_some(())
        },
    );
}

#[test]
#[ignore = "server: prometheus; run `cargo xtask test`"]
fn harness_promtool_accepts_good_rules_and_rejects_bad_ones() {
    let prometheus = servers::prometheus();
    let dir = servers::scratch_dir("promtool");
    let check = |name: &str, rules: &str| {
        let path = dir.join(name);
        std::fs::write(&path, rules).unwrap();
        Command::new(&prometheus.promtool)
            .args(["check", "rules"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let good = check(
        "good.yml",
        "groups:\n  - name: smoke\n    rules:\n      - alert: SmokeDown\n        expr: up == 0\n        for: 1m\n",
    );
    assert!(good.status.success(), "{good:?}");
    let bad = check(
        "bad.yml",
        "groups:\n  - name: smoke\n    rules:\n      - alert: SmokeDown\n        expr: up ==\n",
    );
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
}

#[test]
#[ignore = "server: softhsm2; run `cargo xtask test`"]
fn harness_softhsm2_token_is_initialised_and_accepts_the_pin() {
    let token = servers::softhsm2();
    assert!(Path::new(&token.module).is_file(), "{token:?}");
    let debug = format!("{token:?}");
    assert!(
        !debug.contains(&format!("\"{}\"", token.so_pin)),
        "Debug leaks the SO PIN"
    );

    let slots = Command::new("softhsm2-util")
        .arg("--show-slots")
        .env("SOFTHSM2_CONF", &token.conf)
        .output()
        .unwrap();
    assert!(slots.status.success(), "{slots:?}");
    let listing = String::from_utf8_lossy(&slots.stdout);
    assert!(
        listing.contains(&format!("Label:            {}", token.token_label)),
        "{listing}"
    );

    // Log in through the PKCS#11 module itself, as the Rust backend will.
    let login = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&token.module)
        .args([
            "--token-label",
            &token.token_label,
            "--login",
            "--pin",
            &token.user_pin,
        ])
        .arg("--list-objects")
        .env("SOFTHSM2_CONF", &token.conf)
        .output()
        .unwrap();
    assert!(login.status.success(), "{login:?}");
}

#[test]
#[ignore = "server: php; run `cargo xtask test`"]
fn harness_php_has_ffi_and_phpunit_runs() {
    let php = servers::php();
    let ffi = Command::new(&php.php)
        .args(["-r", "echo extension_loaded(\"ffi\") ? \"yes\" : \"no\";"])
        .output()
        .unwrap();
    assert!(ffi.status.success(), "{ffi:?}");
    assert_eq!(String::from_utf8_lossy(&ffi.stdout), "yes");

    let phpunit = Command::new(&php.phpunit)
        .arg("--version")
        .output()
        .unwrap();
    assert!(phpunit.status.success(), "{phpunit:?}");
    assert!(
        String::from_utf8_lossy(&phpunit.stdout).contains("PHPUnit"),
        "{phpunit:?}"
    );
}

#[test]
#[ignore = "server: any; run `cargo xtask test`"]
fn harness_sets_the_servers_flag_and_a_writable_tmpdir() {
    assert!(
        servers::available(),
        "BIV_TEST_SERVERS=1 is set by the harness"
    );
    let a = servers::scratch_dir("smoke");
    let b = servers::scratch_dir("smoke");
    assert_ne!(a, b);
    assert!(a.starts_with(servers::tmpdir()));
    std::fs::write(a.join("file"), b"ok").unwrap();
}
