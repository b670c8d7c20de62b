//! The scaffolding the stand-in servers share: a loopback listener served on a thread and a
//! runtime of their own, so they serve synchronous tests, async tests and child processes alike,
//! and stop when dropped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// A server future running on its own thread and runtime over a listener on 127.0.0.1.
#[derive(Debug)]
pub(crate) struct LoopbackServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackServer {
    /// Binds a free port on 127.0.0.1 (the listener accepts into its backlog from here on) and
    /// runs `serve(listener, addr)` on a thread named `thread_name` until dropped.
    pub(crate) fn start<F, Fut>(thread_name: &str, serve: F) -> io::Result<Self>
    where
        F: FnOnce(std::net::TcpListener, SocketAddr) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = serve(listener, addr) => {}
                        _ = stop_rx => {}
                    }
                });
            })?;
        Ok(LoopbackServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
