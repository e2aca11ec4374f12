//! The simulator for Python (`spaces_events.testing`): a [`spaces_sim::Sim`] on the crate's
//! runtime. Quick calls (emit, faults) run to completion; timed ones (a play, a wait for a
//! subscriber) return a [`Pending`], awaited or waited on like the client's operations.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pyo3::prelude::*;
use spaces_sim::{Expiry, Identity, RestFault, Scenario, Sim};

use crate::client::{Outcome, Pending, runtime};
use crate::errors::config_error;

/// A running simulator.
#[pyclass(frozen, module = "spaces_events._native")]
pub(crate) struct Simulator {
    /// `None` once closed.
    sim: Mutex<Option<Arc<Sim>>>,
    url: String,
    api_url: String,
    token: String,
    identity: Option<String>,
}

impl Simulator {
    fn sim(&self) -> PyResult<Arc<Sim>> {
        self.sim
            .lock()
            .expect("sim lock")
            .clone()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the simulator is closed"))
    }
}

fn seconds(py: Python<'_>, what: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s).map_err(|e| config_error(py, format!("{what}: {s} s: {e}")))
}

#[pymethods]
impl Simulator {
    /// Starts a simulator on 127.0.0.1 (a free port) that accepts `token`, names meetings as
    /// `identity` says (one of `IDENTITIES`; `None`: payloads as given), and plays nothing
    /// until told.
    #[new]
    #[pyo3(signature = (token, ping_interval, ping_timeout, identity, token_lifetime=None, close_expired=false))]
    fn new(
        py: Python<'_>,
        token: &str,
        ping_interval: f64,
        ping_timeout: f64,
        identity: Option<&str>,
        token_lifetime: Option<f64>,
        close_expired: bool,
    ) -> PyResult<Self> {
        let mut builder = spaces_sim::Simulator::new()
            .token(token)
            .scenario(Scenario::default())
            .heartbeat(
                seconds(py, "ping_interval", ping_interval)?,
                seconds(py, "ping_timeout", ping_timeout)?,
            );
        if let Some(identity) = identity {
            let identity: Identity = identity.parse().map_err(|e| config_error(py, e))?;
            builder = builder.identity(identity);
        }
        if let Some(lifetime) = token_lifetime {
            builder = builder.token_lifetime(seconds(py, "token_lifetime", lifetime)?);
        }
        if close_expired {
            builder = builder.expiry(Expiry::Close);
        }
        let sim = py.detach(|| runtime().block_on(builder.start()))?;
        Ok(Simulator {
            url: sim.url().to_owned(),
            api_url: sim.api_url().to_owned(),
            token: sim.token().to_owned(),
            identity: sim.identity().map(|i| i.to_string()),
            sim: Mutex::new(Some(Arc::new(sim))),
        })
    }

    /// `http://127.0.0.1:PORT/chat`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT/api`: its REST API.
    #[getter]
    fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The token it accepts (until `set_tokens`).
    #[getter]
    fn token(&self) -> &str {
        &self.token
    }

    /// The reading meetings are named by, if one was given.
    #[getter]
    fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// Sends `payload` (JSON text of an object) as `event` to the subscribers of its `topicId`.
    fn emit(&self, py: Python<'_>, payload: &str, event: &str) -> PyResult<()> {
        let payload: serde_json::Value = serde_json::from_str(payload)
            .ok()
            .filter(serde_json::Value::is_object)
            .ok_or_else(|| config_error(py, "the payload is not a JSON object"))?;
        let sim = self.sim()?;
        py.detach(|| runtime().block_on(sim.emit(event, &payload)));
        Ok(())
    }

    /// Plays the JSONL scenario `jsonl` (what `spaces-events record` writes), or the built-in
    /// meeting when `None`, in `space` if given, `speed` times as fast.
    #[pyo3(signature = (jsonl, space, speed))]
    fn play(
        &self,
        py: Python<'_>,
        jsonl: Option<&str>,
        space: Option<&str>,
        speed: f64,
    ) -> PyResult<Pending> {
        if speed.is_nan() || speed <= 0.0 {
            return Err(config_error(
                py,
                format!("speed must be above 0, not {speed}"),
            ));
        }
        let scenario = match jsonl {
            Some(text) => Scenario::from_jsonl(text).map_err(|e| config_error(py, e))?,
            None => Scenario::meeting(SystemTime::now()),
        };
        let scenario = match space {
            Some(space) => scenario.in_space(space),
            None => scenario,
        };
        let sim = self.sim()?;
        Pending::spawn(async move {
            sim.play(&scenario, speed).await;
            Outcome::Done
        })
    }

    /// Resolves once `count` subscriptions to `space` were accepted; raises `TimeoutError`
    /// after `timeout` seconds.
    fn subscribed(
        &self,
        py: Python<'_>,
        space: String,
        count: usize,
        timeout: f64,
    ) -> PyResult<Pending> {
        let timeout = seconds(py, "timeout", timeout)?;
        let sim = self.sim()?;
        Pending::spawn(async move {
            match tokio::time::timeout(timeout, sim.subscribed(&space, count)).await {
                Ok(()) => Outcome::Done,
                Err(_) => Outcome::TimedOut(format!(
                    "{count} subscription(s) to {space:?} were not made within {timeout:?} \
                     ({} in all)",
                    sim.subscriptions()
                )),
            }
        })
    }

    /// Closes every client connection (clients see a transport close and reconnect).
    fn drop_connections(&self) -> PyResult<()> {
        self.sim()?.drop_connections();
        Ok(())
    }

    /// Closes every connection and refuses new ones for `seconds` while the meeting goes on.
    fn away(&self, py: Python<'_>, duration: f64) -> PyResult<()> {
        self.sim()?.away(seconds(py, "away", duration)?);
        Ok(())
    }

    /// The active meeting of `space` as JSON (what the REST API answers), or `None` (404).
    fn active_meeting(&self, space: &str) -> PyResult<Option<String>> {
        Ok(self.sim()?.active_meeting(space).map(|m| m.to_string()))
    }

    /// Makes every REST call answer `status` (`0`: work again), or hang (`hang`).
    #[pyo3(signature = (status, hang))]
    fn rest_fault(&self, status: u16, hang: bool) -> PyResult<()> {
        self.sim()?.rest_fault(match (status, hang) {
            (_, true) => RestFault::Hang,
            (0, false) => RestFault::None,
            (code, false) => RestFault::Status(code),
        });
        Ok(())
    }

    /// Swallows all traffic both ways for `seconds`: a half-open link.
    fn silence(&self, py: Python<'_>, duration: f64) -> PyResult<()> {
        self.sim()?.silence(seconds(py, "silence", duration)?);
        Ok(())
    }

    /// Sends `text` as a websocket text frame to every client, as is.
    fn inject_frame(&self, text: &str) -> PyResult<()> {
        self.sim()?.inject_frame(text);
        Ok(())
    }

    /// Replaces the accepted tokens (none: every connection is rejected).
    fn set_tokens(&self, tokens: Vec<String>) -> PyResult<()> {
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        self.sim()?.set_tokens(&tokens);
        Ok(())
    }

    /// A new token, the only one accepted from now on.
    fn rotate_tokens(&self) -> PyResult<String> {
        Ok(self.sim()?.rotate_tokens())
    }

    /// Revokes every token and OAuth2 refresh token.
    fn revoke(&self) -> PyResult<()> {
        self.sim()?.revoke();
        Ok(())
    }

    /// `http://127.0.0.1:PORT`: the OAuth2 identity provider.
    fn identity_url(&self) -> PyResult<String> {
        Ok(self.sim()?.identity_url().to_owned())
    }

    /// Every token issued so far.
    fn issued_tokens(&self) -> PyResult<Vec<String>> {
        Ok(self.sim()?.issued_tokens())
    }

    /// Connections closed because their token expired.
    fn expired_connections(&self) -> PyResult<usize> {
        Ok(self.sim()?.expired_connections())
    }

    /// The spaces `GET /users/me/spaces` lists from now on.
    fn set_spaces(&self, spaces: Vec<String>) -> PyResult<()> {
        self.sim()?.set_spaces(&spaces);
        Ok(())
    }

    /// Refuses subscriptions to `space` (SUBSCRIBE_CHANNEL_FAILED `not.a.member`).
    fn refuse_space(&self, space: &str) -> PyResult<()> {
        self.sim()?.refuse_space(space);
        Ok(())
    }

    /// Namespace connections accepted so far.
    #[getter]
    fn connections(&self) -> PyResult<usize> {
        Ok(self.sim()?.connections())
    }

    /// Subscriptions accepted so far (re-subscriptions included).
    #[getter]
    fn subscriptions(&self) -> PyResult<usize> {
        Ok(self.sim()?.subscriptions())
    }

    /// Connections rejected (bad token) so far.
    #[getter]
    fn rejections(&self) -> PyResult<usize> {
        Ok(self.sim()?.rejections())
    }

    /// Stops the simulator; its clients see the connection close. Idempotent.
    fn close(&self) {
        let sim = self.sim.lock().expect("sim lock").take();
        let _runtime = runtime().enter();
        drop(sim);
    }
}

/// Every reading of how Spaces names meetings that the simulator can play, by name.
#[pyfunction]
pub(crate) fn identities() -> Vec<String> {
    Identity::ALL.iter().map(Identity::to_string).collect()
}
