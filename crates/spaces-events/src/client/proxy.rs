//! HTTP proxies: which one a URL goes through, and the `CONNECT` tunnel the websocket runs in.
//!
//! The rules are curl's, as reqwest applies them (hyper-util's proxy [`Matcher`], which reqwest
//! uses too, so the socket and the REST API always agree): `HTTPS_PROXY` for `wss://`,
//! `HTTP_PROXY` for `ws://`, `ALL_PROXY` for both, lower-case names first, `NO_PROXY` (host
//! names, domain suffixes, IP addresses and networks, `*`) to go direct. An explicit proxy
//! replaces the variables but still honours `NO_PROXY`, as curl's `--proxy` does.

use std::fmt;

use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};

use super::Error;

/// Where the client and the REST API find their proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Choice {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (the default).
    #[default]
    Env,
    /// This proxy URL (`http://[user:password@]host:port`), still honouring `NO_PROXY`.
    Url(Secret),
    /// No proxy at all.
    Off,
}

/// A proxy URL, which may hold a password: `Debug` shows it without its user information.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shown(&self.0))
    }
}

/// `url` without `user:password@`.
fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

impl Choice {
    /// The matcher for this choice; `None` for [`Choice::Off`], or when `NO_PROXY` is `*`
    /// (which the matcher applies to host names only, where curl applies it to IP addresses
    /// too).
    fn matcher(&self) -> Option<Matcher> {
        let no_proxy = ["no_proxy", "NO_PROXY"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .unwrap_or_default();
        if no_proxy.split(',').any(|entry| entry.trim() == "*") {
            return None;
        }
        match self {
            Choice::Env => Some(Matcher::from_env()),
            Choice::Url(url) => Some(Matcher::builder().all(url.0.clone()).no(no_proxy).build()),
            Choice::Off => None,
        }
    }

    /// The proxy for the websocket at `host:port` (`tls`: `wss://`), if one is to be used.
    ///
    /// # Errors
    /// [`Error::Url`] for a proxy URL that is not `http://host[:port]`.
    pub(crate) fn resolve(&self, host: &str, port: u16, tls: bool) -> Result<Option<Proxy>, Error> {
        if let Choice::Url(url) = self {
            check(&url.0)?;
        }
        let Some(matcher) = self.matcher() else {
            return Ok(None);
        };
        let scheme = if tls { "https" } else { "http" };
        let target: Uri = format!("{scheme}://{host}:{port}/")
            .parse()
            .map_err(|e| Error::Url(format!("{host}:{port}: {e}")))?;
        matcher.intercept(&target).map(Proxy::new).transpose()
    }

    /// Applies this choice to a REST client: reqwest reads the same variables with the same
    /// rules by itself, so only an explicit proxy or none needs saying.
    #[cfg(feature = "rest")]
    pub(crate) fn apply(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, String> {
        if self.matcher().is_none() {
            return Ok(builder.no_proxy());
        }
        Ok(match self {
            Choice::Url(url) => builder.proxy(
                reqwest::Proxy::all(check(&url.0).map_err(|e| e.to_string())?)
                    .map_err(|e| format!("invalid proxy URL {:?}: {e}", shown(&url.0)))?
                    .no_proxy(reqwest::NoProxy::from_env()),
            ),
            Choice::Env | Choice::Off => builder,
        })
    }
}

/// An explicit proxy URL must be `http://host[:port]` (a scheme the matcher cannot use would
/// be ignored by it, silently connecting direct).
fn check(url: &str) -> Result<&str, Error> {
    let bad = |why: String| Error::Url(format!("proxy {}: {why}", shown(url)));
    let uri: Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    if !matches!(uri.scheme_str(), None | Some("http")) {
        return Err(bad(
            "only http:// proxies are supported (HTTP CONNECT)".into()
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    Ok(url)
}

/// The proxy one websocket goes through.
#[derive(Clone)]
pub(crate) struct Proxy {
    /// `host:port` of the proxy.
    address: String,
    /// The proxy as named in errors: `http://host:port`, never its credentials.
    name: String,
    /// `Proxy-Authorization`, from the URL's `user:password@`.
    auth: Option<HeaderValue>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("name", &self.name)
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

/// Proxy answers larger than this are refused (a `CONNECT` answer is a few lines).
const MAX_ANSWER: usize = 8 << 10;

impl Proxy {
    fn new(intercept: Intercept) -> Result<Self, Error> {
        let uri = intercept.uri();
        // A variable may name a proxy of another scheme (`socks5://`): the same check.
        check(&uri.to_string())?;
        let host = uri.host().unwrap_or_default();
        let port = uri.port_u16().unwrap_or(80);
        let address = format!("{host}:{port}");
        Ok(Proxy {
            name: format!("http://{address}"),
            address,
            auth: intercept.basic_auth().cloned(),
        })
    }

    fn error(&self, status: Option<u16>, message: impl Into<String>) -> Error {
        Error::Proxy {
            proxy: self.name.clone(),
            status,
            message: message.into(),
        }
    }

    /// Opens a tunnel to `host:port` through the proxy (`CONNECT`, with Basic auth if the URL
    /// had credentials); the stream then carries the websocket (and its TLS) to the origin.
    ///
    /// # Errors
    /// [`Error::Proxy`]: the proxy is unreachable, refused the tunnel (its status), or
    /// answered something that is not HTTP.
    pub(crate) async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, Error> {
        let mut stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| self.error(None, e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| self.error(None, e.to_string()))?;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
        if let Some(auth) = &self.auth {
            request.push_str("Proxy-Authorization: ");
            request.push_str(auth.to_str().unwrap_or_default());
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| self.error(None, e.to_string()))?;
        // Read byte by byte up to the blank line: what follows belongs to the websocket.
        let mut answer = Vec::with_capacity(256);
        while !answer.ends_with(b"\r\n\r\n") {
            if answer.len() == MAX_ANSWER {
                return Err(self.error(None, "its answer to CONNECT is too long"));
            }
            match stream.read_u8().await {
                Ok(byte) => answer.push(byte),
                Err(e) => {
                    return Err(self.error(None, format!("closed during CONNECT: {e}")));
                }
            }
        }
        match status(&answer) {
            Some((200..=299, _)) => Ok(stream),
            Some((code, reason)) => Err(self.error(
                Some(code),
                format!("refused CONNECT to {host}:{port}: {code} {reason}"),
            )),
            None => Err(self.error(None, "its answer to CONNECT is not HTTP")),
        }
    }
}

/// The status code and reason of an HTTP response head.
fn status(head: &[u8]) -> Option<(u16, String)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => Some((
            response.code?,
            response.reason.unwrap_or_default().to_owned(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_shown() {
        let url = Secret("http://ann:s3cret@proxy.corp:3128".into());
        assert_eq!(format!("{url:?}"), "http://proxy.corp:3128");
        let proxy = Choice::Url(url)
            .resolve("spaces.example", 443, true)
            .unwrap()
            .unwrap();
        let debug = format!("{proxy:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("ann"),
            "{debug}"
        );
        assert_eq!(proxy.name, "http://proxy.corp:3128");
        let error = proxy.error(Some(407), "refused").to_string();
        assert!(error.contains("http://proxy.corp:3128") && !error.contains("s3cret"));
    }

    #[test]
    fn only_http_proxies() {
        let error = Choice::Url(Secret("socks5://127.0.0.1:1080".into()))
            .resolve("h", 443, true)
            .unwrap_err();
        assert!(error.to_string().contains("only http://"), "{error}");
        assert!(Choice::Off.resolve("h", 443, true).unwrap().is_none());
    }

    #[test]
    fn answers() {
        assert_eq!(
            status(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Some((200, "Connection established".into()))
        );
        assert_eq!(
            status(
                b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"
            ),
            Some((407, "Proxy Authentication Required".into()))
        );
        assert_eq!(status(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
    }
}
