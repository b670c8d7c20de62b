//! The reference deployment of biv: a small HTTP service that shows biv's controls wired into a
//! host application.
//!
//! biv puts the Dutch BIV model (*Beschikbaarheid, Integriteit, Vertrouwelijkheid*: availability,
//! integrity, confidentiality) into code that a host application embeds. This crate is such a
//! host. In this release it wires in the health checks ([`health`]: `/health`, `/health/live`,
//! `/health/ready`, `/health/startup`, with its data directory writable, free disk, and the
//! dependencies of `--health-config`), metrics at `/metrics` (RED, process, log loss), and a
//! deviation detector ([`watch`]: the data disk filling up, alerted to Alertmanager with
//! `--alertmanager`, or to the log); its stdout is ECS JSON. `GET /` lists every control with
//! its pillar as *wired* or *planned*. Later releases wire the others in one at a time.
//!
//! It runs with embedded defaults and needs no external server:
//!
//! ```text
//! cargo run -p biv-reference                       # listens on 127.0.0.1:8080
//! cargo run -p biv-reference -- --listen 0.0.0.0:9000 --data-dir /var/lib/biv-reference
//! BIV_LISTEN=127.0.0.1:0 cargo run -p biv-reference  # any free port; the real one is logged
//! ```
//!
//! The binary logs `biv-reference <version>: listening on http://<address>` to stderr once the
//! socket is bound (with the real port when asked for port 0). On SIGINT or SIGTERM it first
//! fails readiness for `--drain-grace-ms` (default 5000), then stops accepting and finishes the
//! requests in flight. Exit status: 0 after a clean shutdown, 1 when it cannot listen or serve, 2 for a
//! usage error, a refused `--health-config` file or `--alertmanager` URL.
//!
//! # Using the router in-process
//!
//! [`app::router`] builds the whole service around a health registry, so tests (and hosts that
//! want to embed it) can drive it without a socket:
//!
//! ```
//! use std::sync::Arc;
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let health = biv_reference::health::registry(
//!     &std::env::temp_dir(),
//!     biv_reference::health::DiskThresholds::default(),
//!     Arc::new(biv_core::SystemClock::new()),
//! );
//! let response = biv_reference::app::router(health)
//!     .oneshot(Request::get("/").body(Body::empty()).expect("a valid request"))
//!     .await
//!     .expect("the router is infallible");
//! assert_eq!(response.status(), StatusCode::OK);
//! # }
//! ```

pub mod app;
pub mod config;
pub mod health;
pub mod logging;
pub mod server;
pub mod watch;
