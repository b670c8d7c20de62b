//! The syslog sink over TLS (RFC 5425): configuration errors name their file, nothing is sent
//! in clear, the receiver's certificate and name are verified, mutual TLS works, and real
//! rsyslog (GnuTLS input) receives every record intact.
//!
//! Certificates are made per test with the `openssl` CLI (installed by `cargo xtask test`).

#[path = "support/octet_frame.rs"]
mod octet_frame;
use octet_frame::read_frame;

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use biv_availability::logging::{SyslogConfig, SyslogSink, SyslogTls, SyslogTlsError};
use biv_core::{Dataset, Level, LogRecord, LogSink, RecordId, Timestamp};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("biv-syslog-tls-{name}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("test helper: temp dir");
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("test helper: the openssl CLI (Debian package openssl) must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test helper: UTF-8 path")
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A throwaway CA in `dir`: (`<name>.pem`, `<name>.key`).
fn make_ca(dir: &TempDir, name: &str) -> (PathBuf, PathBuf) {
    let conf = dir.path(&format!("{name}.cnf"));
    std::fs::write(
        &conf,
        format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n\
             [dn]\nCN = {name}\n[v3_ca]\nbasicConstraints = critical,CA:TRUE\n\
             keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
        ),
    )
    .expect("test helper");
    let (pem, key) = (
        dir.path(&format!("{name}.pem")),
        dir.path(&format!("{name}.key")),
    );
    let mut args = vec!["req", "-x509", "-days", "2", "-config", s(&conf)];
    args.extend(EC);
    args.extend(["-keyout", s(&key), "-out", s(&pem)]);
    openssl(&args);
    (pem, key)
}

/// A certificate for `san` (e.g. `DNS:localhost,IP:127.0.0.1`) with `eku` issued by the CA:
/// (`<name>.pem`, `<name>.key`).
fn make_leaf(
    dir: &TempDir,
    ca: &(PathBuf, PathBuf),
    name: &str,
    san: &str,
    eku: &str,
) -> (PathBuf, PathBuf) {
    let conf = dir.path(&format!("{name}.cnf"));
    std::fs::write(
        &conf,
        format!(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {name}\n[v3]\n\
             basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
             extendedKeyUsage = {eku}\nsubjectAltName = {san}\n"
        ),
    )
    .expect("test helper");
    let (pem, key, csr) = (
        dir.path(&format!("{name}.pem")),
        dir.path(&format!("{name}.key")),
        dir.path(&format!("{name}.csr")),
    );
    let mut args = vec!["req", "-new", "-config", s(&conf)];
    args.extend(EC);
    args.extend(["-keyout", s(&key), "-out", s(&csr)]);
    openssl(&args);
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-set_serial",
        "7",
        "-in",
        s(&csr),
        "-CA",
        s(&ca.0),
        "-CAkey",
        s(&ca.1),
        "-extfile",
        s(&conf),
        "-extensions",
        "v3",
        "-out",
        s(&pem),
    ]);
    (pem, key)
}

fn record(marker: &str, i: u64) -> LogRecord {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&i.to_be_bytes());
    id[0] = 0x7e;
    let level = if i.is_multiple_of(2) {
        Level::Info
    } else {
        Level::Error
    };
    let line = format!(
        r#"{{"@timestamp":"2026-11-26T09:30:00.000Z","log.level":"{}","message":"{marker} {i} é \" ] \\ ok","ecs.version":"8.11.0"}}"#,
        level.as_str()
    );
    LogRecord::new(
        RecordId::from_bytes(id),
        Timestamp::parse_rfc3339("2026-11-26T09:30:00.000123Z").expect("test helper"),
        level,
        Dataset::Audit,
        line,
    )
    .expect("test helper")
}

fn marker(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("biv-tls-{name}-{}-{nanos}", std::process::id())
}

fn config(addr: SocketAddr, tls: SyslogTls) -> SyslogConfig {
    SyslogConfig::new(addr, "biv-test")
        .with_hostname("zorg-01.example.nl")
        .with_msgid("BIVTLS")
        .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .with_tls(tls)
}

// ---- configuration ----------------------------------------------------------------------

#[test]
fn a_missing_ca_file_is_a_read_error_naming_the_path() {
    let dir = TempDir::new("missing");
    let path = dir.path("nowhere/ca.pem");
    let err = SyslogTls::from_ca_pem_file(&path, "localhost").unwrap_err();
    assert!(
        matches!(&err, SyslogTlsError::Read { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains(s(&path)), "{err}");
}

#[test]
fn bad_pem_is_refused_naming_the_path() {
    let dir = TempDir::new("badpem");
    let cases = [
        (
            "base64.pem",
            "-----BEGIN CERTIFICATE-----\n!!! not base64 !!!\n-----END CERTIFICATE-----\n",
            "bad PEM",
        ),
        (
            "unterminated.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n",
            "bad PEM",
        ),
        ("empty.pem", "", "no certificate found"),
        (
            "key-only.pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "no certificate found",
        ),
        (
            "not-a-cert.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "certificate 0 is not a usable CA certificate",
        ),
    ];
    for (file, text, expected) in cases {
        let path = dir.path(file);
        std::fs::write(&path, text).unwrap();
        let err = SyslogTls::from_ca_pem_file(&path, "localhost").unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with(s(&path)), "{file}: {shown}");
        assert!(shown.contains(expected), "{file}: {shown}");
        match (&err, expected) {
            (SyslogTlsError::Pem { .. }, "bad PEM")
            | (SyslogTlsError::NoCertificate(_), "no certificate found")
            | (SyslogTlsError::BadCaCertificate { index: 0, .. }, _) => {}
            _ => panic!("{file}: unexpected variant {err:?}"),
        }
    }
    // The same checks on bytes name no file.
    let err = SyslogTls::from_ca_pem(b"", "localhost").unwrap_err();
    assert_eq!(err.to_string(), "<PEM bytes>: no certificate found");
}

#[test]
fn the_server_name_must_be_a_dns_name_or_an_ip_address() {
    let dir = TempDir::new("name");
    let ca = make_ca(&dir, "ca");
    for bad in ["", "not a name", "exa mple.nl", "-"] {
        let err = SyslogTls::from_ca_pem_file(&ca.0, bad).unwrap_err();
        assert!(
            matches!(err, SyslogTlsError::ServerName(_)),
            "{bad:?}: {err:?}"
        );
    }
    for good in ["localhost", "syslog.zorg.example.nl", "127.0.0.1", "::1"] {
        let tls = SyslogTls::from_ca_pem_file(&ca.0, good).unwrap();
        assert_eq!(tls.server_name(), good);
        assert!(!tls.client_auth());
    }
    let pem = std::fs::read(&ca.0).unwrap();
    let tls = SyslogTls::from_ca_pem(&pem, "localhost").unwrap();
    let debug = format!("{tls:?}");
    assert!(
        debug.contains("localhost") && debug.contains("ca_roots: 1"),
        "{debug}"
    );
}

#[test]
fn client_keys_are_checked_and_never_shown() {
    let dir = TempDir::new("client");
    let ca = make_ca(&dir, "ca");
    let client = make_leaf(&dir, &ca, "client", "DNS:ehr-api", "clientAuth");
    let other = make_leaf(&dir, &ca, "other", "DNS:other", "clientAuth");
    let tls = SyslogTls::from_ca_pem_file(&ca.0, "localhost").unwrap();

    // A matching pair.
    let with = tls
        .clone()
        .with_client_auth_pem_files(&client.0, &client.1)
        .unwrap();
    assert!(with.client_auth());
    let key_pem = std::fs::read_to_string(&client.1).unwrap();
    let key_body: String = key_pem.lines().nth(1).unwrap().to_owned();
    let debug = format!("{with:?}");
    assert!(!debug.contains(&key_body), "{debug}");
    assert!(debug.contains("client_auth: true"), "{debug}");

    // The key of another certificate.
    let err = tls
        .clone()
        .with_client_auth_pem_files(&client.0, &other.1)
        .unwrap_err();
    assert!(matches!(err, SyslogTlsError::ClientKey { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.contains(s(&other.1)) && shown.contains("does not match"),
        "{shown}"
    );
    assert!(!shown.contains(&key_body) && !format!("{err:?}").contains(&key_body));

    // No key in the key file; a missing key file.
    let err = tls
        .clone()
        .with_client_auth_pem_files(&client.0, &client.0)
        .unwrap_err();
    assert!(matches!(err, SyslogTlsError::NoPrivateKey(_)), "{err:?}");
    assert!(err.to_string().contains(s(&client.0)), "{err}");
    let missing = dir.path("missing.key");
    let err = tls
        .clone()
        .with_client_auth_pem_files(&client.0, &missing)
        .unwrap_err();
    assert!(err.to_string().contains(s(&missing)), "{err}");

    // From bytes.
    let cert_pem = std::fs::read(&client.0).unwrap();
    assert!(
        tls.with_client_auth_pem(&cert_pem, key_pem.as_bytes())
            .unwrap()
            .client_auth()
    );
}

// ---- against a loopback listener ---------------------------------------------------------

#[test]
fn nothing_is_sent_in_clear_to_a_receiver_without_tls() {
    let dir = TempDir::new("clear");
    let ca = make_ca(&dir, "ca");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tls = SyslogTls::from_ca_pem_file(&ca.0, "localhost").unwrap();
    let sink = SyslogSink::new(config(listener.local_addr().unwrap(), tls)).unwrap();
    let m = marker("clear");
    for i in 0..3 {
        sink.submit(record(&m, i)).unwrap();
    }
    // Two connections: read what the sink sends, then close, as a plain receiver would
    // after a line that is not syslog.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        // A TLS handshake record (content type 22, version 3.x), i.e. a ClientHello.
        assert!(got.len() > 5, "{got:?}");
        assert_eq!(&got[..2], &[0x16, 0x03], "{got:?}");
        seen.extend_from_slice(&got);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(!text.contains(&m), "a record was sent in clear");
    assert!(!text.contains("zorg-01"), "a header was sent in clear");
    let err = sink.flush(Duration::from_millis(300)).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("3 records pending"), "{shown}");
    assert!(
        shown.contains("TLS handshake with syslog receiver"),
        "{shown}"
    );
    assert!(sink.tls_failures() >= 2, "{}", sink.tls_failures());
    assert_eq!(sink.connections(), 0);
    drop(listener);
    let failures_metric = {
        use biv_availability::metrics::{Collector, SampleValue};
        let mut out = Vec::new();
        sink.collect(&mut out);
        let family = out
            .iter()
            .find(|f| f.name == "biv_syslog_tls_handshake_failures")
            .unwrap();
        match family.samples[0].value {
            SampleValue::Counter(n) => n,
            _ => panic!("not a counter"),
        }
    };
    assert!(failures_metric >= 2);
    assert_eq!(sink.lost_records(), 0, "still queued while the sink lives");
    drop(sink);
}

/// A rustls server for `server` (cert, key) that asks for a client certificate issued by
/// `client_ca`; returns every frame received and the client's certificate chain length.
fn mutual_tls_server(
    listener: TcpListener,
    server: (PathBuf, PathBuf),
    client_ca: PathBuf,
) -> std::thread::JoinHandle<(Vec<Vec<u8>>, usize)> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&client_ca).expect("test helper") {
        roots.add(cert.expect("test helper")).expect("test helper");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .expect("test helper");
    let chain = CertificateDer::pem_file_iter(&server.0)
        .expect("test helper")
        .collect::<Result<Vec<_>, _>>()
        .expect("test helper");
    let key = PrivateKeyDer::from_pem_file(&server.1).expect("test helper");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("test helper")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("test helper");
    std::thread::spawn(move || {
        let (sock, _) = listener.accept().expect("test helper");
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("test helper");
        let conn = rustls::ServerConnection::new(Arc::new(config)).expect("test helper");
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut frames = Vec::new();
        while let Some(frame) = read_frame(&mut tls) {
            frames.push(frame);
        }
        let presented = tls.conn.peer_certificates().map_or(0, <[_]>::len);
        (frames, presented)
    })
}

#[test]
fn mutual_tls_delivers_the_same_frames_as_plain_tcp() {
    let dir = TempDir::new("mtls");
    let server_ca = make_ca(&dir, "server-ca");
    let client_ca = make_ca(&dir, "client-ca");
    let server = make_leaf(
        &dir,
        &server_ca,
        "server",
        "DNS:localhost,IP:127.0.0.1",
        "serverAuth",
    );
    let client = make_leaf(&dir, &client_ca, "client", "DNS:ehr-api", "clientAuth");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = mutual_tls_server(listener, server, client_ca.0.clone());

    // The IP address as the name: matched against the certificate's IP SAN.
    let tls = SyslogTls::from_ca_pem_file(&server_ca.0, "127.0.0.1")
        .unwrap()
        .with_client_auth_pem_files(&client.0, &client.1)
        .unwrap();
    let c = config(addr, tls);
    let sink = SyslogSink::new(c.clone()).unwrap();
    let m = marker("mtls");
    let sent: Vec<LogRecord> = (0..20).map(|i| record(&m, i)).collect();
    for rec in &sent {
        sink.submit(rec.clone()).unwrap();
    }
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!((sink.connections(), sink.tls_failures()), (1, 0));
    drop(sink); // close_notify ends the receiver's loop
    let (frames, presented) = receiver.join().unwrap();
    assert_eq!(presented, 1, "the client certificate was presented");
    assert_eq!(frames.len(), sent.len());
    for (frame, rec) in frames.iter().zip(&sent) {
        // RFC 5425 frames are the octet-counted frames of RFC 6587, byte for byte.
        let plain = biv_availability::logging::encode_syslog(&c, rec);
        let (_, message) = plain.split_at(plain.iter().position(|b| *b == b' ').unwrap() + 1);
        assert_eq!(frame.as_slice(), message);
    }
}

#[test]
fn an_untrusted_receiver_is_refused_and_records_stay_queued() {
    let dir = TempDir::new("untrusted");
    let server_ca = make_ca(&dir, "server-ca");
    let other_ca = make_ca(&dir, "other-ca");
    let client_ca = make_ca(&dir, "client-ca");
    let server = make_leaf(
        &dir,
        &server_ca,
        "server",
        "DNS:localhost,IP:127.0.0.1",
        "serverAuth",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _receiver = mutual_tls_server(listener, server, client_ca.0);
    let tls = SyslogTls::from_ca_pem_file(&other_ca.0, "localhost").unwrap();
    // The receiver takes one connection; a long backoff keeps the sink from trying again
    // (and reporting "connection refused" instead) while the test looks.
    let c = config(addr, tls).with_backoff(Duration::from_secs(30), Duration::from_secs(30));
    let sink = SyslogSink::new(c).unwrap();
    sink.submit(record(&marker("untrusted"), 1)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.tls_failures() == 0 {
        assert!(Instant::now() < deadline, "no handshake failure counted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = sink.flush(Duration::from_millis(200)).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("1 records pending"), "{shown}");
    assert!(shown.contains("invalid peer certificate"), "{shown}");
    assert!(shown.contains("UnknownIssuer"), "{shown}");
    assert_eq!(sink.connections(), 0);
    drop(sink);
}

/// A rustls server without client authentication: the first connection is closed after one
/// frame, the second is read to the end; returns the frames of the second.
fn closing_tls_server(
    listener: TcpListener,
    server: (PathBuf, PathBuf),
) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(&server.0)
        .expect("test helper")
        .collect::<Result<Vec<_>, _>>()
        .expect("test helper");
    let key = PrivateKeyDer::from_pem_file(&server.1).expect("test helper");
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("test helper")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("test helper"),
    );
    std::thread::spawn(move || {
        let mut frames = Vec::new();
        for first in [true, false] {
            let (sock, _) = listener.accept().expect("test helper");
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("test helper");
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).expect("test helper");
            let mut tls = rustls::StreamOwned::new(conn, sock);
            if first {
                assert!(read_frame(&mut tls).is_some(), "the first frame");
                continue; // dropped: the connection goes away under the sink
            }
            while let Some(frame) = read_frame(&mut tls) {
                frames.push(frame);
            }
        }
        frames
    })
}

#[test]
fn reconnects_with_a_new_handshake_after_the_receiver_closes() {
    let dir = TempDir::new("reconnect");
    let ca = make_ca(&dir, "ca");
    let server = make_leaf(&dir, &ca, "server", "DNS:localhost", "serverAuth");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = closing_tls_server(listener, server);
    let tls = SyslogTls::from_ca_pem_file(&ca.0, "localhost").unwrap();
    let sink = SyslogSink::new(config(addr, tls)).unwrap();
    let m = marker("reconnect");
    sink.submit(record(&m, 0)).unwrap();
    // Writes into the closed session fail after a few attempts; then the sink reconnects
    // and handshakes again. What the kernel accepted before the reset may be lost
    // (RFC 5425 §4.4 gives no receipt either).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 1;
    while sink.connections() < 2 {
        assert!(Instant::now() < deadline, "no reconnect");
        sink.submit(record(&m, i)).unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    sink.submit(record(&m, 1000)).unwrap();
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(sink.tls_failures(), 0);
    drop(sink);
    let frames = receiver.join().unwrap();
    let last = String::from_utf8(frames.last().cloned().unwrap()).unwrap();
    assert!(last.contains(&format!("{m} 1000 ")), "{last}");
    // Every frame on the new session is whole.
    for frame in &frames {
        let text = std::str::from_utf8(frame).unwrap();
        assert!(text.starts_with('<') && text.ends_with('}'), "{text}");
    }
}

// ---- against rsyslog ---------------------------------------------------------------------

fn wait_for_lines(output: &Path, marker: &str, n: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(output).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains(marker))
            .map(str::to_owned)
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "server: rsyslog; run by cargo xtask test"]
fn rsyslog_receives_every_record_over_tls_intact() {
    let server = biv_testkit::servers::rsyslog_tls();
    let m = marker("rsyslog");
    let tls = SyslogTls::from_ca_pem_file(&server.ca_file, &server.server_name).unwrap();
    let sink = SyslogSink::new(config(server.addr, tls).with_facility(10).unwrap()).unwrap();
    let n = 50u64;
    let sent: Vec<LogRecord> = (0..n).map(|i| record(&m, i)).collect();
    for rec in &sent {
        sink.submit(rec.clone()).unwrap();
    }
    sink.flush(Duration::from_secs(10)).unwrap();
    assert_eq!((sink.connections(), sink.tls_failures()), (1, 0));
    drop(sink);

    let lines = wait_for_lines(&server.output, &m, sent.len(), Duration::from_secs(15));
    assert_eq!(lines.len(), sent.len(), "received: {lines:#?}");
    for rec in &sent {
        let id = rec.id().to_string();
        let line = lines
            .iter()
            .find(|l| l.contains(&id))
            .unwrap_or_else(|| panic!("record {id} not received"));
        // authpriv (10) × 8 + info 6 / error 3.
        let pri = if rec.level() == Level::Info {
            "<86>1 "
        } else {
            "<83>1 "
        };
        assert!(line.starts_with(pri), "{line}");
        let fields: Vec<&str> = line.splitn(7, ' ').collect();
        assert_eq!(fields[1], "2026-11-26T09:30:00.000123Z", "{line}");
        assert_eq!(
            (fields[2], fields[3], fields[5]),
            ("zorg-01.example.nl", "biv-test", "BIVTLS")
        );
        assert!(
            fields[6].starts_with(&format!(
                "[biv@32473 id=\"{id}\" dataset=\"audit\"] \u{feff}"
            )),
            "{line}"
        );
        assert!(line.ends_with(rec.line()), "{line}");
    }
}

#[test]
#[ignore = "server: rsyslog; run by cargo xtask test"]
fn rsyslog_with_an_unknown_ca_is_refused_and_nothing_is_delivered() {
    let server = biv_testkit::servers::rsyslog_tls();
    let dir = TempDir::new("rsyslog-wrong-ca");
    let wrong_ca = make_ca(&dir, "wrong-ca");
    let tls = SyslogTls::from_ca_pem_file(&wrong_ca.0, &server.server_name).unwrap();
    let sink = SyslogSink::new(config(server.addr, tls)).unwrap();
    let m = marker("wrong-ca");
    for i in 0..5 {
        sink.submit(record(&m, i)).unwrap();
    }
    let err = sink.flush(Duration::from_secs(2)).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("5 records pending"), "{shown}");
    assert!(
        shown.contains("invalid peer certificate") && shown.contains("UnknownIssuer"),
        "{shown}"
    );
    assert!(sink.tls_failures() >= 1);
    assert_eq!(sink.connections(), 0);
    assert_eq!(sink.lost_records(), 0, "still queued while the sink lives");
    drop(sink);
    // Not delivered (over TLS or in clear): nothing with the marker reaches rsyslog.
    let lines = wait_for_lines(&server.output, &m, 1, Duration::from_secs(1));
    assert!(lines.is_empty(), "{lines:#?}");
}

#[test]
#[ignore = "server: rsyslog; run by cargo xtask test"]
fn rsyslog_under_another_name_is_refused() {
    let server = biv_testkit::servers::rsyslog_tls();
    let tls = SyslogTls::from_ca_pem_file(&server.ca_file, "syslog.zorg.example.nl").unwrap();
    let sink = SyslogSink::new(config(server.addr, tls)).unwrap();
    let m = marker("wrong-name");
    sink.submit(record(&m, 0)).unwrap();
    let err = sink.flush(Duration::from_secs(2)).unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("invalid peer certificate") && shown.contains("syslog.zorg.example.nl"),
        "{shown}"
    );
    assert!(sink.tls_failures() >= 1);
    assert_eq!(sink.connections(), 0);
    drop(sink);
    let lines = wait_for_lines(&server.output, &m, 1, Duration::from_secs(1));
    assert!(lines.is_empty(), "{lines:#?}");
}
