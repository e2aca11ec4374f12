//! The client's session, fed sequences of frames without I/O: never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spaces_events::client::fuzzing::frames(data));
