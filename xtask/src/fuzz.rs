//! `cargo xtask fuzz --time SECS`: every fuzz target for SECS seconds, then its corpus minimized.
//!
//! cargo-fuzz (libFuzzer) needs nightly flags; `RUSTC_BOOTSTRAP=1` lets the stable toolchain
//! accept them, so no other toolchain is needed.

use std::process::Command;

use crate::{Result, root};

/// `(target, seed directories besides its corpus)`.
const TARGETS: &[(&str, &[&str])] = &[
    (
        "decode",
        &["tests/fixtures/valid", "tests/fixtures/invalid"],
    ),
    ("protocol", &["fuzz/seeds/protocol"]),
    ("frames", &["fuzz/seeds/frames"]),
];

pub(crate) fn run(secs: u64) -> Result {
    let root = root();
    let fuzz_dir = root.join("fuzz");
    if !Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("==> cargo install cargo-fuzz --locked");
        let status = Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .status()?;
        if !status.success() {
            return Err("could not install cargo-fuzz".into());
        }
    }
    let mut total = 0u64;
    let mut rows = Vec::new();
    for (target, seeds) in TARGETS {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        eprintln!("==> fuzz {target} for {secs} s");
        let output = Command::new("cargo")
            // Optimized, with debug assertions: the decoder's agreement checks are assertions.
            .args(["fuzz", "run", "-O", "--debug-assertions", target])
            .arg(&corpus)
            .args(seeds.iter().map(|s| root.join(s)))
            .args([
                "--",
                &format!("-max_total_time={secs}"),
                "-print_final_stats=1",
                "-max_len=65536",
            ])
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(&fuzz_dir)
            .output()?;
        let log = String::from_utf8_lossy(&output.stderr);
        let executions = stat(&log, "stat::number_of_executed_units:").unwrap_or(0);
        if !output.status.success() {
            eprintln!(
                "{}",
                log.lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            return Err(format!("fuzz target {target} failed: a crash is in fuzz/artifacts/{target}/; make it a regression test").into());
        }
        let status = Command::new("cargo")
            .args(["fuzz", "cmin", "-O", target])
            .arg(&corpus)
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(&fuzz_dir)
            .output()?;
        if !status.status.success() {
            return Err(format!("corpus minimization of {target} failed").into());
        }
        let files = std::fs::read_dir(&corpus)?.count();
        total += executions;
        rows.push(format!(
            "{target:<10} {executions:>14} executions, corpus {files} files"
        ));
    }
    println!("{}\ntotal      {total:>14} executions", rows.join("\n"));
    Ok(())
}

/// The number after `key` in libFuzzer's final stats.
fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}
