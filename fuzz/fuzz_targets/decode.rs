//! The payload decoder: never panics; what decodes re-decodes from its own output, equal.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(event) = spaces_events::decode(data) {
        let again = spaces_events::decode(event.json()).expect("the output of a decoded payload decodes");
        assert_eq!(again, event);
    }
});
