//! Decode throughput on JSON payload files, beside `serde_json::from_slice::<Value>`.
//!
//! `cargo run --release -p spaces-events --example throughput -- tests/fixtures/valid/*.json`

use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: throughput FILE.json...");
        std::process::exit(2);
    }
    let payloads: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                f.rsplit('/').next().unwrap_or(f).to_owned(),
                std::fs::read(f).expect("readable file"),
            )
        })
        .collect();
    let corpus: Vec<&[u8]> = payloads.iter().map(|(_, p)| p.as_slice()).collect();
    println!(
        "{:<28} {:>9} {:>14} {:>14} {:>7}",
        "payload", "bytes", "decode MB/s", "Value MB/s", "ratio"
    );
    for (name, bytes) in &payloads {
        report(name, &[bytes.as_slice()]);
    }
    report("all files", &corpus);
}

fn report(name: &str, inputs: &[&[u8]]) {
    let bytes: usize = inputs.iter().map(|i| i.len()).sum();
    let ours = rate(bytes, || {
        for input in inputs {
            black_box(spaces_events::decode(black_box(input)).expect("valid payload"));
        }
    });
    let value = rate(bytes, || {
        for input in inputs {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(input)).expect("JSON"));
        }
    });
    println!(
        "{name:<28} {bytes:>9} {ours:>14.1} {value:>14.1} {:>6.2}x",
        ours / value
    );
}

/// MB/s of `f` over `bytes`, best of 5 runs of at least 200 ms each.
fn rate(bytes: usize, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let (start, mut runs) = (Instant::now(), 0u32);
            while start.elapsed() < Duration::from_millis(200) {
                f();
                runs += 1;
            }
            bytes as f64 * f64::from(runs) / start.elapsed().as_secs_f64() / 1e6
        })
        .fold(0.0, f64::max)
}
