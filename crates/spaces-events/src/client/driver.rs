//! The background task that owns the connection: connects, pings, reads, routes events to
//! subscriptions, and reconnects and re-subscribes when the link breaks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, trace, warn};

use super::config::{Builder, Endpoint, Token, TokenSource};
use super::{ConnectionState, Error, RawEvent};
use crate::MediaSessionEvent;
use crate::protocol::{EnginePacket, Packet, PacketType, Reassembler, check_depth, encode_event};
use crate::types::{ChannelSubscribed, SubscribeChannelFailed};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One item of a subscription stream.
pub(crate) type Item = Result<MediaSessionEvent, Error>;

/// Consecutive rejected tokens after which the client gives up, even if the provider keeps
/// returning new ones.
const MAX_AUTH_FAILURES: u32 = 3;
/// SEND_MEDIA_SESSION_EVENTS held while not connected.
const OUTBOX: usize = 64;
/// Frames read in one go when they are already there (see `Driver::burst`).
const BURST: usize = 64;

/// What the handles ask of the driver.
pub(crate) enum Command {
    Subscribe {
        space: String,
        password: Option<String>,
        events: mpsc::Sender<Item>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// Stop delivering a space (explicitly, or because its `Subscription` was dropped).
    Unsubscribe {
        space: String,
    },
    Send {
        name: &'static str,
        payload: Box<RawValue>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Raw {
        events: mpsc::Sender<RawEvent>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

struct Sub {
    password: Option<String>,
    events: mpsc::Sender<Item>,
    /// Present until the server answered the first SUBSCRIBE_CHANNEL.
    reply: Option<oneshot::Sender<Result<(), Error>>>,
}

/// A delivery waiting for room in a full buffer (the socket is not read meanwhile).
enum Backlog {
    Event(mpsc::Sender<Item>, Item),
    Raw(mpsc::Sender<RawEvent>, RawEvent),
}

/// How a session ended.
enum End {
    /// `close()` or every handle dropped.
    Shutdown,
    /// The link broke or could not be made; retry.
    Lost(Error),
    /// The server rejected the token.
    Rejected(String),
    /// Retrying cannot help (an untrusted certificate).
    Fatal(Error),
}

pub(crate) struct Driver {
    config: Builder,
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    commands: mpsc::Receiver<Command>,
    shutdown: oneshot::Receiver<()>,
    state: watch::Sender<ConnectionState>,
    subs: HashMap<String, Sub>,
    raw: Vec<mpsc::Sender<RawEvent>>,
    outbox: VecDeque<(String, oneshot::Sender<Result<(), Error>>)>,
    backlog: VecDeque<Backlog>,
    /// While a burst of frames is read: its deliveries, made together at the end of it.
    burst: Option<Vec<Backlog>>,
    /// `2/chat,["MEDIA_SESSION_RESPONSE",`: how such an EVENT begins in our namespace.
    media_prefix: String,
    /// The namespace accepted this session: packets may be sent.
    ready: bool,
    /// Set when `close()` asked for a graceful end.
    closing: Option<oneshot::Sender<()>>,
}

impl Driver {
    pub(crate) fn new(
        config: Builder,
        endpoint: Endpoint,
        tls: Option<Arc<rustls::ClientConfig>>,
        commands: mpsc::Receiver<Command>,
        shutdown: oneshot::Receiver<()>,
        state: watch::Sender<ConnectionState>,
    ) -> Self {
        // Namespaces other than `/` are named in packets.
        let media_prefix = match endpoint.namespace.as_str() {
            "/" => "2[\"MEDIA_SESSION_RESPONSE\",".to_owned(),
            namespace => format!("2{namespace},[\"MEDIA_SESSION_RESPONSE\","),
        };
        Driver {
            config,
            endpoint,
            media_prefix,
            tls,
            commands,
            shutdown,
            state,
            subs: HashMap::new(),
            raw: Vec::new(),
            outbox: VecDeque::new(),
            backlog: VecDeque::new(),
            burst: None,
            ready: false,
            closing: None,
        }
    }

    /// Connects and reconnects until shut down or a fatal error.
    pub(crate) async fn run(mut self) {
        let policy = self.config.reconnect.clone();
        let (mut attempt, mut auth_failures) = (0u32, 0u32);
        // The last rejected token and the server's reason.
        let mut rejected: Option<(Token, String)> = None;
        let fatal = loop {
            let (end, reached) = match self.token().await {
                Ok(token) if rejected.as_ref().is_some_and(|(t, _)| *t == token) => {
                    let (_, reason) = rejected.take().expect("checked");
                    break Some(Error::Auth(reason));
                }
                Ok(token) => {
                    let (end, reached) = self.session(&token).await;
                    if let End::Rejected(reason) = &end {
                        rejected = Some((token, reason.clone()));
                    }
                    (end, reached)
                }
                Err(end) => (end, false),
            };
            self.ready = false;
            let error = match end {
                End::Shutdown => break None,
                End::Fatal(error) => break Some(error),
                End::Rejected(message) => {
                    auth_failures += 1;
                    // A fixed token would be rejected again: no point in retrying.
                    let fixed = matches!(self.config.token, TokenSource::Fixed(_));
                    if fixed || !policy.enabled || auth_failures >= MAX_AUTH_FAILURES {
                        break Some(Error::Auth(message));
                    }
                    Error::Auth(message)
                }
                End::Lost(error) => {
                    if reached {
                        (attempt, auth_failures, rejected) = (0, 0, None);
                    }
                    error
                }
            };
            attempt += 1;
            if !policy.enabled {
                break Some(error);
            }
            if policy.max_attempts.is_some_and(|max| attempt >= max) {
                break Some(Error::GaveUp {
                    attempts: attempt,
                    last: Box::new(error),
                });
            }
            let delay = policy.delay(attempt);
            info!(attempt, ?delay, reason = %error, "reconnecting");
            self.state.send_replace(ConnectionState::Reconnecting {
                attempt,
                reason: error,
            });
            if self.idle(delay).await.is_err() {
                break None;
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
        for (_, sub) in self.subs.drain() {
            match sub.reply {
                Some(reply) => {
                    let _ = reply.send(Err(item.clone()));
                }
                None if fatal.is_some() => {
                    let _ = sub.events.try_send(Err(item.clone()));
                }
                None => {}
            }
        }
        for (_, reply) in self.outbox.drain(..) {
            let _ = reply.send(Err(item.clone()));
        }
        self.state
            .send_replace(ConnectionState::Closed { error: fatal });
        if let Some(reply) = self.closing.take() {
            let _ = reply.send(());
        }
    }

    /// The token for the next attempt, while still answering commands.
    async fn token(&mut self) -> Result<Token, End> {
        let source = self.config.token.clone();
        let get = timeout(self.config.connect_timeout, source.get());
        tokio::pin!(get);
        loop {
            tokio::select! {
                token = &mut get => return match token {
                    Ok(Ok(token)) => Ok(token),
                    Ok(Err(error)) => Err(End::Lost(error)),
                    Err(_) => Err(End::Lost(Error::Timeout("the token provider"))),
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
                    // Nothing can be written while disconnected; `ready` is false, so this queues.
                    self.command(command);
                    self.closing.is_some()
                }
            },
        }
    }

    /// Applies a command; returns the packets to write now (none unless `ready`).
    fn command(&mut self, command: Command) -> Vec<String> {
        let mut out = Vec::new();
        match command {
            Command::Subscribe {
                space,
                password,
                events,
                reply,
            } => {
                if self.subs.contains_key(&space) {
                    let _ = reply.send(Err(Error::AlreadySubscribed(space)));
                    return out;
                }
                if self.ready {
                    out.push(self.subscribe_packet(&space, password.as_deref()));
                }
                self.subs.insert(
                    space,
                    Sub {
                        password,
                        events,
                        reply: Some(reply),
                    },
                );
            }
            Command::Unsubscribe { space } => {
                if self.subs.remove(&space).is_some() && self.ready {
                    out.push(self.channel_packet("UNSUBSCRIBE_CHANNEL", &space, None));
                }
            }
            Command::Send {
                name,
                payload,
                reply,
            } => {
                let packet = encode_event(&self.endpoint.namespace, None, name, &[&payload]);
                if self.outbox.len() >= OUTBOX {
                    let _ = reply.send(Err(Error::Transport(
                        "not connected, and the send queue is full".into(),
                    )));
                } else {
                    self.outbox.push_back((packet, reply));
                }
            }
            Command::Raw { events } => self.raw.push(events),
            Command::Close { reply } => self.closing = Some(reply),
        }
        out
    }

    fn subscribe_packet(&self, space: &str, password: Option<&str>) -> String {
        self.channel_packet("SUBSCRIBE_CHANNEL", space, password)
    }

    fn channel_packet(&self, name: &'static str, space: &str, password: Option<&str>) -> String {
        let mut channel = serde_json::json!({ "_id": space, "type": "topic" });
        if let Some(password) = password {
            channel["password"] = password.into();
        }
        let payload = serde_json::value::to_raw_value(&serde_json::json!({ "channel": channel }))
            .expect("a JSON value serializes");
        encode_event(&self.endpoint.namespace, None, name, &[&payload])
    }

    /// One connection, from the TCP connect to its end. The flag says whether the namespace
    /// accepted it (so the reconnect counters reset).
    async fn session(&mut self, token: &Token) -> (End, bool) {
        let deadline = Instant::now() + self.config.connect_timeout;
        let auth = self.endpoint.auth_query(token, self.config.token_type);
        let url = self.endpoint.url(&auth);
        let mut ws = tokio::select! {
            result = timeout(self.config.connect_timeout, open(&self.config, self.tls.clone(), &url, token)) => match result {
                Ok(Ok(ws)) => ws,
                Ok(Err(end)) => return (end, false),
                Err(_) => return (End::Lost(Error::Timeout("the websocket connection")), false),
            },
            _ = &mut self.shutdown => return (End::Shutdown, false),
        };
        let connect = Packet {
            query: self.config.token_in_connect.then_some(auth.as_str()),
            ..Packet::new(PacketType::Connect, &self.endpoint.namespace)
        };
        let mut link = Link::new(format!("4{}", connect.encode()), deadline);
        let end = self.serve(&mut ws, &mut link, token).await;
        let reached = self.ready;
        if matches!(end, End::Shutdown) && self.ready {
            // A graceful goodbye: leave the namespace, then close the websocket.
            let leave = Packet::new(PacketType::Disconnect, &self.endpoint.namespace).encode();
            let _ = timeout(
                self.config.write_timeout,
                ws.send(Message::text(format!("4{leave}"))),
            )
            .await;
        }
        let _ = timeout(self.config.write_timeout, ws.close(None)).await;
        (end, reached)
    }

    /// Runs an open websocket: handshake, namespace, heartbeats, reading, writing.
    async fn serve(&mut self, ws: &mut Ws, link: &mut Link, token: &Token) -> End {
        loop {
            if self.closing.is_some() {
                return End::Shutdown;
            }
            let liveness = match (self.ready, link.unanswered) {
                (false, _) => Some(link.connect_deadline),
                // While deliveries wait for room the socket is not read: not the link's fault.
                (true, Some(sent)) if self.backlog.is_empty() => Some(sent + link.pong_deadline),
                _ => None,
            };
            let room = self.backlog.front().map(Backlog::room);
            let frames = tokio::select! {
                biased;
                _ = &mut self.shutdown => return End::Shutdown,
                command = self.commands.recv() => match command {
                    None => return End::Shutdown,
                    Some(command) => engine_messages(self.command(command)),
                },
                _ = link.ping.tick(), if link.opened => {
                    link.unanswered.get_or_insert_with(Instant::now);
                    vec!["2".to_owned()]
                }
                () = sleep_until(liveness.unwrap_or_else(Instant::now)), if liveness.is_some() => {
                    return End::Lost(if self.ready {
                        Error::Timeout("a pong (no frame within the heartbeat deadline)")
                    } else {
                        Error::Timeout("the namespace to accept the connection")
                    });
                }
                open = async { room.expect("guarded").await }, if room.is_some() => {
                    let entry = self.backlog.pop_front().expect("the front was waited on");
                    if let (true, Err(Some(entry))) = (open, entry.try_deliver()) {
                        self.backlog.push_front(entry);
                    }
                    if self.backlog.is_empty() {
                        // Reading resumes now; the heartbeat clock restarts with it.
                        link.unanswered = None;
                    }
                    Vec::new()
                }
                frame = ws.next(), if self.backlog.is_empty() => {
                    link.unanswered = None;
                    match self.burst(ws, link, frame, token) {
                        Ok(frames) => frames,
                        Err(end) => return end,
                    }
                }
            };
            for frame in frames {
                if let Err(e) = self.write(ws, frame, token).await {
                    return End::Lost(e);
                }
            }
            while self.ready {
                let Some((packet, reply)) = self.outbox.pop_front() else {
                    break;
                };
                let result = self.write(ws, format!("4{packet}"), token).await;
                let _ = reply.send(result.clone());
                if let Err(e) = result {
                    return End::Lost(e);
                }
            }
        }
    }

    async fn write(&self, ws: &mut Ws, frame: String, token: &Token) -> Result<(), Error> {
        match timeout(self.config.write_timeout, ws.send(Message::text(frame))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Transport(scrub(e.to_string(), token))),
            Err(_) => Err(Error::Timeout("a websocket write")),
        }
    }

    /// Handles `first` and the frames already received after it (up to [`BURST`]), then makes
    /// their deliveries together: a consumer on another thread then wakes once per burst, not
    /// once per event. Stops early when there is something to write.
    fn burst(
        &mut self,
        ws: &mut Ws,
        link: &mut Link,
        first: Option<Result<Message, tungstenite::Error>>,
        token: &Token,
    ) -> Result<Vec<String>, End> {
        self.burst = Some(Vec::with_capacity(BURST));
        let mut result = self.frame(link, first, token);
        for _ in 1..BURST {
            if !matches!(&result, Ok(frames) if frames.is_empty()) {
                break;
            }
            let Some(frame) = ws.next().now_or_never() else {
                break;
            };
            result = self.frame(link, frame, token);
        }
        for delivery in self.burst.take().unwrap_or_default() {
            self.deliver(delivery);
        }
        result
    }

    /// Handles one websocket frame; returns Engine.IO text frames to write.
    fn frame(
        &mut self,
        link: &mut Link,
        frame: Option<Result<Message, tungstenite::Error>>,
        token: &Token,
    ) -> Result<Vec<String>, End> {
        let text = match frame {
            None => {
                return Err(End::Lost(Error::Transport(
                    "the server closed the connection".into(),
                )));
            }
            Some(Err(e)) => return Err(End::Lost(Error::Transport(scrub(e.to_string(), token)))),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(bytes))) => {
                let done = EnginePacket::decode_binary(&bytes).and_then(|packet| match packet {
                    EnginePacket::Binary(bytes) => link.reassembler.push(bytes),
                    _ => Ok(None),
                });
                match done {
                    Ok(Some(packet)) => self.binary_event(&packet.text, packet.attachments),
                    Ok(None) => {}
                    Err(e) => self.report(Error::Protocol(e)),
                }
                return Ok(Vec::new());
            }
            Some(Ok(Message::Close(close))) => {
                return Err(End::Lost(Error::Transport(match close {
                    Some(c) => format!("the server closed the websocket ({} {})", c.code, c.reason),
                    None => "the server closed the websocket".into(),
                })));
            }
            // Websocket-level ping and pong: tungstenite answers pings itself.
            Some(Ok(_)) => return Ok(Vec::new()),
        };
        match EnginePacket::decode_text(&text) {
            Ok(EnginePacket::Open(handshake)) if !link.opened => {
                link.opened = true;
                let interval = handshake.ping_interval().max(Duration::from_millis(10));
                link.pong_deadline = self
                    .config
                    .heartbeat_deadline
                    .map_or(handshake.ping_timeout(), |d| {
                        d.min(handshake.ping_timeout())
                    });
                link.ping = tokio::time::interval_at(Instant::now() + interval, interval);
                link.ping
                    .set_missed_tick_behavior(MissedTickBehavior::Delay);
                debug!(sid = %handshake.sid, ?interval, pong_deadline = ?link.pong_deadline, "engine open");
                // Right away, without waiting for `40`: socket.io 2.0.4 may never send it.
                Ok(vec![link.connect.clone()])
            }
            Ok(EnginePacket::Message(sio)) => {
                if let Some(event) = self.media_event_fast(sio) {
                    self.route(event);
                    return Ok(Vec::new());
                }
                match check_depth(sio, self.config.max_json_depth)
                    .and_then(|()| Packet::decode(sio))
                {
                    Ok(packet) if packet.kind.is_binary() => {
                        match link.reassembler.start(sio, packet.attachments) {
                            Ok(Some(done)) => self.binary_event(&done.text, done.attachments),
                            Ok(None) => {}
                            Err(e) => self.report(Error::Protocol(e)),
                        }
                        Ok(Vec::new())
                    }
                    Ok(packet) if packet.namespace == self.endpoint.namespace => {
                        self.packet(&packet).map(engine_messages)
                    }
                    // The root namespace refused us: no namespace can connect.
                    Ok(packet) if packet.namespace == "/" && packet.kind == PacketType::Error => {
                        Err(End::Rejected(error_text(packet.data)))
                    }
                    Ok(packet) => {
                        trace!(namespace = packet.namespace, kind = ?packet.kind, "ignored packet");
                        Ok(Vec::new())
                    }
                    Err(e) => {
                        self.report(Error::Protocol(e));
                        Ok(Vec::new())
                    }
                }
            }
            // An EIO4-style server ping: answer it.
            Ok(EnginePacket::Ping(data)) => Ok(vec![format!("3{data}")]),
            Ok(EnginePacket::Close) => Err(End::Lost(Error::Transport(
                "the server closed the session".into(),
            ))),
            Ok(_) => Ok(Vec::new()),
            Err(e) => {
                self.report(Error::Protocol(e));
                Ok(Vec::new())
            }
        }
    }

    /// Handles a packet of our namespace; returns packets to write, or how the session ends.
    fn packet(&mut self, packet: &Packet<'_>) -> Result<Vec<String>, End> {
        match packet.kind {
            PacketType::Connect => {
                self.ready = true;
                info!(
                    namespace = packet.namespace,
                    subscriptions = self.subs.len(),
                    "connected"
                );
                self.state.send_replace(ConnectionState::Connected);
                // Every subscription, again after a reconnect: the server forgot them.
                Ok(self
                    .subs
                    .iter()
                    .map(|(space, sub)| self.subscribe_packet(space, sub.password.as_deref()))
                    .collect())
            }
            PacketType::Error => Err(End::Rejected(error_text(packet.data))),
            PacketType::Disconnect => Err(End::Lost(Error::Transport(
                "the server disconnected the namespace".into(),
            ))),
            PacketType::Event => {
                let event = match packet.event() {
                    Ok(event) => event,
                    Err(e) => {
                        self.report(Error::Protocol(e));
                        return Ok(Vec::new());
                    }
                };
                let first = event.args.first().copied();
                match (event.name.as_ref(), first) {
                    ("MEDIA_SESSION_RESPONSE", Some(payload)) => self.media_event(payload),
                    ("CHANNEL_SUBSCRIBED", Some(payload)) => self.subscribed(payload),
                    ("SUBSCRIBE_CHANNEL_FAILED", Some(payload)) => self.refused(payload),
                    (name, _) => trace!(name, "event"),
                }
                self.raw_event(&event.name, &event.args, Vec::new());
                Ok(Vec::new())
            }
            PacketType::Ack | PacketType::BinaryEvent | PacketType::BinaryAck => Ok(Vec::new()),
        }
    }

    /// The hot path: an EVENT of MEDIA_SESSION_RESPONSE in our namespace, decoded straight from
    /// the Socket.IO text (`decode`'s check validates the JSON and its depth, so the packet needs
    /// no pass of its own). `None` for anything else, or a payload that does not decode: the
    /// general path handles it and reports what is wrong.
    fn media_event_fast(&self, sio: &str) -> Option<MediaSessionEvent> {
        if !self.raw.is_empty() {
            return None;
        }
        let payload = sio
            .strip_prefix(self.media_prefix.as_str())?
            .strip_suffix(']')?;
        // The payload sits inside the packet's array: one level less.
        let depth = self.config.max_json_depth.saturating_sub(1);
        crate::decode::try_decode(payload, depth)
    }

    /// Delivers an event to the subscription of its space.
    fn route(&mut self, event: MediaSessionEvent) {
        let space = event.topic_id().unwrap_or_default();
        match self.subs.get(space) {
            Some(sub) => {
                let events = sub.events.clone();
                self.deliver(Backlog::Event(events, Ok(event)));
            }
            None => trace!(space, "event for a space not subscribed"),
        }
    }

    fn media_event(&mut self, payload: &RawValue) {
        match crate::decode(payload.get()) {
            Ok(event) => self.route(event),
            Err(e) => {
                warn!(error = %e, "undecodable MEDIA_SESSION_RESPONSE skipped");
                #[derive(Deserialize)]
                struct Topic {
                    #[serde(rename = "topicId")]
                    topic_id: String,
                }
                let topic = serde_json::from_str::<Topic>(payload.get())
                    .ok()
                    .map(|t| t.topic_id);
                match topic.as_deref().and_then(|t| self.subs.get(t)) {
                    Some(sub) => {
                        let events = sub.events.clone();
                        self.deliver(Backlog::Event(events, Err(Error::Decode(e))));
                    }
                    None => self.report(Error::Decode(e)),
                }
            }
        }
    }

    fn subscribed(&mut self, payload: &RawValue) {
        let Ok(ok) = serde_json::from_str::<ChannelSubscribed>(payload.get()) else {
            return self.report(Error::Transport(
                "CHANNEL_SUBSCRIBED without a channel id".into(),
            ));
        };
        if let Some(reply) = self
            .subs
            .get_mut(&ok.channel.id)
            .and_then(|s| s.reply.take())
        {
            debug!(space = ok.channel.id, "subscribed");
            let _ = reply.send(Ok(()));
        }
    }

    fn refused(&mut self, payload: &RawValue) {
        let failed = serde_json::from_str::<SubscribeChannelFailed>(payload.get());
        let (space, code, message) = match &failed {
            Ok(f) => (
                f.channel.as_ref().map(|c| c.id.clone()),
                f.error.code.clone().unwrap_or_default(),
                f.error.message.clone().unwrap_or_default(),
            ),
            Err(_) => (None, String::new(), payload.get().to_owned()),
        };
        // The answer names its space; if not, it is for the oldest unanswered subscription.
        let space = space.filter(|s| self.subs.contains_key(s)).or_else(|| {
            self.subs
                .iter()
                .find(|(_, s)| s.reply.is_some())
                .map(|(k, _)| k.clone())
        });
        let Some(sub) = space.as_ref().and_then(|s| self.subs.remove(s)) else {
            return;
        };
        let space = space.unwrap_or_default();
        warn!(space, code, message, "subscription refused");
        let error = Error::SubscribeRefused {
            space,
            code,
            message,
        };
        match sub.reply {
            Some(reply) => {
                let _ = reply.send(Err(error));
            }
            // A re-subscription after a reconnect: the stream learns why it ends.
            None => self.deliver(Backlog::Event(sub.events, Err(error))),
        }
    }

    fn binary_event(&mut self, text: &str, attachments: Vec<Vec<u8>>) {
        match Packet::decode(text).and_then(|p| p.event()) {
            Ok(event) => self.raw_event(&event.name, &event.args, attachments),
            Err(e) => self.report(Error::Protocol(e)),
        }
    }

    fn raw_event(&mut self, name: &str, args: &[&RawValue], attachments: Vec<Vec<u8>>) {
        self.raw.retain(|tx| !tx.is_closed());
        for tx in self.raw.clone() {
            let event = RawEvent {
                name: name.to_owned(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                attachments: attachments.clone(),
            };
            self.deliver(Backlog::Raw(tx, event));
        }
    }

    /// Reports an error that belongs to no single space to every subscription.
    fn report(&mut self, error: Error) {
        warn!(%error, "skipped");
        let targets: Vec<_> = self
            .subs
            .values()
            .filter(|s| s.reply.is_none())
            .map(|s| s.events.clone())
            .collect();
        for events in targets {
            self.deliver(Backlog::Event(events, Err(error.clone())));
        }
    }

    /// Delivers now if there is room and nothing waits before it; otherwise queues it, which
    /// stops reading the socket until the queue drains.
    fn deliver(&mut self, delivery: Backlog) {
        if let Some(burst) = &mut self.burst {
            burst.push(delivery);
        } else if self.backlog.is_empty() {
            match delivery.try_deliver() {
                Ok(()) => {}
                Err(Some(delivery)) => self.backlog.push_back(delivery),
                Err(None) => self.forget_closed(),
            }
        } else {
            self.backlog.push_back(delivery);
        }
    }

    /// Drops subscriptions whose stream was dropped (their `Drop` also asks to unsubscribe).
    fn forget_closed(&mut self) {
        self.subs.retain(|_, s| !s.events.is_closed());
    }
}

impl Backlog {
    /// Tries to deliver; `Err(Some(self))` when the buffer is full, `Err(None)` when the receiver
    /// is gone.
    fn try_deliver(self) -> Result<(), Option<Backlog>> {
        use mpsc::error::TrySendError::{Closed, Full};
        match self {
            Backlog::Event(tx, item) => match tx.try_send(item) {
                Ok(()) => Ok(()),
                Err(Full(item)) => Err(Some(Backlog::Event(tx, item))),
                Err(Closed(_)) => Err(None),
            },
            Backlog::Raw(tx, event) => match tx.try_send(event) {
                Ok(()) => Ok(()),
                Err(Full(event)) => Err(Some(Backlog::Raw(tx, event))),
                Err(Closed(_)) => Err(None),
            },
        }
    }

    /// Resolves when there is room (`true`) or the receiver is gone (`false`).
    fn room(&self) -> impl Future<Output = bool> + use<> {
        let (event, raw) = match self {
            Backlog::Event(tx, _) => (Some(tx.clone()), None),
            Backlog::Raw(tx, _) => (None, Some(tx.clone())),
        };
        async move {
            match (event, raw) {
                (Some(tx), _) => tx.reserve_owned().await.is_ok(),
                (_, Some(tx)) => tx.reserve_owned().await.is_ok(),
                _ => false,
            }
        }
    }
}

/// The reason in a namespace ERROR's payload: a JSON string (socket.io 2.x), the `message` of an
/// object (socketioxide, socket.io 3+), or else the JSON as is.
fn error_text(data: Option<&str>) -> String {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Reason {
        Text(String),
        Object { message: String },
    }
    match data {
        Some(json) => match serde_json::from_str::<Reason>(json) {
            Ok(Reason::Text(text) | Reason::Object { message: text }) => text,
            Err(_) => json.to_owned(),
        },
        None => "rejected without a reason".into(),
    }
}

/// Removes the token (raw and percent-encoded) from text that came from the network stack.
fn scrub(text: String, token: &Token) -> String {
    let secret = token.expose();
    if secret.is_empty() {
        return text;
    }
    let encoded = super::config::percent_encode(secret);
    text.replace(secret, "<redacted>")
        .replace(&encoded, "<redacted>")
}

/// Socket.IO packets as Engine.IO message frames.
fn engine_messages(packets: Vec<String>) -> Vec<String> {
    packets.into_iter().map(|p| format!("4{p}")).collect()
}

/// Per-connection state of [`Driver::serve`].
struct Link {
    /// The namespace CONNECT frame, sent when the open packet arrives.
    connect: String,
    /// Until when the namespace must accept the connection.
    connect_deadline: Instant,
    /// The open packet arrived.
    opened: bool,
    ping: tokio::time::Interval,
    /// When the last ping went out with nothing received since.
    unanswered: Option<Instant>,
    pong_deadline: Duration,
    reassembler: Reassembler,
}

impl Link {
    fn new(connect: String, connect_deadline: Instant) -> Self {
        Link {
            connect,
            connect_deadline,
            opened: false,
            // Replaced by the open packet's interval; it does not tick before (`opened` guards it).
            ping: tokio::time::interval(Duration::from_secs(3600)),
            unanswered: None,
            pong_deadline: Duration::MAX,
            reassembler: Reassembler::default(),
        }
    }
}

/// Opens the websocket.
async fn open(
    config: &Builder,
    tls: Option<Arc<rustls::ClientConfig>>,
    url: &str,
    token: &Token,
) -> Result<Ws, End> {
    let mut request = url
        .into_client_request()
        .map_err(|e| End::Lost(Error::Url(scrub(e.to_string(), token))))?;
    for (name, value) in &config.headers {
        let bad = |e: &dyn std::fmt::Display| End::Lost(Error::Url(format!("header {name}: {e}")));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(&e))?;
        let value = HeaderValue::from_str(value).map_err(|e| bad(&e))?;
        request.headers_mut().append(name, value);
    }
    let limits = WebSocketConfig::default()
        .read_buffer_size(config.read_buffer)
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    let connector = match tls {
        Some(tls) => Connector::Rustls(tls),
        None => Connector::Plain,
    };
    match tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(limits),
        true,
        Some(connector),
    )
    .await
    {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Tls(e)) => Err(End::Fatal(Error::Tls(scrub(e.to_string(), token)))),
        // rustls handshake failures (an untrusted certificate) arrive as I/O errors.
        Err(tungstenite::Error::Io(e))
            if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            Err(End::Fatal(Error::Tls(scrub(e.to_string(), token))))
        }
        Err(tungstenite::Error::Http(response))
            if matches!(response.status().as_u16(), 401 | 403) =>
        {
            Err(End::Rejected(format!(
                "HTTP {} at the websocket handshake",
                response.status()
            )))
        }
        Err(e) => Err(End::Lost(Error::Transport(scrub(e.to_string(), token)))),
    }
}

/// Feeds frames to the frame handling of a driver with two subscriptions, without I/O: the
/// fuzz target `frames`. `data` is a sequence of frames separated by `0xFF` (a byte UTF-8 never
/// contains); a frame's first byte says text (even) or binary (odd).
pub(crate) fn fuzz_frames(data: &[u8]) {
    thread_local! {
        // The heartbeat timers need a runtime's time driver.
        static RUNTIME: tokio::runtime::Runtime =
            tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    }
    RUNTIME.with(|runtime| {
        let _entered = runtime.enter();
        let token = Token::new("fuzz-token");
        let config =
            Builder::new("ws://127.0.0.1:9/chat", TokenSource::Fixed(token.clone())).buffer(4);
        let endpoint = Endpoint::parse(&config.url, &config.path).expect("a valid URL");
        let (_commands, commands) = mpsc::channel(1);
        let (_shutdown, shutdown) = oneshot::channel();
        let (state, _) = watch::channel(ConnectionState::Connecting);
        let mut driver = Driver::new(config, endpoint, None, commands, shutdown, state);
        let mut streams = Vec::new();
        for space in ["s1", "s2"] {
            let (events, stream) = mpsc::channel(4);
            streams.push(stream);
            driver.subs.insert(
                space.to_owned(),
                Sub {
                    password: None,
                    events,
                    reply: None,
                },
            );
        }
        let mut link = Link::new("40/chat,".to_owned(), Instant::now());
        for frame in data.split(|&b| b == 0xff) {
            let Some((&kind, body)) = frame.split_first() else {
                continue;
            };
            let message = if kind % 2 == 0 {
                match std::str::from_utf8(body) {
                    Ok(text) => Message::text(text.to_owned()),
                    Err(_) => continue,
                }
            } else {
                Message::binary(body.to_vec())
            };
            if driver.frame(&mut link, Some(Ok(message)), &token).is_err() {
                return; // the session ended, as it would on this frame
            }
            // The application reads everything; deliveries never wait.
            for stream in &mut streams {
                while stream.try_recv().is_ok() {}
            }
            driver.backlog.clear();
        }
    });
}
