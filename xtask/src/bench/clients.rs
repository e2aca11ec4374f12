//! The loopback benchmarks: every client against `loopback push` (benches/loopback.rs), a pusher
//! of pre-encoded frames faster than any of them; `watch` as a process, against that pusher and
//! end to end against the Node socket.io 2.0.4 server; then memory per idle connection and one
//! connection with 10,000 spaces.
//!
//! The stream is realistic: every valid fixture but the 113 KiB roster (22 payloads of 46 B to
//! 1.4 KiB: every category, unknown fields, nulls, Unicode), in turn.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Report;
use super::processes::median;
use crate::test::{cargo, step};
use crate::wheels::Venv;
use crate::{Result, root};

/// The fixture left out of the mixed stream: one 500-attendee roster would be 87 % of its bytes.
const LARGE: &str = "edge_large_roster.json";

/// Writes the mixed stream's payloads as a JSON array to `target/bench/mixed.json`; its path and
/// the payloads.
pub(super) fn mixed() -> Result<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/valid"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| !path.ends_with(LARGE))
        .collect();
    files.sort();
    let payloads = files
        .iter()
        .map(|path| Ok(serde_json::from_slice(&std::fs::read(path)?)?))
        .collect::<Result<Vec<Value>>>()?;
    let path = root().join("target/bench/mixed.json");
    std::fs::create_dir_all(root().join("target/bench"))?;
    std::fs::write(&path, serde_json::to_vec(&payloads)?)?;
    Ok((path, Value::Array(payloads)))
}

/// How much each benchmark does.
pub(super) struct Plan {
    /// Events per throughput run, and runs per client (the median is reported).
    events: usize,
    pub(super) runs: usize,
    /// Events at `rate` per second for the latency percentiles.
    pub(super) latency_events: usize,
    /// Events for `watch` as a process: against the pusher, and end to end (the Node server).
    pub(super) process_events: usize,
    pub(super) server_events: usize,
    pub(super) rate: usize,
    connections: usize,
    pub(super) spaces: usize,
}

#[derive(Clone, Copy)]
enum Client {
    Rust,
    Python,
    Node,
    PythonSocketio,
    Raw,
}

const CLIENTS: [Client; 5] = [
    Client::Rust,
    Client::Python,
    Client::Node,
    Client::PythonSocketio,
    Client::Raw,
];

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Rust => "spaces-events Rust client",
            Client::Python => "spaces-events Python AsyncClient",
            Client::Node => "socket.io-client 2.0.4 (Node)",
            Client::PythonSocketio => "python-socketio 4.6.1 AsyncClient",
            Client::Raw => "raw tokio-tungstenite reader",
        }
    }

    fn command(self, venv: &Venv, url: &str, count: usize) -> Command {
        let count = count.to_string();
        let mut command = match self {
            Client::Rust | Client::Raw => loopback(),
            Client::Python | Client::PythonSocketio => {
                let mut python = venv.python();
                python.arg("benches/python_client.py");
                python
            }
            Client::Node => node(),
        };
        match self {
            Client::Rust => command.args(["rust", "--url", url, "--count", &count]),
            Client::Raw => command.args(["raw", "--url", url, "--count", &count]),
            Client::Python => command.args(["ours", url, &count]),
            Client::PythonSocketio => command.args(["python-socketio", url, &count]),
            Client::Node => command.args(["benches/node_client.js", "events", url, &count]),
        };
        command
    }
}

pub(super) fn run(venv: &Venv, quick: bool, report: &mut Report) -> Result {
    let plan = if quick {
        Plan {
            events: 20_000,
            runs: 1,
            latency_events: 2_000,
            process_events: 20_000,
            server_events: 20_000,
            rate: 1_000,
            connections: 1_000,
            spaces: 10_000,
        }
    } else {
        Plan {
            events: 200_000,
            runs: 3,
            latency_events: 10_000,
            process_events: 100_000,
            server_events: 24_000,
            rate: 2_000,
            connections: 1_000,
            spaces: 10_000,
        }
    };
    cargo(&[
        "build",
        "--release",
        "--locked",
        "-p",
        "spaces-events-bench",
        "--bin",
        "loopback",
    ])?;
    crate::test::npm_ci()?;

    step("client throughput and latency over loopback");
    let mut clients = serde_json::Map::new();
    let mut rate = |client: Client| rates(venv, client, &plan).map(|r| (client, r));
    let rates = CLIENTS.map(&mut rate);
    for result in rates {
        let (client, (events_per_s, p50, p99)) = result?;
        report.figure(
            &format!("{} events/s", client.name()),
            format!(
                "{events_per_s:.0} (p50 {p50} µs, p99 {p99} µs at {}/s)",
                plan.rate
            ),
        );
        clients.insert(
            client.name().into(),
            json!({ "events_per_s": events_per_s, "latency_p50_us": p50, "latency_p99_us": p99 }),
        );
    }
    let eps = |client: Client| {
        clients[client.name()]["events_per_s"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    report.row(
        "Client events/s: Rust vs socket.io-client (Node)",
        eps(Client::Rust) / eps(Client::Node),
        ">= 5.0x",
    );
    report.row(
        "Client events/s: Rust vs raw frame reader",
        eps(Client::Rust) / eps(Client::Raw),
        ">= 0.5x",
    );
    report.row(
        "Client events/s: Python vs python-socketio",
        eps(Client::Python) / eps(Client::PythonSocketio),
        ">= 10.0x",
    );
    report.row(
        "Client events/s: Python AsyncClient vs Rust client",
        eps(Client::Python) / eps(Client::Rust),
        ">= 0.5x",
    );
    report.section("clients", Value::Object(clients.clone()));

    super::processes::run(venv, &plan, report)?;
    super::service::run(venv, &plan, report)?;

    step("memory per idle connection");
    let pusher = Pusher::start(&[])?;
    let n = plan.connections.to_string();
    let ours = measure(loopback().args(["idle", "--url", &pusher.url, "--connections", &n]))?;
    let theirs = measure(node().args([
        "--expose-gc",
        "benches/node_client.js",
        "idle",
        &pusher.url,
        &n,
    ]))?;
    let kib = |v: &Value| v["per_connection_kib"].as_f64().unwrap_or(f64::NAN);
    report.figure(
        "Rust RSS per idle connection",
        format!("{:.1} KiB ({n} connections)", kib(&ours)),
    );
    report.figure(
        "Node socket.io-client RSS per idle connection",
        format!("{:.1} KiB", kib(&theirs)),
    );
    report.row(
        "RSS per idle connection: Node / Rust",
        kib(&theirs) / kib(&ours),
        "-",
    );
    report.section(
        "memory",
        json!({ "spaces_events": ours, "socket_io_client": theirs }),
    );

    step("one connection, 10,000 spaces");
    let pusher = Pusher::start(&[("--spaces", plan.spaces), ("--count", plan.events)])?;
    let many = measure(loopback().args([
        "rust",
        "--url",
        &pusher.url,
        "--count",
        &plan.events.to_string(),
        "--spaces",
        &plan.spaces.to_string(),
    ]))?;
    let per_event_us = |events_per_s: f64| 1e6 / events_per_s;
    let (one, all) = (
        per_event_us(eps(Client::Rust)),
        per_event_us(events_per_s(&many)),
    );
    report.figure(
        &format!("subscribe {} spaces on one connection", plan.spaces),
        format!(
            "{:.3} s",
            many["subscribe_seconds"].as_f64().unwrap_or(f64::NAN)
        ),
    );
    report.figure(
        &format!("per-event cost, 1 space vs {} spaces", plan.spaces),
        format!("{one:.2} µs vs {all:.2} µs (dispatch +{:.2} µs)", all - one),
    );
    report.section(
        "spaces",
        json!({ "spaces": plan.spaces, "subscribe_seconds": many["subscribe_seconds"],
                "per_event_us_one_space": one, "per_event_us_all_spaces": all }),
    );
    Ok(())
}

/// Median events/s over the throughput runs, and the latency percentiles at a fixed rate.
fn rates(venv: &Venv, client: Client, plan: &Plan) -> Result<(f64, u64, u64)> {
    let pusher = Pusher::start(&[("--count", plan.events)])?;
    let throughput = median(plan.runs, || {
        measure(&mut client.command(venv, &pusher.url, plan.events)).map(|r| events_per_s(&r))
    })?;
    let pusher = Pusher::start(&[("--count", plan.latency_events), ("--rate", plan.rate)])?;
    let timed = measure(&mut client.command(venv, &pusher.url, plan.latency_events))?;
    let (p50, p99) = percentiles(&timed)?;
    eprintln!(
        "  {}: {:.0} events/s, p50 {p50} µs, p99 {p99} µs",
        client.name(),
        throughput,
    );
    Ok((throughput, p50, p99))
}

/// p50 and p99 of a report's `latency_us`.
pub(super) fn percentiles(report: &Value) -> Result<(u64, u64)> {
    let mut latency: Vec<u64> = serde_json::from_value(report["latency_us"].clone())?;
    latency.sort_unstable();
    let pct = |p: usize| {
        latency
            .get(latency.len() * p / 100)
            .copied()
            .unwrap_or_default()
    };
    Ok((pct(50), pct(99)))
}

fn events_per_s(report: &Value) -> f64 {
    let count = report["count"].as_f64().unwrap_or(0.0);
    (count - 1.0) / report["seconds"].as_f64().unwrap_or(f64::NAN)
}

pub(super) fn loopback() -> Command {
    let mut command = Command::new(root().join("target/release/loopback"));
    command.current_dir(root());
    command
}

/// `node`, finding socket.io-client 2.0.4 where `npm ci` put it.
pub(super) fn node() -> Command {
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", root().join("tests/peers/node_modules"))
        .current_dir(root());
    command
}

/// A running `loopback push`; killed when dropped.
pub(super) struct Pusher {
    child: Child,
    pub(super) url: String,
}

impl Pusher {
    /// A pusher with options such as `("--count", 1000)`.
    pub(super) fn start(options: &[(&str, usize)]) -> Result<Self> {
        let mut child = loopback()
            .args(["push", "--payload"])
            .arg(mixed()?.0)
            .args(
                options
                    .iter()
                    .flat_map(|(key, value)| [key.to_string(), value.to_string()]),
            )
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let port = serde_json::from_str::<Value>(&line)?["port"].as_u64();
        let url = format!(
            "http://127.0.0.1:{}/chat",
            port.ok_or("the pusher printed no port")?
        );
        Ok(Self { child, url })
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a client to the end (two minutes at most); the JSON object it printed last.
pub(super) fn measure(command: &mut Command) -> Result<Value> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    // Read while it runs: a report of many latencies is larger than a pipe holds.
    let output = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    within_two_minutes(&mut child, &shown, |child| Ok(child.try_wait()?.is_some()))?;
    let status = child.wait()?;
    let text = output.join().map_err(|_| "reader thread")??;
    if !status.success() {
        return Err(format!("{shown} failed ({status})").into());
    }
    let last = text
        .lines()
        .last()
        .ok_or_else(|| format!("{shown} printed nothing"))?;
    Ok(serde_json::from_str(last)?)
}

/// Polls `done` every 20 ms for two minutes at most; past them, kills `child` and fails.
pub(super) fn within_two_minutes(
    child: &mut Child,
    shown: &str,
    mut done: impl FnMut(&mut Child) -> Result<bool>,
) -> Result {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(child)? {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{shown} did not finish within two minutes").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
