//! `spaces_events.rest`'s native side: the Rust REST client, its calls as [`Pending`]s.

use std::time::{Duration, UNIX_EPOCH};

use pyo3::prelude::*;
use spaces_events::client::Reconnect;
use spaces_events::rest::{Rest, RestError};

use crate::client::{self, Outcome, Pending};
use crate::errors::config_error;

/// A REST client; see `spaces_events.rest`.
#[pyclass(frozen, module = "spaces_events._native")]
pub(crate) struct RestClient {
    rest: Rest,
}

fn failed(error: RestError) -> Outcome {
    Outcome::RestFailed(error)
}

#[pymethods]
impl RestClient {
    #[new]
    #[pyo3(signature = (api_url, token, token_type, timeout, attempts, ca_certificate, proxy, no_proxy, credentials=None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "one per keyword of spaces_events.rest.Rest"
    )]
    fn new(
        py: Python<'_>,
        api_url: &str,
        token: Option<String>,
        token_type: &str,
        timeout: f64,
        attempts: u32,
        ca_certificate: Option<Vec<u8>>,
        proxy: Option<String>,
        no_proxy: bool,
        credentials: Option<Py<crate::auth::Credentials>>,
    ) -> PyResult<RestClient> {
        let token_type = client::token_type(py, token_type)?;
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|e| config_error(py, format!("timeout {timeout} s: {e}")))?;
        let mut b = Rest::builder(api_url)
            .token_type(token_type)
            .timeout(timeout)
            .attempts(attempts)
            .backoff(Reconnect {
                initial_delay: Duration::from_millis(250),
                max_delay: Duration::from_secs(2),
                ..Reconnect::default()
            });
        if let Some(token) = token {
            b = b.token(token);
        }
        if let Some(credentials) = &credentials {
            b = b.shared_credentials(credentials.get().source.clone());
        }
        if let Some(pem) = &ca_certificate {
            b = b.add_root_certificate(pem);
        }
        if let Some(proxy) = &proxy {
            b = b.proxy(proxy);
        } else if no_proxy {
            b = b.no_proxy();
        }
        Ok(RestClient {
            rest: b.build().map_err(|e| config_error(py, e))?,
        })
    }

    /// `POST /anonymous/auth`: `(token, expires_at)`.
    fn anonymous_auth(&self, displayname: String, username: String) -> PyResult<Pending> {
        let rest = self.rest.clone();
        Pending::spawn(async move {
            match rest.anonymous_auth(&displayname, &username).await {
                Ok(guest) => Outcome::Guest(
                    guest.token().expose().to_owned(),
                    guest
                        .expires_at()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_secs_f64()),
                ),
                Err(e) => failed(e),
            }
        })
    }

    /// `GET /spaces/{space}/join`: the answer's JSON.
    #[pyo3(signature = (space, password=None))]
    fn join_space(&self, space: String, password: Option<String>) -> PyResult<Pending> {
        let rest = self.rest.clone();
        Pending::spawn(async move {
            match rest.join_space(&space, password.as_deref()).await {
                Ok(json) => Outcome::Json(Some(json.to_string())),
                Err(e) => failed(e),
            }
        })
    }

    /// `GET /spaces/{space}/activemeeting`: its JSON, or `None` (404: no meeting).
    fn active_meeting(&self, space: String) -> PyResult<Pending> {
        let rest = self.rest.clone();
        Pending::spawn(async move {
            match rest.active_meeting(&space).await {
                Ok(meeting) => Outcome::Json(meeting.map(|m| m.json().to_owned())),
                Err(e) => failed(e),
            }
        })
    }

    /// `GET /users/me/spaces`, every page: a JSON array of the spaces as sent.
    fn my_spaces(&self) -> PyResult<Pending> {
        let rest = self.rest.clone();
        Pending::spawn(async move {
            match rest.my_spaces().await {
                Ok(spaces) => {
                    let items: Vec<&str> = spaces.iter().map(|s| s.json()).collect();
                    Outcome::Json(Some(format!("[{}]", items.join(","))))
                }
                Err(e) => failed(e),
            }
        })
    }

    /// `Rest::discover`: `{"socket_url", "api_url", "flavor"}`.
    #[pyo3(signature = (email=None))]
    fn discover(&self, email: Option<String>) -> PyResult<Pending> {
        let rest = self.rest.clone();
        Pending::spawn(async move {
            match rest.discover(email.as_deref()).await {
                Ok(found) => Outcome::Json(Some(
                    serde_json::json!({
                        "socket_url": found.socket_url,
                        "api_url": found.api_url,
                        "flavor": found.flavor,
                    })
                    .to_string(),
                )),
                Err(e) => failed(e),
            }
        })
    }

    /// `GET /service-configurations`: its JSON.
    fn service_configurations(&self) -> PyResult<Pending> {
        let rest = self.rest.clone();
        Pending::spawn(async move {
            match rest.service_configurations().await {
                Ok(answer) => Outcome::Json(Some(answer.json().to_owned())),
                Err(e) => failed(e),
            }
        })
    }
}
