//! Inputs shared by the benchmarks: the fixture payloads.

use std::path::Path;

/// The workloads: `(name, payloads)` — a typical 1 KiB event, the 500-attendee meeting, and every
/// valid fixture in turn (the corpus).
pub fn workloads() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/valid");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("fixture");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    let corpus = paths
        .iter()
        .map(|p| std::fs::read(p).expect("fixture"))
        .collect();
    vec![
        ("meeting_started", vec![read("meeting_started.json")]),
        ("large_roster", vec![read("edge_large_roster.json")]),
        ("corpus", corpus),
    ]
}
