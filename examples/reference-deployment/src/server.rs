//! Binding the socket, serving the router and shutting down on SIGINT or SIGTERM.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use biv_availability::alerting::{
    AlertmanagerNotifier, DEFAULT_RESEND_INTERVAL, LogNotifier, ResendTask,
};
use biv_availability::health::shutdown_after;
use biv_availability::logging::{HEARTBEAT_INTERVAL, Heartbeat};
use biv_availability::metrics::{ProcessCollector, RedLayer, Registry};
use biv_confidentiality::pii::{PiiConfig, PiiRedactor};
use biv_core::{Clock, Notifier, SystemClock};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::{app, health, watch};

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
    /// The data directory could not be created.
    #[error("cannot create the data directory {dir}: {source}")]
    DataDir {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The handlers for SIGINT and SIGTERM could not be installed.
    #[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
    Signals(#[source] io::Error),
    /// The host's metrics registry already holds the request metrics' names.
    #[error("cannot register the request metrics: {0}")]
    Metrics(#[source] biv_availability::metrics::MetricsError),
    /// The heartbeat task could not be started.
    #[error("cannot start the log heartbeat: {0}")]
    Heartbeat(#[source] biv_availability::logging::HeartbeatSpawnError),
    /// The `--health-config` file was refused (exit status 2, like a usage error).
    #[error(transparent)]
    HealthConfig(#[from] crate::config::HealthConfigFileError),
    /// An `--alertmanager` URL was refused (exit status 2, like a usage error).
    #[error("--alertmanager: {0}")]
    Alertmanager(#[source] biv_availability::alerting::AlertmanagerConfigError),
    /// The redactor for outgoing alerts could not be built.
    #[error("cannot build the redactor for alerts: {0}")]
    Redactor(String),
    /// The disk watch could not be set up.
    #[error("cannot set up the disk watch: {0}")]
    Watch(#[source] crate::watch::WatchError),
    /// Serving connections failed.
    #[error("serving failed: {0}")]
    Serve(#[source] io::Error),
}

/// Runs the service until SIGINT or SIGTERM, then shuts down gracefully: readiness fails for
/// `config.drain_grace_ms`, then the server stops accepting and finishes the requests in flight.
///
/// Logs one line to stderr once the socket is bound: `biv-reference <version>: listening on
/// http://<address>`, with the real address (also when `config.listen` asks for port 0).
///
/// # Errors
///
/// [`ServeError::Listen`] when the address cannot be bound, [`ServeError::DataDir`] when the
/// data directory cannot be created, [`ServeError::Signals`] when the signal handlers cannot be
/// installed, [`ServeError::HealthConfig`] when the `--health-config` file is refused,
/// [`ServeError::Alertmanager`] when an `--alertmanager` URL is refused,
/// [`ServeError::Serve`] when serving fails.
pub async fn run(config: &Config) -> Result<(), ServeError> {
    run_with_metrics(config, Arc::new(Registry::new())).await
}

/// As [`run`], serving `/metrics` from `metrics`, to which the host has added its own metrics
/// (the binary adds the log layer's drop counters). The process collector and the request
/// metrics are registered here.
///
/// # Errors
///
/// As [`run`], and [`ServeError::Metrics`] when `metrics` already holds the request metrics.
pub async fn run_with_metrics(config: &Config, metrics: Arc<Registry>) -> Result<(), ServeError> {
    let dependencies = config.dependency_checks()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let (notifier, resend) = alert_delivery(config, clock.clone(), &metrics)?;
    metrics.register_collector(Arc::new(ProcessCollector::new()));
    let red = RedLayer::new(&metrics).map_err(ServeError::Metrics)?;
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
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
        dir: config.data_dir.clone(),
        source,
    })?;
    let signals = ShutdownSignals::install().map_err(ServeError::Signals)?;
    eprintln!(
        "{} {}: listening on http://{local}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!(event.dataset = "system", url.full = %format!("http://{local}"), "listening");
    // One `heartbeat` line a minute on stdout: a gap in them at the receiver means lost logs.
    let _heartbeat = Arc::new(Heartbeat::new())
        .spawn(HEARTBEAT_INTERVAL)
        .map_err(ServeError::Heartbeat)?;
    let registry = health::registry_with(
        &config.data_dir,
        config.disk_thresholds(),
        &dependencies,
        Arc::new(SystemClock::new()),
    );
    registry.refresh_now().await;
    let _refresh = registry.spawn_refresh();
    let score = watch::score_gauge(&metrics).map_err(ServeError::Metrics)?;
    let monitor =
        watch::disk_exhaustion_monitor(notifier, clock, score).map_err(ServeError::Watch)?;
    let disk_watch =
        watch::spawn_disk_watch(monitor, config.data_dir.clone(), watch::WATCH_INTERVAL);
    let signal = async move {
        let signal = signals.received().await;
        eprintln!(
            "{}: {signal} received, shutting down",
            env!("CARGO_PKG_NAME")
        );
        tracing::info!(event.dataset = "system", signal = %signal, "shutting down");
    };
    let drain = Duration::from_millis(config.drain_grace_ms);
    let service = app::router_with_metrics(registry.clone(), metrics, red)
        .layer(biv_availability::logging::AccessLogLayer::new())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_after(registry, signal, drain))
        .await
        .map_err(ServeError::Serve);
    disk_watch.abort();
    drop(resend);
    served
}

/// Where alerts go: the Alertmanagers of `--alertmanager` (with personal data redacted, firing
/// alerts re-sent every minute, deliveries counted at `/metrics`), or the ECS log.
fn alert_delivery(
    config: &Config,
    clock: Arc<dyn Clock>,
    metrics: &Registry,
) -> Result<(Arc<dyn Notifier>, Option<ResendTask>), ServeError> {
    if config.alertmanagers.is_empty() {
        return Ok((Arc::new(LogNotifier::new(clock)), None));
    }
    let urls: Vec<&str> = config.alertmanagers.iter().map(String::as_str).collect();
    let redactor =
        PiiRedactor::new(&PiiConfig::default()).map_err(|e| ServeError::Redactor(e.to_string()))?;
    let notifier = AlertmanagerNotifier::builder(&urls, clock)
        .redactor(Arc::new(redactor))
        .build()
        .map_err(ServeError::Alertmanager)?;
    let resend = notifier
        .spawn_resend(DEFAULT_RESEND_INTERVAL)
        .map_err(ServeError::Alertmanager)?;
    // biv_alerts_sent_total{outcome} and biv_alerts_active at /metrics.
    metrics.register_collector(Arc::new(notifier.clone()));
    Ok((Arc::new(notifier), Some(resend)))
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
