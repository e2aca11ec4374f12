//! Engine.IO protocol 3 over websocket: one packet per websocket frame.
//!
//! Text frames are `<type digit><data>`; binary frames carry a message and start with the raw
//! byte `0x04`. Types: `0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ProtocolError;

/// One Engine.IO packet, borrowed from the frame it was decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnginePacket<'a> {
    /// `0{…}`: the server's handshake, first frame of a session.
    Open(Handshake),
    /// `1`: the peer is closing the session.
    Close,
    /// `2[data]`: ping (in EIO3 the client pings, the server answers with a pong).
    Ping(&'a str),
    /// `3[data]`: pong (socket.io 2.0.4 answers `2probe` with a bare `3`: match by position).
    Pong(&'a str),
    /// `4<data>`: a message in a text frame; for Socket.IO, one Socket.IO packet.
    Message(&'a str),
    /// A binary frame `0x04 <bytes>`: a binary message (a Socket.IO attachment).
    Binary(&'a [u8]),
    /// `5`: transport upgrade (polling only; ignored over websocket).
    Upgrade,
    /// `6`: no-op (polling only; ignored over websocket).
    Noop,
}

/// The open packet's payload. Unknown fields (socketioxide adds `maxPayload`) are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// Session id.
    pub sid: String,
    /// Transports the session may upgrade to (`[]` over websocket).
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// How often the client pings, in milliseconds.
    pub ping_interval: u64,
    /// How long the client waits for the answer to a ping, in milliseconds.
    pub ping_timeout: u64,
}

impl Handshake {
    /// `ping_interval` as a duration.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval)
    }

    /// `ping_timeout` as a duration.
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout)
    }
}

/// A websocket frame to send: Engine.IO text or binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

impl<'a> EnginePacket<'a> {
    /// Decodes a websocket text frame.
    ///
    /// # Errors
    /// [`ProtocolError`] for an empty frame, an unknown type, or an open packet that is not a
    /// handshake object.
    pub fn decode_text(frame: &'a str) -> Result<Self, ProtocolError> {
        let mut chars = frame.char_indices();
        let (_, kind) = chars.next().ok_or(ProtocolError::Empty)?;
        let data = &frame[kind.len_utf8()..];
        Ok(match kind {
            '0' => EnginePacket::Open(
                serde_json::from_str(data).map_err(|e| ProtocolError::Handshake(e.to_string()))?,
            ),
            '1' => EnginePacket::Close,
            '2' => EnginePacket::Ping(data),
            '3' => EnginePacket::Pong(data),
            '4' => EnginePacket::Message(data),
            '5' => EnginePacket::Upgrade,
            '6' => EnginePacket::Noop,
            other => return Err(ProtocolError::EngineType(other)),
        })
    }

    /// Decodes a websocket binary frame: `0x04` then the message bytes.
    ///
    /// # Errors
    /// [`ProtocolError`] when the frame is empty or does not start with `0x04`.
    pub fn decode_binary(frame: &'a [u8]) -> Result<Self, ProtocolError> {
        match frame.split_first() {
            Some((4, bytes)) => Ok(EnginePacket::Binary(bytes)),
            Some((&other, _)) => Err(ProtocolError::BinaryType(other)),
            None => Err(ProtocolError::Empty),
        }
    }

    /// The websocket frame that carries this packet.
    pub fn encode(&self) -> Frame {
        let text = |kind: char, data: &str| {
            let mut s = String::with_capacity(1 + data.len());
            s.push(kind);
            s.push_str(data);
            Frame::Text(s)
        };
        match self {
            EnginePacket::Open(handshake) => text(
                '0',
                &serde_json::to_string(handshake).expect("a handshake serializes"),
            ),
            EnginePacket::Close => text('1', ""),
            EnginePacket::Ping(data) => text('2', data),
            EnginePacket::Pong(data) => text('3', data),
            EnginePacket::Message(data) => text('4', data),
            EnginePacket::Binary(bytes) => Frame::Binary([&[4u8][..], bytes].concat()),
            EnginePacket::Upgrade => text('5', ""),
            EnginePacket::Noop => text('6', ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Frames captured from socket.io 2.0.4 (shared/reference/socketio-v2-eio3.md §1–§2).
    #[test]
    fn captured_frames() {
        let open = r#"0{"sid":"l-FyUFihnGOh07ipAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;
        let EnginePacket::Open(h) = EnginePacket::decode_text(open).unwrap() else {
            panic!()
        };
        assert_eq!(
            (h.sid.as_str(), h.ping_interval(), h.ping_timeout()),
            (
                "l-FyUFihnGOh07ipAAAA",
                Duration::from_secs(25),
                Duration::from_secs(60)
            )
        );
        assert_eq!(EnginePacket::Open(h).encode(), Frame::Text(open.into()));
        // socketioxide adds maxPayload.
        let extra = r#"0{"sid":"ADppo_F0Vo6rxOaf","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}"#;
        assert!(matches!(
            EnginePacket::decode_text(extra),
            Ok(EnginePacket::Open(_))
        ));
        assert_eq!(
            EnginePacket::decode_text("2").unwrap(),
            EnginePacket::Ping("")
        );
        assert_eq!(
            EnginePacket::decode_text("3").unwrap(),
            EnginePacket::Pong("")
        );
        assert_eq!(
            EnginePacket::decode_text("2probe").unwrap(),
            EnginePacket::Ping("probe")
        );
        assert_eq!(
            EnginePacket::decode_text("40").unwrap(),
            EnginePacket::Message("0")
        );
        assert_eq!(EnginePacket::decode_text("1").unwrap(), EnginePacket::Close);
        assert_eq!(
            EnginePacket::decode_text("5").unwrap(),
            EnginePacket::Upgrade
        );
        assert_eq!(EnginePacket::decode_text("6").unwrap(), EnginePacket::Noop);
        assert_eq!(
            EnginePacket::decode_binary(&[4, 1, 2, 3]).unwrap(),
            EnginePacket::Binary(&[1, 2, 3])
        );
        assert_eq!(
            EnginePacket::Binary(&[0xde, 0xad]).encode(),
            Frame::Binary(vec![4, 0xde, 0xad])
        );
        assert_eq!(EnginePacket::Ping("").encode(), Frame::Text("2".into()));
        assert_eq!(
            EnginePacket::Message("2/chat,[\"a\"]").encode(),
            Frame::Text("42/chat,[\"a\"]".into())
        );
    }

    #[test]
    fn malformed_frames() {
        assert_eq!(EnginePacket::decode_text(""), Err(ProtocolError::Empty));
        assert_eq!(
            EnginePacket::decode_text("9x"),
            Err(ProtocolError::EngineType('9'))
        );
        assert_eq!(
            EnginePacket::decode_text("é"),
            Err(ProtocolError::EngineType('é'))
        );
        assert!(matches!(
            EnginePacket::decode_text("0{"),
            Err(ProtocolError::Handshake(_))
        ));
        assert!(matches!(
            EnginePacket::decode_text("0{\"sid\":1}"),
            Err(ProtocolError::Handshake(_))
        ));
        assert_eq!(
            EnginePacket::decode_binary(b"4abc"),
            Err(ProtocolError::BinaryType(b'4'))
        );
        assert_eq!(EnginePacket::decode_binary(b""), Err(ProtocolError::Empty));
    }
}
