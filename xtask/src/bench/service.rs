//! The bridge as a service: latency from the server's emit to the consumer — `watch` reading
//! the pusher, and through `bridge` to a JetStream consumer — and one process following 10,000
//! spaces on one connection (subscribe time, memory per space, CPU at idle).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::Report;
use super::clients::{Plan, Pusher, loopback, measure, percentiles};
use super::processes::Nats;
use crate::test::step;
use crate::wheels::Venv;
use crate::{Result, root};

pub(super) fn run(venv: &Venv, plan: &Plan, report: &mut Report) -> Result {
    let bin = root().join("target/release/spaces-events");
    let bin = bin.to_str().ok_or("a UTF-8 path")?;
    let (n, rate) = (plan.latency_events, plan.rate);

    step(&format!(
        "latency from the emit: watch, {n} events at {rate}/s"
    ));
    let pusher = Pusher::start(&[("--count", n), ("--rate", rate)])?;
    let watch = measure(
        loopback()
            .args(["watch", "--bin", bin, "--url", &pusher.url])
            .args(["--count", &n.to_string()]),
    )?;
    let (watch_p50, watch_p99) = percentiles(&watch)?;

    step(&format!(
        "latency from the emit: bridge to a JetStream consumer, {n} events at {rate}/s"
    ));
    let nats = Nats::start(venv)?;
    let mut consumer = loopback()
        .args(["jetstream", "--nats", &nats.url, "--count", &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(consumer.stdout.take().ok_or("no stdout")?);
    let pusher = Pusher::start(&[("--count", n), ("--rate", rate)])?;
    let mut bridge = Command::new(bin)
        .args([
            "bridge",
            "--url",
            &pusher.url,
            "--space",
            "space-0",
            "--nats",
            &nats.url,
        ])
        // Nothing listens there: resyncs fail at once, beside the stream (no network here).
        .args([
            "--api-url",
            "http://127.0.0.1:9/api",
            "--max-events",
            &n.to_string(),
        ])
        .env("SPACES_TOKEN", "bench-token")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut ready = String::new();
    out.read_line(&mut ready)?;
    let mut text = String::new();
    out.read_to_string(&mut text)?;
    consumer.wait()?;
    bridge.wait()?;
    let bridged: Value = serde_json::from_str(text.lines().last().ok_or("no consumer report")?)?;
    let (bridge_p50, bridge_p99) = percentiles(&bridged)?;
    report.figure(
        &format!("latency from the emit at {rate}/s: watch (stdout)"),
        format!("p50 {watch_p50} µs, p99 {watch_p99} µs"),
    );
    report.figure(
        &format!("latency from the emit at {rate}/s: bridge to a JetStream consumer"),
        format!("p50 {bridge_p50} µs, p99 {bridge_p99} µs"),
    );
    report.row(
        "Latency p50: watch / bridge to JetStream (the cost of durability)",
        watch_p50 as f64 / bridge_p50.max(1) as f64,
        "-",
    );

    let spaces = plan.spaces;
    step(&format!(
        "one process, one connection, {spaces} spaces: memory, subscribe, idle CPU"
    ));
    let pusher = Pusher::start(&[("--spaces", spaces)])?;
    let followed = measure(loopback().args([
        "spaces",
        "--url",
        &pusher.url,
        "--spaces",
        &spaces.to_string(),
        "--idle",
        "10",
    ]))?;
    let figure = |key: &str| followed[key].as_f64().unwrap_or(f64::NAN);
    report.figure(
        &format!("{spaces} spaces on one connection"),
        format!(
            "subscribed in {:.2} s; {:.0} bytes RSS per space; {:.2} % CPU at idle",
            figure("subscribe_seconds"),
            figure("rss_per_space_bytes"),
            figure("idle_cpu_percent")
        ),
    );
    report.section(
        "service",
        json!({
            "watch_latency_us": { "p50": watch_p50, "p99": watch_p99 },
            "bridge_latency_us": { "p50": bridge_p50, "p99": bridge_p99 },
            "rate": rate,
            "followed": followed,
        }),
    );
    Ok(())
}
