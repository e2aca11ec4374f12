//! The client for Python: a native `Connection` that serves both the asyncio `AsyncClient` and
//! the blocking `Client` of `spaces_events/_client.py`.
//!
//! No thread of ours ever takes the GIL. Every operation runs on the crate's tokio runtime and
//! returns a [`Pending`]: the result goes into a slot, and a byte into a socket pair whose read
//! end Python watches — asyncio with `loop.add_reader`, the blocking client by reading it without
//! the GIL. Python then collects the result on its own thread. (Completing asyncio futures from
//! runtime threads, as pyo3-async-runtimes does, can abort the interpreter at exit.)

use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::Skip;
use pyo3::prelude::*;
use pyo3::types::PyList;
use spaces_events::MediaSessionEvent;
use spaces_events::client::{
    Builder, Client, ConnectionState, Error, RawEvent, Reconnect, StateChanges, Token, TokenType,
};
use spaces_events::rest::Rest;
use spaces_events::types::SendMediaSessionEvents;
use tokio::sync::{mpsc, oneshot};

use crate::errors::{auth_error, client_error, config_error, rest_error};
use crate::event::Event;
use crate::events::{Events, Source};

/// The runtime every connection of the process runs on.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("spaces-events")
            .enable_all()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// What an operation produced.
pub(crate) enum Outcome {
    Done,
    Flag(bool),
    Events(Source),
    Batch(Vec<Result<MediaSessionEvent, Error>>),
    /// Meeting changes as JSON, or warnings for the logger (a failed resync).
    Changes(Vec<Result<String, String>>),
    /// A JSON answer, or `None` (no active meeting).
    Json(Option<String>),
    /// A guest token and when it expires (seconds since the epoch).
    Guest(String, Option<f64>),
    /// A REST call failed.
    RestFailed(spaces_events::rest::RestError),
    /// A token source gave no token.
    AuthFailed(spaces_events::auth::AuthError),
    RawBatch(Vec<RawEvent>),
    /// A state change as `(level, message)` for the `spaces_events` logger; `None` at the end.
    State(Option<(&'static str, String)>),
    Failed(Error),
    /// A wait that ran out of time: `TimeoutError(message)`.
    TimedOut(String),
}

/// An operation under way; see the module docs.
#[pyclass(frozen, module = "spaces_events._native")]
pub(crate) struct Pending {
    ready: UnixStream,
    slot: Arc<Mutex<Option<Outcome>>>,
}

impl Pending {
    pub(crate) fn spawn(
        future: impl Future<Output = Outcome> + Send + 'static,
    ) -> PyResult<Pending> {
        let (ready, signal) = UnixStream::pair()?;
        let slot = Arc::new(Mutex::new(None));
        let filled = slot.clone();
        runtime().spawn(async move {
            let outcome = future.await;
            *filled.lock().expect("slot lock") = Some(outcome);
            // Closing the write end makes the read end readable (EOF).
            drop(signal);
        });
        Ok(Pending { ready, slot })
    }
}

#[pymethods]
impl Pending {
    /// The file descriptor that becomes readable when the result is ready.
    fn fileno(&self) -> i32 {
        self.ready.as_raw_fd()
    }

    /// Whether the result is ready.
    fn done(&self) -> bool {
        self.slot.lock().expect("slot lock").is_some()
    }

    /// Takes the result (once); raises the operation's error.
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let outcome = self.slot.lock().expect("slot lock").take();
        match outcome {
            None => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the result is not ready, or was taken",
            )),
            Some(Outcome::Done) => Ok(py.None().into_bound(py)),
            Some(Outcome::Flag(flag)) => Ok(flag.into_pyobject(py)?.to_owned().into_any()),
            Some(Outcome::Events(source)) => Ok(Bound::new(py, Events::new(source))?.into_any()),
            Some(Outcome::Batch(items)) => batch(py, items),
            Some(Outcome::Changes(items)) => changes(py, items),
            Some(Outcome::Json(json)) => Ok(json.into_pyobject(py)?.into_any()),
            Some(Outcome::Guest(token, expires)) => {
                Ok((token, expires).into_pyobject(py)?.into_any())
            }
            Some(Outcome::RawBatch(events)) => raw_batch(py, events),
            Some(Outcome::State(change)) => Ok(change.into_pyobject(py)?.into_any()),
            Some(Outcome::Failed(error)) => Err(client_error(py, error)),
            Some(Outcome::RestFailed(error)) => Err(rest_error(py, &error)),
            Some(Outcome::AuthFailed(error)) => Err(auth_error(py, &error)),
            Some(Outcome::TimedOut(message)) => {
                Err(pyo3::exceptions::PyTimeoutError::new_err(message))
            }
        }
    }

    /// Waits without the GIL (Ctrl-C interrupts), then returns `result()`.
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.ready
            .set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut byte = [0u8; 1];
        loop {
            let read = py.detach(|| (&self.ready).read(&mut byte));
            match read {
                Ok(_) => return self.result(py),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    py.check_signals()?
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Events for Python, and `None` where the subscription was renewed after a drop (a gap: the
/// Python side counts it); other non-fatal errors (an undecodable payload) go to the
/// `spaces_events` logger.
fn batch(
    py: Python<'_>,
    items: Vec<Result<MediaSessionEvent, Error>>,
) -> PyResult<Bound<'_, PyAny>> {
    let list = PyList::empty(py);
    for item in items {
        match item {
            Ok(event) => list.append(Event::from(event))?,
            Err(Error::Gap(_)) => list.append(py.None())?,
            Err(error) => warn(py, "skipped: %s", &error.to_string())?,
        }
    }
    Ok(list.into_any())
}

/// Meeting changes (JSON text) for Python; warnings go to the `spaces_events` logger.
fn changes(py: Python<'_>, items: Vec<Result<String, String>>) -> PyResult<Bound<'_, PyAny>> {
    let list = PyList::empty(py);
    for item in items {
        match item {
            Ok(json) => list.append(json)?,
            Err(warning) => warn(py, "%s", &warning)?,
        }
    }
    Ok(list.into_any())
}

fn warn(py: Python<'_>, format: &str, message: &str) -> PyResult<()> {
    let logger = py
        .import("logging")?
        .call_method1("getLogger", ("spaces_events",))?;
    logger.call_method1("warning", (format, message))?;
    Ok(())
}

/// Raw events for Python: `(name, [argument JSON text…], [attachment bytes…])` tuples.
fn raw_batch(py: Python<'_>, events: Vec<RawEvent>) -> PyResult<Bound<'_, PyAny>> {
    let list = PyList::empty(py);
    for event in events {
        let args: Vec<&str> = event.args.iter().map(|a| a.get()).collect();
        let attachments: Vec<Bound<'_, pyo3::types::PyBytes>> = event
            .attachments
            .iter()
            .map(|a| pyo3::types::PyBytes::new(py, a))
            .collect();
        list.append((event.name, args, attachments))?;
    }
    Ok(list.into_any())
}

/// Client options, from the keyword arguments of `AsyncClient`/`Client` (see `_client.py`).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct Options {
    token_type: String,
    token_provider: bool,
    credentials: Option<Py<crate::auth::Credentials>>,
    reconnect: bool,
    reconnect_delay: f64,
    reconnect_delay_max: f64,
    reconnect_attempts: Option<u32>,
    heartbeat_deadline: Option<f64>,
    connect_timeout: f64,
    subscribe_timeout: f64,
    headers: Vec<(String, String)>,
    buffer: usize,
    token_in_connect: bool,
    ca_certificate: Option<Vec<u8>>,
    api_url: String,
    proxy: Option<String>,
    no_proxy: bool,
}

/// A token request of the client, answered by the Python token provider.
type TokenReply = oneshot::Sender<Result<Token, String>>;

/// `"jwt"` or `"oauth"`; `ConfigError` otherwise.
pub(crate) fn token_type(py: Python<'_>, name: &str) -> PyResult<TokenType> {
    match name {
        "jwt" => Ok(TokenType::Jwt),
        "oauth" => Ok(TokenType::Oauth),
        other => Err(config_error(
            py,
            format!("token_type must be 'jwt' or 'oauth', not {other:?}"),
        )),
    }
}

/// Asks the Python token provider through `ask` (`None`: the client is gone).
async fn ask_python(
    ask: Option<mpsc::Sender<TokenReply>>,
) -> Result<Token, Box<dyn std::error::Error + Send + Sync>> {
    let ask = ask.ok_or("the client is closed")?;
    let (reply, answer) = oneshot::channel();
    ask.send(reply)
        .await
        .map_err(|_| "the token provider is gone")?;
    Ok(answer
        .await
        .map_err(|_| "the token provider gave no answer")??)
}

/// A connection, shared by the Python wrappers.
#[pyclass(frozen, weakref, module = "spaces_events._native")]
pub(crate) struct Connection {
    rest: Rest,
    builder: Mutex<Option<Builder>>,
    client: Arc<OnceLock<Client>>,
    requests: Arc<tokio::sync::Mutex<mpsc::Receiver<TokenReply>>>,
    reply: Arc<Mutex<Option<TokenReply>>>,
    /// The changes after the first connection, once connected.
    states: Arc<tokio::sync::Mutex<Option<Skip<StateChanges>>>>,
}

impl Connection {
    fn client(&self) -> PyResult<Client> {
        self.client
            .get()
            .cloned()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("not connected"))
    }
}

#[pymethods]
impl Connection {
    #[new]
    fn new(py: Python<'_>, url: &str, token: String, options: Options) -> PyResult<Connection> {
        let o = options;
        let token_type = token_type(py, &o.token_type)?;
        let seconds = |s: f64| {
            Duration::try_from_secs_f64(s).map_err(|e| config_error(py, format!("{s} s: {e}")))
        };
        let mut b = Client::builder(url, token.as_str())
            .token_type(token_type)
            .token_in_connect(o.token_in_connect)
            .reconnect(Reconnect {
                enabled: o.reconnect,
                initial_delay: seconds(o.reconnect_delay)?,
                max_delay: seconds(o.reconnect_delay_max)?,
                max_attempts: o.reconnect_attempts,
                ..Reconnect::default()
            })
            .connect_timeout(seconds(o.connect_timeout)?)
            .subscribe_timeout(seconds(o.subscribe_timeout)?)
            .buffer(o.buffer);
        if let Some(deadline) = o.heartbeat_deadline {
            b = b.heartbeat_deadline(seconds(deadline)?);
        }
        for (name, value) in &o.headers {
            b = b.header(name, value);
        }
        if let Some(pem) = &o.ca_certificate {
            b = b.add_root_certificate(pem);
        }
        if let Some(proxy) = &o.proxy {
            b = b.proxy(proxy);
        } else if o.no_proxy {
            b = b.no_proxy();
        }
        let (ask, requests) = mpsc::channel::<TokenReply>(1);
        // For `meeting()`'s resyncs: the same token, or the same provider.
        let mut rest = Rest::builder(&o.api_url).token_type(token_type);
        if let Some(pem) = &o.ca_certificate {
            rest = rest.add_root_certificate(pem);
        }
        if let Some(proxy) = &o.proxy {
            rest = rest.proxy(proxy);
        } else if o.no_proxy {
            rest = rest.no_proxy();
        }
        if let Some(credentials) = &o.credentials {
            // A source of `spaces_events.auth`: the Rust source itself, shared.
            let source = credentials.get().source.clone();
            b = b.shared_credentials(source.clone());
            rest = rest.shared_credentials(source);
        } else if o.token_provider {
            // The request goes to Python (`next_token_request`), which calls the provider. The
            // REST client holds the channel weakly: when the client is gone, Python stops serving.
            let weak = ask.downgrade();
            b = b.token_provider(move || ask_python(Some(ask.clone())));
            rest = rest.token_provider(move || ask_python(weak.upgrade()));
        } else {
            rest = rest.token(token);
        }
        let rest = rest.build().map_err(|e| config_error(py, e))?;
        Ok(Connection {
            rest,
            builder: Mutex::new(Some(b)),
            client: Arc::new(OnceLock::new()),
            requests: Arc::new(tokio::sync::Mutex::new(requests)),
            reply: Arc::new(Mutex::new(None)),
            states: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    /// Connects (once).
    fn connect(&self) -> PyResult<Pending> {
        let builder = self.builder.lock().expect("builder lock").take();
        let builder = builder
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("already connected"))?;
        let (client, states) = (self.client.clone(), self.states.clone());
        Pending::spawn(async move {
            match builder.connect().await {
                Ok(connected) => {
                    // The first is the state now ("connected"), not a change.
                    *states.lock().await = Some(connected.state_changes().skip(1));
                    let _ = client.set(connected);
                    Outcome::Done
                }
                Err(e) => Outcome::Failed(e),
            }
        })
    }

    /// Resolves `True` when the client wants a token (answer with `answer_token`), `False`
    /// once no more will be asked.
    fn next_token_request(&self) -> PyResult<Pending> {
        let (requests, reply) = (self.requests.clone(), self.reply.clone());
        Pending::spawn(async move {
            match requests.lock().await.recv().await {
                Some(request) => {
                    *reply.lock().expect("reply lock") = Some(request);
                    Outcome::Flag(true)
                }
                None => Outcome::Flag(false),
            }
        })
    }

    /// Resolves with the next state change after the first connection as `(level, message)`
    /// for the `spaces_events` logger, or `None` once the client ended.
    fn next_state_change(&self) -> PyResult<Pending> {
        let states = self.states.clone();
        Pending::spawn(async move {
            let mut states = states.lock().await;
            let change = match states.as_mut() {
                Some(changes) => changes.next().await,
                None => None,
            };
            Outcome::State(change.map(|state| match state {
                ConnectionState::Reconnecting {
                    attempt,
                    reason,
                    delay,
                } => (
                    "warning",
                    format!(
                        "connection lost: {reason}; retrying in {:.1} s, attempt {attempt}",
                        delay.as_secs_f64()
                    ),
                ),
                ConnectionState::Connected => ("info", "reconnected".to_owned()),
                ConnectionState::Closed { error: Some(e) } => {
                    ("warning", format!("client closed: {e}"))
                }
                ConnectionState::Closed { error: None } => ("info", "closed".to_owned()),
                _ => ("debug", format!("{state:?}")),
            }))
        })
    }

    /// Answers the pending token request: a token, or the provider's error message.
    #[pyo3(signature = (token=None, error=None))]
    fn answer_token(&self, token: Option<String>, error: Option<String>) {
        if let Some(reply) = self.reply.lock().expect("reply lock").take() {
            let _ = reply.send(
                token
                    .map(Token::new)
                    .ok_or_else(|| error.unwrap_or_else(|| "no token".into())),
            );
        }
    }

    /// Subscribes to a space.
    fn subscribe(&self, space: String) -> PyResult<Pending> {
        let client = self.client()?;
        Pending::spawn(async move {
            match client.subscribe(&space).await {
                Ok(subscription) => Outcome::Events(Source::Media(subscription)),
                Err(e) => Outcome::Failed(e),
            }
        })
    }

    /// Follows a space's meeting (resynced through the REST API at `api_url`).
    fn meeting(&self, space: String) -> PyResult<Pending> {
        let (client, rest) = (self.client()?, self.rest.clone());
        Pending::spawn(async move {
            match client.meeting(&space, &rest).await {
                Ok(meeting) => Outcome::Events(Source::Meeting(meeting)),
                Err(e) => Outcome::Failed(e),
            }
        })
    }

    /// Every server event from now on, untyped.
    fn raw_events(&self) -> PyResult<Pending> {
        let client = self.client()?;
        Pending::spawn(async move {
            match client.raw_events().await {
                Ok(events) => Outcome::Events(Source::Raw(events)),
                Err(e) => Outcome::Failed(e),
            }
        })
    }

    /// Sends SEND_MEDIA_SESSION_EVENTS; `payload` is its JSON.
    fn send_media_session_event(&self, py: Python<'_>, payload: &str) -> PyResult<Pending> {
        let event: SendMediaSessionEvents = serde_json::from_str(payload).map_err(|e| {
            config_error(py, format!("not a SEND_MEDIA_SESSION_EVENTS payload: {e}"))
        })?;
        let client = self.client()?;
        Pending::spawn(async move {
            client
                .send_media_session_event(&event)
                .await
                .map_or_else(Outcome::Failed, |()| Outcome::Done)
        })
    }

    /// Unsubscribes from a space.
    fn unsubscribe(&self, space: String) -> PyResult<Pending> {
        let client = self.client()?;
        Pending::spawn(async move {
            client
                .unsubscribe(&space)
                .await
                .map_or_else(Outcome::Failed, |()| Outcome::Done)
        })
    }

    /// Closes the connection (at once if it never connected).
    fn close(&self) -> PyResult<Pending> {
        self.builder.lock().expect("builder lock").take();
        let client = self.client.get().cloned();
        Pending::spawn(async move {
            if let Some(client) = client {
                client.close().await;
            }
            Outcome::Done
        })
    }

    /// `new`, `connecting`, `connected`, `reconnecting` or `closed`.
    #[getter]
    fn state(&self) -> &'static str {
        match self.client.get().map(Client::state) {
            None if self.builder.lock().expect("builder lock").is_some() => "new",
            None | Some(ConnectionState::Connecting) => "connecting",
            Some(ConnectionState::Connected) => "connected",
            Some(ConnectionState::Reconnecting { .. }) => "reconnecting",
            Some(_) => "closed",
        }
    }
}
