//! The subscription client: Socket.IO 2 / Engine.IO 3 over tokio-tungstenite.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use spaces_events::Category;
//! use spaces_events::client::Client;
//!
//! # async fn run() -> Result<(), spaces_events::client::Error> {
//! let token = std::env::var("SPACES_TOKEN").expect("SPACES_TOKEN");
//! let client = Client::builder(spaces_events::client::PRODUCTION_URL, token).connect().await?;
//! let mut meeting = client.subscribe("5f1051f0f3ed772f915e19ed").await?;
//! while let Some(event) = meeting.next().await {
//!     match event {
//!         Ok(event) if event.category() == Category::AttendeeAdded => {
//!             println!("joined: {:?}", event.attendee().and_then(|a| a.displayname.as_deref()));
//!         }
//!         Ok(event) => println!("{}", event.category_name()),
//!         Err(error) if error.is_fatal() => return Err(error),
//!         Err(error) => eprintln!("skipped: {error}"), // an undecodable payload; the stream goes on
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Policy
//!
//! - **Connecting.** The token goes in the URL query (`token`, `tokenType`) and, by default, in
//!   the namespace CONNECT packet too, as socket.io-client 2.x does. CONNECT is sent right after
//!   the Engine.IO open packet, without waiting for `40` (socket.io 2.0.4 may never send it).
//!   Subscriptions and sends wait until the namespace accepts the connection. The first
//!   connection must succeed within [`Builder::connect_timeout`] (failed attempts are retried
//!   with backoff inside it), or `connect()` fails with [`Error::Connect`], naming the URL and
//!   the last cause.
//! - **Heartbeat.** The client pings at the server's `pingInterval`; when nothing at all arrives
//!   within the deadline after a ping (the server's `pingTimeout`, or shorter, see
//!   [`Builder::heartbeat_deadline`]) the link is dead and the client reconnects. Heartbeats do not
//!   depend on how fast the application reads: while a full subscription buffer stops the client
//!   from reading the socket, pings still go out and the deadline is suspended (the silence is
//!   ours, not the link's).
//! - **Slow consumers.** Each subscription buffers [`Builder::buffer`] events. When one is full, the
//!   client stops reading the socket until there is room: TCP pushes back on the server. Nothing
//!   is dropped; other subscriptions on the connection wait too.
//! - **Reconnect.** On a transport close, a heartbeat timeout, a failed attempt, or a server-side
//!   namespace disconnect (`41/chat,` — unlike socket.io-client, which then stops for good), the
//!   client reconnects with exponential backoff and jitter ([`Reconnect`]), asks the token
//!   provider for a token before every attempt, and re-subscribes every active subscription.
//!   Streams go on by themselves; events the server sent while disconnected are lost
//!   (Socket.IO 2 has no replay). [`Client::state_changes`] shows each transition, and every
//!   failure is a `warn` event. After the first success there is no attempt limit by default.
//! - **Authentication.** A namespace ERROR (`44/chat,"Not authorized"`) or HTTP 401/403 is
//!   [`Error::Auth`]. The client asks its token source ([`crate::auth`]) again, with the refused
//!   token, and tries a different one at once; it stops if it gets the refused token back (the
//!   error names the source to fix), and after three rejections in a row in any case. A fixed
//!   token is not retried.
//! - **Errors in the stream.** A payload that does not decode, or a malformed packet, is an `Err`
//!   item; the stream goes on. A fatal error (auth, attempt limit) is the last item.
//! - **Shutdown.** [`Client::close`] leaves the namespace and closes the websocket; dropping every
//!   `Client` handle stops the task too, also in the middle of a reconnect. Streams then end.

mod backpressure;
mod config;
mod driver;
mod error;
mod policy;
mod proxy;
mod session;
mod websocket;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};

pub use config::{Builder, PRODUCTION_URL, Reconnect, Roots, STAGING_URL, Token, TokenType};
pub use error::{Error, Timeout};

use crate::MediaSessionEvent;
use crate::types::SendMediaSessionEvents;
use config::Endpoint;
#[cfg(feature = "rest")]
pub(crate) use config::ProviderFuture;
pub(crate) use config::TokenSource;
use driver::{Command, Driver};
#[cfg(feature = "rest")]
pub(crate) use proxy::{Choice as ProxyChoice, Secret as ProxySecret};
use session::Item;
use websocket::Opener;
#[cfg(feature = "rest")]
pub(crate) use websocket::{added_roots, tls_config};

/// A connection to the Spaces socket server; cheap to clone (all clones share it).
///
/// Dropping the last clone stops the connection.
#[derive(Clone, Debug)]
pub struct Client {
    handle: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<ConnectionState>,
    subscribe_timeout: std::time::Duration,
    buffer: usize,
    /// Dropped with the last `Client`: tells the task to stop.
    _shutdown: oneshot::Sender<()>,
}

/// Where the connection is.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The first connection attempt is under way.
    Connecting,
    /// The namespace accepted the connection; subscriptions are (re)sent.
    Connected,
    /// The connection was lost or an attempt failed; the next attempt follows a delay.
    Reconnecting {
        /// Attempts since the last successful connection (1 for the first retry).
        attempt: u32,
        /// Why.
        reason: Error,
        /// How long until the attempt.
        delay: std::time::Duration,
    },
    /// The client stopped: closed by the application (`error` is `None`), or a fatal error.
    Closed {
        /// The fatal error, if any.
        error: Option<Error>,
    },
}

/// A server event as it arrived, for events this crate does not type (PRESENCE_EVENT_RESPONSE,
/// MESSAGE_SENT, …). See [`Client::raw_events`].
#[derive(Clone, Debug)]
pub struct RawEvent {
    /// The event name.
    pub name: String,
    /// The arguments after the name, as JSON.
    pub args: Vec<Box<RawValue>>,
    /// Binary attachments (referenced by `{"_placeholder":true,"num":N}` in `args`).
    pub attachments: Vec<Vec<u8>>,
}

impl Client {
    /// Starts configuring a client for `url` — a `wss://`, `ws://`, `https://` or `http://` URL
    /// whose path is the namespace (`/chat` if none), e.g. [`PRODUCTION_URL`] — with a fixed
    /// token. See [`Builder::token_provider`] for expiring tokens.
    pub fn builder(url: &str, token: impl Into<Token>) -> Builder {
        Builder::new(url, TokenSource::Fixed(token.into()))
    }

    /// Connects with the default settings (`tokenType=jwt`).
    ///
    /// # Errors
    /// As [`Builder::connect`].
    pub async fn connect(url: &str, token: impl Into<Token>) -> Result<Client, Error> {
        Client::builder(url, token).connect().await
    }

    pub(crate) async fn connect_with(config: Builder) -> Result<Client, Error> {
        // Configuration errors come back here, before any attempt.
        let endpoint = Endpoint::parse(&config.url, &config.path)?;
        let opener = Opener::new(&config, &endpoint)?;
        let (commands, commands_rx) = mpsc::channel(64);
        let (shutdown, shutdown_rx) = oneshot::channel();
        let (state_tx, mut state) = watch::channel(ConnectionState::Connecting);
        let handle = Handle {
            commands,
            state: state.clone(),
            subscribe_timeout: config.subscribe_timeout,
            buffer: config.buffer,
            _shutdown: shutdown,
        };
        tokio::spawn(
            Driver::new(config, endpoint, opener, commands_rx, shutdown_rx, state_tx).run(),
        );
        let client = Client {
            handle: Arc::new(handle),
        };
        let state = state
            .wait_for(|s| {
                matches!(
                    s,
                    ConnectionState::Connected | ConnectionState::Closed { .. }
                )
            })
            .await
            .map_err(|_| Error::Closed)?
            .clone();
        match state {
            ConnectionState::Closed { error } => Err(error.unwrap_or(Error::Closed)),
            _ => Ok(client),
        }
    }

    /// Subscribes to a space's media-session events: sends SUBSCRIBE_CHANNEL and resolves when
    /// the server answers CHANNEL_SUBSCRIBED. The subscription is renewed after every reconnect.
    ///
    /// # Errors
    /// [`Error::SubscribeRefused`] with the server's code and message (SUBSCRIBE_CHANNEL_FAILED),
    /// [`Error::AlreadySubscribed`], [`Error::Timeout`], or the fatal error that closed the client.
    pub async fn subscribe(&self, space: &str) -> Result<Subscription, Error> {
        self.subscribe_with(space, None).await
    }

    /// Like [`subscribe`](Self::subscribe), for a space protected by a PIN.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn subscribe_with_password(
        &self,
        space: &str,
        password: &str,
    ) -> Result<Subscription, Error> {
        self.subscribe_with(space, Some(password.to_owned())).await
    }

    async fn subscribe_with(
        &self,
        space: &str,
        password: Option<String>,
    ) -> Result<Subscription, Error> {
        let (events, rx) = mpsc::channel(self.handle.buffer);
        let (reply, answer) = oneshot::channel();
        let space = space.to_owned();
        self.command(Command::Subscribe {
            space: space.clone(),
            password,
            events,
            reply,
        })
        .await?;
        let mut subscription = Subscription {
            space,
            events: rx,
            commands: Some(self.handle.commands.downgrade()),
        };
        match tokio::time::timeout(self.handle.subscribe_timeout, answer).await {
            Ok(Ok(Ok(()))) => Ok(subscription),
            Ok(Ok(Err(e @ Error::AlreadySubscribed(_)))) => {
                // The space belongs to the existing subscription: dropping this one must not
                // unsubscribe it.
                subscription.commands = None;
                Err(e)
            }
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => Err(Error::Timeout(Timeout::Subscribe)),
        }
    }

    /// Stops a space's events (UNSUBSCRIBE_CHANNEL); its stream ends. Dropping the
    /// [`Subscription`] does the same.
    ///
    /// # Errors
    /// [`Error::Closed`] when the client is closed.
    pub async fn unsubscribe(&self, space: &str) -> Result<(), Error> {
        self.command(Command::Unsubscribe {
            space: space.to_owned(),
        })
        .await
    }

    /// Sends SEND_MEDIA_SESSION_EVENTS (e.g. a `tracksstatus`); waits for the connection if needed
    /// (up to 64 sends are held) and resolves once written.
    ///
    /// # Errors
    /// [`Error::Transport`] when the write fails, [`Error::SendQueueFull`] when too many sends
    /// wait, or the fatal error that closed the client.
    pub async fn send_media_session_event(
        &self,
        event: &SendMediaSessionEvents,
    ) -> Result<(), Error> {
        let payload = serde_json::value::to_raw_value(event).expect("a generated type serializes");
        let (reply, answer) = oneshot::channel();
        self.command(Command::Send {
            name: "SEND_MEDIA_SESSION_EVENTS",
            payload,
            reply,
        })
        .await?;
        answer.await.map_err(|_| self.closed_error())?
    }

    /// Every server event on the namespace, untyped (MEDIA_SESSION_RESPONSE included), from now
    /// on. Buffered like a subscription: a full buffer pauses reading.
    ///
    /// # Errors
    /// [`Error::Closed`] when the client is closed.
    pub async fn raw_events(&self) -> Result<RawEvents, Error> {
        let (events, rx) = mpsc::channel(self.handle.buffer);
        self.command(Command::Raw { events }).await?;
        Ok(RawEvents { events: rx })
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.handle.state.borrow().clone()
    }

    /// The current connection state, then each change, as a [`Stream`]; it ends after
    /// [`ConnectionState::Closed`]. Changes that follow each other faster than they are read
    /// may be seen only as the latest.
    ///
    /// ```no_run
    /// # async fn run(client: spaces_events::client::Client) {
    /// use futures_util::StreamExt;
    /// let mut states = client.state_changes().skip(1); // only changes
    /// while let Some(state) = states.next().await {
    ///     eprintln!("connection: {state:?}");
    /// }
    /// # }
    /// ```
    pub fn state_changes(&self) -> StateChanges {
        let mut rx = self.handle.state.clone();
        let now = rx.borrow_and_update().clone();
        let changes = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.changed().await.ok()?;
            let state = rx.borrow_and_update().clone();
            Some((state, rx))
        });
        StateChanges(Box::pin(
            futures_util::stream::once(async { now }).chain(changes),
        ))
    }

    /// Leaves the namespace, closes the websocket and stops the task; every stream ends.
    /// Resolves once done (at once if already closed).
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self
            .handle
            .commands
            .send(Command::Close { reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
    }

    async fn command(&self, command: Command) -> Result<(), Error> {
        self.handle
            .commands
            .send(command)
            .await
            .map_err(|_| self.closed_error())
    }

    /// The error that closed the client, or [`Error::Closed`].
    fn closed_error(&self) -> Error {
        match &*self.handle.state.borrow() {
            ConnectionState::Closed { error: Some(error) } => error.clone(),
            _ => Error::Closed,
        }
    }
}

/// A space's media-session events: a [`Stream`] of typed events, in the order the server sent
/// them, across reconnects. `Err` items report what was skipped (an undecodable payload, a
/// malformed packet) or, last, why the client stopped. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    space: String,
    events: mpsc::Receiver<Item>,
    /// Taken by [`unsubscribe`](Self::unsubscribe), so `Drop` does not ask again.
    commands: Option<mpsc::WeakSender<Command>>,
}

impl Subscription {
    /// The space id.
    pub fn space_id(&self) -> &str {
        &self.space
    }

    /// Stops the space's events (UNSUBSCRIBE_CHANNEL), as dropping the subscription does, but
    /// waits until the client has taken the request.
    ///
    /// # Errors
    /// [`Error::Closed`] when the client is closed.
    pub async fn unsubscribe(mut self) -> Result<(), Error> {
        let commands = self.commands.take().and_then(|c| c.upgrade());
        let commands = commands.ok_or(Error::Closed)?;
        commands
            .send(Command::Unsubscribe {
                space: std::mem::take(&mut self.space),
            })
            .await
            .map_err(|_| Error::Closed)
    }

    /// The next item; `None` once the subscription or the client ended.
    pub async fn recv(&mut self) -> Option<Result<MediaSessionEvent, Error>> {
        self.events.recv().await
    }
}

impl Stream for Subscription {
    type Item = Result<MediaSessionEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(commands) = self.commands.take().and_then(|c| c.upgrade()) {
            let _ = commands.try_send(Command::Unsubscribe {
                space: std::mem::take(&mut self.space),
            });
        }
    }
}

/// Every server event, untyped: see [`Client::raw_events`].
#[derive(Debug)]
pub struct RawEvents {
    events: mpsc::Receiver<RawEvent>,
}

impl RawEvents {
    /// The next event; `None` once the client ended.
    pub async fn recv(&mut self) -> Option<RawEvent> {
        self.events.recv().await
    }
}

impl Stream for RawEvents {
    type Item = RawEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RawEvent>> {
        self.events.poll_recv(cx)
    }
}

/// Changes of the connection state: see [`Client::state_changes`].
pub struct StateChanges(Pin<Box<dyn Stream<Item = ConnectionState> + Send>>);

impl std::fmt::Debug for StateChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateChanges")
    }
}

impl Stream for StateChanges {
    type Item = ConnectionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ConnectionState>> {
        self.0.as_mut().poll_next(cx)
    }
}

/// Entry points for the fuzz targets (`cargo fuzz` builds with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Feeds frames to the client's session without I/O: see the fuzz target `frames`.
    pub fn frames(data: &[u8]) {
        super::session::fuzz_frames(data);
    }
}
