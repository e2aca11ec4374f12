//! How a [`Client`](super::Client) connects: endpoint, token, reconnect policy, TLS, limits.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::http::Uri;

use super::Error;
use super::proxy::{Choice, Secret};
use crate::auth::Credentials;

/// The production socket server (the path is the namespace).
pub const PRODUCTION_URL: &str = "wss://spacesapis-socket.avayacloud.com/chat";
/// The staging socket server.
pub const STAGING_URL: &str = "wss://loganstagingapis-socket.esna.com/chat";

/// A bearer secret. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        Token(Arc::from(token.into()))
    }

    /// The secret itself. Keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl From<String> for Token {
    fn from(s: String) -> Self {
        Token::new(s)
    }
}

impl From<&str> for Token {
    fn from(s: &str) -> Self {
        Token::new(s)
    }
}

/// How the token is sent as `tokenType`: a Spaces JWT (anonymous or service app) or an OAuth2
/// access token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenType {
    /// `tokenType=jwt`.
    #[default]
    Jwt,
    /// `tokenType=oauth`.
    Oauth,
}

impl TokenType {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Jwt => "jwt",
            TokenType::Oauth => "oauth",
        }
    }
}

/// What a token provider returns.
pub(crate) type ProviderFuture =
    Pin<Box<dyn Future<Output = Result<Token, Box<dyn std::error::Error + Send + Sync>>> + Send>>;

/// Where the client gets its token before every connection attempt.
#[derive(Clone)]
pub(crate) enum TokenSource {
    Fixed(Token),
    Provider(Arc<dyn Fn() -> ProviderFuture + Send + Sync>),
    Credentials(Arc<dyn Credentials>),
}

impl TokenSource {
    /// A source that calls `provider` for every token.
    pub(crate) fn provider<F, Fut>(provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Token, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'static,
    {
        TokenSource::Provider(Arc::new(move || Box::pin(provider()) as ProviderFuture))
    }

    /// A token; `refused` is the one the server refused just before, if any. Credentials that
    /// cannot work any more are [`Error::Auth`].
    pub(crate) async fn get(&self, refused: Option<&Token>) -> Result<Token, Error> {
        match self {
            TokenSource::Fixed(token) => Ok(token.clone()),
            TokenSource::Provider(provide) => provide()
                .await
                .map_err(|e| Error::TokenProvider(Arc::from(e))),
            TokenSource::Credentials(source) => {
                source.token(refused).await.map_err(|e| match e.is_fatal() {
                    true => Error::Auth(e.to_string()),
                    false => Error::TokenProvider(Arc::new(e)),
                })
            }
        }
    }

    /// Where its tokens come from, to say what to fix when they are refused.
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenSource::Fixed(_) => "the token given".into(),
            TokenSource::Provider(_) => "the token provider".into(),
            TokenSource::Credentials(source) => source.describe(),
        }
    }
}

/// When and how fast to reconnect. Defaults are socket.io-client 2.x's: 1 s doubling to 5 s,
/// ±50 % jitter, no attempt limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Reconnect {
    /// Reconnect at all; if `false`, the first connection loss closes the client.
    pub enabled: bool,
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Upper bound of the delay.
    pub max_delay: Duration,
    /// Random spread of each delay, 0.0–1.0 (0 is allowed, unlike in socket.io-client).
    pub jitter: f64,
    /// Give up after this many consecutive failed attempts (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            enabled: true,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

impl Reconnect {
    /// The delay before retry `attempt` (1-based): `initial · 2^(attempt-1)`, jittered, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base =
            self.initial_delay.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = base * jitter * (2.0 * fastrand::f64() - 1.0);
        Duration::from_secs_f64((base + spread).max(0.0)).min(self.max_delay)
    }
}

/// Which certificate authorities `wss://` trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Roots {
    /// Mozilla's root program, compiled in (`webpki-roots`).
    #[default]
    WebPki,
    /// The operating system's store (`rustls-native-certs`): a corporate TLS proxy's CA
    /// installed there is trusted.
    Native,
    /// Both: Mozilla's roots and the operating system's (what the command line trusts).
    WebPkiAndNative,
    /// Only the roots added with [`Builder::add_root_certificate`].
    None,
}

/// Configures and connects a [`Client`](super::Client). Made by [`Client::builder`](super::Client::builder).
#[derive(Clone)]
pub struct Builder {
    pub(crate) url: String,
    pub(crate) token: TokenSource,
    pub(crate) token_type: TokenType,
    pub(crate) token_in_connect: bool,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) reconnect: Reconnect,
    pub(crate) heartbeat_deadline: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) subscribe_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) buffer: usize,
    pub(crate) max_message_size: usize,
    pub(crate) read_buffer: usize,
    pub(crate) max_json_depth: usize,
    pub(crate) roots: Roots,
    pub(crate) extra_roots: Vec<Vec<u8>>,
    pub(crate) proxy: Choice,
}

/// See [`Builder::read_buffer`]; tungstenite's own default (128 KiB) costs 128 KiB of memory per
/// connection for throughput a subscription does not need.
const DEFAULT_READ_BUFFER: usize = 16 << 10;

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("url", &self.url)
            .field("token_type", &self.token_type)
            .field("token_in_connect", &self.token_in_connect)
            .field("reconnect", &self.reconnect)
            .field("heartbeat_deadline", &self.heartbeat_deadline)
            .field("buffer", &self.buffer)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(crate) fn new(url: &str, token: TokenSource) -> Self {
        Builder {
            url: url.to_owned(),
            token,
            token_type: TokenType::Jwt,
            token_in_connect: true,
            path: "/socket.io".to_owned(),
            headers: Vec::new(),
            reconnect: Reconnect::default(),
            heartbeat_deadline: None,
            connect_timeout: Duration::from_secs(20),
            subscribe_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(10),
            buffer: 1024,
            max_message_size: 16 << 20,
            read_buffer: DEFAULT_READ_BUFFER,
            max_json_depth: 64,
            roots: Roots::WebPki,
            extra_roots: Vec::new(),
            proxy: Choice::Env,
        }
    }

    /// `jwt` (default) or `oauth`.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// use spaces_events::client::TokenType;
    /// # let token = "";
    /// let builder = Client::builder(PRODUCTION_URL, token).token_type(TokenType::Oauth);
    /// ```
    pub fn token_type(mut self, token_type: TokenType) -> Self {
        self.token_type = token_type;
        self
    }

    /// Calls `provider` for a token before every connection attempt, so that expiring tokens can
    /// be refreshed. Replaces the fixed token.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// # async fn fetch_jwt() -> Result<String, Box<dyn std::error::Error + Send + Sync>> { Ok(String::new()) }
    /// use spaces_events::client::Token;
    /// let builder = Client::builder(PRODUCTION_URL, "unused")
    ///     .token_provider(|| async { Ok(Token::new(fetch_jwt().await?)) });
    /// ```
    pub fn token_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Token, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'static,
    {
        self.token = TokenSource::provider(provider);
        self
    }

    /// Asks `credentials` for a token before every connection attempt, and again with the
    /// refused token when the server refuses one: a different token is tried at once, the
    /// same one again ends the client with [`Error::Auth`] naming the source. Replaces the
    /// fixed token; sets the token type to the source's (`oauth` for
    /// `OAuth2`).
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// use spaces_events::auth::TokenCommand;
    /// let builder = Client::builder(PRODUCTION_URL, "")
    ///     .credentials(TokenCommand::new("cat /run/secrets/spaces-token"));
    /// ```
    pub fn credentials(mut self, credentials: impl Credentials) -> Self {
        self.token_type = credentials.token_type();
        self.token = TokenSource::Credentials(Arc::new(credentials));
        self
    }

    /// [`credentials`](Self::credentials) for a source already shared.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// use std::sync::Arc;
    /// use spaces_events::auth::{Credentials, TokenFile};
    /// let source: Arc<dyn Credentials> = Arc::new(TokenFile::new("/run/token"));
    /// let builder = Client::builder(PRODUCTION_URL, "").shared_credentials(source.clone());
    /// ```
    pub fn shared_credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.token_type = credentials.token_type();
        self.token = TokenSource::Credentials(credentials);
        self
    }

    /// Also send the token in the namespace CONNECT packet (`40/chat?token=…,`), as
    /// socket.io-client 2.x does. On by default; servers that do not strip the query from the
    /// namespace (socketioxide, netty-socketio) need it off. The token is always in the URL.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// // socketioxide and netty-socketio refuse a CONNECT whose namespace carries a query.
    /// let builder = Client::builder("http://127.0.0.1:3000/chat", "t").token_in_connect(false);
    /// ```
    pub fn token_in_connect(mut self, on: bool) -> Self {
        self.token_in_connect = on;
        self
    }

    /// The Engine.IO path, `/socket.io` by default.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder("https://example.com/chat", "t").path("/realtime/socket.io");
    /// ```
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.trim_end_matches('/').to_owned();
        self
    }

    /// Adds a header to the websocket handshake request, e.g. `Origin`.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder(PRODUCTION_URL, "t").header("Origin", "https://spaces.avayacloud.com");
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The reconnect policy.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// use std::time::Duration;
    /// use spaces_events::client::Reconnect;
    /// let builder = Client::builder(PRODUCTION_URL, "t").reconnect(Reconnect {
    ///     max_delay: Duration::from_secs(30),
    ///     max_attempts: Some(10),
    ///     ..Reconnect::default()
    /// });
    /// ```
    pub fn reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// How long to wait for any frame after a ping before declaring the link dead. Default and
    /// upper bound: the server's `pingTimeout` (60 s on socket.io 2.0.4).
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// // Notice a dead link within 10 s instead of the server's 60 s.
    /// let builder = Client::builder(PRODUCTION_URL, "t").heartbeat_deadline(std::time::Duration::from_secs(10));
    /// ```
    pub fn heartbeat_deadline(mut self, deadline: Duration) -> Self {
        self.heartbeat_deadline = Some(deadline);
        self
    }

    /// Time allowed for one connection attempt, up to the namespace acknowledgement (20 s); the
    /// first connection, retries included, must succeed within it or `connect()` fails with
    /// [`Error::Connect`].
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder(PRODUCTION_URL, "t").connect_timeout(std::time::Duration::from_secs(5));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for the server to answer SUBSCRIBE_CHANNEL (20 s).
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder(PRODUCTION_URL, "t").subscribe_timeout(std::time::Duration::from_secs(5));
    /// ```
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.subscribe_timeout = timeout;
        self
    }

    /// Events buffered per subscription (1024). When a subscription's buffer is full the client
    /// stops reading the socket until there is room: TCP pushes back on the server, nothing is
    /// dropped, heartbeats go on.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// // A consumer that writes each event to a database may fall behind in bursts.
    /// let builder = Client::builder(PRODUCTION_URL, "t").buffer(16_384);
    /// ```
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    /// Largest websocket message accepted (16 MiB); a larger one breaks the connection.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder(PRODUCTION_URL, "t").max_message_size(1 << 20);
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Bytes read from the socket at a time (16 KiB). Each connection holds a buffer this size:
    /// larger reads more events per system call under heavy load, smaller saves memory when one
    /// process holds many connections. Events share the bytes they were read into rather than
    /// copy them, so an event kept for long keeps at most this much (or its own frame, when
    /// larger) alive.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// // One process holding thousands of connections.
    /// let builder = Client::builder(PRODUCTION_URL, "t").read_buffer(4096);
    /// ```
    pub fn read_buffer(mut self, bytes: usize) -> Self {
        self.read_buffer = bytes.max(1024);
        self
    }

    /// Deepest JSON nesting accepted in a packet (64; Spaces payloads nest about 6 deep). A
    /// deeper packet is refused, reported as [`Error::Protocol`], and skipped; nothing below the
    /// limit is ever parsed.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder(PRODUCTION_URL, "t").max_json_depth(16);
    /// ```
    pub fn max_json_depth(mut self, levels: usize) -> Self {
        self.max_json_depth = levels;
        self
    }

    /// Which root certificates `wss://` trusts (Mozilla's by default).
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// use spaces_events::client::Roots;
    /// // Trust what the operating system trusts (e.g. a corporate TLS proxy's CA).
    /// let builder = Client::builder(PRODUCTION_URL, "t").roots(Roots::Native);
    /// ```
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Also trusts the certificate authority in `pem` (one or more PEM certificates), e.g. a
    /// test CA.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// use spaces_events::client::Roots;
    /// let pem = std::fs::read("test-ca.pem")?;
    /// let builder = Client::builder("wss://localhost:8443/chat", "t")
    ///     .roots(Roots::None)
    ///     .add_root_certificate(&pem);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_root_certificate(mut self, pem: &[u8]) -> Self {
        self.extra_roots.push(pem.to_vec());
        self
    }

    /// Connects through this HTTP proxy, `http://[user:password@]host:port`, with an HTTP
    /// `CONNECT` tunnel (Basic auth from the URL's credentials; TLS to Spaces runs inside the
    /// tunnel with the usual roots). Replaces `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, which are
    /// read by default; `NO_PROXY` still applies, as with curl's `--proxy`. A proxy that refuses
    /// the tunnel is [`Error::Proxy`], fatal for 401, 403 and 407.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder(PRODUCTION_URL, "t").proxy("http://proxy.corp:3128");
    /// ```
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = Choice::Url(Secret(url.to_owned()));
        self
    }

    /// Connects directly, whatever the proxy environment variables say.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// let builder = Client::builder(PRODUCTION_URL, "t").no_proxy();
    /// ```
    pub fn no_proxy(mut self) -> Self {
        self.proxy = Choice::Off;
        self
    }

    /// Connects, and resolves once the namespace accepted the connection.
    ///
    /// ```no_run
    /// # use spaces_events::client::{Client, PRODUCTION_URL};
    /// # async fn run() -> Result<(), spaces_events::client::Error> {
    /// let client = Client::builder(PRODUCTION_URL, std::env::var("SPACES_TOKEN").unwrap_or_default())
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Before any attempt, a configuration error: [`Error::Url`], [`Error::Header`],
    /// [`Error::Certificate`]. Then [`Error::Auth`] when the token is rejected, [`Error::Tls`]
    /// for an untrusted certificate, [`Error::Connect`] when no connection is made within the
    /// connect timeout, [`Error::GaveUp`] when the reconnect policy's attempt limit
    /// is reached first.
    pub async fn connect(self) -> Result<super::Client, Error> {
        super::Client::connect_with(self).await
    }
}

/// Where to connect: `(websocket base URL without query, namespace, URL query)`.
pub(crate) struct Endpoint {
    pub(crate) base: String,
    pub(crate) namespace: String,
    pub(crate) query: Option<String>,
    pub(crate) tls: bool,
    /// The server's host (an IPv6 address without brackets) and port.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Endpoint {
    /// Accepts `ws`, `wss`, `http` and `https` URLs; the path is the namespace (`/chat` if none).
    pub(crate) fn parse(url: &str, path: &str) -> Result<Self, Error> {
        let uri: Uri = url.parse().map_err(|e| Error::Url(format!("{e}")))?;
        let (scheme, tls) = match uri.scheme_str() {
            Some("ws" | "http") => ("ws", false),
            Some("wss" | "https") => ("wss", true),
            Some(other) => return Err(Error::Url(format!("unsupported scheme `{other}`"))),
            None => {
                return Err(Error::Url(
                    "no scheme (expected wss://, ws://, https:// or http://)".into(),
                ));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Error::Url("no host".into()))?;
        let namespace = match uri.path().trim_end_matches('/') {
            "" => "/chat".to_owned(),
            nsp => nsp.to_owned(),
        };
        Ok(Endpoint {
            base: format!("{scheme}://{authority}{path}/"),
            namespace,
            query: uri.query().filter(|q| !q.is_empty()).map(str::to_owned),
            tls,
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        })
    }

    /// The Socket.IO query: `token=…&tokenType=…` plus the URL's own query.
    pub(crate) fn auth_query(&self, token: &Token, token_type: TokenType) -> String {
        let mut q = format!(
            "token={}&tokenType={}",
            percent_encode(token.expose()),
            token_type.as_str()
        );
        if let Some(extra) = &self.query {
            q.push('&');
            q.push_str(extra);
        }
        q
    }

    /// The websocket URL: `…/socket.io/?EIO=3&transport=websocket&token=…&tokenType=…`.
    pub(crate) fn url(&self, auth_query: &str) -> String {
        format!("{}?EIO=3&transport=websocket&{auth_query}", self.base)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (like `encodeURIComponent`,
/// which also leaves `!'()*`; encoding them too is equally valid).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse(
            "https://spacesapis-socket.avayacloud.com/chat",
            "/socket.io",
        )
        .unwrap();
        assert_eq!(
            (e.base.as_str(), e.namespace.as_str(), e.tls),
            (
                "wss://spacesapis-socket.avayacloud.com/socket.io/",
                "/chat",
                true
            )
        );
        let q = e.auth_query(&Token::new("a.b+c/d=,"), TokenType::Oauth);
        assert_eq!(q, "token=a.b%2Bc%2Fd%3D%2C&tokenType=oauth");
        assert_eq!(
            e.url(&q),
            "wss://spacesapis-socket.avayacloud.com/socket.io/?EIO=3&transport=websocket&token=a.b%2Bc%2Fd%3D%2C&tokenType=oauth"
        );
        let e = Endpoint::parse("ws://127.0.0.1:3000", "/socket.io").unwrap();
        assert_eq!(
            (e.base.as_str(), e.namespace.as_str(), e.tls),
            ("ws://127.0.0.1:3000/socket.io/", "/chat", false)
        );
        let e = Endpoint::parse("http://h/other/?batchRoster=true", "/sio").unwrap();
        assert_eq!(
            (e.base.as_str(), e.namespace.as_str()),
            ("ws://h/sio/", "/other")
        );
        assert_eq!(
            e.auth_query(&Token::new("t"), TokenType::Jwt),
            "token=t&tokenType=jwt&batchRoster=true"
        );
        for bad in ["ftp://h/chat", "/chat", "wss:///chat", "not a url"] {
            assert!(
                matches!(Endpoint::parse(bad, "/socket.io"), Err(Error::Url(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn backoff_follows_socket_io_client() {
        let r = Reconnect {
            jitter: 0.0,
            ..Reconnect::default()
        };
        let delays: Vec<_> = (1..=5).map(|a| r.delay(a).as_millis()).collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
        let r = Reconnect::default();
        for _ in 0..200 {
            let d = r.delay(1).as_millis();
            assert!((500..=1500).contains(&d), "{d}");
        }
        assert_eq!(Reconnect::default().delay(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn token_is_never_shown() {
        let t = Token::new("s3cr3t");
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        let b = Builder::new("wss://h/chat", TokenSource::Fixed(t));
        assert!(!format!("{b:?}").contains("s3cr3t"));
    }
}
