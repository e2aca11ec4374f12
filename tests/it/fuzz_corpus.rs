//! Replays the committed fuzz corpora and seeds (`fuzz/corpus/`, `fuzz/seeds/`) through the same
//! entry points as the fuzz targets (the `frames` corpus is replayed by the client session's own
//! tests, which reach it without a public hook), so every input the fuzzer kept — and every crash it ever
//! found — stays a regression test of plain `cargo test`.

use std::path::Path;

use spaces_events::protocol::{EnginePacket, Packet, check_depth};

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in [
        root.join("corpus").join(target),
        root.join("seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            out.push(std::fs::read(entry.expect("entry").path()).expect("readable"));
        }
    }
    out
}

#[test]
fn decode_corpus() {
    for input in inputs("decode") {
        if let Ok(event) = spaces_events::decode(&input) {
            // In debug builds, decode's check disagreeing with serde's derives fails an assertion.
            event.payload();
            assert_eq!(
                spaces_events::decode(event.json()).expect("re-decodes"),
                event
            );
        }
    }
}

#[test]
fn protocol_corpus() {
    let inputs = inputs("protocol");
    assert!(!inputs.is_empty(), "no protocol seeds");
    for input in inputs {
        let _ = EnginePacket::decode_binary(&input);
        let Ok(text) = std::str::from_utf8(&input) else {
            continue;
        };
        let _ = (EnginePacket::decode_text(text), check_depth(text, 64));
        if let Ok(packet) = Packet::decode(text) {
            let _ = packet.event();
        }
    }
}
