//! The loopback client benchmarks, run by `cargo xtask bench`: a pusher that speaks just enough
//! Engine.IO 3 / Socket.IO 2 to feed pre-encoded MEDIA_SESSION_RESPONSE frames faster than any
//! client reads them, and the Rust clients measured against it.
//!
//! ```text
//! loopback push --payload FILE [--count N] [--rate R] [--spaces S]   prints {"port":P}
//!     (FILE: one payload, or a JSON array of payloads sent in turn)
//! loopback rust --url URL --count N [--spaces S] [--read-buffer BYTES]   our client, typed decode
//! loopback raw --url URL --count N                 tokio-tungstenite, frames counted, no decode
//!     (also against the Node socket.io 2.0.4 peer: the token is in the query)
//! loopback idle --url URL --connections N          RSS per idle, subscribed connection
//! loopback spaces --url URL --spaces S --idle SECS  one connection: subscribe S spaces (timed),
//!     RSS per followed space, then CPU while idle (heartbeats only) for SECS
//! loopback watch --bin PATH --url URL --count N     `PATH watch --format jsonl`: latency per line
//! loopback jetstream --nats URL --count N           an ordered JetStream consumer of `SPACES`:
//!     latency per message (for the bridge, from the pusher's send to the consumer)
//! ```
//!
//! The pusher serves every connection alike: the open packet, `40` for `/` and `/chat`,
//! CHANNEL_SUBSCRIBED for each SUBSCRIBE_CHANNEL, pongs; once `S` spaces are subscribed it
//! sends `N` events round-robin to spaces `space-0`…, as fast as the socket takes them, or at
//! `R` per second with the send time in `_id` (CLOCK_MONOTONIC µs). Clients print one JSON
//! object: `{"count", "seconds" (first to last event), "latency_us": [...]}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Result {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let mut opts = HashMap::new();
    while let (Some(key), Some(value)) = (args.next(), args.next()) {
        opts.insert(key.trim_start_matches("--").to_owned(), value);
    }
    let get = |key: &str| opts.get(key).cloned().ok_or(format!("--{key} is missing"));
    let num = |key: &str, default: usize| opts.get(key).map_or(Ok(default), |v| v.parse());
    let report = match mode.as_str() {
        "push" => {
            return push(Push::new(
                &get("payload")?,
                num("count", 0)?,
                num("rate", 0)?,
                num("spaces", 1)?,
            )?)
            .await;
        }
        "rust" => {
            ours(
                &get("url")?,
                num("count", 0)?,
                num("spaces", 1)?,
                num("read-buffer", 0)?,
            )
            .await?
        }
        "raw" => raw(&get("url")?, num("count", 0)?).await?,
        "idle" => idle(&get("url")?, num("connections", 1000)?).await?,
        "spaces" => spaces(&get("url")?, num("spaces", 10_000)?, num("idle", 10)?).await?,
        "watch" => watch(&get("bin")?, &get("url")?, num("count", 0)?).await?,
        "jetstream" => jetstream(&get("nats")?, num("count", 0)?).await?,
        _ => {
            return Err(
                "usage: loopback push|rust|raw|idle|spaces|watch|jetstream [--key value]...".into(),
            );
        }
    };
    println!("{report}");
    Ok(())
}

/// CLOCK_MONOTONIC in µs: the clock Python (`time.monotonic_ns`) and Node (`process.hrtime`)
/// read too, so the clients of every language measure latency against the pusher's send time.
fn now_us() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1_000
}

struct Push {
    count: usize,
    rate: usize,
    spaces: usize,
    /// Per payload, then per space: the frame before and after the value of `_id`; frame `n`
    /// is `n % frames.len()`, so spaces go round-robin and payloads in turn.
    frames: Vec<(String, String)>,
    /// The same frames with `_id` `t`, encoded once: the bulk sends clone them.
    bulk: Vec<Utf8Bytes>,
}

impl Push {
    fn new(payload: &str, count: usize, rate: usize, spaces: usize) -> Result<Self> {
        let payloads = match serde_json::from_slice(&std::fs::read(payload)?)? {
            Value::Array(payloads) => payloads,
            payload => vec![payload],
        };
        let mut frames = Vec::new();
        for mut payload in payloads {
            for space in 0..spaces {
                payload["topicId"] = json!(format!("space-{space}"));
                payload["_id"] = json!("@ID@");
                let frame = format!("42/chat,[\"MEDIA_SESSION_RESPONSE\",{payload}]");
                let (head, tail) = frame.split_once("@ID@").expect("the placeholder");
                frames.push((head.to_owned(), tail.to_owned()));
            }
        }
        let bulk = frames
            .iter()
            .map(|(head, tail)| format!("{head}t{tail}").into())
            .collect();
        Ok(Self {
            count,
            rate,
            spaces,
            frames,
            bulk,
        })
    }

    fn frame(&self, n: usize, id: &str) -> Utf8Bytes {
        let (head, tail) = &self.frames[n % self.frames.len()];
        format!("{head}{id}{tail}").into()
    }
}

async fn push(push: Push) -> Result {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", json!({ "port": listener.local_addr()?.port() }));
    let push = Arc::new(push);
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(serve(tcp, push.clone()));
    }
}

async fn serve(tcp: TcpStream, push: Arc<Push>) -> Result {
    tcp.set_nodelay(true)?;
    let ws = tokio_tungstenite::accept_async(tcp).await?;
    let (mut tx, mut rx) = ws.split();
    tx.send(text(
        r#"0{"sid":"bench","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#,
    ))
    .await?;
    tx.send(text("40")).await?;
    let (replies, mut pending) = mpsc::unbounded_channel();
    let ready = Arc::new(Notify::new());
    let (spaces, notify) = (push.spaces, ready.clone());
    tokio::spawn(async move {
        let mut subscribed = 0;
        while let Some(Ok(message)) = rx.next().await {
            let Message::Text(frame) = message else {
                continue;
            };
            let reply = if &*frame == "2" {
                "3".to_owned()
            } else if frame.starts_with("40/chat") {
                "40/chat".to_owned()
            } else if let Some(args) = frame.strip_prefix("42/chat,") {
                let args: Value = serde_json::from_str(args).unwrap_or_default();
                if args[0] != "SUBSCRIBE_CHANNEL" {
                    continue;
                }
                let channel = json!({ "channel": { "_id": args[1]["channel"]["_id"] } });
                subscribed += 1;
                if subscribed == spaces {
                    notify.notify_one();
                }
                format!("42/chat,[\"CHANNEL_SUBSCRIBED\",{channel}]")
            } else {
                continue;
            };
            if replies.send(text(&reply)).is_err() {
                break;
            }
        }
    });
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / push.rate.max(1) as u32);
    loop {
        tokio::select! {
            reply = pending.recv() => match reply {
                Some(reply) => tx.send(reply).await?,
                None => return Ok(()),
            },
            () = ready.notified(), if sent == 0 && push.count > 0 => {
                while sent < push.count {
                    if push.rate > 0 {
                        tick.tick().await;
                        tx.send(Message::Text(push.frame(sent, &now_us().to_string()))).await?;
                    } else {
                        tx.feed(Message::Text(push.bulk[sent % push.bulk.len()].clone())).await?;
                        if sent % 64 == 63 {
                            tx.flush().await?;
                        }
                    }
                    sent += 1;
                    while let Ok(reply) = pending.try_recv() {
                        tx.feed(reply).await?;
                    }
                }
                tx.flush().await?;
            }
        }
    }
}

fn text(s: &str) -> Message {
    Message::Text(s.into())
}

/// What every client reports: events, seconds from the first to the last, latencies.
#[derive(Default)]
struct Tally {
    count: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    latency_us: Vec<u64>,
}

impl Tally {
    fn event(&mut self, id: Option<&str>) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.count += 1;
        if let Some(sent) = id.and_then(|id| id.parse::<u64>().ok()) {
            self.latency_us.push(now_us().saturating_sub(sent));
        }
    }

    fn report(&self, extra: Value) -> Value {
        let seconds = match (self.first, self.last) {
            (Some(first), Some(last)) => (last - first).as_secs_f64(),
            _ => 0.0,
        };
        let mut report =
            json!({ "count": self.count, "seconds": seconds, "latency_us": self.latency_us });
        if let (Some(report), Value::Object(extra)) = (report.as_object_mut(), extra) {
            report.extend(extra);
        }
        report
    }
}

/// Subscribes to `space-0`… `space-{spaces - 1}` at once (pipelined); the seconds it took.
async fn subscribe_all(
    client: &spaces_events::client::Client,
    spaces: usize,
) -> Result<(Vec<spaces_events::client::Subscription>, f64)> {
    let start = Instant::now();
    let subscriptions = futures_util::future::try_join_all(
        (0..spaces).map(|n| async move { client.subscribe(&format!("space-{n}")).await }),
    )
    .await?;
    Ok((subscriptions, start.elapsed().as_secs_f64()))
}

/// Our client: subscribes to `spaces` spaces at once (timed), then takes `count` typed events.
/// `read_buffer` 0 keeps the client's default.
async fn ours(url: &str, count: usize, spaces: usize, read_buffer: usize) -> Result<Value> {
    let mut builder = spaces_events::client::Client::builder(url, "bench-token");
    if read_buffer > 0 {
        builder = builder.read_buffer(read_buffer);
    }
    let client = builder.connect().await?;
    let (subscriptions, subscribe_seconds) = subscribe_all(&client, spaces).await?;
    let mut events = futures_util::stream::select_all(subscriptions);
    let mut tally = Tally::default();
    while tally.count < count {
        let event = events.next().await.ok_or("the subscriptions ended")??;
        tally.event(event.id());
    }
    client.close().await;
    Ok(tally.report(json!({ "spaces": spaces, "subscribe_seconds": subscribe_seconds })))
}

/// The limit: a websocket reader that does only what any client must (read frames, find the
/// event's `_id`), no Socket.IO, no decode.
async fn raw(url: &str, count: usize) -> Result<Value> {
    let url = url.replace("http://", "ws://").replace(
        "/chat",
        "/socket.io/?EIO=3&transport=websocket&token=bench-token&tokenType=jwt",
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    ws.send(text("40/chat,")).await?;
    // socket.io 2.0.4 drops events sent before it has acknowledged the namespace.
    while !matches!(ws.next().await.ok_or("the server closed")??, Message::Text(f) if f.starts_with("40/chat"))
    {
    }
    ws.send(text(
        r#"42/chat,["SUBSCRIBE_CHANNEL",{"channel":{"_id":"space-0","type":"topic"}}]"#,
    ))
    .await?;
    let mut tally = Tally::default();
    while tally.count < count {
        let Message::Text(frame) = ws.next().await.ok_or("the server closed")?? else {
            continue;
        };
        if frame.starts_with("42/chat,[\"MEDIA_SESSION_RESPONSE\"") {
            let id = frame
                .split_once(r#""_id":""#)
                .and_then(|(_, rest)| rest.split_once('"'));
            tally.event(id.map(|(id, _)| id));
        }
    }
    Ok(tally.report(json!({})))
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("VmRSS")?.parse()?)
}

/// `connections` clients in this process, each subscribed to one space and idle.
async fn idle(url: &str, connections: usize) -> Result<Value> {
    let before = rss_kib()?;
    let mut live = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = spaces_events::client::Client::connect(url, "bench-token").await?;
        let subscription = client.subscribe("space-0").await?;
        live.push((client, subscription));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib()?;
    Ok(json!({
        "connections": connections,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_connection_kib": (after - before) as f64 / connections as f64,
    }))
}

/// CPU time (user and system) of this process so far.
fn cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage for the call to fill.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// One connection following `spaces` spaces: the time to subscribe them all, the memory each
/// costs, and the CPU the process uses while nothing happens but heartbeats.
async fn spaces(url: &str, spaces: usize, idle: usize) -> Result<Value> {
    let client = spaces_events::client::Client::connect(url, "bench-token").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib()?;
    let (subscriptions, subscribe_seconds) = subscribe_all(&client, spaces).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib()?;
    let (cpu_before, wall) = (cpu(), Instant::now());
    tokio::time::sleep(Duration::from_secs(idle as u64)).await;
    let idle_cpu = (cpu() - cpu_before).as_secs_f64() / wall.elapsed().as_secs_f64();
    drop(subscriptions);
    client.close().await;
    Ok(json!({
        "spaces": spaces,
        "subscribe_seconds": subscribe_seconds,
        "rss_per_space_bytes": (after.saturating_sub(before)) as f64 * 1024.0 / spaces as f64,
        "idle_cpu_percent": idle_cpu * 100.0,
    }))
}

/// `spaces-events watch --format jsonl` against the pusher: each line's latency, from the
/// pusher's send to the line read here.
async fn watch(bin: &str, url: &str, count: usize) -> Result<Value> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(bin)
        .args([
            "watch", "--url", url, "--space", "space-0", "--format", "jsonl",
        ])
        .args(["--max-events", &count.to_string()])
        .env("SPACES_TOKEN", "bench-token")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
    let mut tally = Tally::default();
    while tally.count < count {
        let line = lines.next_line().await?.ok_or("watch ended early")?;
        let payload: Value = serde_json::from_str(&line)?;
        tally.event(payload["_id"].as_str());
    }
    child.wait().await?;
    Ok(tally.report(json!({})))
}

/// An ordered consumer of the stream `SPACES` (created by the bridge; waited for): each
/// message's latency from the pusher's send to its delivery here.
async fn jetstream(nats: &str, count: usize) -> Result<Value> {
    let js = async_nats::jetstream::new(async_nats::connect(nats).await?);
    let stream = loop {
        if let Ok(stream) = js.get_stream("SPACES").await {
            break stream;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    println!("{}", json!({ "ready": true }));
    let mut tally = Tally::default();
    while tally.count < count {
        let message = messages.next().await.ok_or("the consumer ended")??;
        let payload: Value = serde_json::from_slice(&message.payload)?;
        tally.event(payload["_id"].as_str());
    }
    Ok(tally.report(json!({})))
}
