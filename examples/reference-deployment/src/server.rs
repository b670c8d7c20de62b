//! Binding the socket, serving the router and shutting down on SIGINT or SIGTERM.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::app;
use crate::config::Config;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The handlers for SIGINT and SIGTERM could not be installed.
    #[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
    Signals(#[source] io::Error),
    /// Serving connections failed.
    #[error("serving failed: {0}")]
    Serve(#[source] io::Error),
}

/// Runs the service until SIGINT or SIGTERM, then shuts down gracefully.
///
/// Logs one line to stderr once the socket is bound: `biv-reference <version>: listening on
/// http://<address>`, with the real address (also when `config.listen` asks for port 0).
///
/// # Errors
///
/// [`ServeError::Listen`] when the address cannot be bound, [`ServeError::Signals`] when the signal
/// handlers cannot be installed, [`ServeError::Serve`] when serving fails.
pub async fn run(config: &Config) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: config.listen,
        source,
    })?;
    let signals = ShutdownSignals::install().map_err(ServeError::Signals)?;
    eprintln!(
        "{} {}: listening on http://{local}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    );
    axum::serve(listener, app::router())
        .with_graceful_shutdown(async move {
            let signal = signals.received().await;
            eprintln!(
                "{}: {signal} received, shutting down",
                env!("CARGO_PKG_NAME")
            );
        })
        .await
        .map_err(ServeError::Serve)
}

/// The signals that stop the service: SIGINT and SIGTERM (Ctrl-C only, off Unix).
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Installs the handlers. From now on SIGINT and SIGTERM no longer end the process directly.
    ///
    /// Must be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// When the operating system refuses to install a handler.
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for the first of the signals and returns its name.
    pub async fn received(mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
    }
}
