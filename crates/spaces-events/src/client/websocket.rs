//! Opening the websocket: TLS roots, handshake headers and limits, checked once when the client
//! is built, then used for every connection attempt.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Error;
use super::config::{Builder, Endpoint, Roots, Token, percent_encode};
use super::policy::End;
use super::proxy::Proxy;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every attempt opens the websocket with.
pub(crate) struct Opener {
    tls: Option<Arc<rustls::ClientConfig>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    limits: WebSocketConfig,
    /// The proxy and the `host:port` it tunnels to, when one is used.
    proxy: Option<(Proxy, String, u16)>,
}

impl Opener {
    /// Checks the builder's headers and certificates.
    ///
    /// # Errors
    /// [`Error::Header`], [`Error::Certificate`], [`Error::Url`] (a bad proxy URL).
    pub(crate) fn new(config: &Builder, endpoint: &Endpoint) -> Result<Self, Error> {
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| {
                let bad = |reason: &dyn std::fmt::Display| Error::Header {
                    name: name.clone(),
                    reason: reason.to_string(),
                };
                Ok((
                    HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(&e))?,
                    HeaderValue::from_str(value).map_err(|e| bad(&e))?,
                ))
            })
            .collect::<Result<_, Error>>()?;
        // Checked for `ws://` too: a bad file is a mistake whatever the URL.
        let roots = added_roots(&config.extra_roots)?;
        let tls = endpoint.tls.then(|| tls_config(&config.roots, roots));
        let limits = WebSocketConfig::default()
            .read_buffer_size(config.read_buffer)
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_message_size));
        let proxy = config
            .proxy
            .resolve(&endpoint.host, endpoint.port, endpoint.tls)?
            .map(|proxy| (proxy, endpoint.host.clone(), endpoint.port));
        Ok(Opener {
            tls,
            headers,
            limits,
            proxy,
        })
    }

    /// Opens the websocket at `url` (which carries `token`, scrubbed from every error).
    pub(crate) async fn open(&self, url: &str, token: &Token) -> Result<Ws, End> {
        let mut request = url
            .into_client_request()
            .map_err(|e| End::Lost(Error::transport(scrub(e.to_string(), token))))?;
        for (name, value) in &self.headers {
            request.headers_mut().append(name, value.clone());
        }
        let connector = match &self.tls {
            Some(tls) => tokio_tungstenite::Connector::Rustls(tls.clone()),
            None => tokio_tungstenite::Connector::Plain,
        };
        let opened = match &self.proxy {
            Some((proxy, host, port)) => {
                let stream = proxy.connect(host, *port).await.map_err(|e| {
                    if e.is_fatal() {
                        End::Fatal(e)
                    } else {
                        End::Lost(e)
                    }
                })?;
                tokio_tungstenite::client_async_tls_with_config(
                    request,
                    stream,
                    Some(self.limits),
                    Some(connector),
                )
                .await
            }
            None => {
                tokio_tungstenite::connect_async_tls_with_config(
                    request,
                    Some(self.limits),
                    true,
                    Some(connector),
                )
                .await
            }
        };
        match opened {
            Ok((ws, _)) => Ok(ws),
            Err(error) => Err(failure(error, token)),
        }
    }
}

/// How a failed handshake ends the attempt.
fn failure(error: tungstenite::Error, token: &Token) -> End {
    let message = scrub(error.to_string(), token);
    match error {
        tungstenite::Error::Tls(_) => End::Fatal(Error::Tls {
            message,
            source: None,
        }),
        tungstenite::Error::Http(response) if matches!(response.status().as_u16(), 401 | 403) => {
            End::Rejected(format!(
                "HTTP {} at the websocket handshake",
                response.status()
            ))
        }
        tungstenite::Error::Io(e) => match e.get_ref().and_then(|i| i.downcast_ref()) {
            // rustls handshake failures (an untrusted certificate) arrive as I/O errors.
            Some(tls) => End::Fatal(Error::Tls {
                message,
                source: Some(rustls::Error::clone(tls)),
            }),
            None => End::Lost(Error::Transport {
                message,
                source: Some(Arc::new(e)),
            }),
        },
        _ => End::Lost(Error::transport(message)),
    }
}

/// Removes the token (raw and percent-encoded) from text that came from the network stack.
pub(crate) fn scrub(text: String, token: &Token) -> String {
    let secret = token.expose();
    if secret.is_empty() {
        return text;
    }
    text.replace(secret, "<redacted>")
        .replace(&percent_encode(secret), "<redacted>")
}

/// A store of the certificates of [`Builder::add_root_certificate`] (PEM files' contents).
pub(crate) fn added_roots(pems: &[Vec<u8>]) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for pem in pems {
        let before = roots.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Certificate(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| Error::Certificate(e.to_string()))?;
        }
        if roots.len() == before {
            return Err(Error::Certificate("no PEM certificate found".into()));
        }
    }
    Ok(roots)
}

/// The rustls configuration for `wss://`: the added roots plus the chosen ones, ring crypto.
pub(crate) fn tls_config(
    which: &Roots,
    mut roots: rustls::RootCertStore,
) -> Arc<rustls::ClientConfig> {
    if matches!(which, Roots::WebPki | Roots::WebPkiAndNative) {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if matches!(which, Roots::Native | Roots::WebPkiAndNative) {
        // A store that cannot be read adds nothing; rustls then reports the server as
        // untrusted, naming its issuer.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    // aws-lc-rs, chosen for its post-quantum key exchange (X25519MLKEM768, offered first).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(tls)
}
