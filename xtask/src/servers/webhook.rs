//! A webhook receiver for Alertmanager: a tiny HTTP server thread on 127.0.0.1 that appends
//! the body of every POST, as one line, to `webhook.jsonl` and answers 200.
//!
//! Alertmanager's notifications are JSON objects, so the file is JSON Lines: raw newlines in a
//! body (whitespace between JSON tokens) are turned into spaces.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{EnvVar, Summary, loopback};
use crate::error::{Context, Result, bail};

/// The largest body the receiver accepts (Alertmanager's are a few KiB).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The running receiver; dropping it stops the thread.
#[derive(Debug)]
pub(crate) struct Webhook {
    addr: SocketAddr,
    log: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    /// Binds 127.0.0.1 on a free port and starts serving; bodies go to `dir/webhook.jsonl`.
    pub(crate) fn start(dir: &Path) -> Result<Self> {
        let listener = TcpListener::bind(loopback(0)).context("binding the webhook receiver")?;
        let addr = listener.local_addr()?;
        let log = dir.join("webhook.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("webhook".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || serve(&listener, file, &stop)
            })
            .context("starting the webhook thread")?;
        Ok(Self {
            addr,
            log,
            stop,
            thread: Some(thread),
        })
    }

    /// The URL Alertmanager posts to.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "webhook",
            version: "xtask built-in".to_owned(),
            address: format!("{} -> {}", self.url(), self.log.display()),
        }
    }

    /// `BIV_TEST_WEBHOOK_LOG`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![("BIV_TEST_WEBHOOK_LOG", self.log.display().to_string())]
    }

    /// Stops the thread: sets the flag, then wakes `accept` with one last connection.
    pub(crate) fn stop(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if thread.join().is_err() {
            bail!("the webhook thread panicked");
        }
        Ok(())
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("xtask: could not stop the webhook receiver: {err}");
        }
    }
}

/// Accepts connections one at a time until `stop` is set.
fn serve(listener: &TcpListener, mut file: File, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if let Err(err) = handle(stream, &mut file) {
            eprintln!("xtask: webhook: {err}");
        }
    }
}

/// Reads one request, records a POST body, answers 200 and closes the connection.
fn handle(stream: TcpStream, file: &mut File) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let request = read_request(&mut reader)?;
    if request.method == "POST" {
        let mut line = one_line(&request.body);
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.flush()?;
    }
    let mut stream = stream;
    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    stream.flush()?;
    Ok(())
}

/// The parts of a request the receiver needs.
#[derive(Debug)]
struct Request {
    method: String,
    body: Vec<u8>,
}

/// Reads the request line, the headers and a `Content-Length` or chunked body.
fn read_request(reader: &mut impl BufRead) -> Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let method = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    if method.is_empty() {
        bail!("empty request");
    }
    let mut length = 0_usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().context("bad Content-Length")?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        if length > MAX_BODY {
            bail!("body of {length} bytes is too large");
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Request { method, body })
}

/// Reads a `Transfer-Encoding: chunked` body.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            bail!("chunked body is too large");
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?; // the CRLF after the chunk
    }
}

/// The body as one line of text: CR and LF become spaces, surrounding whitespace goes.
fn one_line(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .replace(['\r', '\n'], " ")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn reads_a_content_length_body() {
        let raw = b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
        let request = read_request(&mut &raw[..]).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.body, b"{\"a\":1}");
    }

    #[test]
    fn reads_a_chunked_body() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        let request = read_request(&mut &raw[..]).unwrap();
        assert_eq!(request.body, b"{\"a\":1}");
    }

    #[test]
    fn bodies_become_one_line() {
        assert_eq!(one_line(b"{\n  \"a\": 1\r\n}\n"), "{   \"a\": 1  }");
    }

    #[test]
    fn records_posts_and_stops() {
        let dir = std::env::temp_dir().join(format!("xtask-webhook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut hook = Webhook::start(&dir).unwrap();
        for body in ["{\"n\":1}", "{\"n\":2}\n"] {
            let mut stream = TcpStream::connect(hook.addr).unwrap();
            write!(
                stream,
                "POST /hook HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        hook.stop().unwrap();
        let log = std::fs::read_to_string(dir.join("webhook.jsonl")).unwrap();
        assert_eq!(log, "{\"n\":1}\n{\"n\":2}\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
