//! [`HttpMonitor`]: does an HTTP GET answer with a 2xx or 3xx status?

use std::time::{Duration, Instant};

use async_trait::async_trait;
use biv_core::{CheckResult, Monitor};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{DEFAULT_TIMEOUT, millis};

/// Why a URL was refused by [`HttpMonitor::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidUrl {
    /// Only plain `http://` URLs are supported (health endpoints on a private network or
    /// loopback); check a TLS endpoint through a closure with the host's own client.
    #[error("only http:// URLs are supported")]
    UnsupportedScheme,
    /// The URL has no host, or a character that cannot go into a request line.
    #[error("malformed URL: {0}")]
    Malformed(&'static str),
}

/// Sends `GET` over HTTP/1.1 and passes on a 2xx or 3xx status (redirects are not followed);
/// observes the time to the status line in `ms`.
///
/// ```
/// use biv_availability::health::HttpMonitor;
/// use biv_core::Monitor;
/// let monitor = HttpMonitor::new("api:responseTime", "http://127.0.0.1:8080/health/live")?;
/// assert_eq!(monitor.name(), "api:responseTime");
/// assert!(HttpMonitor::new("x:y", "https://example.org/").is_err());
/// # Ok::<(), biv_availability::health::InvalidUrl>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpMonitor {
    name: String,
    authority: String,
    path: String,
    timeout: Duration,
}

impl HttpMonitor {
    /// A monitor named `name` for `url` (`http://host[:port][/path]`, port 80 by default).
    ///
    /// # Errors
    /// [`InvalidUrl`] for another scheme, a missing host, or whitespace or control characters.
    pub fn new(name: impl Into<String>, url: &str) -> Result<Self, InvalidUrl> {
        let rest = url
            .strip_prefix("http://")
            .ok_or(InvalidUrl::UnsupportedScheme)?;
        if rest.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(InvalidUrl::Malformed(
                "whitespace, control or non-ASCII character",
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || authority.starts_with(':') {
            return Err(InvalidUrl::Malformed("no host, or user info in the URL"));
        }
        let authority = if authority.rsplit_once(':').is_some_and(|(_, p)| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !p.contains(']')
        }) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let path = path.split('#').next().unwrap_or("/").to_owned();
        Ok(HttpMonitor {
            name: name.into(),
            authority,
            path,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets the timeout (default 2 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn status_code(&self) -> Result<u16, String> {
        let mut stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.authority))?;
        let host = self
            .authority
            .strip_suffix(":80")
            .unwrap_or(&self.authority);
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: biv-health\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            self.path
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let mut line = String::new();
        BufReader::new(stream)
            .take(1024)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("cannot read the response: {e}"))?;
        let mut parts = line.split(' ');
        match (parts.next(), parts.next()) {
            (Some(version), Some(code)) if version.starts_with("HTTP/1.") => {
                code.parse().map_err(|_| "malformed status line".to_owned())
            }
            _ => Err("no HTTP/1.x status line in the response".to_owned()),
        }
    }
}

#[async_trait]
impl Monitor for HttpMonitor {
    fn name(&self) -> &str {
        &self.name
    }
    fn component_type(&self) -> &str {
        "component"
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> CheckResult {
        let started = Instant::now();
        let target = format!("http://{}{}", self.authority, self.path);
        match tokio::time::timeout(self.timeout, self.status_code()).await {
            Ok(Ok(code)) if (200..400).contains(&code) => {
                CheckResult::pass().with_observed(millis(started.elapsed()), "ms")
            }
            Ok(Ok(code)) => CheckResult::fail(format!("GET {target} answered {code}"))
                .with_observed(millis(started.elapsed()), "ms"),
            Ok(Err(e)) => CheckResult::fail(format!("GET {target}: {e}")),
            Err(_) => {
                CheckResult::fail(format!("GET {target}: no answer within {:?}", self.timeout))
            }
        }
    }
}
