//! Rust decode: `spaces_events::decode` beside `serde_json` and `sonic-rs` parsing the same bytes
//! to a value (sonic-rs being the practical speed limit); and decode followed by reading the
//! category, the space id and the first attendee's name, which builds the typed view; and decode
//! followed by the meeting-state fold.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn decode(c: &mut Criterion) {
    for (name, payloads) in spaces_events_bench::workloads() {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(
            payloads.iter().map(|p| p.len() as u64).sum(),
        ));
        group.bench_function("spaces_events", |b| {
            b.iter(|| {
                for p in &payloads {
                    black_box(spaces_events::decode(black_box(p)).expect("decodes"));
                }
            })
        });
        group.bench_function("spaces_events_read", |b| {
            b.iter(|| {
                for p in &payloads {
                    let event = spaces_events::decode(black_box(p)).expect("decodes");
                    let first = event.attendees().first();
                    black_box((
                        event.category(),
                        event.topic_id(),
                        first.map(|a| &a.displayname),
                    ));
                }
            })
        });
        // The live meeting state's cost: decode, then fold into a fresh state (so that the
        // de-duplication does not skip the work on the next iteration).
        group.bench_function("spaces_events_fold", |b| {
            b.iter(|| {
                let mut state =
                    spaces_events::meeting::MeetingState::new("5f1051f0f3ed772f915e19ed");
                for p in &payloads {
                    let event = spaces_events::decode(black_box(p)).expect("decodes");
                    black_box(state.apply(&event));
                }
                black_box(state)
            })
        });
        group.bench_function("serde_json_value", |b| {
            b.iter(|| {
                for p in &payloads {
                    black_box(
                        serde_json::from_slice::<serde_json::Value>(black_box(p)).expect("JSON"),
                    );
                }
            })
        });
        group.bench_function("sonic_rs_value", |b| {
            b.iter(|| {
                for p in &payloads {
                    black_box(sonic_rs::from_slice::<sonic_rs::Value>(black_box(p)).expect("JSON"));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
