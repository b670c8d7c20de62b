//! Where the shipper sends: the Elasticsearch URL, index and credentials, and the HTTP/1.1
//! client (hyper) that posts `_bulk` requests. Plain HTTP only: the workspace has no TLS crate
//! (ADR 0005); put a local TLS-terminating proxy in front of a remote cluster.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use zeroize::Zeroize;

use super::bulk::valid_index_name;

/// A credential: zeroed on drop, never printed by `Debug`, never part of an error message.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// How the shipper authenticates to Elasticsearch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: ApiKey <key>` (the base64 `id:api_key` Elasticsearch returns as
    /// `encoded`).
    ApiKey(Secret),
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
}

impl Auth {
    fn header(&self) -> Result<HeaderValue, ElasticConfigError> {
        use base64::Engine as _;
        let mut text = match self {
            Auth::ApiKey(key) => format!("ApiKey {}", key.expose()),
            Auth::Basic { user, password } => {
                let mut pair = format!("{user}:{}", password.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
                pair.zeroize();
                format!("Basic {encoded}")
            }
        };
        let value = HeaderValue::from_str(&text).map_err(|_| ElasticConfigError::Credential);
        text.zeroize();
        let mut value = value?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Why an [`ElasticConfig`] was refused. Messages never hold credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElasticConfigError {
    /// The URL is not an absolute `http://host[:port][/path]` URL.
    #[error("invalid Elasticsearch URL {0:?}: expected http://host[:port][/path]")]
    Url(String),
    /// The URL holds credentials (`user:password@`); pass them as [`Auth`] instead.
    #[error("credentials in the Elasticsearch URL are not accepted; pass them separately")]
    CredentialsInUrl,
    /// `https://`: biv has no TLS stack yet (ADR 0005).
    #[error(
        "https is not supported (no TLS crate in biv yet); ship to a local TLS-terminating proxy over http"
    )]
    Https,
    /// Not a valid index name.
    #[error("invalid index name {0:?}")]
    Index(String),
    /// The credential holds characters an HTTP header cannot carry.
    #[error("the credential cannot be sent in an HTTP header")]
    Credential,
}

/// Where and how to ship: the cluster's base URL, the index (or data stream) and optional
/// credentials.
///
/// ```
/// use biv_availability::shipping::{Auth, ElasticConfig, Secret};
///
/// let cfg = ElasticConfig::new("http://127.0.0.1:9200", "biv-logs")?
///     .with_auth(Auth::ApiKey(Secret::new("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")));
/// assert!(!format!("{cfg:?}").contains("VnVh"));
/// assert!(ElasticConfig::new("https://es:9200", "biv-logs").is_err());
/// # Ok::<(), biv_availability::shipping::ElasticConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ElasticConfig {
    bulk_uri: Uri,
    index: String,
    auth: Option<Auth>,
}

impl ElasticConfig {
    /// The cluster at `url` (`http://host:port`, optionally with a path prefix), writing to
    /// `index`.
    ///
    /// # Errors
    /// [`ElasticConfigError`] for a URL that is not plain `http`, carries credentials or does
    /// not parse, and for an invalid index name.
    pub fn new(url: &str, index: &str) -> Result<Self, ElasticConfigError> {
        if url.contains('@') {
            return Err(ElasticConfigError::CredentialsInUrl);
        }
        let uri: Uri = url
            .parse()
            .map_err(|_| ElasticConfigError::Url(url.to_owned()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(ElasticConfigError::Https),
            _ => return Err(ElasticConfigError::Url(url.to_owned())),
        }
        let Some(authority) = uri.authority() else {
            return Err(ElasticConfigError::Url(url.to_owned()));
        };
        if uri.query().is_some() {
            return Err(ElasticConfigError::Url(url.to_owned()));
        }
        let prefix = uri.path().trim_end_matches('/');
        let bulk_uri = format!("http://{authority}{prefix}/_bulk")
            .parse()
            .map_err(|_| ElasticConfigError::Url(url.to_owned()))?;
        if !valid_index_name(index) {
            return Err(ElasticConfigError::Index(index.to_owned()));
        }
        Ok(ElasticConfig {
            bulk_uri,
            index: index.to_owned(),
            auth: None,
        })
    }

    /// Sends `auth` with every request.
    #[must_use]
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The index.
    pub fn index(&self) -> &str {
        &self.index
    }

    /// The `_bulk` endpoint.
    pub fn bulk_url(&self) -> String {
        self.bulk_uri.to_string()
    }
}

/// A response to a `_bulk` request.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: Bytes,
}

/// Why no response came back. Retried with backoff.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// Connecting, sending or receiving failed (refused, reset, closed early).
    #[error("{0}")]
    Failed(String),
    /// No whole response within the request timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
}

/// The largest response body read (a `_bulk` answer for a 5 MB batch is far smaller).
const MAX_RESPONSE: usize = 64 << 20;

/// Posts `_bulk` requests over HTTP/1.1 with keep-alive.
pub(crate) struct BulkClient {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    authorization: Option<HeaderValue>,
    timeout: Duration,
}

impl std::fmt::Debug for BulkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkClient")
            .field("uri", &self.uri)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl BulkClient {
    pub(crate) fn new(
        config: &ElasticConfig,
        timeout: Duration,
    ) -> Result<Self, ElasticConfigError> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let authorization = config.auth.as_ref().map(Auth::header).transpose()?;
        Ok(BulkClient {
            client,
            uri: config.bulk_uri.clone(),
            authorization,
            timeout,
        })
    }

    pub(crate) async fn post(&self, body: Vec<u8>) -> Result<Answer, TransportError> {
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        if let Some(auth) = &self.authorization {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| TransportError::Failed(describe(&e)))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(response.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| TransportError::Failed(format!("reading the response: {e}")))?
                .to_bytes();
            Ok(Answer {
                status,
                retry_after,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(TransportError::Timeout(self.timeout)))
    }
}

/// The error and its sources on one line (hyper's top-level message alone is vague).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
