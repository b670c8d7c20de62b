//! Logging: ECS JSON from `tracing`, redacted before it leaves the process, to a [`LogSink`](biv_core::LogSink).
//!
//! [`EcsLayer`] formats events per elastic/ecs-logging and passes every text through a
//! [`Redactor`](biv_core::Redactor); [`WriterSink`] writes the lines to stdout or a
//! [`RotatingFile`] without blocking the caller (Filebeat or rsyslog ship them to ELK). Wire them
//! in a host:
//!
//! ```
//! use std::sync::Arc;
//! use biv_availability::logging::{EcsLayer, ServiceInfo, WriterSink};
//! use biv_core::SystemClock;
//! use tracing_subscriber::prelude::*;
//!
//! # #[derive(Debug)] struct NoPii; impl biv_core::Redactor for NoPii { fn scan(&self, _: &str) -> Vec<biv_core::Finding> { Vec::new() } }
//! let sink = Arc::new(WriterSink::new(std::io::sink(), 1024)?);
//! let layer = EcsLayer::new(ServiceInfo::new("ehr-api").with_version("4.2.1"), Arc::new(NoPii), sink, Arc::new(SystemClock::new()));
//! let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
//! tracing::info!(event.dataset = "system", "started");
//! # Ok::<(), std::io::Error>(())
//! ```

mod access;
mod ecs;
mod heartbeat;
mod rotating_file;
mod syslog;
mod syslog_tls;
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
mod trace_ids;
mod writer_sink;

pub use access::{AccessLog, AccessLogLayer};
pub use ecs::{DropCounters, ECS_VERSION, EcsLayer, ServiceInfo};
pub use heartbeat::{
    HEARTBEAT_INTERVAL, Heartbeat, HeartbeatGap, HeartbeatHandle, HeartbeatSeen,
    HeartbeatSpawnError, heartbeat_gaps,
};
pub use rotating_file::{
    ROTATION_RETRY, RotatingFile, RotatingFileConfig, RotatingFileError, RotationStats,
};
pub use syslog::{
    SYSLOG_SD_ID, SyslogConfig, SyslogConfigError, SyslogSink, SyslogStartError, encode_syslog,
};
pub use syslog_tls::{PemSource, SyslogTls, SyslogTlsError};
pub use writer_sink::WriterSink;
