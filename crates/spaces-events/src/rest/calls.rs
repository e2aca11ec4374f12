//! The calls of the Spaces REST API an event consumer makes: a guest token, joining a space,
//! the active meeting, the service configurations. (The spaces a token sees and the regional
//! hosts are in `spaces` and `discover`; the client's plumbing — retries, auth, errors — in
//! `rest`.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};

use super::{Answer, GuestToken, Rest, RestError, expiry, parse, segment};
use crate::auth::{AuthError, Credentials, TokenFuture, never, not_refused, renew_at};
use crate::client::{ProviderFuture, Token};
use crate::types::{ActiveMeeting, AnonymousAuth, AnonymousAuthRequest, ServiceConfigurations};

impl Rest {
    /// `POST /anonymous/auth`: a guest token (24 h) for `displayname`, with `username` any
    /// unique name. Needs no token.
    ///
    /// # Errors
    /// See [`RestError`].
    pub async fn anonymous_auth(
        &self,
        displayname: &str,
        username: &str,
    ) -> Result<GuestToken, RestError> {
        let body = serde_json::to_string(&AnonymousAuthRequest {
            displayname: displayname.to_owned(),
            username: username.to_owned(),
        })
        .expect("a generated type serializes");
        let call = "POST /anonymous/auth";
        let reply = self
            .call(
                Method::POST,
                "/anonymous/auth",
                call,
                Some(body),
                false,
                &[],
            )
            .await?;
        let answer: Answer<AnonymousAuth> = parse(call, Self::ok(call, reply)?)?;
        let token = answer.typed.token;
        Ok(GuestToken {
            expires_at: expiry(&token),
            token: Token::new(token),
        })
    }

    /// A token provider (for the socket client's
    /// [`Builder::token_provider`](crate::client::Builder::token_provider) and
    /// [`RestBuilder::token_provider`](super::RestBuilder::token_provider)) that gets a guest token from
    /// [`anonymous_auth`](Self::anonymous_auth) and renews it 10 minutes before it expires.
    pub fn guest_tokens(
        &self,
        displayname: &str,
        username: &str,
    ) -> impl Fn() -> ProviderFuture + Send + Sync + Clone + 'static {
        let guests = Arc::new(self.guests(displayname, username));
        move || {
            let guests = guests.clone();
            Box::pin(async move { Ok(guests.token(None).await?) }) as ProviderFuture
        }
    }

    /// Guest tokens as [`Credentials`] (for
    /// [`Builder::credentials`](crate::client::Builder::credentials) and
    /// [`RestBuilder::credentials`](super::RestBuilder::credentials)): one from
    /// [`anonymous_auth`](Self::anonymous_auth), renewed shortly before it expires (a fifth of
    /// its life early, at most 10 minutes) or when refused.
    pub fn guests(&self, displayname: &str, username: &str) -> Guests {
        Guests {
            rest: self.clone(),
            who: (displayname.to_owned(), username.to_owned()),
            kept: Mutex::new(None),
        }
    }
    /// `GET /spaces/{space}/join`, with the space's PIN if it has one: makes the caller a
    /// member (guests need it for protected spaces). The answer is the space (`topic`) and its
    /// settings, untyped.
    ///
    /// # Errors
    /// [`RestError::Auth`] (403 also when the PIN is missing or wrong), [`RestError::NotFound`].
    pub async fn join_space(
        &self,
        space: &str,
        password: Option<&str>,
    ) -> Result<serde_json::Value, RestError> {
        let path = format!("/spaces/{}/join", segment(space));
        let call = format!("GET {path}");
        let headers: Vec<(&str, &str)> = password
            .map(|p| ("spaces-x-space-password", p))
            .into_iter()
            .collect();
        let reply = self
            .call(Method::GET, &path, &call, None, true, &headers)
            .await?;
        let body = Self::ok(&call, reply)?;
        serde_json::from_str(&body).map_err(|e| RestError::Body {
            call,
            reason: e.to_string(),
        })
    }

    /// `GET /spaces/{space}/activemeeting`: the meeting going on, or `None` (404: no meeting).
    ///
    /// # Errors
    /// See [`RestError`].
    pub async fn active_meeting(
        &self,
        space: &str,
    ) -> Result<Option<Answer<ActiveMeeting>>, RestError> {
        let path = format!("/spaces/{}/activemeeting", segment(space));
        let call = format!("GET {path}");
        let reply = self
            .call(Method::GET, &path, &call, None, true, &[])
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse(&call, Self::ok(&call, reply)?).map(Some)
    }

    /// `GET /service-configurations`: `spaces.socketio_server_url` is the socket server.
    ///
    /// # Errors
    /// See [`RestError`].
    pub async fn service_configurations(&self) -> Result<Answer<ServiceConfigurations>, RestError> {
        let call = "GET /service-configurations";
        let reply = self
            .call(
                Method::GET,
                "/service-configurations",
                call,
                None,
                false,
                &[],
            )
            .await?;
        parse(call, Self::ok(call, reply)?)
    }
}

/// Guest tokens from `POST /anonymous/auth`; see [`Rest::guests`].
#[derive(Debug)]
pub struct Guests {
    rest: Rest,
    who: (String, String),
    /// The token in use and when to renew it.
    kept: Mutex<Option<(Token, SystemTime)>>,
}

/// A guest token (24 h) is renewed at most this early.
const GUEST_EARLY: Duration = Duration::from_secs(600);

impl Credentials for Guests {
    fn token<'a>(&'a self, refused: Option<&'a Token>) -> TokenFuture<'a> {
        Box::pin(async move {
            let now = SystemTime::now();
            let kept = self.kept.lock().expect("guest lock").clone();
            if let Some((token, _)) =
                kept.filter(|(token, renew)| now < *renew && not_refused(token, refused))
            {
                return Ok(token);
            }
            let guest = self
                .rest
                .anonymous_auth(&self.who.0, &self.who.1)
                .await
                .map_err(|e| AuthError::Provider {
                    url: self.rest.api_url().to_owned(),
                    reason: e.to_string(),
                })?;
            let renew = guest
                .expires_at
                .map_or_else(never, |at| renew_at(at, now, GUEST_EARLY));
            *self.kept.lock().expect("guest lock") = Some((guest.token.clone(), renew));
            Ok(guest.token)
        })
    }

    fn describe(&self) -> String {
        format!("the guest tokens of {}", self.rest.api_url())
    }
}
