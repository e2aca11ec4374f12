//! The Engine.IO / Socket.IO packet decoders: never panic; a decoded Socket.IO packet encodes to
//! text that decodes to the same packet — except where the wire format itself is ambiguous: a
//! payload starting with a digit runs into the ack id's digits, or becomes one (socket.io-parser
//! has the same ambiguity).
#![no_main]

use spaces_events::protocol::{EnginePacket, Packet, check_depth};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = EnginePacket::decode_binary(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = EnginePacket::decode_text(text);
    let _ = check_depth(text, 64);
    if let Ok(packet) = Packet::decode(text) {
        let _ = packet.event();
        let ambiguous = packet.data.is_some_and(|d| d.starts_with(|c: char| c.is_ascii_digit()));
        if !ambiguous {
            let encoded = packet.encode();
            assert_eq!(Packet::decode(&encoded).as_ref(), Ok(&packet), "{text:?} -> {encoded:?}");
        }
    }
});
