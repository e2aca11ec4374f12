//! The soak: 100 clients × 10 spaces against the simulator for N minutes, with connections
//! dropped and the server restarted at random. Checks that every event emitted while the clients
//! are subscribed arrives exactly once, in order, and reports RSS, file descriptors and tasks.
//!
//! `cargo xtask soak --minutes N` (or `cargo run --release -p spaces-events-tests --bin soak -- N`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::select_all;
use serde_json::json;
use spaces_events::client::{Client, Reconnect};
use spaces_sim::Simulator;

const CLIENTS: usize = 100;
const SPACES_PER_CLIENT: usize = 10;
const SPACES: usize = 100;

/// What each (client, space) received: event sequence numbers, in arrival order.
type Received = Arc<Mutex<HashMap<(usize, String), Vec<u64>>>>;

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
                    received
                        .lock()
                        .expect("lock")
                        .entry((c, space))
                        .or_default()
                        .push(seq);
                }
            }
        });
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
            if fastrand::u8(..10) < 7 {
                let before = sim.subscriptions();
                sim.drop_connections();
                drops += 1;
                wait_until(|| sim.subscriptions() >= before + expected_subscriptions).await;
            } else {
                drop(sim);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(200..1500))).await;
                sim = simulator.clone().start().await.expect("simulator restarts");
                restarts += 1;
                wait_until(|| sim.subscriptions() >= expected_subscriptions).await;
            }
            next_fault = Instant::now() + fault_interval();
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Every (client, space) got 0..seq exactly once, in order.
    let received = received.lock().expect("lock");
    let mut wrong = 0;
    for c in 0..CLIENTS {
        for k in 0..SPACES_PER_CLIENT {
            let got = received
                .get(&(c, space(c, k)))
                .map(Vec::as_slice)
                .unwrap_or_default();
            if !got.iter().copied().eq(0..seq) {
                wrong += 1;
                if wrong <= 3 {
                    let missing = (0..seq).filter(|n| !got.contains(n)).count();
                    eprintln!(
                        "client {c} space {}: {} received, {missing} missing, {} events expected",
                        space(c, k),
                        got.len(),
                        seq
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

fn space(client: usize, k: usize) -> String {
    format!("space-{}", (client + k * 10) % SPACES)
}

fn fault_interval() -> Duration {
    Duration::from_secs(fastrand::u64(10..20))
}

async fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "clients did not re-subscribe within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
