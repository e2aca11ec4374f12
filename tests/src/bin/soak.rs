//! The soak: 100 clients × 10 spaces against the simulator for N minutes, with connections
//! dropped and the server restarted at random. Checks that every event emitted while the clients
//! are subscribed arrives exactly once, in order, and reports RSS, file descriptors and tasks.
//!
//! `cargo xtask soak --minutes N` (or `cargo run --release -p spaces-events-tests --bin soak -- N`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::select_all;
use serde_json::json;
use spaces_events::client::{Client, ConnectionState, Reconnect, StateChanges};
use spaces_sim::Simulator;

const CLIENTS: usize = 100;
const SPACES_PER_CLIENT: usize = 10;
const SPACES: usize = 100;

/// What each (client, space) received, checked as it arrives: the next sequence number expected,
/// and how many arrived out of turn (missing, repeated or reordered). Constant memory, so RSS
/// measures the client, not this bookkeeping.
type Received = Arc<Mutex<HashMap<(usize, String), Stream>>>;

#[derive(Default)]
struct Stream {
    next: u64,
    wrong: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let minutes: f64 = std::env::args()
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(1.0);
    let run_for = Duration::from_secs_f64(minutes * 60.0);
    let simulator = Simulator::new().heartbeat(Duration::from_secs(1), Duration::from_secs(2));
    let mut sim = simulator.clone().start().await.expect("simulator starts");
    let addr: std::net::SocketAddr = sim
        .url()
        .trim_start_matches("http://")
        .trim_end_matches("/chat")
        .parse()
        .expect("addr");
    let simulator = simulator.addr(addr);
    let received: Received = Arc::default();
    let mut clients = Vec::new();
    // How many times each client has (re)connected: a fault is over when every one did again.
    let mut generations: Vec<Arc<AtomicUsize>> = Vec::new();
    for c in 0..CLIENTS {
        let client = Client::builder(sim.url(), sim.token())
            .reconnect(Reconnect {
                initial_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(2),
                ..Reconnect::default()
            })
            .connect()
            .await
            .expect("client connects");
        let mut subs = Vec::new();
        for k in 0..SPACES_PER_CLIENT {
            subs.push(client.subscribe(&space(c, k)).await.expect("subscribes"));
        }
        let received = received.clone();
        tokio::spawn(async move {
            let mut events = select_all(subs);
            while let Some(item) = events.next().await {
                if let Ok(event) = item {
                    let seq = event
                        .id()
                        .and_then(|id| id.parse().ok())
                        .unwrap_or(u64::MAX);
                    let space = event.topic_id().unwrap_or_default().to_owned();
                    let mut received = received.lock().expect("lock");
                    let stream = received.entry((c, space)).or_default();
                    if seq == stream.next {
                        stream.next += 1;
                    } else {
                        stream.wrong += 1;
                        stream.next = seq.saturating_add(1);
                    }
                }
            }
        });
        let generation = Arc::new(AtomicUsize::new(0));
        tokio::spawn(count_connects(client.state_changes(), generation.clone()));
        generations.push(generation);
        clients.push(client);
    }
    let expected_subscriptions = CLIENTS * SPACES_PER_CLIENT;
    let baseline_fds = fds();
    let baseline_tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let started = Instant::now();
    let mut rss = Vec::new();
    let (mut seq, mut drops, mut restarts) = (0u64, 0u32, 0u32);
    let mut next_fault = Instant::now() + fault_interval();
    let quick_faults =
        std::env::var_os("SOAK_FAULT_EVERY_SECS").and_then(|s| s.to_str()?.parse::<u64>().ok());
    let mut next_sample = Instant::now();
    while started.elapsed() < run_for {
        for s in 0..SPACES {
            sim.emit("MEDIA_SESSION_RESPONSE", &json!({ "_id": seq.to_string(), "topicId": format!("space-{s}"), "category": "tracksstatus" })).await;
        }
        seq += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        if Instant::now() >= next_sample {
            rss.push((started.elapsed().as_secs(), rss_kib()));
            next_sample += Duration::from_secs(10);
        }
        if Instant::now() >= next_fault {
            // Let in-flight events arrive, then break things; emit again once all re-subscribed.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let fault = Instant::now();
            let connects: Vec<usize> = generations
                .iter()
                .map(|g| g.load(Ordering::SeqCst))
                .collect();
            let (kind, target) = if fastrand::u8(..10) < 7 {
                let before = sim.subscriptions();
                sim.drop_connections();
                drops += 1;
                ("drop", before + expected_subscriptions)
            } else {
                drop(sim);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(200..1500))).await;
                sim = simulator.clone().start().await.expect("simulator restarts");
                restarts += 1;
                ("restart", expected_subscriptions)
            };
            let all_back = || {
                generations
                    .iter()
                    .zip(&connects)
                    .all(|(g, &before)| g.load(Ordering::SeqCst) > before)
                    && sim.subscriptions() >= target
            };
            if !wait_until(all_back).await {
                let stuck: Vec<String> = clients
                    .iter()
                    .zip(&generations)
                    .zip(&connects)
                    .enumerate()
                    .filter(|(_, ((_, g), before))| g.load(Ordering::SeqCst) <= **before)
                    .map(|(i, ((c, _), _))| format!("client {i}: {:?}", c.state()))
                    .collect();
                eprintln!(
                    "after a {kind} at {:?}: {} of {target} subscriptions in 60 s; clients that did not reconnect: {stuck:?}",
                    started.elapsed(),
                    sim.subscriptions()
                );
                std::process::exit(1);
            }
            eprintln!(
                "{:>6.0} s: {kind}, all re-subscribed in {:?}",
                started.elapsed().as_secs_f64(),
                fault.elapsed()
            );
            next_fault =
                Instant::now() + quick_faults.map_or_else(fault_interval, Duration::from_secs);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Every (client, space) got 0..seq exactly once, in order.
    let received = received.lock().expect("lock");
    let mut wrong = 0;
    for c in 0..CLIENTS {
        for k in 0..SPACES_PER_CLIENT {
            let (next, out_of_turn) = received
                .get(&(c, space(c, k)))
                .map_or((0, 0), |s| (s.next, s.wrong));
            if next != seq || out_of_turn > 0 {
                wrong += 1;
                if wrong <= 3 {
                    eprintln!(
                        "client {c} space {}: next expected {next} of {seq}, {out_of_turn} out of turn",
                        space(c, k)
                    );
                }
            }
        }
    }
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let (first, last, max) = (
        rss.first().map_or(0, |r| r.1),
        rss.last().map_or(0, |r| r.1),
        rss.iter().map(|r| r.1).max().unwrap_or(0),
    );
    let minute = rss.iter().find(|r| r.0 >= 60).map_or(first, |r| r.1);
    println!(
        "soak: {:.1} min, {CLIENTS} clients x {SPACES_PER_CLIENT} spaces, {drops} drops, {restarts} restarts",
        started.elapsed().as_secs_f64() / 60.0
    );
    println!(
        "events: {seq} per space, {} deliveries expected, streams wrong: {wrong}",
        seq as usize * expected_subscriptions
    );
    println!("RSS KiB: first {first}, after 1 min {minute}, last {last}, max {max}");
    println!(
        "fds: {baseline_fds} -> {}, tasks: {baseline_tasks} -> {tasks}",
        fds()
    );
    let leaked = fds() > baseline_fds + 8 || tasks > baseline_tasks + 8;
    if wrong > 0 || leaked {
        std::process::exit(1);
    }
}

/// Counts the client's transitions to `Connected`.
async fn count_connects(states: StateChanges, generation: Arc<AtomicUsize>) {
    // The first is the state now, not a change.
    let mut states = states.skip(1);
    while let Some(state) = states.next().await {
        if matches!(state, ConnectionState::Connected) {
            generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn space(client: usize, k: usize) -> String {
    format!("space-{}", (client + k * 10) % SPACES)
}

fn fault_interval() -> Duration {
    Duration::from_secs(fastrand::u64(10..20))
}

/// Waits up to 60 s for `done`; whether it came.
async fn wait_until(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").parse().unwrap_or(0))
            })
        })
        .unwrap_or(0)
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}
