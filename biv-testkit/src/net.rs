//! Loopback addresses for tests of "the other side is down".
//!
//! Binding port 0, reading the port and closing the listener gives a port that is closed only
//! until the kernel hands it to the next test that binds port 0 — with tests running in
//! parallel, that happens. [`ClosedPort`] keeps the port bound without listening instead: a
//! connection is refused (RST) at once, and no other socket can be given the port while the
//! guard lives.

use std::net::SocketAddr;

/// A loopback port that refuses connections for as long as this guard lives.
///
/// ```
/// let closed = biv_testkit::net::ClosedPort::new()?;
/// let refused = std::net::TcpStream::connect(closed.addr()).unwrap_err();
/// assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ClosedPort {
    addr: SocketAddr,
    _socket: tokio::net::TcpSocket,
}

impl ClosedPort {
    /// Binds a free port on 127.0.0.1 without listening on it.
    ///
    /// # Errors
    /// The I/O error of creating or binding the socket.
    pub fn new() -> std::io::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = socket.local_addr()?;
        Ok(ClosedPort {
            addr,
            _socket: socket,
        })
    }

    /// A new closed port kept bound until the test process ends, for helpers that hand out an
    /// address rather than a guard (e.g. inside a conformance macro).
    ///
    /// # Errors
    /// As [`ClosedPort::new`].
    pub fn for_process() -> std::io::Result<SocketAddr> {
        static HELD: std::sync::Mutex<Vec<ClosedPort>> = std::sync::Mutex::new(Vec::new());
        let port = ClosedPort::new()?;
        let addr = port.addr;
        HELD.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(port);
        Ok(addr)
    }

    /// The address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
