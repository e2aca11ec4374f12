//! OAuth2 against Avaya Cloud Identity: a credentials file whose access token is refreshed
//! before it expires, and whose rotated refresh token is written back.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken, RequestTokenError,
    TokenResponse, TokenUrl,
};

use super::{AuthError, Credentials, Token, TokenFuture, TokenType, format_time, not_refused};
use super::{EARLY, never, parse_time, renew_at};
use crate::client::{ProxyChoice, ProxySecret, Roots};

/// Avaya Cloud Identity (`/oauth2/authorize`, `/oauth2/access_token`, `/oauth2/revoke_token`).
pub const DEFAULT_IDENTITY_URL: &str = "https://accounts.avayacloud.com";

/// The `type` of a credentials file.
const KIND: &str = "spaces_oauth";

/// An OAuth2 credentials file, as `spaces-events login` writes it (mode 0600):
/// `{"type": "spaces_oauth", "token_url": …, "revoke_url"?: …, "client_id": …,
/// "client_secret"?: …, "refresh_token": …, "access_token"?: …, "expires_at"?: …}`, with
/// `expires_at` an RFC 3339 time. Fields it does not know are kept when it is written back.
/// Its `Debug` shows no secret.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct CredentialsFile {
    #[serde(rename = "type")]
    kind: String,
    token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoke_url: Option<String>,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
    /// When the file was last written: when its access token was got, near enough.
    #[serde(skip)]
    written: Option<SystemTime>,
}

impl fmt::Debug for CredentialsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsFile")
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl CredentialsFile {
    /// New credentials of `client_id` at the identity provider `identity_url`.
    pub(crate) fn new(identity_url: &str, client_id: &str, client_secret: Option<&str>) -> Self {
        let base = identity_url.trim_end_matches('/');
        CredentialsFile {
            kind: KIND.to_owned(),
            token_url: format!("{base}/oauth2/access_token"),
            revoke_url: Some(format!("{base}/oauth2/revoke_token")),
            client_id: client_id.to_owned(),
            client_secret: client_secret.map(str::to_owned),
            refresh_token: String::new(),
            access_token: None,
            expires_at: None,
            other: serde_json::Map::new(),
            written: None,
        }
    }

    /// Reads and checks the file at `path`.
    ///
    /// # Errors
    /// [`AuthError::Credentials`]: missing, unreadable, not JSON, not `spaces_oauth`.
    pub fn read(path: &Path) -> Result<Self, AuthError> {
        let error = |reason: String| AuthError::Credentials {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        // Not serde_json's own message: it may quote a value, and a token file given by mistake
        // holds a token.
        let mut file: CredentialsFile = serde_json::from_str(&text).map_err(|e| {
            error(format!(
                "not a credentials file ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        file.written = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if file.kind != KIND {
            return Err(error(format!(
                "\"type\" is {:?}, not {KIND:?} (made by `spaces-events login`?)",
                file.kind
            )));
        }
        if file.refresh_token.is_empty() {
            return Err(error("no refresh_token".into()));
        }
        Ok(file)
    }

    /// Writes the file at `path` atomically (a new file, mode 0600, renamed over the old one):
    /// a reader sees the old file or the new one, never half of one.
    pub(crate) fn write(&self, path: &Path) -> Result<(), AuthError> {
        use std::io::Write;
        let error = |reason: String| AuthError::Credentials {
            path: path.display().to_string(),
            reason,
        };
        let name = path.file_name().ok_or_else(|| error("not a file".into()))?;
        let mut tmp_name = name.to_owned();
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let json = serde_json::to_vec_pretty(self).expect("a map of strings serializes");
        let written = options.open(&tmp).and_then(|mut file| {
            file.write_all(&json)?;
            file.write_all(b"\n")?;
            file.sync_all()
        });
        written
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                error(format!("cannot write it: {e}"))
            })
    }

    /// The access token and when to renew it, if the file has one: early by a fifth of the
    /// life it had when the file was written (as the process that got it reckoned), so that
    /// every process sharing the file renews it at the same time.
    fn access(&self, now: SystemTime) -> Option<(Token, SystemTime)> {
        let token = Token::new(self.access_token.clone()?);
        let renew = match self.expires_at.as_deref().and_then(parse_time) {
            Some(at) => renew_at(at, self.written.unwrap_or(now).min(now), EARLY),
            None => never(),
        };
        Some((token, renew))
    }

    pub(crate) fn client(
        &self,
    ) -> Result<
        BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>,
        String,
    > {
        let token_url = TokenUrl::new(self.token_url.clone()).map_err(|e| e.to_string())?;
        let mut client =
            BasicClient::new(ClientId::new(self.client_id.clone())).set_token_uri(token_url);
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(client)
    }

    pub(crate) fn token_url(&self) -> &str {
        &self.token_url
    }

    pub(crate) fn revoke_url(&self) -> Option<&str> {
        self.revoke_url.as_deref()
    }

    pub(crate) fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }

    pub(crate) fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// Takes what the token endpoint answered: the access token, its expiry (`expires_in`,
    /// else the JWT's `exp`), and the rotated refresh token if it sent one.
    pub(crate) fn take(
        &mut self,
        answer: &oauth2::basic::BasicTokenResponse,
        now: SystemTime,
    ) -> (Token, SystemTime) {
        let access = answer.access_token().secret().clone();
        let expires_at = answer
            .expires_in()
            .map(|d| now + d)
            .or_else(|| crate::rest::expiry(&access));
        if let Some(refresh) = answer.refresh_token() {
            self.refresh_token = refresh.secret().clone();
        }
        self.expires_at = expires_at.map(format_time);
        self.access_token = Some(access.clone());
        let renew = expires_at.map_or_else(never, |at| renew_at(at, now, EARLY));
        (Token::new(access), renew)
    }
}

/// How the identity provider is reached: roots, extra CAs, proxy; the HTTP client is made on
/// first use.
#[derive(Debug, Default)]
pub(crate) struct Http {
    roots: Option<Roots>,
    extra_roots: Vec<Vec<u8>>,
    proxy: Option<ProxyChoice>,
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl Http {
    pub(crate) fn roots(&mut self, roots: Roots) {
        self.roots = Some(roots);
    }

    pub(crate) fn add_root_certificate(&mut self, pem: &[u8]) {
        self.extra_roots.push(pem.to_vec());
    }

    pub(crate) fn proxy(&mut self, proxy: Option<&str>) {
        self.proxy = Some(match proxy {
            Some(url) => ProxyChoice::Url(ProxySecret(url.to_owned())),
            None => ProxyChoice::Off,
        });
    }

    pub(crate) fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                let roots = self.roots.clone().unwrap_or(Roots::WebPkiAndNative);
                let proxy = self.proxy.clone().unwrap_or(ProxyChoice::Env);
                crate::rest::http_client(&roots, &self.extra_roots, &proxy, TIMEOUT, false)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Sends one request of the `oauth2` crate.
    pub(crate) async fn send(
        &self,
        request: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, HttpError> {
        let client = self.client().map_err(HttpError)?;
        let request = reqwest::Request::try_from(request).map_err(|e| HttpError(e.to_string()))?;
        let response = client
            .execute(request)
            .await
            .map_err(|e| HttpError(crate::rest::describe(&e)))?;
        let mut answer = oauth2::http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            answer = answer.header(name.as_str(), value.as_bytes());
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError(crate::rest::describe(&e)))?;
        answer
            .body(body.to_vec())
            .map_err(|e| HttpError(e.to_string()))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Time allowed for one call to the identity provider.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A failed HTTP exchange with the identity provider (no secret in it: reqwest's text names
/// the URL, whose query holds none).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HttpError(String);

/// What a refused OAuth2 request means: the credentials are spent (fatal) or the provider is
/// unwell (retry).
pub(crate) fn refusal(
    error: RequestTokenError<HttpError, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
    path: &Path,
    url: &str,
) -> AuthError {
    match error {
        RequestTokenError::ServerResponse(answer) => match answer.error() {
            BasicErrorResponseType::InvalidGrant
            | BasicErrorResponseType::InvalidClient
            | BasicErrorResponseType::UnauthorizedClient
            | BasicErrorResponseType::UnsupportedGrantType
            | BasicErrorResponseType::InvalidScope => AuthError::Revoked {
                path: path.display().to_string(),
                reason: answer.error().to_string(),
            },
            other => AuthError::Provider {
                url: url.to_owned(),
                reason: format!("the provider answered {other}"),
            },
        },
        RequestTokenError::Request(e) => AuthError::Provider {
            url: url.to_owned(),
            reason: e.to_string(),
        },
        RequestTokenError::Parse(e, _) => AuthError::Provider {
            url: url.to_owned(),
            reason: format!("an answer that is not a token: {}", e.inner()),
        },
        RequestTokenError::Other(e) => AuthError::Provider {
            url: url.to_owned(),
            reason: e,
        },
    }
}

/// OAuth2 credentials from a [`CredentialsFile`]: the access token is refreshed (grant
/// `refresh_token`) shortly before it expires — as `expires_in` said, else the JWT's `exp` —
/// and at once when the server refuses it. A rotated refresh token is written back to the
/// file atomically before the new access token is used, so a restart never presents a spent
/// one; processes sharing the file take turns (an exclusive lock on `<file>.lock`) and use
/// each other's refreshes. A refused refresh token is [`AuthError::Revoked`]: fatal.
/// Tokens are sent as `tokenType=oauth` (`Authorization: bearer` on REST).
///
/// ```no_run
/// use spaces_events::auth::OAuth2;
/// use spaces_events::client::{Client, PRODUCTION_URL};
/// let builder = Client::builder(PRODUCTION_URL, "").credentials(OAuth2::new("spaces-credentials.json"));
/// ```
#[derive(Debug)]
pub struct OAuth2 {
    pub(super) path: PathBuf,
    pub(super) http: Http,
    /// The access token in use and when to renew it.
    kept: tokio::sync::Mutex<Option<(Token, SystemTime)>>,
}

impl OAuth2 {
    /// Credentials from the file at `path` (read when a token is first needed). The identity
    /// provider is trusted through Mozilla's roots and the system's, reached through the
    /// proxy the environment names.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        OAuth2 {
            path: path.into(),
            http: Http::default(),
            kept: tokio::sync::Mutex::new(None),
        }
    }

    /// Which roots the identity provider's certificate is checked against.
    ///
    /// ```no_run
    /// use spaces_events::{auth::OAuth2, client::Roots};
    /// let oauth = OAuth2::new("creds.json").roots(Roots::Native);
    /// ```
    pub fn roots(mut self, roots: Roots) -> Self {
        self.http.roots(roots);
        self
    }

    /// Also trusts the CA in `pem` (a private CA).
    ///
    /// ```no_run
    /// use spaces_events::auth::OAuth2;
    /// let oauth = OAuth2::new("creds.json").add_root_certificate(&std::fs::read("ca.pem")?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_root_certificate(mut self, pem: &[u8]) -> Self {
        self.http.add_root_certificate(pem);
        self
    }

    /// Through this HTTP proxy (`None`: directly), whatever the environment says.
    ///
    /// ```no_run
    /// use spaces_events::auth::OAuth2;
    /// let oauth = OAuth2::new("creds.json").proxy(Some("http://proxy.corp:3128"));
    /// ```
    pub fn proxy(mut self, url: Option<&str>) -> Self {
        self.http.proxy(url);
        self
    }

    /// The credentials file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn refreshed(&self, refused: Option<&Token>) -> Result<(Token, SystemTime), AuthError> {
        let usable = |file: &CredentialsFile, now| {
            file.access(now)
                .filter(|(token, renew)| now < *renew && not_refused(token, refused))
        };
        // Another process, or `login`, may have refreshed it already.
        let file = CredentialsFile::read(&self.path)?;
        if let Some(access) = usable(&file, SystemTime::now()) {
            return Ok(access);
        }
        let _lock = lock(&self.path).await?;
        let mut file = CredentialsFile::read(&self.path)?;
        if let Some(access) = usable(&file, SystemTime::now()) {
            return Ok(access);
        }
        let url = file.token_url().to_owned();
        let client = file.client().map_err(|reason| AuthError::Credentials {
            path: self.path.display().to_string(),
            reason: format!("token_url: {reason}"),
        })?;
        let answer = client
            .exchange_refresh_token(&RefreshToken::new(file.refresh_token().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| refusal(e, &self.path, &url))?;
        let access = file.take(&answer, SystemTime::now());
        // Written before it is used: the old refresh token may be spent now.
        file.write(&self.path)?;
        tracing::info!(credentials = %self.path.display(), "OAuth2 access token refreshed");
        Ok(access)
    }
}

impl Credentials for OAuth2 {
    fn token<'a>(&'a self, refused: Option<&'a Token>) -> TokenFuture<'a> {
        Box::pin(async move {
            let mut kept = self.kept.lock().await;
            if let Some((token, _)) = kept
                .as_ref()
                .filter(|(token, renew)| SystemTime::now() < *renew && not_refused(token, refused))
            {
                return Ok(token.clone());
            }
            let (token, renew) = self.refreshed(refused).await?;
            *kept = Some((token.clone(), renew));
            Ok(token)
        })
    }

    fn describe(&self) -> String {
        format!("the OAuth2 credentials {}", self.path.display())
    }

    fn token_type(&self) -> TokenType {
        TokenType::Oauth
    }
}

/// An exclusive lock on `<path>.lock`, held while the credentials are refreshed or written.
pub(crate) async fn lock(path: &Path) -> Result<std::fs::File, AuthError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&lock_path)?;
        fs4::fs_std::FileExt::lock_exclusive(&file)?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|locked| locked.map_err(|e| e.to_string()))
    .map_err(|reason| AuthError::Credentials {
        path: shown,
        reason: format!("cannot lock it: {reason}"),
    })
}
