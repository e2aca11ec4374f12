//! The wire protocol Spaces speaks: Socket.IO 2 (protocol revision 4) over Engine.IO 3 over a
//! websocket. Pure encoding and decoding, no I/O; byte-exact with socket.io 2.0.4.
//!
//! ```
//! use spaces_events::protocol::{EnginePacket, Packet, PacketType};
//!
//! let EnginePacket::Message(text) = EnginePacket::decode_text(r#"42/chat,["CHANNEL_SUBSCRIBED",{}]"#)? else {
//!     unreachable!()
//! };
//! let packet = Packet::decode(text)?;
//! assert_eq!((packet.kind, packet.namespace), (PacketType::Event, "/chat"));
//! assert_eq!(packet.event()?.name, "CHANNEL_SUBSCRIBED");
//! # Ok::<(), spaces_events::protocol::ProtocolError>(())
//! ```

mod engine;
mod socket;

use crate::decode::bytes::deeper_than;

pub use engine::{EnginePacket, Frame, Handshake};
pub use socket::{
    BinaryPacket, Event, EventMatcher, Packet, PacketType, Reassembler, encode_event,
};

/// Refuses text whose JSON nesting exceeds `limit` levels, in one pass over the bytes and before
/// any parsing (a deeply nested payload costs no more than a flat one of the same size).
///
/// # Errors
/// [`ProtocolError::TooDeep`].
pub fn check_depth(text: &str, limit: usize) -> Result<(), ProtocolError> {
    if deeper_than(text.as_bytes(), limit) {
        return Err(ProtocolError::TooDeep { limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_limit() {
        assert_eq!(
            check_depth(r#"2/chat,["a",{"b":[1,{"c":"[[[["}]}]"#, 4),
            Ok(())
        );
        assert_eq!(
            check_depth(r#"2/chat,["a",{"b":[1,{"c":"[[[["}]}]"#, 3),
            Err(ProtocolError::TooDeep { limit: 3 })
        );
        assert_eq!(
            check_depth(&"[".repeat(100_000), 64),
            Err(ProtocolError::TooDeep { limit: 64 })
        );
        assert_eq!(check_depth(r#"["\"[[["]"#, 1), Ok(()));
    }
}

/// A frame or packet that breaks the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An empty frame or packet.
    #[error("empty packet")]
    Empty,
    /// A text frame whose first character is not an Engine.IO packet type (`0`–`6`).
    #[error("unknown Engine.IO packet type {0:?}")]
    EngineType(char),
    /// A binary frame that does not start with the message type byte `0x04`.
    #[error("binary frame starts with {0:#04x}, not the message type 0x04")]
    BinaryType(u8),
    /// An open packet whose payload is not a handshake object.
    #[error("bad open packet: {0}")]
    Handshake(String),
    /// A Socket.IO packet whose first character is not a packet type (`0`–`6`).
    #[error("unknown Socket.IO packet type {0:?}")]
    PacketType(char),
    /// A binary packet without a valid `<count>-` attachment count.
    #[error("bad attachment count")]
    Attachments,
    /// An ack id that does not fit in 64 bits.
    #[error("ack id out of range")]
    AckId,
    /// A payload that is not JSON.
    #[error("payload is not JSON: {0}")]
    Json(String),
    /// An EVENT or ACK whose payload is not a JSON array.
    #[error("EVENT or ACK payload is not a JSON array")]
    NotAnArray,
    /// JSON nested deeper than the configured limit; refused before it is parsed.
    #[error("JSON nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// An EVENT whose payload does not start with the event name.
    #[error("EVENT payload does not start with a name")]
    EventName,
    /// A binary frame with no binary packet waiting for attachments.
    #[error("binary frame without a packet awaiting attachments")]
    UnexpectedBinary,
    /// A binary packet started while an earlier one still awaits attachments.
    #[error("packet arrived while attachments of an earlier packet are missing")]
    UnexpectedPacket,
}
