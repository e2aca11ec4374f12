//! Who the simulator lets in: the tokens it accepts and until when, what it does when one
//! expires on an open connection, and an OAuth2 identity provider (`/oauth2/authorize` with
//! PKCE, `/oauth2/access_token` with refresh-token rotation, `/oauth2/revoke_token`).
//!
//! How Spaces treats a connection whose token expires is undocumented; [`Expiry`] plays
//! either reading.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use sha2::Digest;
use socketioxide::SocketIo;
use tracing::info;

use crate::Shared;
use crate::rest::base64url;

/// What the server does when the token of an open connection expires. Spaces' behaviour is
/// undocumented: the tests run under both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// Reading (a): nothing, until the client reconnects (then the token must be valid).
    #[default]
    Keep,
    /// Reading (b): the server closes (`41/chat`) every connection whose token expired.
    Close,
}

/// The token a `/chat` socket connected with (socketioxide's socket extensions).
#[derive(Clone, Debug)]
pub(crate) struct Presented(pub(crate) String);

/// An authorization code waiting to be exchanged.
#[derive(Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
}

/// The tokens the simulator accepts, each until when.
#[derive(Debug)]
pub(crate) struct Tokens {
    /// Token → its end (`None`: never).
    valid: HashMap<String, Option<Instant>>,
    /// How long an issued token lives (`None`: forever).
    pub(crate) lifetime: Option<Duration>,
    refresh: HashSet<String>,
    codes: HashMap<String, Code>,
    issued: u64,
    /// Every token and refresh token issued, in order (for tests of what must never be shown).
    pub(crate) history: Vec<String>,
}

impl Tokens {
    pub(crate) fn new(tokens: &[String], lifetime: Option<Duration>) -> Self {
        let mut this = Tokens {
            valid: HashMap::new(),
            lifetime,
            refresh: HashSet::new(),
            codes: HashMap::new(),
            issued: 0,
            history: Vec::new(),
        };
        this.set(tokens);
        this
    }

    /// Whether `token` is accepted now.
    pub(crate) fn accepts(&self, token: &str) -> bool {
        self.valid
            .get(token)
            .is_some_and(|end| end.is_none_or(|end| Instant::now() < end))
    }

    /// Replaces the accepted tokens; they live [`lifetime`](Self::lifetime) from now.
    pub(crate) fn set(&mut self, tokens: &[String]) {
        let end = self.lifetime.map(|l| Instant::now() + l);
        self.valid = tokens.iter().map(|t| (t.clone(), end)).collect();
    }

    /// Accepts `token` from now on, for the lifetime; returns when it ends (Unix seconds).
    pub(crate) fn add(&mut self, token: String) -> u64 {
        let end = self.lifetime.map(|l| Instant::now() + l);
        self.history.push(token.clone());
        self.valid.insert(token, end);
        self.issued += 1;
        (SystemTime::now() + self.lifetime.unwrap_or(Duration::from_secs(24 * 3600)))
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }

    /// A number for the next token's name.
    pub(crate) fn next(&self) -> u64 {
        self.issued + 1
    }

    /// Every token and refresh token, refused from now on.
    pub(crate) fn revoke(&mut self) {
        self.valid.clear();
        self.refresh.clear();
    }

    /// Tokens issued so far (guest, OAuth2 access, rotated).
    pub(crate) fn issued(&self) -> u64 {
        self.issued
    }
}

/// Under [`Expiry::Close`], closes every `/chat` connection whose token is no longer accepted,
/// every 100 ms.
pub(crate) async fn sweep(io: SocketIo, shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let Some(chat) = io.of("/chat") else { continue };
        for socket in chat.sockets() {
            let expired = socket
                .extensions
                .get::<Presented>()
                .is_some_and(|t| !shared.tokens.lock().expect("token lock").accepts(&t.0));
            if expired {
                info!(sid = %socket.id, "token expired: connection closed");
                shared.expired.fetch_add(1, Ordering::SeqCst);
                let _ = socket.disconnect();
            }
        }
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/access_token", post(access_token))
        .route("/oauth2/revoke_token", post(revoke_token))
}

/// `GET /oauth2/authorize`: approves at once (no user to ask) and redirects with a code.
async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code" || get("client_id").is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "response_type=code and client_id needed",
        )
            .into_response();
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return (StatusCode::BAD_REQUEST, "PKCE (S256) needed").into_response();
    }
    let Ok(mut redirect) = redirect_target(&get("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    let mut tokens = shared.tokens.lock().expect("token lock");
    let code = format!("sim-code-{:016x}", fastrand::u64(..));
    tokens.codes.insert(
        code.clone(),
        Code {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            challenge: get("code_challenge"),
        },
    );
    redirect.push(if redirect.contains('?') { '&' } else { '?' });
    redirect.push_str(&format!(
        "code={code}&state={}",
        percent_encode(&get("state"))
    ));
    Redirect::to(&redirect).into_response()
}

/// `POST /oauth2/access_token`: grants `authorization_code` (with the PKCE verifier) and
/// `refresh_token` (the refresh token rotates: the old one is spent).
async fn access_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    if let Some(response) = crate::rest::fault(&shared).await {
        return response;
    }
    let form: HashMap<String, String> = form(&body);
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let client_id = client_id(&headers).unwrap_or_else(|| get("client_id"));
    if client_id.is_empty() {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let mut tokens = shared.tokens.lock().expect("token lock");
    match get("grant_type").as_str() {
        "authorization_code" => {
            let Some(code) = tokens.codes.remove(&get("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verified = base64url(&sha2::Sha256::digest(get("code_verifier").as_bytes()));
            if code.client_id != client_id
                || code.redirect_uri != get("redirect_uri")
                || code.challenge != verified
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
        }
        "refresh_token" => {
            if !tokens.refresh.remove(&get("refresh_token")) {
                info!("refresh token refused (revoked or spent)");
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
    let n = tokens.next();
    let access = format!("sim-oauth-{n}-{:08x}", fastrand::u32(..));
    let refresh = format!("sim-refresh-{n}-{:08x}", fastrand::u32(..));
    tokens.add(access.clone());
    tokens.history.push(refresh.clone());
    tokens.refresh.insert(refresh.clone());
    let expires_in = tokens.lifetime.map_or(3600, |l| l.as_secs().max(1));
    shared.refreshes.fetch_add(1, Ordering::SeqCst);
    info!(n, "OAuth2 access token issued");
    axum::Json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": expires_in,
        "refresh_token": refresh, "scope": "spaces profile email",
    }))
    .into_response()
}

/// `POST /oauth2/revoke_token` (RFC 7009): the token is refused from now on; 200 either way.
async fn revoke_token(State(shared): State<Arc<Shared>>, RawForm(body): RawForm) -> Response {
    let form = form(&body);
    if let Some(token) = form.get("token") {
        let mut tokens = shared.tokens.lock().expect("token lock");
        tokens.refresh.remove(token);
        tokens.valid.remove(token);
        info!("token revoked");
    }
    StatusCode::OK.into_response()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The client id of HTTP Basic client authentication (`client_id:secret`), if used.
fn client_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = decode_base64(encoded)?;
    let (id, _) = decoded.split_once(':')?;
    Some(
        form_urlencoded::parse(format!("x={id}").as_bytes())
            .next()?
            .1
            .into_owned(),
    )
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// A redirect URI, checked to be `http(s)://…` (nothing else is followed).
fn redirect_target(uri: &str) -> Result<String, ()> {
    match uri.parse::<axum::http::Uri>() {
        Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) => Ok(uri.to_owned()),
        _ => Err(()),
    }
}

fn percent_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Standard base64 (with or without padding).
fn decode_base64(text: &str) -> Option<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for b in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == b)? as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_client_ids() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Basic Ym90LTE6czNjcjN0".parse().unwrap()); // bot-1:s3cr3t
        assert_eq!(client_id(&headers).as_deref(), Some("bot-1"));
        assert_eq!(decode_base64("Zm9v").as_deref(), Some("foo"));
        assert_eq!(decode_base64("Zg==").as_deref(), Some("f"));
    }

    #[test]
    fn tokens_end() {
        let mut t = Tokens::new(&["a".into()], Some(Duration::from_millis(0)));
        assert!(!t.accepts("a"), "a zero lifetime");
        t.lifetime = None;
        t.set(&["b".into()]);
        assert!(t.accepts("b") && !t.accepts("a"));
        t.add("c".into());
        assert!(t.accepts("c"));
        t.revoke();
        assert!(!t.accepts("c"));
    }
}
