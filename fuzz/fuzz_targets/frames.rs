//! The client's frame handling, fed sequences of frames without I/O: never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spaces_events::client::fuzz_frames(data));
