//! The client's logic as a state machine without I/O: frames and instants in, frames to send,
//! deliveries and deadlines out.
//!
//! A [`Session`] lives as long as the client, across connections. For each websocket the driver
//! calls [`start`](Session::start), feeds every received frame to [`text`](Session::text) or
//! [`binary`](Session::binary), calls [`timeout`](Session::timeout) when
//! [`deadline`](Session::deadline) passes, and applies the application's commands
//! ([`subscribe`](Session::subscribe), [`unsubscribe`](Session::unsubscribe),
//! [`send`](Session::send)). What follows from them — Engine.IO frames to write, events for a
//! subscription's sink, answers to subscriptions — collects in [`outputs`](Session::outputs).
//! A connection ends when one of these returns an [`End`]; the driver then calls
//! [`reset`](Session::reset) and, after the policy's delay, `start` again: every subscription is
//! sent again once the namespace accepts the new connection.
//!
//! `S` is what a subscription's events go to (a channel in the driver, anything in tests).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use tracing::{debug, trace, warn};

use super::policy::End;
use super::{Error, RawEvent, Timeout};
use crate::MediaSessionEvent;
use crate::protocol::{
    EnginePacket, EventMatcher, Frame, Packet, PacketType, Reassembler, check_depth, encode_event,
};
use crate::text::Text;

/// One item of a subscription stream.
pub(crate) type Item = Result<MediaSessionEvent, Error>;

/// SEND_MEDIA_SESSION_EVENTS held while not connected.
pub(crate) const OUTBOX: usize = 64;

const MEDIA_SESSION_RESPONSE: &str = "MEDIA_SESSION_RESPONSE";

/// What the session asks of the driver.
#[derive(Debug)]
pub(crate) enum Output<S> {
    /// Write this frame.
    Transmit(Frame),
    /// Write this frame, then tell the sender of send `ticket` how the write went.
    Send { ticket: u64, frame: Frame },
    /// Give a subscription's sink an item.
    Deliver(S, Item),
    /// Give every raw-event listener this event.
    Raw(RawEvent),
    /// The server answered the first SUBSCRIBE_CHANNEL of `space`.
    Answer {
        space: String,
        result: Result<(), Error>,
    },
    /// The namespace accepted the connection.
    Connected,
}

/// The session's settings, from the builder.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) namespace: String,
    pub(crate) heartbeat_deadline: Option<Duration>,
    pub(crate) max_json_depth: usize,
}

struct Sub<S> {
    password: Option<String>,
    sink: S,
    /// The server answered its first SUBSCRIBE_CHANNEL.
    answered: bool,
}

/// What one websocket connection knows.
struct Link {
    /// The namespace CONNECT, sent when the open packet arrives.
    connect: String,
    /// Until when the namespace must accept the connection.
    accept_by: Instant,
    /// The open packet arrived.
    opened: bool,
    /// The namespace accepted the connection: packets may be sent.
    ready: bool,
    interval: Duration,
    next_ping: Option<Instant>,
    /// When the last ping went out with nothing received since.
    unanswered: Option<Instant>,
    pong_deadline: Duration,
    reassembler: Reassembler,
}

/// See the module docs.
pub(crate) struct Session<S> {
    settings: Settings,
    media: EventMatcher,
    subs: HashMap<String, Sub<S>>,
    /// Raw-event listeners exist: every event also goes out as [`Output::Raw`].
    raw: bool,
    link: Option<Link>,
    /// Deliveries wait for room, so the socket is not read: the silence is ours, not the link's.
    paused: bool,
    /// Sends waiting for the namespace, with their tickets.
    outbox: VecDeque<(u64, Frame)>,
    tickets: u64,
    outputs: Vec<Output<S>>,
    /// `outputs` holds a frame to write.
    writes: bool,
}

impl<S: Clone> Session<S> {
    pub(crate) fn new(settings: Settings) -> Self {
        Session {
            media: EventMatcher::new(&settings.namespace, MEDIA_SESSION_RESPONSE),
            settings,
            subs: HashMap::new(),
            raw: false,
            link: None,
            paused: false,
            outbox: VecDeque::new(),
            tickets: 0,
            outputs: Vec::new(),
            writes: false,
        }
    }

    /// A websocket is open: the namespace CONNECT (carrying `query`, if any) follows the open
    /// packet, and the namespace must accept by `accept_by`.
    pub(crate) fn start(&mut self, query: Option<&str>, accept_by: Instant) {
        let connect = Packet {
            query,
            ..Packet::new(PacketType::Connect, &self.settings.namespace)
        };
        self.link = Some(Link {
            connect: connect.encode(),
            accept_by,
            opened: false,
            ready: false,
            interval: Duration::MAX,
            next_ping: None,
            unanswered: None,
            pong_deadline: Duration::MAX,
            reassembler: Reassembler::default(),
        });
    }

    /// The connection is gone; returns whether the namespace had accepted it.
    pub(crate) fn reset(&mut self) -> bool {
        self.link.take().is_some_and(|link| link.ready)
    }

    /// The frame that leaves the namespace, if it was joined (a graceful close).
    pub(crate) fn goodbye(&self) -> Option<Frame> {
        self.ready().then(|| {
            message(&Packet::new(
                PacketType::Disconnect,
                &self.settings.namespace,
            ))
        })
    }

    fn ready(&self) -> bool {
        self.link.as_ref().is_some_and(|link| link.ready)
    }

    /// What the session asks of the driver since the last call, in order.
    pub(crate) fn outputs(&mut self) -> std::vec::Drain<'_, Output<S>> {
        self.writes = false;
        self.outputs.drain(..)
    }

    /// Whether a frame waits to be written (a burst of reads stops there).
    pub(crate) fn wants_write(&self) -> bool {
        self.writes
    }

    fn emit(&mut self, output: Output<S>) {
        self.writes |= matches!(output, Output::Transmit(_) | Output::Send { .. });
        self.outputs.push(output);
    }

    /// When [`timeout`](Self::timeout) must be called next: a ping is due, or a deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let ping = self.link.as_ref()?.next_ping;
        match (ping, self.liveness()) {
            (Some(ping), Some((at, _))) => Some(ping.min(at)),
            (ping, liveness) => ping.or(liveness.map(|(at, _)| at)),
        }
    }

    /// Until when the link must show life, and what it is then said to have missed: the
    /// namespace's acceptance, or (while we read) any frame after an unanswered ping.
    fn liveness(&self) -> Option<(Instant, Timeout)> {
        let link = self.link.as_ref()?;
        match (link.ready, link.unanswered) {
            (false, _) => Some((link.accept_by, Timeout::Namespace)),
            (true, Some(sent)) if !self.paused => sent
                .checked_add(link.pong_deadline)
                .map(|at| (at, Timeout::Heartbeat)),
            _ => None,
        }
    }

    /// Time passed: pings that are due go out; a passed deadline ends the connection.
    pub(crate) fn timeout(&mut self, now: Instant) -> Result<(), End> {
        if let Some((_, missed)) = self.liveness().filter(|&(at, _)| now >= at) {
            return Err(End::Lost(Error::Timeout(missed)));
        }
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        if link.next_ping.is_some_and(|at| now >= at) {
            link.unanswered.get_or_insert(now);
            link.next_ping = now.checked_add(link.interval);
            self.emit(Output::Transmit(EnginePacket::Ping("").encode()));
        }
        Ok(())
    }

    /// Deliveries wait for room (`true`) and the socket is not read, or reading resumed
    /// (`false`; the heartbeat clock restarts with it).
    pub(crate) fn pause(&mut self, paused: bool) {
        if self.paused && !paused {
            if let Some(link) = self.link.as_mut() {
                link.unanswered = None;
            }
        }
        self.paused = paused;
    }

    /// Emits event `name` with `payload`; returns the ticket its [`Output::Send`] will carry.
    /// Held while not connected, up to [`OUTBOX`] sends.
    pub(crate) fn send(&mut self, name: &str, payload: &RawValue) -> Result<u64, Error> {
        let frame = message_text(encode_event(
            &self.settings.namespace,
            None,
            name,
            &[payload],
        ));
        self.tickets += 1;
        let ticket = self.tickets;
        if self.ready() {
            self.emit(Output::Send { ticket, frame });
        } else if self.outbox.len() >= OUTBOX {
            return Err(Error::SendQueueFull(OUTBOX));
        } else {
            self.outbox.push_back((ticket, frame));
        }
        Ok(ticket)
    }

    /// Turns raw events on or off (whether any raw listener is left).
    pub(crate) fn set_raw(&mut self, on: bool) {
        self.raw = on;
    }

    /// Ends the session for good: forgets every subscription and waiting send, and returns the
    /// sinks of the answered subscriptions (to tell them why the client stopped).
    pub(crate) fn close(&mut self) -> Vec<S> {
        self.outbox.clear();
        self.subs
            .drain()
            .filter(|(_, sub)| sub.answered)
            .map(|(_, sub)| sub.sink)
            .collect()
    }

    /// A websocket text frame arrived at `now`.
    pub(crate) fn text(&mut self, frame: &Text, now: Instant) -> Result<(), End> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        link.unanswered = None;
        match EnginePacket::decode_text(frame.as_str()) {
            Ok(EnginePacket::Open(handshake)) if !link.opened => {
                link.opened = true;
                link.interval = handshake.ping_interval().max(Duration::from_millis(10));
                link.next_ping = now.checked_add(link.interval);
                link.pong_deadline = self
                    .settings
                    .heartbeat_deadline
                    .map_or(handshake.ping_timeout(), |d| {
                        d.min(handshake.ping_timeout())
                    });
                debug!(sid = %handshake.sid, interval = ?link.interval, pong_deadline = ?link.pong_deadline, "engine open");
                // Right away, without waiting for `40`: socket.io 2.0.4 may never send it.
                let connect = message_text(link.connect.clone());
                self.emit(Output::Transmit(connect));
                Ok(())
            }
            Ok(EnginePacket::Message(sio)) => self.message(frame, sio),
            // An EIO4-style server ping: answer it.
            Ok(EnginePacket::Ping(data)) => {
                let pong = EnginePacket::Pong(data).encode();
                self.emit(Output::Transmit(pong));
                Ok(())
            }
            Ok(EnginePacket::Close) => {
                Err(End::Lost(Error::transport("the server closed the session")))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                self.report(Error::Protocol(e));
                Ok(())
            }
        }
    }

    /// A websocket binary frame arrived (a Socket.IO attachment).
    pub(crate) fn binary(&mut self, bytes: &[u8]) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        link.unanswered = None;
        let done = EnginePacket::decode_binary(bytes).and_then(|packet| match packet {
            EnginePacket::Binary(bytes) => link.reassembler.push(bytes),
            _ => Ok(None),
        });
        match done {
            Ok(Some(packet)) => self.binary_event(&packet.text, packet.attachments),
            Ok(None) => {}
            Err(e) => self.report(Error::Protocol(e)),
        }
    }

    /// A Socket.IO packet's text, `sio`, a slice of `frame`.
    fn message(&mut self, frame: &Text, sio: &str) -> Result<(), End> {
        if let Some(event) = self.media_event_fast(frame, sio) {
            self.route(event);
            return Ok(());
        }
        let packet = match check_depth(sio, self.settings.max_json_depth)
            .and_then(|()| Packet::decode(sio))
        {
            Ok(packet) => packet,
            Err(e) => {
                self.report(Error::Protocol(e));
                return Ok(());
            }
        };
        if packet.kind.is_binary() {
            let link = self.link.as_mut().expect("a message arrives on a link");
            match link.reassembler.start(sio, packet.attachments) {
                Ok(Some(done)) => self.binary_event(&done.text, done.attachments),
                Ok(None) => {}
                Err(e) => self.report(Error::Protocol(e)),
            }
            return Ok(());
        }
        if packet.namespace == self.settings.namespace {
            return self.packet(&packet);
        }
        if packet.namespace == "/" && packet.kind == PacketType::Error {
            // The root namespace refused us: no namespace can connect.
            return Err(rejected(&packet));
        }
        trace!(namespace = packet.namespace, kind = ?packet.kind, "ignored packet");
        Ok(())
    }

    /// The hot path: an EVENT of MEDIA_SESSION_RESPONSE in our namespace, decoded straight from
    /// the Socket.IO text (`decode`'s check validates the JSON and its depth, so the packet needs
    /// no pass of its own). `None` for anything else, or a payload that does not decode: the
    /// general path handles it and reports what is wrong.
    fn media_event_fast(&self, frame: &Text, sio: &str) -> Option<MediaSessionEvent> {
        if self.raw {
            return None;
        }
        let payload = self.media.argument(sio)?;
        // The payload sits inside the packet's array: one level less.
        let depth = self.settings.max_json_depth.saturating_sub(1);
        crate::decode::try_decode_shared(frame, payload, depth)
    }

    /// A packet of our namespace.
    fn packet(&mut self, packet: &Packet<'_>) -> Result<(), End> {
        match packet.kind {
            PacketType::Connect => {
                self.accepted();
                Ok(())
            }
            PacketType::Error => Err(rejected(packet)),
            PacketType::Disconnect => Err(End::Lost(Error::transport(
                "the server disconnected the namespace",
            ))),
            PacketType::Event => {
                let event = match packet.event() {
                    Ok(event) => event,
                    Err(e) => {
                        self.report(Error::Protocol(e));
                        return Ok(());
                    }
                };
                match (event.name.as_ref(), event.args.first()) {
                    (MEDIA_SESSION_RESPONSE, Some(payload)) => self.media_event(payload),
                    ("CHANNEL_SUBSCRIBED", Some(payload)) => self.subscribed(payload),
                    ("SUBSCRIBE_CHANNEL_FAILED", Some(payload)) => self.refused(payload),
                    (name, _) => trace!(name, "event"),
                }
                self.raw_event(&event.name, &event.args, Vec::new());
                Ok(())
            }
            PacketType::Ack | PacketType::BinaryEvent | PacketType::BinaryAck => Ok(()),
        }
    }

    /// Delivers an event to the subscription of its space.
    fn route(&mut self, event: MediaSessionEvent) {
        let space = event.topic_id().unwrap_or_default();
        match self.subs.get(space) {
            Some(sub) => self
                .outputs
                .push(Output::Deliver(sub.sink.clone(), Ok(event))),
            None => trace!(space, "event for a space not subscribed"),
        }
    }

    fn media_event(&mut self, payload: &RawValue) {
        match crate::decode(payload.get()) {
            Ok(event) => self.route(event),
            Err(e) => {
                warn!(error = %e, "undecodable MEDIA_SESSION_RESPONSE skipped");
                #[derive(serde::Deserialize)]
                struct Topic {
                    #[serde(rename = "topicId")]
                    topic_id: String,
                }
                let topic = serde_json::from_str::<Topic>(payload.get())
                    .ok()
                    .map(|t| t.topic_id);
                match topic.as_deref().and_then(|t| self.subs.get(t)) {
                    Some(sub) => {
                        let sink = sub.sink.clone();
                        self.emit(Output::Deliver(sink, Err(Error::Decode(e))));
                    }
                    None => self.report(Error::Decode(e)),
                }
            }
        }
    }

    fn binary_event(&mut self, text: &str, attachments: Vec<Vec<u8>>) {
        match Packet::decode(text).and_then(|p| p.event()) {
            Ok(event) => self.raw_event(&event.name, &event.args, attachments),
            Err(e) => self.report(Error::Protocol(e)),
        }
    }

    fn raw_event(&mut self, name: &str, args: &[&RawValue], attachments: Vec<Vec<u8>>) {
        if self.raw {
            self.emit(Output::Raw(RawEvent {
                name: name.to_owned(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                attachments,
            }));
        }
    }

    /// Reports an error that belongs to no single space to every answered subscription.
    fn report(&mut self, error: Error) {
        warn!(%error, "skipped");
        let sinks: Vec<S> = self
            .subs
            .values()
            .filter(|s| s.answered)
            .map(|s| s.sink.clone())
            .collect();
        for sink in sinks {
            self.emit(Output::Deliver(sink, Err(error.clone())));
        }
    }
}

fn message(packet: &Packet<'_>) -> Frame {
    message_text(packet.encode())
}

fn message_text(packet: String) -> Frame {
    EnginePacket::Message(&packet).encode()
}

fn rejected(packet: &Packet<'_>) -> End {
    End::Rejected(
        packet
            .error_message()
            .unwrap_or_else(|| "rejected without a reason".into()),
    )
}

/// Feeds frames to a session with two subscriptions, without I/O or a runtime: the fuzz target
/// `frames`. `data` is a sequence of frames separated by `0xFF` (a byte UTF-8 never contains); a
/// frame's first byte says text (even) or binary (odd).
#[cfg(any(test, fuzzing))]
pub(crate) fn fuzz_frames(data: &[u8]) {
    let mut session = Session::<()>::new(Settings {
        namespace: "/chat".into(),
        heartbeat_deadline: None,
        max_json_depth: 64,
    });
    for space in ["s1", "s2"] {
        let _ = session.subscribe(space.to_owned(), None, ());
    }
    let now = Instant::now();
    session.start(None, now);
    for frame in data.split(|&b| b == 0xff) {
        let Some((&kind, body)) = frame.split_first() else {
            continue;
        };
        if kind % 2 == 0 {
            let Ok(text) = std::str::from_utf8(body) else {
                continue;
            };
            if session.text(&Text::from(text), now).is_err() {
                return; // the connection ended, as it would on this frame
            }
        } else {
            session.binary(body);
        }
        let _ = session.timeout(now);
        session.outputs().for_each(drop);
    }
}

mod subscriptions;
#[cfg(test)]
mod tests;
