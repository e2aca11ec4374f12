//! `cargo xtask bench [--quick]`: the benchmarks beside their peers, one table, and
//! `target/bench/report.json` (figures, ratios, machine).
//!
//! Rust decode (criterion: spaces_events vs serde_json `Value` vs sonic-rs `Value`), Python
//! decode (vs msgspec, pydantic v2, orjson + dicts), and the clients over loopback
//! ([`clients`]: throughput, latency, memory, 10,000 spaces).

mod clients;
mod processes;
mod service;

use std::fs;

use serde_json::{Value, json};

use crate::test::{cargo, python_env, step};
use crate::wheels::Venv;
use crate::{Result, root};

/// Rust workloads (criterion groups) and Python workloads.
const RUST: &[&str] = &["meeting_started", "large_roster", "corpus"];
const PYTHON: &[&str] = &["meeting_started", "large_roster"];

pub(crate) fn run(quick: bool) -> Result {
    let mut report = Report::default();
    rust_decode(quick, &mut report)?;
    let venv = python_env(&["benches/requirements.txt"])?;
    python_decode(&venv, quick, &mut report)?;
    clients::run(&venv, quick, &mut report)?;

    println!(
        "\n{:<56} {:>8}  target",
        "benchmark (ours vs peer; > 1 means ours is better)", "ratio"
    );
    for (name, ratio, target) in &report.rows {
        println!("{name:<56} {ratio:>7.2}x  {target}");
    }
    println!();
    for (name, value) in &report.figures {
        println!("{name:<56} {value}");
    }
    report.sections.insert("machine".into(), machine());
    report.sections.insert("quick".into(), quick.into());
    report.sections.insert(
        "ratios".into(),
        report
            .rows
            .iter()
            .map(|(n, r, t)| json!({ "benchmark": n, "ratio": r, "target": t }))
            .collect(),
    );
    report.sections.insert(
        "figures".into(),
        report
            .figures
            .iter()
            .map(|(n, v)| (n.clone(), Value::from(v.as_str())))
            .collect(),
    );
    let dir = root().join("target/bench");
    fs::create_dir_all(&dir)?;
    fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report.sections)?,
    )?;
    println!("\nwrote target/bench/report.json");
    Ok(())
}

/// What a run found: ratio rows (with their targets), figures, and the raw numbers by section.
#[derive(Default)]
pub(crate) struct Report {
    rows: Vec<Row>,
    figures: Vec<(String, String)>,
    sections: serde_json::Map<String, Value>,
}

/// `(benchmark, ratio, target)`.
type Row = (String, f64, String);

impl Report {
    fn row(&mut self, name: &str, ratio: f64, target: &str) {
        self.rows.push((name.to_owned(), ratio, target.to_owned()));
    }

    fn figure(&mut self, name: &str, value: String) {
        self.figures.push((name.to_owned(), value));
    }

    fn section(&mut self, name: &str, value: Value) {
        self.sections.insert(name.to_owned(), value);
    }
}

/// Criterion: spaces_events::decode vs serde_json and sonic-rs values.
fn rust_decode(quick: bool, report: &mut Report) -> Result {
    let times: &[&str] = if quick {
        &["--warm-up-time", "0.5", "--measurement-time", "1"]
    } else {
        &[]
    };
    let mut args = vec![
        "bench",
        "--locked",
        "-p",
        "spaces-events-bench",
        "--bench",
        "decode",
        "--",
    ];
    args.extend_from_slice(times);
    cargo(&args)?;
    let mut rust = serde_json::Map::new();
    for workload in RUST {
        let ns = |bench: &str| estimate(workload, bench);
        let (ours, read, fold, value, sonic) = (
            ns("spaces_events")?,
            ns("spaces_events_read")?,
            ns("spaces_events_fold")?,
            ns("serde_json_value")?,
            ns("sonic_rs_value")?,
        );
        report.row(
            &format!("Rust decode {workload}: vs serde_json Value"),
            value / ours,
            ">= 2.0x",
        );
        report.row(
            &format!("Rust decode {workload}: vs sonic-rs Value"),
            sonic / ours,
            ">= 0.7x",
        );
        // Reading a nested field builds the typed view: the cost an application pays.
        report.row(
            &format!("Rust decode + read 3 fields {workload}: vs serde_json Value"),
            value / read,
            "-",
        );
        // What the live meeting state adds to decoding (MeetingState::apply per event).
        report.row(
            &format!("Rust decode + meeting fold {workload}: vs decode alone"),
            ours / fold,
            "-",
        );
        rust.insert(
            (*workload).into(),
            json!({ "ns": { "spaces_events": ours, "spaces_events_read": read,
            "spaces_events_fold": fold, "serde_json_value": value, "sonic_rs_value": sonic },
            "ratio_vs_serde_json": value / ours, "ratio_vs_sonic_rs": sonic / ours }),
        );
    }
    report.section("rust_decode", Value::Object(rust));
    Ok(())
}

/// benches/python_decode.py: bytes to a typed event and three fields read, beside msgspec,
/// pydantic and orjson; and bytes to a `dict` (`decode(b).to_dict()` beside `orjson.loads`).
fn python_decode(venv: &Venv, quick: bool, report: &mut Report) -> Result {
    step("python benches/python_decode.py");
    let mut python = venv.python();
    python.arg("benches/python_decode.py");
    if quick {
        python.arg("--quick");
    }
    let output = python.output()?;
    if !output.status.success() {
        return Err(format!(
            "the Python benchmark failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let py: Value = serde_json::from_slice(&output.stdout)?;
    for workload in PYTHON {
        let s = |lib: &str| py[workload][lib].as_f64().unwrap_or(f64::NAN);
        report.row(
            &format!("Python decode {workload}: vs msgspec"),
            s("msgspec") / s("spaces_events"),
            ">= 1.0x",
        );
        report.row(
            &format!("Python decode {workload}: vs pydantic v2"),
            s("pydantic") / s("spaces_events"),
            ">= 5.0x",
        );
        report.row(
            &format!("Python decode {workload}: vs orjson + dicts"),
            s("orjson_dict") / s("spaces_events"),
            "-",
        );
        report.row(
            &format!("Python decode + to_dict() {workload}: vs orjson.loads"),
            s("orjson_loads") / s("spaces_events_to_dict"),
            ">= 1.0x",
        );
    }
    report.section("python_decode_seconds", py);
    Ok(())
}

/// Criterion's mean estimate, in nanoseconds.
fn estimate(group: &str, bench: &str) -> Result<f64> {
    let path = root()
        .join("target/criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let estimates: Value = serde_json::from_str(
        &fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    )?;
    estimates["mean"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no mean", path.display()).into())
}

/// CPU, cores, toolchain: what a reader needs to compare runs.
fn machine() -> Value {
    let cpu = fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines().find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
    });
    let version = |cmd: &str| {
        std::process::Command::new(cmd)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "rustc": version("rustc"),
        "python": version("python3"),
    })
}
