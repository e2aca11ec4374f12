//! `spaces-events login` and `logout`: the authorization code grant with PKCE through a
//! loopback redirect, and the revocation of what it got.

use std::future::Future;
use std::time::SystemTime;

use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RevocationUrl, Scope, StandardRevocableToken,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::oauth::{CredentialsFile, OAuth2, lock, refusal};
use super::{AuthError, DEFAULT_IDENTITY_URL};

/// The scopes asked for: what the Spaces sample apps ask.
const SCOPES: &str = "spaces profile email";

/// Signs in at the identity provider to make the credentials of an [`OAuth2`] (made by
/// [`OAuth2::login`], whose file and TLS settings it uses): the authorization code grant with
/// PKCE (S256), redirected to a loopback address.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use spaces_events::auth::OAuth2;
/// let authorization = OAuth2::new("spaces-credentials.json").login("my-client-id").start().await?;
/// println!("open {}", authorization.url());
/// // Waits for the browser's redirect (or a code pasted on standard input).
/// authorization.finish(std::future::pending()).await?;
/// # Ok(()) }
/// ```
pub struct Login {
    oauth: OAuth2,
    identity_url: String,
    client_id: String,
    client_secret: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client secret.
        f.debug_struct("Login")
            .field("credentials", &self.oauth.path)
            .field("identity_url", &self.identity_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl OAuth2 {
    /// Signs in as the application `client_id` at [`DEFAULT_IDENTITY_URL`], to write these
    /// credentials (`spaces-events login`).
    pub fn login(self, client_id: &str) -> Login {
        Login {
            oauth: self,
            identity_url: DEFAULT_IDENTITY_URL.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: None,
        }
    }
}

impl Login {
    /// Another identity provider (its `/oauth2/…` endpoints), e.g. staging's or a simulator's.
    pub fn identity_url(mut self, url: &str) -> Self {
        url.trim_end_matches('/').clone_into(&mut self.identity_url);
        self
    }

    /// The application's secret, for a confidential client (kept in the credentials file).
    pub fn client_secret(mut self, secret: &str) -> Self {
        self.client_secret = Some(secret.to_owned());
        self
    }

    /// Listens on a loopback port for the redirect and makes the URL to open.
    ///
    /// # Errors
    /// When no loopback port can be had, or the identity URL is not a URL.
    pub async fn start(self) -> Result<Authorization, AuthError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| self.error(format!("no loopback port for the redirect: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| self.error(e.to_string()))?
            .port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let auth_url = AuthUrl::new(format!("{}/oauth2/authorize", self.identity_url))
            .map_err(|e| self.error(format!("identity URL: {e}")))?;
        let redirect_url =
            RedirectUrl::new(redirect.clone()).map_err(|e| self.error(e.to_string()))?;
        let file = CredentialsFile::new(
            &self.identity_url,
            &self.client_id,
            self.client_secret.as_deref(),
        );
        let client = file
            .client()
            .map_err(|e| self.error(e))?
            .set_auth_uri(auth_url)
            .set_redirect_uri(redirect_url);
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge);
        for scope in SCOPES.split(' ') {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        let (url, state) = request.url();
        Ok(Authorization {
            url: url.to_string(),
            listener,
            verifier,
            state,
            redirect,
            file,
            oauth: self.oauth,
        })
    }

    fn error(&self, reason: String) -> AuthError {
        AuthError::Provider {
            url: self.identity_url.clone(),
            reason,
        }
    }
}

/// A sign-in under way: open [`url`](Self::url), then [`finish`](Self::finish).
#[derive(Debug)]
pub struct Authorization {
    url: String,
    listener: TcpListener,
    verifier: PkceCodeVerifier,
    state: CsrfToken,
    redirect: String,
    file: CredentialsFile,
    oauth: OAuth2,
}

impl Authorization {
    /// The page to open in a browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits for the code — the browser's redirect to the loopback address, or `pasted`: the
    /// code, or the whole address the browser was sent to (for a browser on another machine)
    /// — exchanges it for tokens, and writes the credentials file (mode 0600, atomically).
    ///
    /// # Errors
    /// [`AuthError::Revoked`] when the provider refuses the code, [`AuthError::Provider`] when
    /// it cannot be reached, [`AuthError::Credentials`] when the file cannot be written or the
    /// redirect carries an error or another sign-in's state.
    pub async fn finish(
        mut self,
        pasted: impl Future<Output = Option<String>>,
    ) -> Result<(), AuthError> {
        let path = self.oauth.path.as_path();
        let error = |reason: String| AuthError::Credentials {
            path: path.display().to_string(),
            reason,
        };
        let code = tokio::select! {
            code = redirected(&self.listener, self.state.secret()) => code.map_err(error)?,
            line = pasted => match line {
                Some(line) => from_pasted(&line, self.state.secret()).map_err(error)?,
                None => return Err(error("no code was given".into())),
            },
        };
        let url = self.file.token_url().to_owned();
        let client = self.file.client().map_err(error)?.set_redirect_uri(
            RedirectUrl::new(self.redirect.clone()).map_err(|e| error(e.to_string()))?,
        );
        let answer = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(self.verifier)
            .request_async(&self.oauth.http)
            .await
            .map_err(|e| refusal(e, path, &url))?;
        self.file.take(&answer, SystemTime::now());
        if self.file.refresh_token().is_empty() {
            return Err(error(
                "the provider gave no refresh token (is the application allowed the refresh_token grant?)"
                    .into(),
            ));
        }
        let _lock = lock(path).await?;
        self.file.write(path)
    }
}

/// The code of the first redirect to the loopback listener that carries this sign-in's state.
async fn redirected(listener: &TcpListener, state: &str) -> Result<String, String> {
    loop {
        let (mut stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut head = vec![0u8; 8192];
        let mut len = 0;
        let target = loop {
            let n = stream.read(&mut head[len..]).await.unwrap_or(0);
            if n == 0 {
                break None;
            }
            len += n;
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&head[..len]) {
                Ok(httparse::Status::Complete(_)) => break request.path.map(str::to_owned),
                Ok(httparse::Status::Partial) if len < head.len() => {}
                _ => break None,
            }
        };
        let found = target
            .filter(|t| t.starts_with("/callback"))
            .map(|t| from_pasted(&format!("http://127.0.0.1{t}"), state));
        let (status, text) = match &found {
            Some(Ok(_)) => ("200 OK", "Signed in to Spaces. You can close this page."),
            Some(Err(_)) => ("400 Bad Request", "The sign-in failed; see the terminal."),
            None => ("404 Not Found", "Not found."),
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
        if let Some(found) = found {
            return found;
        }
    }
}

/// The code from what was pasted: the code itself, or the redirect's address with
/// `code` and `state` (or `error`) in its query.
fn from_pasted(text: &str, state: &str) -> Result<String, String> {
    let text = text.trim();
    let Ok(url) = oauth2::url::Url::parse(text) else {
        return match text {
            "" => Err("no code was given".into()),
            code => Ok(code.to_owned()),
        };
    };
    let get = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = get("error") {
        return Err(format!("the provider refused the sign-in: {error}"));
    }
    if get("state").as_deref() != Some(state) {
        return Err("the redirect belongs to another sign-in (its state differs)".into());
    }
    get("code").ok_or_else(|| "the redirect carries no code".into())
}

impl OAuth2 {
    /// `spaces-events logout`: revokes these credentials (the refresh token, then the access
    /// token) at the provider, then removes the file. A provider that cannot be reached or
    /// refuses leaves the file in place.
    ///
    /// # Errors
    /// [`AuthError::Credentials`] for a file that is not one; [`AuthError::Provider`] when the
    /// provider cannot be reached or refuses the revocation.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), spaces_events::auth::AuthError> {
    /// spaces_events::auth::OAuth2::new("spaces-credentials.json").logout().await
    /// # }
    /// ```
    pub async fn logout(&self) -> Result<(), AuthError> {
        let path = self.path.as_path();
        let _lock = lock(path).await?;
        let file = CredentialsFile::read(path)?;
        if let Some(revoke_url) = file.revoke_url() {
            let fail = |reason: String| AuthError::Provider {
                url: revoke_url.to_owned(),
                reason,
            };
            let client = file.client().map_err(fail)?.set_revocation_url(
                RevocationUrl::new(revoke_url.to_owned()).map_err(|e| fail(e.to_string()))?,
            );
            let mut tokens = vec![StandardRevocableToken::RefreshToken(
                oauth2::RefreshToken::new(file.refresh_token().to_owned()),
            )];
            tokens.extend(file.access_token().map(|t| {
                StandardRevocableToken::AccessToken(oauth2::AccessToken::new(t.to_owned()))
            }));
            for token in tokens {
                client
                    .revoke_token(token)
                    .map_err(|e| fail(e.to_string()))?
                    .request_async(&self.http)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        std::fs::remove_file(path).map_err(|e| AuthError::Credentials {
            path: path.display().to_string(),
            reason: format!("revoked, but cannot remove it: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_secret_in_debug_or_errors() {
        let dir = std::env::temp_dir().join(format!("se-login-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("credentials.json");
        let login = OAuth2::new(&path).login("bot").client_secret("s3cr3t");
        assert!(!format!("{login:?}").contains("s3cr3t"), "{login:?}");
        let mut file = CredentialsFile::new("https://id.example", "bot", Some("s3cr3t"));
        file.take(
            &serde_json::from_str(
                r#"{"access_token":"acc3ss","token_type":"bearer","refresh_token":"r3fresh"}"#,
            )
            .unwrap(),
            SystemTime::now(),
        );
        let shown = format!("{file:?}");
        assert!(
            !["s3cr3t", "acc3ss", "r3fresh"]
                .iter()
                .any(|s| shown.contains(s)),
            "{shown}"
        );
        // A token file given as credentials by mistake: its token is not quoted back.
        std::fs::write(&path, "\"t0ken-in-a-json-string\"").unwrap();
        let e = CredentialsFile::read(&path).unwrap_err().to_string();
        assert!(
            e.contains("not a credentials file") && !e.contains("t0ken"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_pasted_code_or_redirect() {
        assert_eq!(from_pasted(" abc \n", "s").unwrap(), "abc");
        assert_eq!(
            from_pasted("http://127.0.0.1:9/callback?code=abc&state=s", "s").unwrap(),
            "abc"
        );
        let other = from_pasted("http://127.0.0.1:9/callback?code=abc&state=t", "s");
        assert!(other.unwrap_err().contains("another sign-in"));
        let refused = from_pasted("http://x/callback?error=access_denied&state=s", "s");
        assert!(refused.unwrap_err().contains("access_denied"));
        assert!(from_pasted("", "s").is_err());
    }
}
