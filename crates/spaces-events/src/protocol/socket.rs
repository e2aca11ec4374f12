//! Socket.IO protocol revision 4 (socket.io 2.x) packets, as carried in Engine.IO messages.
//!
//! `<type>[<attachments>-][<namespace>[?<query>],][<ack id>][<JSON>]`: the namespace is written
//! only when it is not `/`, and is then always followed by `,`; decoders also accept it without
//! the comma at the end (python-socketio sends `0/chat`).

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::value::RawValue;

use super::ProtocolError;

/// The type of a Socket.IO packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: connect to a namespace (client), or its acknowledgement (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event, `[name, args…]`.
    Event,
    /// `3`: the answer to an event that asked for one.
    Ack,
    /// `4`: an error, e.g. a namespace middleware refusing the connection.
    Error,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an ack with binary attachments.
    BinaryAck,
}

impl PacketType {
    fn from_digit(c: u8) -> Option<Self> {
        Some(match c {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::Error,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    fn digit(self) -> char {
        match self {
            Self::Connect => '0',
            Self::Disconnect => '1',
            Self::Event => '2',
            Self::Ack => '3',
            Self::Error => '4',
            Self::BinaryEvent => '5',
            Self::BinaryAck => '6',
        }
    }

    /// Whether binary attachments follow the packet (BINARY_EVENT, BINARY_ACK).
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// One Socket.IO packet, borrowed from the text it was decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, `/` when the packet names none.
    pub namespace: &'a str,
    /// The query string a CONNECT carries after the namespace (`token=…&tokenType=jwt`).
    pub query: Option<&'a str>,
    /// How many binary attachments follow (binary types only).
    pub attachments: usize,
    /// The ack id: the sender of an EVENT wants an ACK with this id.
    pub id: Option<u64>,
    /// The JSON payload (well-formed, checked by [`decode`](Self::decode)); an array for EVENT
    /// and ACK.
    pub data: Option<&'a str>,
}

/// The name and arguments of an EVENT.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// The event name, such as `MEDIA_SESSION_RESPONSE`.
    pub name: Cow<'a, str>,
    /// The arguments after the name, as raw JSON.
    pub args: Vec<&'a RawValue>,
}

impl<'a> Packet<'a> {
    /// A packet of `kind` on `namespace` with nothing else.
    pub fn new(kind: PacketType, namespace: &'a str) -> Self {
        Self {
            kind,
            namespace,
            query: None,
            attachments: 0,
            id: None,
            data: None,
        }
    }

    /// Decodes the text of an Engine.IO message.
    ///
    /// # Errors
    /// [`ProtocolError`] for an unknown type, a bad attachment count or ack id, a payload that is
    /// not JSON, or an EVENT or ACK whose payload is not an array.
    pub fn decode(text: &'a str) -> Result<Self, ProtocolError> {
        let bytes = text.as_bytes();
        let first = *bytes.first().ok_or(ProtocolError::Empty)?;
        let kind = PacketType::from_digit(first).ok_or(ProtocolError::PacketType(first as char))?;
        let mut i = 1;
        let mut attachments = 0;
        if kind.is_binary() {
            let digits = digits(&bytes[i..]);
            let count = &text[i..i + digits];
            if digits == 0 || bytes.get(i + digits) != Some(&b'-') {
                return Err(ProtocolError::Attachments);
            }
            attachments = count.parse().map_err(|_| ProtocolError::Attachments)?;
            i += digits + 1;
        }
        let (mut namespace, mut query) = ("/", None);
        if bytes.get(i) == Some(&b'/') {
            let end = text[i..].find(',').map_or(text.len(), |comma| i + comma);
            let nsp = &text[i..end];
            (namespace, query) = match nsp.split_once('?') {
                Some((nsp, q)) => (nsp, Some(q)),
                None => (nsp, None),
            };
            i = (end + 1).min(text.len());
        }
        let digits = digits(&bytes[i..]);
        let id = if digits == 0 {
            None
        } else {
            let id = text[i..i + digits]
                .parse()
                .map_err(|_| ProtocolError::AckId)?;
            i += digits;
            Some(id)
        };
        let rest = &text[i..];
        let data = if rest.is_empty() {
            None
        } else {
            let raw: &RawValue =
                serde_json::from_str(rest).map_err(|e| ProtocolError::Json(e.to_string()))?;
            Some(raw.get())
        };
        let needs_array = matches!(
            kind,
            PacketType::Event | PacketType::Ack | PacketType::BinaryEvent | PacketType::BinaryAck
        );
        if needs_array && !data.is_some_and(|d| d.starts_with('[')) {
            return Err(ProtocolError::NotAnArray);
        }
        Ok(Self {
            kind,
            namespace,
            query,
            attachments,
            id,
            data,
        })
    }

    /// The name and arguments of an EVENT (or BINARY_EVENT).
    ///
    /// # Errors
    /// [`ProtocolError::EventName`] when the payload does not start with a string.
    pub fn event(&self) -> Result<Event<'a>, ProtocolError> {
        let data = self.data.ok_or(ProtocolError::EventName)?;
        let mut args: Vec<&'a RawValue> =
            serde_json::from_str(data).map_err(|e| ProtocolError::Json(e.to_string()))?;
        if args.is_empty() {
            return Err(ProtocolError::EventName);
        }
        let name: Cow<'a, str> =
            serde_json::from_str(args[0].get()).map_err(|_| ProtocolError::EventName)?;
        args.remove(0);
        Ok(Event { name, args })
    }

    /// The packet's text, as it goes into an Engine.IO message.
    pub fn encode(&self) -> String {
        let data = self.data.unwrap_or_default();
        let mut out = String::with_capacity(16 + self.namespace.len() + data.len());
        out.push(self.kind.digit());
        if self.kind.is_binary() {
            let _ = write!(out, "{}-", self.attachments);
        }
        // `/` is implied, unless a query must follow it.
        if self.namespace != "/" || self.query.is_some() {
            out.push_str(self.namespace);
            if let Some(query) = self.query {
                out.push('?');
                out.push_str(query);
            }
            out.push(',');
        }
        if let Some(id) = self.id {
            let _ = write!(out, "{id}");
        }
        out.push_str(data);
        out
    }
}

impl Packet<'_> {
    /// The reason an ERROR packet gives: a JSON string (socket.io 2.x: `44/chat,"Not
    /// authorized"`), the `message` of an object (socketioxide, socket.io 3+), else the JSON as it
    /// is; `None` when the packet carries no data.
    pub fn error_message(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Reason {
            Text(String),
            Object { message: String },
        }
        let json = self.data?;
        Some(match serde_json::from_str::<Reason>(json) {
            Ok(Reason::Text(text) | Reason::Object { message: text }) => text,
            Err(_) => json.to_owned(),
        })
    }
}

/// Recognises one event by the first bytes of its Socket.IO text, `2<nsp>,["NAME",<arg>]`,
/// and hands back `<arg>` without parsing the packet.
///
/// It exists for throughput: Spaces sends MEDIA_SESSION_RESPONSE by the thousand, and a caller
/// that validates the argument anyway (as `decode` does, depth included) need not also parse the
/// packet around it, which would walk every byte a second time. Anything else — another event,
/// an ack id, a binary packet, other spacing — is not matched and takes [`Packet::decode`]; so
/// is a packet with a second argument, whose `<arg>` the caller's validation refuses.
///
/// ```
/// use spaces_events::protocol::EventMatcher;
///
/// let media = EventMatcher::new("/chat", "MEDIA_SESSION_RESPONSE");
/// assert_eq!(media.argument(r#"2/chat,["MEDIA_SESSION_RESPONSE",{"category":"x"}]"#), Some(r#"{"category":"x"}"#));
/// assert_eq!(media.argument(r#"2/chat,["CHANNEL_SUBSCRIBED",{}]"#), None);
/// assert_eq!(media.argument(r#"2/other,["MEDIA_SESSION_RESPONSE",{}]"#), None);
/// ```
#[derive(Clone, Debug)]
pub struct EventMatcher {
    prefix: String,
}

impl EventMatcher {
    /// Matches the event `name` in `namespace`.
    pub fn new(namespace: &str, name: &str) -> Self {
        let mut prefix = Packet::new(PacketType::Event, namespace).encode();
        prefix.push('[');
        prefix.push_str(&serde_json::to_string(name).expect("a string serializes"));
        prefix.push(',');
        EventMatcher { prefix }
    }

    /// The text of the argument, if `packet` (a Socket.IO packet's text) is the event.
    pub fn argument<'a>(&self, packet: &'a str) -> Option<&'a str> {
        packet.strip_prefix(self.prefix.as_str())?.strip_suffix(']')
    }
}

/// The text of an EVENT packet `2<nsp>,[id][name, args…]`, built without an intermediate value.
pub fn encode_event(namespace: &str, id: Option<u64>, name: &str, args: &[&RawValue]) -> String {
    let mut json = String::with_capacity(
        name.len() + 4 + args.iter().map(|a| a.get().len() + 1).sum::<usize>(),
    );
    json.push('[');
    json.push_str(&serde_json::to_string(name).expect("a string serializes"));
    for arg in args {
        json.push(',');
        json.push_str(arg.get());
    }
    json.push(']');
    Packet {
        id,
        data: Some(&json),
        ..Packet::new(PacketType::Event, namespace)
    }
    .encode()
}

fn digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Collects a binary packet's attachments, which arrive as the binary frames right after it.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: Option<(String, usize, Vec<Vec<u8>>)>,
}

/// A packet with its binary attachments, complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinaryPacket {
    /// The packet's text; decode it with [`Packet::decode`]. Its payload holds placeholders
    /// `{"_placeholder":true,"num":N}` where attachment `N` belongs.
    pub text: String,
    /// The attachments, in order.
    pub attachments: Vec<Vec<u8>>,
}

impl Reassembler {
    /// Starts collecting for a binary packet that announced `attachments`; with none, it is
    /// complete at once.
    ///
    /// # Errors
    /// [`ProtocolError::UnexpectedPacket`] while attachments of an earlier packet are missing.
    pub fn start(
        &mut self,
        text: &str,
        attachments: usize,
    ) -> Result<Option<BinaryPacket>, ProtocolError> {
        if self.pending.is_some() {
            self.pending = None;
            return Err(ProtocolError::UnexpectedPacket);
        }
        if attachments == 0 {
            return Ok(Some(BinaryPacket {
                text: text.to_owned(),
                attachments: Vec::new(),
            }));
        }
        self.pending = Some((text.to_owned(), attachments, Vec::new()));
        Ok(None)
    }

    /// Whether attachments are awaited.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Adds the next binary frame's bytes; returns the packet once all attachments arrived.
    ///
    /// # Errors
    /// [`ProtocolError::UnexpectedBinary`] when no binary packet awaits attachments.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<BinaryPacket>, ProtocolError> {
        let (_, expected, attachments) = self
            .pending
            .as_mut()
            .ok_or(ProtocolError::UnexpectedBinary)?;
        attachments.push(bytes.to_vec());
        if attachments.len() < *expected {
            return Ok(None);
        }
        let (text, _, attachments) = self.pending.take().expect("checked above");
        Ok(Some(BinaryPacket { text, attachments }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Packet<'_> {
        let packet = Packet::decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(packet.encode(), text);
        packet
    }

    // Frames captured from socket.io 2.0.4 (shared/reference/socketio-v2-eio3.md §2.2, §2.6),
    // without the Engine.IO `4`.
    #[test]
    fn captured_packets() {
        let p = round_trip("0/chat?token=good&tokenType=jwt,");
        assert_eq!(
            (p.kind, p.namespace, p.query),
            (
                PacketType::Connect,
                "/chat",
                Some("token=good&tokenType=jwt")
            )
        );
        let p = round_trip("0/chat,");
        assert_eq!(
            (p.kind, p.namespace, p.data),
            (PacketType::Connect, "/chat", None)
        );
        assert_eq!(round_trip("0").namespace, "/");
        let p = round_trip(r#"2/chat,["welcome",{"msg":"hi"}]"#);
        let e = p.event().unwrap();
        assert_eq!(
            (e.name.as_ref(), e.args[0].get()),
            ("welcome", r#"{"msg":"hi"}"#)
        );
        let p = round_trip(r#"2/chat,0["withack",1]"#);
        assert_eq!(p.id, Some(0));
        assert_eq!(round_trip(r#"3/chat,0["got it"]"#).kind, PacketType::Ack);
        assert_eq!(
            round_trip(r#"2/chat,7["hello","a",{"b":1}]"#)
                .event()
                .unwrap()
                .args
                .len(),
            2
        );
        assert_eq!(round_trip(r#"3/chat,7["world",42]"#).id, Some(7));
        assert_eq!(round_trip("1/chat,").kind, PacketType::Disconnect);
        let p = round_trip(r#"4/nope,"Invalid namespace""#);
        assert_eq!(
            (p.kind, p.data.unwrap()),
            (PacketType::Error, r#""Invalid namespace""#)
        );
        assert_eq!(
            round_trip(r#"4/chat,{"code":401,"msg":"Not authorized"}"#).namespace,
            "/chat"
        );
        assert_eq!(round_trip(r#"4"Root not authorized""#).namespace, "/");
        assert_eq!(round_trip("1").kind, PacketType::Disconnect);
        let p = round_trip(
            r#"52-/chat,["binpush",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}]"#,
        );
        assert_eq!((p.kind, p.attachments), (PacketType::BinaryEvent, 2));
        let p = round_trip(r#"61-/chat,3[{"_placeholder":true,"num":0}]"#);
        assert_eq!(
            (p.kind, p.attachments, p.id),
            (PacketType::BinaryAck, 1, Some(3))
        );
        // python-socketio's forms: no trailing comma.
        let p = Packet::decode("0/chat").unwrap();
        assert_eq!((p.namespace, p.data), ("/chat", None));
    }

    #[test]
    fn encode_event_matches_socket_io_client() {
        let payload: &RawValue =
            serde_json::from_str(r#"{"channel":{"_id":"s1","type":"topic"}}"#).unwrap();
        assert_eq!(
            encode_event("/chat", None, "SUBSCRIBE_CHANNEL", &[payload]),
            r#"2/chat,["SUBSCRIBE_CHANNEL",{"channel":{"_id":"s1","type":"topic"}}]"#
        );
        assert_eq!(encode_event("/", Some(9), "a\"b", &[]), r#"29["a\"b"]"#);
    }

    #[test]
    fn malformed_packets_are_errors() {
        for (text, error) in [
            ("", ProtocolError::Empty),
            ("7", ProtocolError::PacketType('7')),
            ("x", ProtocolError::PacketType('x')),
            ("6", ProtocolError::Attachments),
            ("5-/chat,[]", ProtocolError::Attachments),
            ("52/chat,[]", ProtocolError::Attachments),
            ("599999999999999999999999-[]", ProtocolError::Attachments),
            ("2/chat,99999999999999999999999[]", ProtocolError::AckId),
            ("2/chat,", ProtocolError::NotAnArray),
            (r#"2/chat,{"a":1}"#, ProtocolError::NotAnArray),
        ] {
            assert_eq!(Packet::decode(text), Err(error), "{text}");
        }
        assert!(matches!(
            Packet::decode(r#"2/chat,["MEDIA_SESSION_RESPONSE",{"category":"#),
            Err(ProtocolError::Json(_))
        ));
        assert!(matches!(
            Packet::decode("2/chat,[1,]"),
            Err(ProtocolError::Json(_))
        ));
        assert!(matches!(
            Packet::decode("2/chat,[1] x"),
            Err(ProtocolError::Json(_))
        ));
        assert_eq!(
            Packet::decode("2/chat,[]").unwrap().event().unwrap_err(),
            ProtocolError::EventName
        );
        assert_eq!(
            Packet::decode("2/chat,[1]").unwrap().event().unwrap_err(),
            ProtocolError::EventName
        );
    }

    /// Found by the fuzzer: the wire format cannot tell a numeric payload from (more digits of)
    /// an ack id. socket.io-parser reads it the same way; the codec is faithful, not "fixed".
    #[test]
    fn a_numeric_payload_reads_back_as_an_ack_id() {
        let p = Packet::decode("4 4 ").unwrap();
        assert_eq!((p.kind, p.id, p.data), (PacketType::Error, None, Some("4")));
        assert_eq!(p.encode(), "44");
        let again = Packet::decode("44").unwrap();
        assert_eq!((again.id, again.data), (Some(4), None));
        // Found by the fuzzer too: a query on `/` is written out, so it survives.
        assert_eq!(Packet::decode("4/?true:").unwrap().encode(), "4/?true:,");
        let p = Packet::decode("15\t15\t\t").unwrap();
        assert_eq!(
            (p.kind, p.id, p.data),
            (PacketType::Disconnect, Some(5), Some("15"))
        );
        assert_eq!(Packet::decode(&p.encode()).unwrap().id, Some(515));
    }

    #[test]
    fn reassembles_attachments_in_order() {
        let mut r = Reassembler::default();
        assert_eq!(r.push(&[1]), Err(ProtocolError::UnexpectedBinary));
        let header =
            r#"52-/chat,["binpush",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(r.start(header, 2), Ok(None));
        assert_eq!(r.push(&[1, 2, 3]), Ok(None));
        let done = r.push(&[4, 5]).unwrap().unwrap();
        assert_eq!(
            (done.text.as_str(), done.attachments),
            (header, vec![vec![1, 2, 3], vec![4, 5]])
        );
        assert!(!r.is_pending());
        assert!(r.start("50-[\"x\"]", 0).unwrap().is_some());
        r.start(header, 2).unwrap();
        assert_eq!(r.start(header, 2), Err(ProtocolError::UnexpectedPacket));
    }

    #[test]
    fn error_messages() {
        let reason = |text| Packet::decode(text).unwrap().error_message();
        assert_eq!(
            reason(r#"4/chat,"Not authorized""#).as_deref(),
            Some("Not authorized")
        );
        assert_eq!(reason(r#"4/chat,{"message":"no"}"#).as_deref(), Some("no"));
        assert_eq!(
            reason(r#"4/chat,{"code":1}"#).as_deref(),
            Some(r#"{"code":1}"#)
        );
        assert_eq!(reason("4/chat,"), None);
    }

    #[test]
    fn event_matcher() {
        let root = EventMatcher::new("/", "E");
        assert_eq!(root.argument(r#"2["E",1]"#), Some("1"));
        assert_eq!(root.argument(r#"21["E",1]"#), None); // an ack id
        let media = EventMatcher::new("/chat", "MEDIA_SESSION_RESPONSE");
        // A second argument is handed over whole; the caller's validation refuses it.
        assert_eq!(
            media.argument(r#"2/chat,["MEDIA_SESSION_RESPONSE",{},{}]"#),
            Some("{},{}")
        );
        assert_eq!(
            media.argument(r#"2/chat,["MEDIA_SESSION_RESPONSE",{}"#),
            None
        );
    }
}
