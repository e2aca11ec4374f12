//! The payload decoder: never panics; what decodes re-decodes from its own output, equal.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(event) = spaces_events::decode(data) {
        // decode's check and serde's derives must agree (debug assertions on both paths).
        event.payload();
        let again = spaces_events::decode(event.json()).expect("the output of a decoded payload decodes");
        assert_eq!(again, event);
    }
});
