//! [`SyslogTls`]: the TLS settings of a [`SyslogSink`](super::SyslogSink) (RFC 5425), and the
//! TLS connection its sending thread writes through.
//!
//! The client is rustls with the ring provider, chosen explicitly (never a process default).
//! Only the CA roots a deployment names are trusted: no system roots, no way to switch
//! verification off. See `docs/formats/syslog.md` (RFC 5425) and ADR 0005.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::ClientConnection;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore};
use zeroize::{Zeroize, Zeroizing};

/// Where PEM input came from, for error messages.
///
/// ```
/// use biv_availability::logging::PemSource;
///
/// let source = PemSource::File("/etc/biv/ca.pem".into());
/// assert_eq!(source.to_string(), "/etc/biv/ca.pem");
/// assert_eq!(PemSource::Bytes.to_string(), "<PEM bytes>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemSource {
    /// A file, by path.
    File(PathBuf),
    /// Bytes given directly (`SyslogTls::from_ca_pem`, `with_client_auth_pem`).
    Bytes,
}

impl fmt::Display for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Bytes => f.write_str("<PEM bytes>"),
        }
    }
}

/// Why a [`SyslogTls`] setting was refused. Never holds key material.
///
/// ```
/// use biv_availability::logging::{PemSource, SyslogTls, SyslogTlsError};
///
/// let bad = b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
/// match SyslogTls::from_ca_pem(bad, "localhost") {
///     Err(SyslogTlsError::Pem { origin: PemSource::Bytes, detail }) => assert!(!detail.is_empty()),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyslogTlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The PEM input is malformed (bad base64, a section without its end line).
    #[error("{origin}: bad PEM: {detail}")]
    Pem {
        /// Where the PEM came from.
        origin: PemSource,
        /// What the PEM parser said.
        detail: String,
    },
    /// The PEM input holds no `CERTIFICATE` section.
    #[error("{0}: no certificate found")]
    NoCertificate(PemSource),
    /// A CA certificate cannot serve as a trust anchor.
    #[error("{origin}: certificate {index} is not a usable CA certificate: {detail}")]
    BadCaCertificate {
        /// Where the PEM came from.
        origin: PemSource,
        /// The certificate's position in the PEM input, from 0.
        index: usize,
        /// What the verifier said.
        detail: String,
    },
    /// The PEM input holds no private key (PKCS#8, PKCS#1 or SEC1).
    #[error("{0}: no private key found")]
    NoPrivateKey(PemSource),
    /// The client key is of a type the TLS provider cannot sign with, or does not belong
    /// to the client certificate.
    #[error("client key {origin}: {detail}")]
    ClientKey {
        /// Where the key came from.
        origin: PemSource,
        /// What rustls said (never the key).
        detail: String,
    },
    /// The server name is neither a DNS name nor an IP address.
    #[error("{0:?} is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName(String),
    /// The TLS configuration could not be built.
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

/// Reads a PEM file into memory that is zeroed when dropped.
fn read_pem(path: &Path) -> Result<Zeroizing<Vec<u8>>, SyslogTlsError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| SyslogTlsError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// Every `CERTIFICATE` section of `pem`; at least one.
fn certificates(
    pem: &[u8],
    source: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, SyslogTlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SyslogTlsError::Pem {
            origin: source.clone(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(SyslogTlsError::NoCertificate(source.clone()));
    }
    Ok(certs)
}

/// The TLS settings of a [`SyslogSink`](super::SyslogSink) (RFC 5425): the CA that signed the
/// receiver's certificate, the name the certificate must carry, and optionally a client
/// certificate for mutual TLS.
///
/// Only the given CA certificates are trusted (no system roots). The receiver's certificate
/// must chain to one of them, be valid now and name `server_name` (a DNS name, or an IP
/// address in an IP SAN). TLS 1.3 and 1.2 are offered, with rustls' safe defaults and the
/// ring provider. A failed verification never falls back to plain TCP.
///
/// The client key is parsed once, handed to the provider, and its PEM and DER bytes are
/// zeroed; `Debug` and errors never show it.
///
/// ```
/// use biv_availability::logging::{SyslogConfig, SyslogTls, SyslogTlsError};
///
/// # const CA_PEM: &[u8] = b"\
/// # -----BEGIN CERTIFICATE-----\n\
/// # MIIBhDCCASqgAwIBAgIUTYAIAgDWexTlHcxt/eaNJKmLr9wwCgYIKoZIzj0EAwIw\n\
/// # HzEdMBsGA1UEAwwUYml2IGRvY3VtZW50YXRpb24gQ0EwIBcNMjYxMTI2MjExNzAy\n\
/// # WhgPMjEyNjExMDIyMTE3MDJaMB8xHTAbBgNVBAMMFGJpdiBkb2N1bWVudGF0aW9u\n\
/// # IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1tn9n+7VnMpT5AQsuaN3c+zm\n\
/// # Eg/axXA9h6K0CR/ZhwI2OMCODgagyswpoMBPUP8IlMgzM+kNmb4Inuh2/HNQ06NC\n\
/// # MEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFEoE\n\
/// # bcqhnsvHg8Q6UPRds+mjsLqKMAoGCCqGSM49BAMCA0gAMEUCIEJWI6I6ykN3nYJg\n\
/// # Do/Mz16YLET4k5O0TdapMhD1mZ41AiEAlXWfPDGfNqUzoNaYuAhQjgegeDQGISd5\n\
/// # +5j8REVhW5k=\n\
/// # -----END CERTIFICATE-----\n";
/// // The receiver's CA (PEM; usually `from_ca_pem_file`) and the name in its certificate.
/// let tls = SyslogTls::from_ca_pem(CA_PEM, "syslog.zorg.example.nl")?;
/// assert_eq!(format!("{tls:?}"),
///     r#"SyslogTls { server_name: "syslog.zorg.example.nl", ca_roots: 1, client_auth: false, .. }"#);
/// let config = SyslogConfig::new("10.0.0.5:6514".parse()?, "ehr-api").with_tls(tls);
/// assert!(config.tls().is_some());
///
/// // PEM without a certificate is refused before any connection.
/// let err = SyslogTls::from_ca_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "x");
/// assert!(matches!(err, Err(SyslogTlsError::NoCertificate(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SyslogTls {
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    server_name: ServerName<'static>,
    client_auth: bool,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for SyslogTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogTls")
            .field("server_name", &self.server_name.to_str())
            .field("ca_roots", &self.roots.len())
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl SyslogTls {
    /// Trusts the CA certificates in the PEM file at `path` and expects the receiver's
    /// certificate to name `server_name`.
    ///
    /// # Errors
    /// [`SyslogTlsError::Read`], [`Pem`](SyslogTlsError::Pem),
    /// [`NoCertificate`](SyslogTlsError::NoCertificate) or
    /// [`BadCaCertificate`](SyslogTlsError::BadCaCertificate), each naming the path, and
    /// [`ServerName`](SyslogTlsError::ServerName).
    ///
    /// ```
    /// use biv_availability::logging::{SyslogTls, SyslogTlsError};
    /// let err = SyslogTls::from_ca_pem_file("/nonexistent/ca.pem", "localhost").unwrap_err();
    /// assert!(matches!(err, SyslogTlsError::Read { .. }));
    /// assert!(err.to_string().contains("/nonexistent/ca.pem"));
    /// ```
    pub fn from_ca_pem_file(
        path: impl AsRef<Path>,
        server_name: &str,
    ) -> Result<Self, SyslogTlsError> {
        let path = path.as_ref();
        let pem = read_pem(path)?;
        Self::from_ca(&pem, PemSource::File(path.to_path_buf()), server_name)
    }

    /// Trusts the CA certificates in `pem` and expects the receiver's certificate to name
    /// `server_name`.
    ///
    /// # Errors
    /// As [`from_ca_pem_file`](Self::from_ca_pem_file), without the file.
    ///
    /// ```
    /// use biv_availability::logging::{SyslogTls, SyslogTlsError};
    /// let err = SyslogTls::from_ca_pem(b"", "localhost").unwrap_err();
    /// assert!(matches!(err, SyslogTlsError::NoCertificate(_)));
    /// ```
    pub fn from_ca_pem(pem: &[u8], server_name: &str) -> Result<Self, SyslogTlsError> {
        Self::from_ca(pem, PemSource::Bytes, server_name)
    }

    fn from_ca(pem: &[u8], source: PemSource, server_name: &str) -> Result<Self, SyslogTlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| SyslogTlsError::ServerName(server_name.to_owned()))?;
        let mut roots = RootCertStore::empty();
        for (index, cert) in certificates(pem, &source)?.into_iter().enumerate() {
            roots
                .add(cert)
                .map_err(|e| SyslogTlsError::BadCaCertificate {
                    origin: source.clone(),
                    index,
                    detail: e.to_string(),
                })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(roots);
        let config = Self::builder(&provider, &roots)?.with_no_client_auth();
        Ok(SyslogTls {
            provider,
            roots,
            server_name: name,
            client_auth: false,
            config: Arc::new(config),
        })
    }

    fn builder(
        provider: &Arc<CryptoProvider>,
        roots: &Arc<RootCertStore>,
    ) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, SyslogTlsError>
    {
        Ok(ClientConfig::builder_with_provider(Arc::clone(provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| SyslogTlsError::Config(e.to_string()))?
            .with_root_certificates(Arc::clone(roots)))
    }

    /// Presents the client certificate chain (PEM file `cert`, end-entity first) and its key
    /// (PEM file `key`: PKCS#8, PKCS#1 or SEC1) when the receiver asks for one (mutual TLS).
    ///
    /// # Errors
    /// [`SyslogTlsError::Read`], [`Pem`](SyslogTlsError::Pem),
    /// [`NoCertificate`](SyslogTlsError::NoCertificate),
    /// [`NoPrivateKey`](SyslogTlsError::NoPrivateKey) or
    /// [`ClientKey`](SyslogTlsError::ClientKey) (an unsupported key, or one that does not
    /// match the certificate), each naming the file.
    ///
    /// ```
    /// use biv_availability::logging::{SyslogTls, SyslogTlsError};
    /// # fn tls() -> SyslogTls { unreachable!() }
    /// # fn f() -> Result<(), SyslogTlsError> {
    /// let tls = tls().with_client_auth_pem_files("/etc/biv/syslog-client.pem", "/etc/biv/syslog-client.key")?;
    /// # let _ = tls; Ok(()) }
    /// ```
    pub fn with_client_auth_pem_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, SyslogTlsError> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let cert_pem = read_pem(cert)?;
        let key_pem = read_pem(key)?;
        self.load_client_auth(
            &cert_pem,
            PemSource::File(cert.to_path_buf()),
            &key_pem,
            PemSource::File(key.to_path_buf()),
        )
    }

    /// As [`with_client_auth_pem_files`](Self::with_client_auth_pem_files), from PEM bytes.
    /// The caller's `key_pem` is not zeroed here; the copies this function makes are.
    ///
    /// # Errors
    /// As [`with_client_auth_pem_files`](Self::with_client_auth_pem_files), without the files.
    ///
    /// ```
    /// use biv_availability::logging::{SyslogTls, SyslogTlsError};
    /// # fn tls() -> SyslogTls { unreachable!() }
    /// # fn f(cert: &[u8], key: &[u8]) -> Result<(), SyslogTlsError> {
    /// let tls = tls().with_client_auth_pem(cert, key)?;
    /// # let _ = tls; Ok(()) }
    /// ```
    pub fn with_client_auth_pem(
        self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, SyslogTlsError> {
        self.load_client_auth(cert_pem, PemSource::Bytes, key_pem, PemSource::Bytes)
    }

    fn load_client_auth(
        mut self,
        cert_pem: &[u8],
        cert_source: PemSource,
        key_pem: &[u8],
        key_source: PemSource,
    ) -> Result<Self, SyslogTlsError> {
        let chain = certificates(cert_pem, &cert_source)?;
        let mut key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => key,
            Err(rustls::pki_types::pem::Error::NoItemsFound) => {
                return Err(SyslogTlsError::NoPrivateKey(key_source));
            }
            Err(e) => {
                return Err(SyslogTlsError::Pem {
                    origin: key_source,
                    detail: e.to_string(),
                });
            }
        };
        // ring parses the key into its own form; the DER bytes are zeroed right after.
        let signing = rustls::crypto::ring::sign::any_supported_type(&key);
        key.zeroize();
        let signing = signing.map_err(|e| SyslogTlsError::ClientKey {
            origin: key_source.clone(),
            detail: e.to_string(),
        })?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(e) => {
                return Err(SyslogTlsError::ClientKey {
                    origin: key_source,
                    detail: format!("does not match the client certificate {cert_source}: {e}"),
                });
            }
        }
        let config = Self::builder(&self.provider, &self.roots)?
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        self.config = Arc::new(config);
        self.client_auth = true;
        Ok(self)
    }

    /// The name the receiver's certificate must carry.
    ///
    /// ```
    /// # const CA_PEM: &[u8] = b"\
    /// # -----BEGIN CERTIFICATE-----\n\
    /// # MIIBhDCCASqgAwIBAgIUTYAIAgDWexTlHcxt/eaNJKmLr9wwCgYIKoZIzj0EAwIw\n\
    /// # HzEdMBsGA1UEAwwUYml2IGRvY3VtZW50YXRpb24gQ0EwIBcNMjYxMTI2MjExNzAy\n\
    /// # WhgPMjEyNjExMDIyMTE3MDJaMB8xHTAbBgNVBAMMFGJpdiBkb2N1bWVudGF0aW9u\n\
    /// # IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1tn9n+7VnMpT5AQsuaN3c+zm\n\
    /// # Eg/axXA9h6K0CR/ZhwI2OMCODgagyswpoMBPUP8IlMgzM+kNmb4Inuh2/HNQ06NC\n\
    /// # MEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFEoE\n\
    /// # bcqhnsvHg8Q6UPRds+mjsLqKMAoGCCqGSM49BAMCA0gAMEUCIEJWI6I6ykN3nYJg\n\
    /// # Do/Mz16YLET4k5O0TdapMhD1mZ41AiEAlXWfPDGfNqUzoNaYuAhQjgegeDQGISd5\n\
    /// # +5j8REVhW5k=\n\
    /// # -----END CERTIFICATE-----\n";
    /// let tls = biv_availability::logging::SyslogTls::from_ca_pem(CA_PEM, "10.0.0.5")?;
    /// assert_eq!(tls.server_name(), "10.0.0.5");
    /// # Ok::<(), biv_availability::logging::SyslogTlsError>(())
    /// ```
    pub fn server_name(&self) -> String {
        self.server_name.to_str().into_owned()
    }

    /// Whether a client certificate is presented (mutual TLS).
    ///
    /// ```
    /// # const CA_PEM: &[u8] = b"\
    /// # -----BEGIN CERTIFICATE-----\n\
    /// # MIIBhDCCASqgAwIBAgIUTYAIAgDWexTlHcxt/eaNJKmLr9wwCgYIKoZIzj0EAwIw\n\
    /// # HzEdMBsGA1UEAwwUYml2IGRvY3VtZW50YXRpb24gQ0EwIBcNMjYxMTI2MjExNzAy\n\
    /// # WhgPMjEyNjExMDIyMTE3MDJaMB8xHTAbBgNVBAMMFGJpdiBkb2N1bWVudGF0aW9u\n\
    /// # IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1tn9n+7VnMpT5AQsuaN3c+zm\n\
    /// # Eg/axXA9h6K0CR/ZhwI2OMCODgagyswpoMBPUP8IlMgzM+kNmb4Inuh2/HNQ06NC\n\
    /// # MEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFEoE\n\
    /// # bcqhnsvHg8Q6UPRds+mjsLqKMAoGCCqGSM49BAMCA0gAMEUCIEJWI6I6ykN3nYJg\n\
    /// # Do/Mz16YLET4k5O0TdapMhD1mZ41AiEAlXWfPDGfNqUzoNaYuAhQjgegeDQGISd5\n\
    /// # +5j8REVhW5k=\n\
    /// # -----END CERTIFICATE-----\n";
    /// let tls = biv_availability::logging::SyslogTls::from_ca_pem(CA_PEM, "localhost")?;
    /// assert!(!tls.client_auth());
    /// # Ok::<(), biv_availability::logging::SyslogTlsError>(())
    /// ```
    pub fn client_auth(&self) -> bool {
        self.client_auth
    }

    /// Opens a TLS session over `sock` and completes the handshake within `timeout` (each
    /// write is also bounded by the socket's write timeout). Any failure, verification
    /// included, is an error: the caller drops the socket and never writes to it in clear.
    pub(super) fn connect(
        &self,
        mut sock: TcpStream,
        timeout: Duration,
    ) -> Result<TlsStream, io::Error> {
        let until = Instant::now() + timeout;
        let mut conn = ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(io::Error::other)?;
        while conn.is_handshaking() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake took too long",
                ));
            }
            sock.set_read_timeout(Some(left))?;
            conn.complete_io(&mut sock)?;
        }
        Ok(TlsStream {
            conn,
            sock,
            broken: false,
        })
    }
}

/// A TLS session to the receiver, written record by record.
pub(super) struct TlsStream {
    conn: ClientConnection,
    sock: TcpStream,
    /// A write failed: the session is not closed politely (that could only wait again).
    broken: bool,
}

impl TlsStream {
    /// Writes `message` and hands every TLS record it became to the kernel before returning,
    /// so `Ok` means the same as for a plain `write_all` (nothing left buffered in rustls).
    pub(super) fn write_message(&mut self, message: &[u8]) -> io::Result<()> {
        let result = self.write_all(message);
        self.broken |= result.is_err();
        result
    }

    fn write_all(&mut self, message: &[u8]) -> io::Result<()> {
        let mut rest = message;
        loop {
            while self.conn.wants_write() {
                self.conn.write_tls(&mut self.sock)?;
            }
            if rest.is_empty() {
                return self.sock.flush();
            }
            let n = self.conn.writer().write(rest)?;
            if n == 0 && !self.conn.wants_write() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the TLS session accepted no data",
                ));
            }
            rest = rest.get(n..).unwrap_or_default();
        }
    }
}

impl Drop for TlsStream {
    fn drop(&mut self) {
        // A polite end, best effort: close_notify, then FIN after it, then read what the
        // receiver still sends (TLS 1.3 session tickets) until it closes too, for at most
        // CLOSE_WAIT. Closing a socket with unread input would make the kernel reset the
        // connection instead of closing it, and a reset can discard frames still in flight.
        const CLOSE_WAIT: Duration = Duration::from_secs(1);
        if self.broken {
            return;
        }
        self.conn.send_close_notify();
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.sock).is_err() {
                return;
            }
        }
        if self.sock.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let until = Instant::now() + CLOSE_WAIT;
        let mut buf = [0u8; 4096];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.sock.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.sock.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}
