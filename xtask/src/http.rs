//! A minimal HTTP/1.1 GET over `std::net`, enough for readiness probes on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::{Context, Result};

/// Connect, read and write timeout of one probe.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Sends `GET path` to `addr` and returns the status code and the body.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("reading the answer to GET {path} from {addr}"))?;
    parse_response(&response).with_context(|| format!("GET {path} from {addr}"))
}

/// Splits a raw response into its status code and body.
fn parse_response(raw: &[u8]) -> Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .context("no HTTP status line in the response")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let (status, body) =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK\n").unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, "OK\n");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"hello").is_err());
    }
}
