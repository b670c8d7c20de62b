//! One `POST` over plain HTTP/1.1 (hyper), bounded by a timeout, callable from any thread: from
//! inside an async runtime it runs on a helper thread with a runtime of its own.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use super::WitnessError;

/// Largest answer body read (cosignature lines are about 130 bytes each).
const MAX_ANSWER: usize = 64 * 1024;

/// Where `add-checkpoint` requests go.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    host: String,
    port: u16,
    /// `host[:port]` as given, for the `Host` header.
    authority: String,
    /// `<prefix>/add-checkpoint`.
    path: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/prefix]`.
    pub(super) fn parse(url: &str) -> Result<Endpoint, WitnessError> {
        let invalid = |why| WitnessError::InvalidUrl {
            url: url.to_owned(),
            why,
        };
        if url.starts_with("https://") {
            return Err(invalid(
                "https is not supported: use http:// (behind a TLS proxy if needed)",
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("it must start with http://"))?;
        if rest.contains(['?', '#']) || rest.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid("it must not hold a query, a fragment or blanks"));
        }
        let (authority, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(invalid("it must not hold credentials"));
        }
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6
                    .split_once(']')
                    .ok_or_else(|| invalid("an IPv6 address lacks its ']'"))?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| invalid("the port is not a number"))?,
            None => 80,
        };
        if host.is_empty() {
            return Err(invalid("the host is missing"));
        }
        Ok(Endpoint {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path: format!("{}/add-checkpoint", prefix.trim_end_matches('/')),
        })
    }

    /// The full submission URL.
    pub(super) fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.path)
    }
}

/// The witness's answer.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) content_type: Option<String>,
    pub(super) body: Vec<u8>,
}

/// Sends `body` to the endpoint and reads the answer, all within `timeout`.
pub(super) fn post(
    endpoint: &Endpoint,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Answer, WitnessError> {
    let run = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WitnessError::Transport(format!("starting a runtime: {e}")))?;
        let answer = runtime.block_on(async {
            tokio::time::timeout(timeout, exchange(endpoint, body))
                .await
                .map_err(|_| WitnessError::Timeout(timeout))?
        });
        // A host-name lookup still running on the blocking pool must not hold the caller past
        // the timeout: leave it behind instead of waiting for it.
        runtime.shutdown_background();
        answer
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    // A runtime cannot block inside another one's thread: use a helper thread.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("biv-witness-post".into())
            .spawn_scoped(scope, run)
            .map_err(|e| WitnessError::Transport(format!("starting a thread: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(WitnessError::Transport("the request thread failed".into())))
    })
}

async fn exchange(endpoint: &Endpoint, body: Vec<u8>) -> Result<Answer, WitnessError> {
    let transport = |what: &str, e: &dyn std::fmt::Display| {
        WitnessError::Transport(format!("{what} {}: {e}", endpoint.url()))
    };
    let stream = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| transport("connecting to", &e))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| transport("talking to", &e))?;
    let driver = tokio::spawn(connection);
    let request = Request::builder()
        .method(Method::POST)
        .uri(endpoint.path.as_str())
        .header(HOST, endpoint.authority.as_str())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| transport("building the request for", &e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport("sending to", &e))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| transport("reading the answer of", &e))?
        .to_bytes()
        .to_vec();
    drop(sender);
    driver.abort();
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse("http://127.0.0.1:8080/w/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 8080));
        assert_eq!(e.url(), "http://127.0.0.1:8080/w/add-checkpoint");
        let e = Endpoint::parse("http://witness.example").unwrap();
        assert_eq!((e.port, e.path.as_str()), (80, "/add-checkpoint"));
        let e = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        let e = Endpoint::parse("http://[::1]/p").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("::1", 80, "/p/add-checkpoint")
        );
        for bad in [
            "https://w.example",
            "ftp://w.example",
            "http://",
            "http://u:p@w.example",
            "http://w.example/?x",
            "http://w.example:port",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
