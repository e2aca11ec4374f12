//! The task that owns the connection: the thin I/O shell around the [`Session`]. It opens
//! websockets, feeds the session what they receive and the time, writes what the session
//! sends, hands deliveries to the [`Backlog`], and asks the [`Policy`] what to do when a
//! connection ends.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::Instrument;
use tracing::warn;

use super::backpressure::{Backlog, Delivery, Outcome};
use super::config::{Builder, Endpoint, Token, TokenSource};
use super::policy::{End, Next, Policy};
use super::session::{Item, Output, Session, Settings};
use super::websocket::{Opener, Ws, scrub};
use super::{ConnectionState, Error, RawEvent, Timeout};
use crate::protocol::Frame;
use crate::text::Text;

/// Frames read in one go when they are already there (see [`Driver::burst`]).
const BURST: usize = 64;

type Reply = oneshot::Sender<Result<(), Error>>;

/// What the handles ask of the driver.
pub(crate) enum Command {
    Subscribe {
        space: String,
        password: Option<String>,
        events: mpsc::Sender<Item>,
        reply: Reply,
    },
    /// Stop delivering a space (explicitly, or because its `Subscription` was dropped).
    Unsubscribe {
        space: String,
    },
    Send {
        name: &'static str,
        payload: Box<RawValue>,
        reply: Reply,
    },
    Raw {
        events: mpsc::Sender<RawEvent>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

pub(crate) struct Driver {
    config: Builder,
    endpoint: Endpoint,
    opener: Opener,
    commands: mpsc::Receiver<Command>,
    shutdown: oneshot::Receiver<()>,
    state: watch::Sender<ConnectionState>,
    session: Session<mpsc::Sender<Item>>,
    /// Subscriptions waiting for the server's first answer.
    answers: HashMap<String, Reply>,
    /// Sends waiting to be written, by ticket.
    sends: HashMap<u64, Reply>,
    raw: Vec<mpsc::Sender<RawEvent>>,
    backlog: Backlog,
    /// Set when `close()` asked for a graceful end.
    closing: Option<oneshot::Sender<()>>,
}

impl Driver {
    pub(crate) fn new(
        config: Builder,
        endpoint: Endpoint,
        opener: Opener,
        commands: mpsc::Receiver<Command>,
        shutdown: oneshot::Receiver<()>,
        state: watch::Sender<ConnectionState>,
    ) -> Self {
        let session = Session::new(Settings {
            namespace: endpoint.namespace.clone(),
            heartbeat_deadline: config.heartbeat_deadline,
            max_json_depth: config.max_json_depth,
        });
        Driver {
            config,
            endpoint,
            opener,
            commands,
            shutdown,
            state,
            session,
            answers: HashMap::new(),
            sends: HashMap::new(),
            raw: Vec::new(),
            backlog: Backlog::default(),
            closing: None,
        }
    }

    /// Connects and reconnects until shut down or a fatal error.
    pub(crate) async fn run(mut self) {
        let fixed = matches!(self.config.token, TokenSource::Fixed(_));
        let first_by = std::time::Instant::now() + self.config.connect_timeout;
        let url = self.endpoint.base.clone();
        let mut policy = Policy::new(self.config.reconnect.clone(), fixed, url.clone(), first_by)
            .source(self.config.token.describe());
        let mut attempt = 0u64;
        let fatal = loop {
            attempt += 1;
            // Every log line of a connection names it (the URL without its query: no token).
            let span = tracing::info_span!("connection", url = %url, attempt);
            let refused = policy.refused().cloned();
            let got = self.token(refused.as_ref()).instrument(span.clone()).await;
            let (end, token) = match got {
                Ok(token) => match policy.check(&token) {
                    Ok(()) => (
                        self.connection(&token, policy.first_by())
                            .instrument(span)
                            .await,
                        Some(token),
                    ),
                    Err(error) => break Some(error),
                },
                Err(end) => (end, None),
            };
            let accepted = self.session.reset();
            let now = std::time::Instant::now();
            match policy.next(end, token.as_ref(), accepted, now) {
                Next::Stop(fatal) => break fatal,
                Next::Retry {
                    attempt,
                    delay,
                    reason,
                } => {
                    // Visible without configuration: a reconnecting client is not healthy.
                    warn!(attempt, ?delay, %reason, "connection lost; reconnecting");
                    self.state.send_replace(ConnectionState::Reconnecting {
                        attempt,
                        reason,
                        delay,
                    });
                    if self.idle(delay).await.is_err() {
                        break None;
                    }
                }
            }
        };
        self.finish(fatal);
    }

    /// Ends the client: fails what waits, ends every stream (after the fatal error, if any).
    fn finish(&mut self, fatal: Option<Error>) {
        if let Some(error) = &fatal {
            warn!(%error, "client closed");
        }
        let item = fatal.clone().unwrap_or(Error::Closed);
        let sinks = self.session.close();
        if fatal.is_some() {
            for sink in sinks {
                let _ = sink.try_send(Err(item.clone()));
            }
        }
        let replies = self.answers.drain().map(|(_, r)| r);
        for reply in replies.chain(self.sends.drain().map(|(_, r)| r)) {
            let _ = reply.send(Err(item.clone()));
        }
        self.state
            .send_replace(ConnectionState::Closed { error: fatal });
        if let Some(reply) = self.closing.take() {
            let _ = reply.send(());
        }
    }

    /// The token for the next attempt (`refused`: the one just refused), while still
    /// answering commands.
    async fn token(&mut self, refused: Option<&Token>) -> Result<Token, End> {
        let source = self.config.token.clone();
        let get = timeout(self.config.connect_timeout, source.get(refused));
        tokio::pin!(get);
        loop {
            tokio::select! {
                token = &mut get => return match token {
                    Ok(Ok(token)) => Ok(token),
                    Ok(Err(error @ Error::Auth(_))) => Err(End::Fatal(error)),
                    Ok(Err(error)) => Err(End::Lost(error)),
                    Err(_) => Err(End::Lost(Error::Timeout(Timeout::TokenProvider))),
                },
                stop = self.next_command() => if stop { return Err(End::Shutdown) },
            }
        }
    }

    /// Waits `delay` while answering commands; `Err` on shutdown.
    async fn idle(&mut self, delay: Duration) -> Result<(), ()> {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                () = sleep_until(until) => return Ok(()),
                stop = self.next_command() => if stop { return Err(()) },
            }
        }
    }

    /// Takes one command while not connected; `true` means stop.
    async fn next_command(&mut self) -> bool {
        tokio::select! {
            _ = &mut self.shutdown => true,
            command = self.commands.recv() => match command {
                None => true,
                Some(command) => {
                    self.command(command);
                    self.closing.is_some()
                }
            },
        }
    }

    /// Applies a command to the session.
    fn command(&mut self, command: Command) {
        match command {
            Command::Subscribe {
                space,
                password,
                events,
                reply,
            } => match self.session.subscribe(space.clone(), password, events) {
                Ok(()) => {
                    self.answers.insert(space, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Unsubscribe { space } => {
                self.session.unsubscribe(&space);
                self.answers.remove(&space);
            }
            Command::Send {
                name,
                payload,
                reply,
            } => match self.session.send(name, &payload) {
                Ok(ticket) => {
                    self.sends.insert(ticket, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Raw { events } => {
                self.raw.push(events);
                self.session.set_raw(true);
            }
            Command::Close { reply } => self.closing = Some(reply),
        }
    }

    /// One connection, from the TCP connect to its end; the namespace must accept it within the
    /// connect timeout, and by `first_by` if given (the first connection's deadline).
    async fn connection(&mut self, token: &Token, first_by: Option<std::time::Instant>) -> End {
        let now = Instant::now();
        let mut accept_by = now + self.config.connect_timeout;
        if let Some(first_by) = first_by {
            accept_by = accept_by.min(Instant::from_std(first_by));
        }
        let auth = self.endpoint.auth_query(token, self.config.token_type);
        let url = self.endpoint.url(&auth);
        let mut ws = tokio::select! {
            result = timeout(accept_by - now, self.opener.open(&url, token)) => match result {
                Ok(Ok(ws)) => ws,
                Ok(Err(end)) => return end,
                Err(_) => return End::Lost(Error::Timeout(Timeout::Connect)),
            },
            _ = &mut self.shutdown => return End::Shutdown,
        };
        let query = self.config.token_in_connect.then_some(auth.as_str());
        self.session.start(query, accept_by.into_std());
        let end = self.serve(&mut ws, token).await;
        if let (End::Shutdown, Some(goodbye)) = (&end, self.session.goodbye()) {
            // A graceful goodbye: leave the namespace, then close the websocket.
            let _ = self.write(&mut ws, goodbye, token).await;
        }
        let _ = timeout(self.config.write_timeout, ws.close(None)).await;
        end
    }

    /// Runs an open websocket until it ends.
    async fn serve(&mut self, ws: &mut Ws, token: &Token) -> End {
        // One timer, moved when the session's deadline moves (at pings and pongs): a new one
        // each turn registered and cleared a timer entry for every burst of frames.
        let mut timer = std::pin::pin!(sleep_until(Instant::now()));
        let mut armed = None;
        loop {
            if self.closing.is_some() {
                return End::Shutdown;
            }
            let deadline = self.session.deadline();
            if deadline != armed {
                if let Some(at) = deadline {
                    timer.as_mut().reset(Instant::from_std(at));
                }
                armed = deadline;
            }
            let blocked = self.backlog.is_blocked();
            let room = self.backlog.room();
            let step = tokio::select! {
                biased;
                _ = &mut self.shutdown => Err(End::Shutdown),
                command = self.commands.recv() => match command {
                    None => Err(End::Shutdown),
                    Some(command) => {
                        self.command(command);
                        Ok(())
                    }
                },
                () = &mut timer, if deadline.is_some() => {
                    self.session.timeout(std::time::Instant::now())
                }
                open = room, if blocked => {
                    self.backlog.retry(open);
                    Ok(())
                }
                frame = ws.next(), if !blocked => self.burst(ws, frame, token),
            };
            let written = self.flush(ws, token).await;
            if let Err(end) = step.and(written) {
                return end;
            }
        }
    }

    /// Feeds `first` and the frames already received after it (up to [`BURST`]) to the session;
    /// their deliveries are then made together, so a consumer on another thread wakes once per
    /// burst, not once per event. Stops early when there is something to write.
    fn burst(
        &mut self,
        ws: &mut Ws,
        first: Option<Result<Message, tungstenite::Error>>,
        token: &Token,
    ) -> Result<(), End> {
        self.receive(first, token)?;
        for _ in 1..BURST {
            if self.session.wants_write() {
                break;
            }
            let Some(frame) = ws.next().now_or_never() else {
                break;
            };
            self.receive(frame, token)?;
        }
        Ok(())
    }

    /// Hands one websocket frame to the session.
    fn receive(
        &mut self,
        frame: Option<Result<Message, tungstenite::Error>>,
        token: &Token,
    ) -> Result<(), End> {
        match frame {
            None => Err(End::Lost(Error::transport(
                "the server closed the connection",
            ))),
            Some(Err(e)) => Err(End::Lost(Error::transport(scrub(e.to_string(), token)))),
            Some(Ok(Message::Text(text))) => self
                .session
                .text(&Text::frame(text), std::time::Instant::now()),
            Some(Ok(Message::Binary(bytes))) => {
                self.session.binary(&bytes);
                Ok(())
            }
            Some(Ok(Message::Close(close))) => Err(End::Lost(Error::transport(match close {
                Some(c) => format!("the server closed the websocket ({} {})", c.code, c.reason),
                None => "the server closed the websocket".into(),
            }))),
            // Websocket-level ping and pong: tungstenite answers pings itself.
            Some(Ok(_)) => Ok(()),
        }
    }

    /// Carries out what the session asked: writes frames, makes deliveries, answers handles.
    async fn flush(&mut self, ws: &mut Ws, token: &Token) -> Result<(), End> {
        let outputs: Vec<_> = self.session.outputs().collect();
        let mut gone = false;
        for output in outputs {
            match output {
                Output::Transmit(frame) => {
                    self.write(ws, frame, token).await.map_err(End::Lost)?;
                }
                Output::Send { ticket, frame } => {
                    let result = self.write(ws, frame, token).await;
                    if let Some(reply) = self.sends.remove(&ticket) {
                        let _ = reply.send(result.clone());
                    }
                    result.map_err(End::Lost)?;
                }
                Output::Deliver(sink, item) => {
                    gone |= self.backlog.push(Delivery::Event(sink, item)) == Outcome::Gone;
                }
                Output::Raw(event) => {
                    self.raw.retain(|tx| !tx.is_closed());
                    self.session.set_raw(!self.raw.is_empty());
                    for tx in &self.raw {
                        self.backlog.push(Delivery::Raw(tx.clone(), event.clone()));
                    }
                }
                Output::Answer { space, result } => {
                    if let Some(reply) = self.answers.remove(&space) {
                        let _ = reply.send(result);
                    }
                }
                Output::Connected => {
                    self.state.send_replace(ConnectionState::Connected);
                }
            }
        }
        if gone {
            // Subscriptions whose stream was dropped (their `Drop` also asks to unsubscribe).
            self.session.forget(mpsc::Sender::is_closed);
        }
        self.session.pause(self.backlog.is_blocked());
        Ok(())
    }

    async fn write(&self, ws: &mut Ws, frame: Frame, token: &Token) -> Result<(), Error> {
        let message = match frame {
            Frame::Text(text) => Message::text(text),
            Frame::Binary(bytes) => Message::binary(bytes),
        };
        match timeout(self.config.write_timeout, ws.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::transport(scrub(e.to_string(), token))),
            Err(_) => Err(Error::Timeout(Timeout::Write)),
        }
    }
}
