//! The Spaces REST calls an event consumer needs (feature `rest`): a guest token, joining a
//! space, the active meeting (the truth a [`MeetingState`](crate::meeting::MeetingState)
//! resyncs from), where the socket server is (the service configurations, regional clusters:
//! [`Rest::discover`]) and the spaces the token sees ([`Rest::my_spaces`]).
//!
//! ```no_run
//! use spaces_events::rest::{PRODUCTION_API_URL, Rest};
//!
//! # async fn run() -> Result<(), spaces_events::rest::RestError> {
//! // No account needed: a guest token, valid 24 hours.
//! let guest = Rest::builder(PRODUCTION_API_URL).build()?.anonymous_auth("Bot", "bot-1").await?;
//! let rest = Rest::builder(PRODUCTION_API_URL).token(guest.token().clone()).build()?;
//! match rest.active_meeting("5f1051f0f3ed772f915e19ed").await? {
//!     Some(meeting) => println!("{} attendees", meeting.meeting().content.as_ref().map_or(0, |c| c.attendees.len())),
//!     None => println!("no meeting"),
//! }
//! # Ok(()) }
//! ```
//!
//! Calls send `Authorization: jwt <token>` (`bearer <token>` for [`TokenType::Oauth`]). 401
//! and 403 are [`RestError::Auth`]; 5xx answers, timeouts and connection failures are retried
//! with exponential backoff ([`RestBuilder::attempts`]), then [`RestError::Unavailable`]. The
//! token is never in an error, a log line or a `Debug` output.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use reqwest::{Method, StatusCode, header};
use tracing::debug;

mod calls;
mod discover;
mod spaces;

pub use calls::Guests;
pub use discover::Endpoints;

use crate::auth::Credentials;
use crate::client::{ProxyChoice, ProxySecret, TokenSource, added_roots, tls_config};
use crate::client::{Reconnect, Roots, Token, TokenType};
use crate::types::ActiveMeeting;

/// The production REST API.
pub const PRODUCTION_API_URL: &str = "https://spacesapis.avayacloud.com/api";
/// The staging REST API.
pub const STAGING_API_URL: &str = "https://loganstagingapis.esna.com/api";

/// What went wrong with a REST call; `call` names it as `METHOD /path` (never with a token).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// The settings cannot work: a bad URL or root certificate. Fix them.
    #[error("REST configuration: {0}")]
    Config(String),
    /// 401 or 403: the token is missing, expired or not allowed (403 on `join` also means the
    /// space needs its PIN). Not retried.
    #[error("{call}: not authorized (HTTP {status})")]
    Auth {
        /// The call.
        call: String,
        /// 401 or 403.
        status: u16,
    },
    /// 404 where it means the thing does not exist (a space id). (`active_meeting` answers
    /// `None` instead: there 404 means no meeting.)
    #[error("{call}: not found")]
    NotFound {
        /// The call.
        call: String,
    },
    /// The token source cannot give a token any more (a refused OAuth2 refresh token, an
    /// unreadable credentials file): fix the credentials.
    #[error("{call}: credentials: {reason}")]
    Credentials {
        /// The call.
        call: String,
        /// What is wrong with them.
        reason: String,
    },
    /// Another 4xx answer: the request is wrong; not retried.
    #[error("{call}: HTTP {status}: {body}")]
    Status {
        /// The call.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// 5xx answers, timeouts or connection failures, on every attempt: the service is down or
    /// unreachable. Try again later.
    #[error("{call}: unavailable after {attempts} attempt(s): {last}")]
    Unavailable {
        /// The call.
        call: String,
        /// Attempts made.
        attempts: u32,
        /// Why the last one failed.
        last: String,
    },
    /// The answer is not the JSON the call returns.
    #[error("{call}: unexpected answer: {reason}")]
    Body {
        /// The call.
        call: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A guest token from [`Rest::anonymous_auth`], with its expiry read from the JWT (not
/// verified: only the server can).
#[derive(Clone)]
pub struct GuestToken {
    token: Token,
    expires_at: Option<SystemTime>,
}

impl GuestToken {
    /// The token (for the socket client, with `tokenType=jwt`, and for [`RestBuilder::token`]).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// When it expires (the JWT's `exp`); `None` if the token does not say.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

impl std::fmt::Debug for GuestToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A JSON answer, typed, with the text as received (unknown fields included).
#[derive(Clone, Debug)]
pub struct Answer<T> {
    typed: T,
    json: String,
}

impl<T> Answer<T> {
    /// The body as received.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The typed view (fields the schema does not know are only in [`json`](Self::json)).
    pub fn typed(&self) -> &T {
        &self.typed
    }
}

impl Answer<ActiveMeeting> {
    /// The meeting document.
    pub fn meeting(&self) -> &ActiveMeeting {
        &self.typed
    }
}

/// Configures a [`Rest`] client. Made by [`Rest::builder`].
#[derive(Clone)]
pub struct RestBuilder {
    base: String,
    token: Option<TokenSource>,
    token_type: TokenType,
    timeout: Duration,
    attempts: u32,
    backoff: Reconnect,
    roots: Roots,
    extra_roots: Vec<Vec<u8>>,
    proxy: ProxyChoice,
}

impl std::fmt::Debug for RestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestBuilder")
            .field("base", &self.base)
            .field("token_type", &self.token_type)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl RestBuilder {
    /// The token for calls that need one (all but `anonymous_auth`).
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// let rest = Rest::builder(PRODUCTION_API_URL).token("eyJhbGciOi…").build();
    /// ```
    pub fn token(mut self, token: impl Into<Token>) -> Self {
        self.token = Some(TokenSource::Fixed(token.into()));
        self
    }

    /// Asks `provider` for the token before every call, e.g. [`Rest::guest_tokens`].
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// # fn demo() -> Result<(), spaces_events::rest::RestError> {
    /// let guest = Rest::builder(PRODUCTION_API_URL).build()?.guest_tokens("Bot", "bot-1");
    /// let rest = Rest::builder(PRODUCTION_API_URL).token_provider(guest).build()?;
    /// # Ok(()) }
    /// ```
    pub fn token_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Token, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'static,
    {
        self.token = Some(TokenSource::provider(provider));
        self
    }

    /// Asks `credentials` for the token before every call, and again once after a 401 (a
    /// different token is tried at once). Sets the token type to the source's.
    ///
    /// ```no_run
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// use spaces_events::auth::TokenFile;
    /// let rest = Rest::builder(PRODUCTION_API_URL).credentials(TokenFile::new("/run/token")).build();
    /// ```
    pub fn credentials(self, credentials: impl Credentials) -> Self {
        self.shared_credentials(Arc::new(credentials))
    }

    /// [`credentials`](Self::credentials) for a source already shared (with the socket
    /// client, say).
    ///
    /// ```no_run
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// use std::sync::Arc;
    /// use spaces_events::auth::{Credentials, TokenFile};
    /// let source: Arc<dyn Credentials> = Arc::new(TokenFile::new("/run/token"));
    /// let rest = Rest::builder(PRODUCTION_API_URL).shared_credentials(source).build();
    /// ```
    pub fn shared_credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.token_type = credentials.token_type();
        self.token = Some(TokenSource::Credentials(credentials));
        self
    }

    /// `jwt` (default: `Authorization: jwt <token>`) or `oauth` (`bearer <token>`).
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// use spaces_events::client::TokenType;
    /// let rest = Rest::builder(PRODUCTION_API_URL).token("t").token_type(TokenType::Oauth).build();
    /// ```
    pub fn token_type(mut self, token_type: TokenType) -> Self {
        self.token_type = token_type;
        self
    }

    /// How long one attempt may take, connection included (10 s by default).
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// let rest = Rest::builder(PRODUCTION_API_URL).timeout(std::time::Duration::from_secs(3)).build();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Attempts per call when the service is unavailable (5xx, timeout, connection failure),
    /// 3 by default, with backoff between them (see [`backoff`](Self::backoff)); at least 1.
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// let rest = Rest::builder(PRODUCTION_API_URL).attempts(5).build();
    /// ```
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The delays between attempts (`initial_delay`, `max_delay` and `jitter` are used):
    /// 250 ms doubling to 2 s, ±50 %, by default.
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// use spaces_events::client::Reconnect;
    /// let backoff = Reconnect { initial_delay: std::time::Duration::from_millis(100), ..Reconnect::default() };
    /// let rest = Rest::builder(PRODUCTION_API_URL).backoff(backoff).build();
    /// ```
    pub fn backoff(mut self, backoff: Reconnect) -> Self {
        self.backoff = backoff;
        self
    }

    /// Which certificate authorities `https://` trusts, as for the socket client.
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// use spaces_events::client::Roots;
    /// let rest = Rest::builder(PRODUCTION_API_URL).roots(Roots::Native).build();
    /// ```
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Also trusts the certificates of this PEM file's contents (a company's proxy CA).
    ///
    /// ```no_run
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// let pem = std::fs::read("corp-ca.pem").unwrap();
    /// let rest = Rest::builder(PRODUCTION_API_URL).add_root_certificate(&pem).build();
    /// ```
    pub fn add_root_certificate(mut self, pem: &[u8]) -> Self {
        self.extra_roots.push(pem.to_vec());
        self
    }

    /// Calls through this HTTP proxy, `http://[user:password@]host:port`, instead of the one
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` name (read by default); `NO_PROXY` still applies.
    /// The same rules as [`Builder::proxy`](crate::client::Builder::proxy).
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// let rest = Rest::builder(PRODUCTION_API_URL).proxy("http://proxy.corp:3128").build();
    /// ```
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = ProxyChoice::Url(ProxySecret(url.to_owned()));
        self
    }

    /// Calls directly, whatever the proxy environment variables say.
    ///
    /// ```
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// let rest = Rest::builder(PRODUCTION_API_URL).no_proxy().build();
    /// ```
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyChoice::Off;
        self
    }

    /// The client.
    ///
    /// # Errors
    /// [`RestError::Config`] for a URL that is not `http(s)://` or a bad certificate.
    pub fn build(self) -> Result<Rest, RestError> {
        let base = self.base.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base)
            .map_err(|e| RestError::Config(format!("invalid API URL {base:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(RestError::Config(format!(
                "invalid API URL {base:?}: not an http(s) URL with a host"
            )));
        }
        let http = http_client(
            &self.roots,
            &self.extra_roots,
            &self.proxy,
            self.timeout,
            true,
        )
        .map_err(RestError::Config)?;
        Ok(Rest {
            inner: Arc::new(Inner {
                http,
                base,
                token: self.token,
                token_type: self.token_type,
                attempts: self.attempts,
                backoff: self.backoff,
            }),
        })
    }
}

/// A Spaces REST client; cheap to clone. See the module docs.
#[derive(Clone, Debug)]
pub struct Rest {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    token: Option<TokenSource>,
    token_type: TokenType,
    attempts: u32,
    backoff: Reconnect,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("base", &self.base)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// An answer's status and body.
struct Reply {
    status: StatusCode,
    body: String,
}

impl Rest {
    /// Configures a client of the API at `api_url`, such as [`PRODUCTION_API_URL`].
    pub fn builder(api_url: &str) -> RestBuilder {
        RestBuilder {
            base: api_url.to_owned(),
            token: None,
            token_type: TokenType::Jwt,
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff: Reconnect {
                initial_delay: Duration::from_millis(250),
                max_delay: Duration::from_secs(2),
                ..Reconnect::default()
            },
            roots: Roots::WebPki,
            extra_roots: Vec::new(),
            proxy: ProxyChoice::Env,
        }
    }

    /// The API URL.
    pub fn api_url(&self) -> &str {
        &self.inner.base
    }

    /// The body of a 2xx answer, or the error its status means.
    fn ok(call: &str, reply: Reply) -> Result<String, RestError> {
        let status = reply.status.as_u16();
        match status {
            200..=299 => Ok(reply.body),
            401 | 403 => Err(RestError::Auth {
                call: call.to_owned(),
                status,
            }),
            404 => Err(RestError::NotFound {
                call: call.to_owned(),
            }),
            _ => Err(RestError::Status {
                call: call.to_owned(),
                status,
                body: reply.body.chars().take(200).collect(),
            }),
        }
    }

    /// Sends the request, retrying while the service is unavailable.
    async fn call(
        &self,
        method: Method,
        path: &str,
        call: &str,
        body: Option<String>,
        authorized: bool,
        headers: &[(&str, &str)],
    ) -> Result<Reply, RestError> {
        let inner = &self.inner;
        let mut attempt = 0;
        // The token a 401 refused; the source is asked again once per call.
        let mut refused: Option<Token> = None;
        loop {
            attempt += 1;
            let mut request = inner
                .http
                .request(method.clone(), format!("{}{path}", inner.base))
                .header(header::ACCEPT, "application/json");
            let mut secret = None;
            if authorized {
                let Some(source) = &inner.token else {
                    return Err(RestError::Config(format!("{call} needs a token")));
                };
                let token = source.get(refused.as_ref()).await.map_err(|e| match e {
                    crate::client::Error::Auth(reason) => RestError::Credentials {
                        call: call.to_owned(),
                        reason,
                    },
                    e => RestError::Unavailable {
                        call: call.to_owned(),
                        attempts: attempt,
                        last: e.to_string(),
                    },
                })?;
                if refused.as_ref() == Some(&token) {
                    // The source has no other token: the 401 stands.
                    return Err(RestError::Auth {
                        call: call.to_owned(),
                        status: 401,
                    });
                }
                let scheme = match inner.token_type {
                    TokenType::Jwt => "jwt",
                    TokenType::Oauth => "bearer",
                };
                let mut value =
                    header::HeaderValue::from_str(&format!("{scheme} {}", token.expose()))
                        .map_err(|_| {
                            RestError::Config("the token is not a valid header value".into())
                        })?;
                value.set_sensitive(true);
                request = request.header(header::AUTHORIZATION, value);
                secret = Some(token);
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(body) = &body {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let renewable = !matches!(inner.token, Some(TokenSource::Fixed(_)));
                    if status == StatusCode::UNAUTHORIZED && renewable && refused.is_none() {
                        debug!(call, "REST answer 401: asking the token source again");
                        refused = secret;
                        attempt -= 1;
                        continue;
                    }
                    match response.text().await {
                        Ok(body) if !status.is_server_error() => {
                            debug!(call, status = status.as_u16(), "REST answer");
                            return Ok(Reply { status, body });
                        }
                        Ok(_) => format!("HTTP {status}"),
                        Err(e) => describe(&e),
                    }
                }
                Err(e) => describe(&e),
            };
            // The error text may quote the request; the token must not leak through it.
            let last = match &secret {
                Some(token) if !token.expose().is_empty() => {
                    outcome.replace(token.expose(), "<redacted>")
                }
                _ => outcome,
            };
            if attempt >= inner.attempts {
                return Err(RestError::Unavailable {
                    call: call.to_owned(),
                    attempts: attempt,
                    last,
                });
            }
            let delay = inner.backoff.delay(attempt);
            debug!(
                call,
                attempt,
                error = last,
                ?delay,
                "REST call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// The HTTP client of the REST API and the webhook sink: the socket client's rustls settings
/// (aws-lc-rs, `roots` and `extra_roots`), its proxy rules, `timeout` per request, our user agent;
/// redirects followed or not (an OAuth2 token endpoint's must not be, as RFC 6749 §10.15's
/// advice is read by the `oauth2` crate).
pub(crate) fn http_client(
    roots: &Roots,
    extra_roots: &[Vec<u8>],
    proxy: &ProxyChoice,
    timeout: Duration,
    redirects: bool,
) -> Result<reqwest::Client, String> {
    let added = added_roots(extra_roots).map_err(|e| e.to_string())?;
    let redirect = match redirects {
        true => reqwest::redirect::Policy::default(),
        false => reqwest::redirect::Policy::none(),
    };
    proxy
        .apply(reqwest::Client::builder())?
        .redirect(redirect)
        .tls_backend_preconfigured((*tls_config(roots, added)).clone())
        .timeout(timeout)
        .user_agent(concat!("spaces-events/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// A transport error, in words (reqwest's own `Display` names the URL; ours names the call).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn parse<T: serde::de::DeserializeOwned>(call: &str, json: String) -> Result<Answer<T>, RestError> {
    let typed = serde_json::from_str(&json).map_err(|e| RestError::Body {
        call: call.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Answer { typed, json })
}

/// A space id as one path segment: anything outside `[A-Za-z0-9_.~-]` percent-encoded.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `exp` claim of a JWT, read without verifying the signature.
pub(crate) fn expiry(jwt: &str) -> Option<SystemTime> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<f64>,
    }
    let exp = serde_json::from_slice::<Claims>(&bytes).ok()?.exp?;
    (exp.is_finite() && exp >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_the_payload() {
        // {"alg":"HS256"} . {"anonymous_id":"x","exp":1795515300} . signature
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJhbm9ueW1vdXNfaWQiOiJ4IiwiZXhwIjoxNzk1NTE1MzAwfQ.c2ln";
        assert_eq!(
            expiry(jwt),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_515_300))
        );
        assert_eq!(expiry("not-a-jwt"), None);
        assert_eq!(expiry("a.!!!.c"), None);
        assert_eq!(expiry("a.e30.c"), None, "{{}}: no exp");
    }

    #[test]
    fn ids_stay_one_segment() {
        assert_eq!(segment("5f10-ab_c"), "5f10-ab_c");
        assert_eq!(segment("../x y"), "..%2Fx%20y");
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for url in ["ftp://x/api", "not a url", "http://"] {
            let err = Rest::builder(url).build().unwrap_err();
            assert!(matches!(err, RestError::Config(_)), "{url}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let rest = Rest::builder(PRODUCTION_API_URL)
            .token("s3cret-token")
            .build()
            .unwrap();
        let builder = Rest::builder(PRODUCTION_API_URL).token("s3cret-token");
        let guest = GuestToken {
            token: Token::new("s3cret-token"),
            expires_at: None,
        };
        for text in [
            format!("{rest:?}"),
            format!("{builder:?}"),
            format!("{guest:?}"),
        ] {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }
}
