//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Commands:
//! - `codegen [--check]`: regenerate what `schema/` determines (the Rust types, the decoder's
//!   shape table, the Python `Category` enum), or fail naming the file that is stale.
//! - `test`: every check the project has (format, lints, codegen freshness, all test suites);
//!   what CI runs.
//! - `bench [--quick]`: benchmarks beside their peers; one table and `target/bench/report.json`.
//! - `fuzz --time SECS`: each fuzz target for SECS seconds, then its corpus minimized.
//! - `wheels`: manylinux2014 abi3 wheels (x86_64, aarch64) and an sdist in `target/wheels/`.
//! - `soak --minutes N`: many clients against the simulator with random drops and restarts.
//! - `chaos [--seconds N] [--seed S]`: a bridge cluster under a seeded schedule of faults.
//! - `docs [--check]`: the documentation site into `target/docs`.

mod bench;
mod codegen;
mod docs;
mod fuzz;
mod test;
mod wheels;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen [--check]   regenerate from schema/ the Rust types, the decoder's shape table and the
                      Python Category enum (--check: fail if any is stale)
  test                run every check and test suite of the project (what CI runs)
  fuzz --time SECS    run each fuzz target for SECS seconds (cargo-fuzz, installed if missing),
                      then minimize its corpus in fuzz/corpus/
  bench [--quick]     benchmarks beside their peers; one table and target/bench/report.json
  docs [--check]      the documentation site (MkDocs, strict: broken links fail) into
                      target/docs; regenerates the CLI and schema reference pages (--check:
                      fail if either is stale)
  wheels              manylinux2014 abi3 wheels (x86_64 and aarch64, zig-linked, stripped,
                      tag checked by auditwheel) and an sdist, into target/wheels/
  soak --minutes N    100 clients x 10 spaces against the simulator, with random drops and
                      restarts, for N minutes: exactly-once delivery, RSS, fds, tasks
  chaos [--seconds N] [--seed S]
                      3 bridges (--lease --replicas 2) on 30 spaces of the simulator and a real
                      nats-server, under a seeded schedule of faults for N seconds (default 1800,
                      seed 1): every event once, the meeting states true; figures printed
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["codegen"] => codegen::run(false),
        ["codegen", "--check"] => codegen::run(true),
        ["test"] => test::run(),
        ["wheels"] => wheels::run(),
        ["docs"] => docs::run(false),
        ["docs", "--check"] => docs::run(true),
        ["soak", "--minutes", minutes] => soak(minutes),
        ["chaos"] => chaos("1800", "1"),
        ["chaos", "--seconds", seconds] => chaos(seconds, "1"),
        ["chaos", "--seconds", seconds, "--seed", seed] => chaos(seconds, seed),
        ["bench"] => bench::run(false),
        ["bench", "--quick"] => bench::run(true),
        ["fuzz", "--time", secs] => match secs.parse() {
            Ok(secs) => fuzz::run(secs),
            Err(_) => Err(format!("--time takes seconds, not {secs:?}").into()),
        },
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask soak --minutes N`: the soak binary of the tests crate, in release.
fn soak(minutes: &str) -> Result {
    minutes
        .parse::<f64>()
        .map_err(|_| format!("--minutes takes a number, not {minutes:?}"))?;
    test::cargo(&[
        "run",
        "--release",
        "--locked",
        "-p",
        "spaces-events-tests",
        "--bin",
        "soak",
        "--",
        minutes,
    ])
}

/// `cargo xtask chaos`: the chaos binary of the tests crate against the `spaces-events` binary
/// built beside it (debug: what the tests run).
pub(crate) fn chaos(seconds: &str, seed: &str) -> Result {
    for (what, value) in [("--seconds", seconds), ("--seed", seed)] {
        value
            .parse::<u64>()
            .map_err(|_| format!("{what} takes a whole number, not {value:?}"))?;
    }
    test::cargo(&[
        "build",
        "--locked",
        "-p",
        "spaces-events-cli",
        "-p",
        "spaces-events-tests",
        "--bin",
        "spaces-events",
        "--bin",
        "chaos",
    ])?;
    test::step(&format!("chaos: {seconds} s, seed {seed}"));
    test::exec(std::process::Command::new(root().join("target/debug/chaos")).args([seconds, seed]))
}

/// The workspace root (the parent of `xtask/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
