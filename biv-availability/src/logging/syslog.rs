//! [`SyslogSink`]: a [`LogSink`] sending each record as an RFC 5424 message, octet-counted
//! (RFC 6587 §3.4.1), over TCP, or over TLS (RFC 5425, same framing) with
//! [`SyslogConfig::with_tls`]. The format is in `docs/formats/syslog.md`.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::syslog_tls::{SyslogTls, TlsStream};
use crate::metrics::{Collector, MetricFamily, MetricKind, Sample, SampleValue};
use biv_core::{BackendError, Level, LogFlushError, LogRecord, LogSink, LogSubmitError};

/// The private enterprise number in the structured-data id `biv@32473`: 32473 is the number
/// RFC 5612 reserves for documentation. A deployment with its own PEN may keep it; the id only
/// has to be unique at the receiver.
pub const SYSLOG_SD_ID: &str = "biv@32473";

/// The UTF-8 byte-order mark RFC 5424 §6.4 puts before a UTF-8 `MSG`.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a [`SyslogConfig`] setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyslogConfigError {
    /// RFC 5424 facilities are 0 to 23.
    #[error("syslog facility {0} is out of range (0..=23)")]
    Facility(u8),
}

/// Why a [`SyslogSink`] could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyslogStartError {
    /// The sending thread could not be started.
    #[error("cannot start the syslog sending thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Where and how a [`SyslogSink`] sends: the receiver's address, plain TCP or TLS, the RFC 5424
/// header fields, the queue size and the reconnect backoff.
///
/// Header fields are made legal when set: characters outside printable US-ASCII (33–126)
/// become `_`, the value is cut to its RFC 5424 length (HOSTNAME 255, APP-NAME 48, PROCID 128,
/// MSGID 32), and an empty value is written as the NIL value `-`.
///
/// ```
/// use biv_availability::logging::SyslogConfig;
///
/// let config = SyslogConfig::new("127.0.0.1:514".parse()?, "ehr api")
///     .with_facility(10)? // authpriv
///     .with_hostname("zorg-01.example.nl")
///     .with_msgid("EHR");
/// assert_eq!(config.app_name(), "ehr_api");
/// assert_eq!(config.facility(), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    addr: SocketAddr,
    facility: u8,
    hostname: String,
    app_name: String,
    procid: String,
    msgid: String,
    capacity: usize,
    connect_timeout: Duration,
    write_timeout: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    tls: Option<SyslogTls>,
}

/// Printable US-ASCII only, at most `max` characters, `-` when empty.
fn header_field(value: &str, max: usize) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".to_owned()
    } else {
        clean
    }
}

impl SyslogConfig {
    /// Sends to `addr` as `app_name`, with facility local0 (16), HOSTNAME `-`, PROCID the
    /// process id, MSGID `-`, a queue of 65,536 records, and reconnects after 100 ms doubling
    /// to 5 s.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "ehr-api");
    /// assert_eq!((c.facility(), c.hostname(), c.msgid()), (16, "-", "-"));
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn new(addr: SocketAddr, app_name: &str) -> Self {
        SyslogConfig {
            addr,
            facility: 16,
            hostname: "-".to_owned(),
            app_name: header_field(app_name, 48),
            procid: std::process::id().to_string(),
            msgid: "-".to_owned(),
            capacity: 65_536,
            connect_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            tls: None,
        }
    }

    /// Sends over TLS (RFC 5425) instead of plain TCP: the receiver's certificate is verified
    /// against the CA and server name in `tls`, and nothing is sent until the handshake has
    /// succeeded. A failed handshake is a connection failure: the records stay queued, the
    /// sink retries with backoff and counts it ([`SyslogSink::tls_failures`]); it never falls
    /// back to plain TCP. The usual port is 6514.
    ///
    /// ```no_run
    /// use biv_availability::logging::{SyslogConfig, SyslogTls};
    ///
    /// let tls = SyslogTls::from_ca_pem_file("/etc/biv/syslog-ca.pem", "syslog.zorg.example.nl")?;
    /// let config = SyslogConfig::new("10.0.0.5:6514".parse()?, "ehr-api").with_tls(tls);
    /// assert_eq!(config.tls().map(|t| t.server_name()).as_deref(), Some("syslog.zorg.example.nl"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_tls(mut self, tls: SyslogTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS settings, when the sink sends over TLS.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert!(c.tls().is_none());
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn tls(&self) -> Option<&SyslogTls> {
        self.tls.as_ref()
    }

    /// The facility (0–23; 16 = local0, 10 = authpriv).
    ///
    /// # Errors
    /// [`SyslogConfigError::Facility`] above 23.
    ///
    /// ```
    /// use biv_availability::logging::SyslogConfig;
    /// let c = SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert!(c.with_facility(24).is_err());
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn with_facility(mut self, facility: u8) -> Result<Self, SyslogConfigError> {
        if facility > 23 {
            return Err(SyslogConfigError::Facility(facility));
        }
        self.facility = facility;
        Ok(self)
    }

    /// The HOSTNAME field (the host's FQDN is preferred by RFC 5424 §6.2.4).
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a")
    ///     .with_hostname("zörg 01");
    /// assert_eq!(c.hostname(), "z_rg_01");
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn with_hostname(mut self, hostname: &str) -> Self {
        self.hostname = header_field(hostname, 255);
        self
    }

    /// The PROCID field (default: the process id).
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a")
    ///     .with_procid("");
    /// assert_eq!(c.procid(), "-");
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn with_procid(mut self, procid: &str) -> Self {
        self.procid = header_field(procid, 128);
        self
    }

    /// The MSGID field (default `-`).
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a")
    ///     .with_msgid("AUDIT");
    /// assert_eq!(c.msgid(), "AUDIT");
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn with_msgid(mut self, msgid: &str) -> Self {
        self.msgid = header_field(msgid, 32);
        self
    }

    /// The queue size in records (at least 1); a full queue refuses records.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a")
    ///     .with_capacity(0);
    /// assert_eq!(c.capacity(), 1);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The reconnect backoff: `min` after the first failure, doubling up to `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a")
    ///     .with_backoff(Duration::from_millis(10), Duration::from_millis(200));
    /// # let _ = c;
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min.max(Duration::from_millis(1));
        self.backoff_max = max.max(self.backoff_min);
        self
    }

    /// The receiver's address.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert_eq!(c.addr().port(), 514);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The facility.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert_eq!(c.facility(), 16);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn facility(&self) -> u8 {
        self.facility
    }

    /// The HOSTNAME field as written.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert_eq!(c.hostname(), "-");
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The APP-NAME field as written.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "");
    /// assert_eq!(c.app_name(), "-");
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// The PROCID field as written.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert_eq!(c.procid(), std::process::id().to_string());
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn procid(&self) -> &str {
        &self.procid
    }

    /// The MSGID field as written.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert_eq!(c.msgid(), "-");
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn msgid(&self) -> &str {
        &self.msgid
    }

    /// The queue size in records.
    ///
    /// ```
    /// let c = biv_availability::logging::SyslogConfig::new("127.0.0.1:514".parse()?, "a");
    /// assert_eq!(c.capacity(), 65_536);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The RFC 5424 severity of a level: error 3, warn 4, info 6, debug and trace 7.
fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        _ => 7,
    }
}

/// Escapes `"`, `\` and `]` in an SD-PARAM value (RFC 5424 §6.3.3).
fn sd_escape(value: &str, out: &mut String) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// One record as an RFC 5424 message framed by octet counting (RFC 6587 §3.4.1):
/// `LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [biv@32473 id="…" dataset="…"] BOM LINE`.
///
/// TIMESTAMP is the record's time in UTC with microseconds; LEN counts the bytes of the
/// message after the space. The record's line is sent unchanged.
///
/// ```
/// use biv_availability::logging::{SyslogConfig, encode_syslog};
///
/// let config = SyslogConfig::new("127.0.0.1:514".parse()?, "ehr-api")
///     .with_hostname("zorg-01")
///     .with_procid("4242");
/// let record = biv_testkit::sample_log_record(1);
/// let framed = encode_syslog(&config, &record);
/// let text = String::from_utf8(framed)?;
/// let (len, message) = text.split_once(' ').ok_or("no length")?;
/// assert_eq!(len.parse::<usize>()?, message.len());
/// assert!(message.starts_with("<134>1 2026-11-26T08:00:01.000000Z zorg-01 ehr-api 4242 - [biv@32473 id=\""));
/// assert!(message.ends_with(&format!("\u{feff}{}", record.line())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_syslog(config: &SyslogConfig, record: &LogRecord) -> Vec<u8> {
    let pri = u16::from(config.facility) * 8 + u16::from(severity(record.level()));
    let time = record.time();
    let millis = time.to_rfc3339_millis();
    // `YYYY-MM-DDThh:mm:ss` from the millisecond form, then six fraction digits.
    let seconds = millis.get(..19).unwrap_or(&millis);
    let mut head = format!(
        "<{pri}>1 {seconds}.{:06}Z {} {} {} {} [{SYSLOG_SD_ID} id=\"",
        time.subsec_nanos() / 1_000,
        config.hostname,
        config.app_name,
        config.procid,
        config.msgid,
    );
    sd_escape(&record.id().to_string(), &mut head);
    head.push_str("\" dataset=\"");
    sd_escape(record.dataset().as_str(), &mut head);
    head.push_str("\"] ");
    let len = head.len() + BOM.len() + record.line().len();
    let mut out = Vec::with_capacity(len + 8);
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(BOM);
    out.extend_from_slice(record.line().as_bytes());
    out
}

#[derive(Debug, Default)]
struct Shared {
    /// Records accepted and not yet sent or given up.
    pending: Mutex<u64>,
    sent: Condvar,
    /// The last connection or write error, cleared by the next successful send.
    failed: Mutex<Option<String>>,
    /// Records accepted but given up (the sink was dropped while the receiver was away).
    lost: AtomicU64,
    /// Records refused because the queue was full.
    full: AtomicU64,
    /// Successful (re)connections.
    connects: AtomicU64,
    /// TLS handshakes that failed (verification included).
    tls_failures: AtomicU64,
    /// Set by `Drop`: stop retrying.
    closing: AtomicBool,
}

impl Shared {
    fn done(&self, n: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        *pending = pending.saturating_sub(n);
        self.sent.notify_all();
    }

    fn set_failed(&self, why: Option<String>) {
        *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }
}

/// A [`LogSink`] that sends RFC 5424 messages with octet-counting framing over TCP, or over
/// TLS (RFC 5425) when the configuration has [`SyslogConfig::with_tls`], to rsyslog.
///
/// `submit` never blocks: it puts the record in a bounded queue (a full queue refuses it,
/// counted by [`SyslogSink::full_drops`]). A thread connects, sends, and on a connection or
/// write failure keeps the unsent records, reconnects with exponential backoff and sends them
/// again, starting with the message that was cut off. Records still unsent when the sink is
/// dropped are counted by [`SyslogSink::lost_records`]. Over TLS, a failed handshake (an
/// untrusted certificate, a wrong name) is handled like a failed connection and counted by
/// [`SyslogSink::tls_failures`]; nothing is ever sent in clear instead. The counters are
/// exported as metrics (the [`Collector`] implementation).
///
/// TCP cannot confirm delivery: bytes the kernel accepted just before the receiver went away
/// are lost without an error (RFC 6587 §4). The heartbeat ([`Heartbeat`](super::Heartbeat))
/// makes such loss visible downstream.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use biv_availability::logging::{SyslogConfig, SyslogSink};
/// use biv_core::LogSink;
///
/// let config = SyslogConfig::new("127.0.0.1:514".parse()?, "ehr-api").with_hostname("zorg-01");
/// let sink = Arc::new(SyslogSink::new(config)?);
/// sink.submit(biv_testkit::sample_log_record(1))?;
/// sink.flush(Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SyslogSink {
    tx: Option<SyncSender<LogRecord>>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSink")
            .field("full_drops", &self.full_drops())
            .field("lost_records", &self.lost_records())
            .field("tls_failures", &self.tls_failures())
            .finish_non_exhaustive()
    }
}

/// A connection to the receiver.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Conn {
    /// Writes one framed message completely (handed to the kernel) or fails.
    fn write_message(&mut self, message: &[u8]) -> io::Result<()> {
        match self {
            Conn::Plain(stream) => stream.write_all(message),
            Conn::Tls(stream) => stream.write_message(message),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(stream) => stream.flush(),
            Conn::Tls(_) => Ok(()), // `write_message` leaves nothing buffered
        }
    }
}

/// The sending thread's state.
struct Sender {
    config: SyslogConfig,
    shared: Arc<Shared>,
    stream: Option<Conn>,
    backoff: Duration,
}

impl Sender {
    /// Sleeps `d` in short steps; false when the sink is closing.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if self.shared.closing.load(Ordering::Relaxed) {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    /// One connection attempt: TCP, then the TLS handshake when configured.
    fn connect(&self) -> Result<Conn, String> {
        let addr = self.config.addr;
        let stream = TcpStream::connect_timeout(&addr, self.config.connect_timeout)
            .map_err(|e| format!("cannot connect to syslog receiver {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.config.write_timeout));
        let Some(tls) = &self.config.tls else {
            return Ok(Conn::Plain(stream));
        };
        // The handshake is bounded like the connection.
        match tls.connect(stream, self.config.connect_timeout) {
            Ok(stream) => Ok(Conn::Tls(Box::new(stream))),
            Err(e) => {
                self.shared.tls_failures.fetch_add(1, Ordering::Relaxed);
                Err(format!(
                    "TLS handshake with syslog receiver {addr} (expected name {}) failed: {e}",
                    tls.server_name()
                ))
            }
        }
    }

    /// Connects if needed, backing off between failures; false when the sink is closing.
    fn connected(&mut self) -> bool {
        // Even when closing, one attempt is made, so records queued at drop still go out.
        while self.stream.is_none() {
            match self.connect() {
                Ok(stream) => {
                    self.shared.connects.fetch_add(1, Ordering::Relaxed);
                    self.backoff = self.config.backoff_min;
                    self.stream = Some(stream);
                }
                Err(why) => {
                    self.shared.set_failed(Some(why));
                    if !self.pause(self.backoff) {
                        return false;
                    }
                    self.backoff = (self.backoff * 2).min(self.config.backoff_max);
                }
            }
        }
        true
    }

    /// Sends `messages` (each framed), retrying on a new connection from the first message
    /// not completely written. Returns how many were sent (fewer only when closing).
    fn send(&mut self, messages: &[Vec<u8>]) -> usize {
        let mut next = 0;
        while next < messages.len() {
            if !self.connected() {
                return next;
            }
            let Some(stream) = self.stream.as_mut() else {
                continue;
            };
            let mut result = Ok(());
            for message in &messages[next..] {
                result = stream.write_message(message);
                if result.is_err() {
                    break;
                }
                next += 1;
            }
            match result.and_then(|()| stream.flush()) {
                Ok(()) => self.shared.set_failed(None),
                Err(e) => {
                    self.shared.set_failed(Some(format!(
                        "sending to syslog receiver {} failed: {e}",
                        self.config.addr
                    )));
                    self.stream = None;
                    if !self.pause(self.backoff) {
                        return next;
                    }
                    self.backoff = (self.backoff * 2).min(self.config.backoff_max);
                }
            }
        }
        next
    }

    fn run(mut self, rx: &Receiver<LogRecord>) {
        loop {
            let first = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(record) => record,
                Err(RecvTimeoutError::Timeout) => {
                    if self.shared.closing.load(Ordering::Relaxed) {
                        return;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = vec![first];
            batch.extend(rx.try_iter().take(255));
            let messages: Vec<Vec<u8>> = batch
                .iter()
                .map(|r| encode_syslog(&self.config, r))
                .collect();
            let sent = self.send(&messages);
            let unsent = (messages.len() - sent) as u64;
            if unsent > 0 {
                self.shared.lost.fetch_add(unsent, Ordering::Relaxed);
            }
            self.shared.done(messages.len() as u64);
            if sent < messages.len() {
                // Closing with the receiver away: give up what is still queued, counted.
                let rest = rx.try_iter().count() as u64;
                self.shared.lost.fetch_add(rest, Ordering::Relaxed);
                self.shared.done(rest);
                return;
            }
        }
    }
}

impl SyslogSink {
    /// Starts the sending thread; the first connection is made in the background, so a
    /// receiver that is not up yet only delays delivery.
    ///
    /// # Errors
    /// [`SyslogStartError::Thread`] when the thread cannot be started.
    ///
    /// ```
    /// use biv_availability::logging::{SyslogConfig, SyslogSink};
    /// let sink = SyslogSink::new(SyslogConfig::new("127.0.0.1:9".parse()?, "ehr-api"))?;
    /// assert_eq!(sink.lost_records(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: SyslogConfig) -> Result<Self, SyslogStartError> {
        let (tx, rx) = mpsc::sync_channel::<LogRecord>(config.capacity);
        let shared = Arc::new(Shared::default());
        let sender = Sender {
            backoff: config.backoff_min,
            config,
            shared: Arc::clone(&shared),
            stream: None,
        };
        let thread = std::thread::Builder::new()
            .name("biv-syslog".into())
            .spawn(move || sender.run(&rx))
            .map_err(SyslogStartError::Thread)?;
        Ok(SyslogSink {
            tx: Some(tx),
            shared,
            thread: Some(thread),
        })
    }

    /// Records refused because the queue was full.
    ///
    /// ```
    /// use biv_availability::logging::{SyslogConfig, SyslogSink};
    /// let sink = SyslogSink::new(SyslogConfig::new("127.0.0.1:9".parse()?, "a"))?;
    /// assert_eq!(sink.full_drops(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn full_drops(&self) -> u64 {
        self.shared.full.load(Ordering::Relaxed)
    }

    /// Records accepted but never sent: still queued when the sink was dropped while the
    /// receiver was unreachable.
    ///
    /// ```
    /// use biv_availability::logging::{SyslogConfig, SyslogSink};
    /// let sink = SyslogSink::new(SyslogConfig::new("127.0.0.1:9".parse()?, "a"))?;
    /// assert_eq!(sink.lost_records(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lost_records(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }

    /// How many times a connection to the receiver was made (1 after the first, +1 per
    /// reconnect).
    ///
    /// ```
    /// use biv_availability::logging::{SyslogConfig, SyslogSink};
    /// let sink = SyslogSink::new(SyslogConfig::new("127.0.0.1:9".parse()?, "a"))?;
    /// assert_eq!(sink.connections(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connections(&self) -> u64 {
        self.shared.connects.load(Ordering::Relaxed)
    }

    /// How many TLS handshakes failed (an untrusted or expired certificate, a wrong server
    /// name, a receiver that does not speak TLS). Always 0 for plain TCP.
    ///
    /// ```
    /// use biv_availability::logging::{SyslogConfig, SyslogSink};
    /// let sink = SyslogSink::new(SyslogConfig::new("127.0.0.1:9".parse()?, "a"))?;
    /// assert_eq!(sink.tls_failures(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls_failures(&self) -> u64 {
        self.shared.tls_failures.load(Ordering::Relaxed)
    }
}

/// Exposes the drops as `biv_syslog_records_dropped_total{reason="full"|"lost"}`, the
/// connections as `biv_syslog_connections_total` and the failed TLS handshakes as
/// `biv_syslog_tls_handshake_failures_total`.
impl Collector for SyslogSink {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        let reason = |r: &str| vec![("reason".to_owned(), r.to_owned())];
        out.push(
            MetricFamily::new(
                "biv_syslog_records_dropped",
                "Log records the syslog sink did not deliver: refused on a full queue, or lost.",
                MetricKind::Counter,
            )
            .with_sample(Sample::new(
                reason("full"),
                SampleValue::Counter(self.full_drops()),
            ))
            .with_sample(Sample::new(
                reason("lost"),
                SampleValue::Counter(self.lost_records()),
            )),
        );
        out.push(
            MetricFamily::new(
                "biv_syslog_connections",
                "Connections the syslog sink made to its receiver.",
                MetricKind::Counter,
            )
            .with_sample(Sample::new(
                Vec::new(),
                SampleValue::Counter(self.connections()),
            )),
        );
        out.push(
            MetricFamily::new(
                "biv_syslog_tls_handshake_failures",
                "TLS handshakes with the syslog receiver that failed (certificate or name not verified, or no TLS).",
                MetricKind::Counter,
            )
            .with_sample(Sample::new(
                Vec::new(),
                SampleValue::Counter(self.tls_failures()),
            )),
        );
    }
}

impl LogSink for SyslogSink {
    fn submit(&self, record: LogRecord) -> Result<(), LogSubmitError> {
        let tx = self.tx.as_ref().ok_or(LogSubmitError::Closed)?;
        *self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        match tx.try_send(record) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.shared.done(1);
                match e {
                    TrySendError::Full(_) => {
                        self.shared.full.fetch_add(1, Ordering::Relaxed);
                        Err(LogSubmitError::Full)
                    }
                    TrySendError::Disconnected(_) => Err(LogSubmitError::Closed),
                }
            }
        }
    }

    fn flush(&self, timeout: Duration) -> Result<(), LogFlushError> {
        let deadline = Instant::now() + timeout;
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while *pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let pending = *pending;
                let why = self
                    .shared
                    .failed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                return match why {
                    Some(why) if pending > 0 => Err(LogFlushError::Backend(BackendError::msg(
                        format!("{pending} records pending; {why}"),
                    ))),
                    _ => Err(LogFlushError::Timeout { pending }),
                };
            }
            pending = self
                .shared
                .sent
                .wait_timeout(pending, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(())
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        // Closing the queue lets the thread send what is queued; `closing` stops it from
        // waiting for a receiver that is away (what it could not send is counted as lost).
        self.tx.take();
        self.shared.closing.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
