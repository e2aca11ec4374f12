//! Avaya Spaces media-session events into NATS JetStream, for deployments past one machine:
//! bridges hold the Spaces sockets and publish every event once to a durable stream, from which
//! any number of consumers read.
//!
//! - **Subjects**: `spaces.<topicId>.<category>`, the category's dots making subject tokens
//!   (`spaces.*.app.event.attendee.>` selects attendee events). See [`subject`] for the escaping.
//! - **Payload**: exactly the wire JSON of the event (compact, as
//!   [`MediaSessionEvent::json`] gives it), so a consumer decodes it with `spaces_events::decode`.
//! - **Headers**: `Nats-Msg-Id` = `<topicId>:<_id>` (or `<topicId>:~<digest of the payload>`
//!   without `_id`), which the stream de-duplicates within its duplicate window, so redundant
//!   bridges publish each event once; [`CATEGORY`], [`TOPIC`] and [`RECEIVED`].
//! - **Acknowledged**: each publish is awaited (pipelined, at most [`Config::in_flight`] at a
//!   time) and retried until the stream acknowledges it. While NATS is unreachable the bridge
//!   stops taking events, so the Spaces client stops reading its socket (its heartbeat goes on):
//!   nothing is dropped, nothing buffers without bound.
//! - **The meeting state** of each space, the JSON of `schema/meeting-state.schema.json`'s
//!   `MeetingSnapshot`, is kept in a key-value bucket ([`Config::meetings`], `spaces_meetings`),
//!   key = the escaped space id, so a dashboard reads or watches it without a socket.
//! - **Sharing spaces** among bridges: [`lease::Leases`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use spaces_events::client::{Client, PRODUCTION_URL};
//! use spaces_events::rest::{PRODUCTION_API_URL, Rest};
//! use spaces_events_nats::{Bridge, Config};
//!
//! let token = std::env::var("SPACES_TOKEN")?;
//! let rest = Rest::builder(PRODUCTION_API_URL).token(token.as_str()).build()?;
//! let client = Client::connect(PRODUCTION_URL, token).await?;
//! let bridge = Bridge::new(async_nats::connect("nats://127.0.0.1:4222").await?, Config::default()).await?;
//! let sources = bridge.sources();
//! sources.follow(&client, &rest, "5f1051f0f3ed772f915e19ed").await?;
//! bridge.run(tokio::signal::ctrl_c()).await?;
//! # Ok(()) }
//! ```

pub mod lease;
mod publish;
mod subject;
pub mod telemetry;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv, stream};
use futures_util::StreamExt;
use spaces_events::MediaSessionEvent;
use spaces_events::client::{Client, Error};
use spaces_events::meeting::{Followed, MeetingError};
use spaces_events::rest::Rest;
use spaces_events::types::{MeetingChange, MeetingSnapshot};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tracing::Instrument;
use tracing::{info, warn};

pub use subject::{msg_id, subject, token};

/// The header naming the event's category, as it arrived.
pub const CATEGORY: &str = "Spaces-Category";
/// The header naming the event's space (`topicId`).
pub const TOPIC: &str = "Spaces-Topic";
/// The header with when the bridge received the event, in milliseconds since the Unix epoch.
pub const RECEIVED: &str = "Spaces-Received";

/// Where and how the bridge publishes.
#[derive(Clone, Debug)]
pub struct Config {
    /// The stream, created if absent: `SPACES`.
    pub stream: String,
    /// The first subject token: `spaces` (the stream takes `spaces.>`).
    pub prefix: String,
    /// The stream's de-duplication window when the bridge creates it; an existing stream must
    /// have at least 2 minutes. Default 2 minutes.
    pub duplicate_window: Duration,
    /// Publishes awaiting their acknowledgement at most (256).
    pub in_flight: usize,
    /// The key-value bucket of the meeting states (`spaces_meetings`); `None` keeps none.
    pub meetings: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            stream: "SPACES".into(),
            prefix: "spaces".into(),
            duplicate_window: Duration::from_secs(120),
            in_flight: 256,
            meetings: Some("spaces_meetings".into()),
        }
    }
}

/// What can stop a bridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A stream of that name exists and cannot hold what the bridge publishes (its subjects,
    /// storage or duplicate window). Fix the stream or choose another name.
    #[error("stream {stream}: {reason}")]
    Stream {
        /// The stream name.
        stream: String,
        /// What does not fit.
        reason: String,
    },
    /// A JetStream request failed (NATS unreachable, JetStream not enabled, no permission).
    #[error("NATS: {0}")]
    Nats(String),
    /// The Spaces client stopped for good (e.g. the token was rejected).
    #[error("Spaces: {0}")]
    Spaces(#[from] Error),
}

fn nats(e: impl std::fmt::Display) -> BridgeError {
    BridgeError::Nats(e.to_string())
}

/// Counters, read while the bridge runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events taken from Spaces.
    pub received: AtomicU64,
    /// Events the stream acknowledged (duplicates included).
    pub acknowledged: AtomicU64,
    /// Of those, the ones the stream had already (another bridge published them first).
    pub duplicates: AtomicU64,
    /// Publishes sent again after a failed or missing acknowledgement.
    pub retries: AtomicU64,
    /// Publishes awaiting their acknowledgement now.
    pub in_flight: AtomicU64,
    /// Milliseconds from receipt to acknowledgement of the last event acknowledged.
    pub lag_ms: AtomicU64,
}

/// The latest meeting state of each space, waiting to be written, and the writer's wake-up.
type States = Arc<(Mutex<HashMap<String, MeetingSnapshot>>, Notify)>;

/// An event on its way to the stream.
struct Received {
    event: MediaSessionEvent,
    at: SystemTime,
}

/// The spaces a bridge forwards: each followed by a task of its own that feeds the bridge.
#[derive(Clone, Debug)]
pub struct Sources {
    events: mpsc::Sender<Received>,
    /// The latest meeting state of each space not written to the bucket yet (`None`: no
    /// bucket), and the writer's wake-up.
    states: Option<States>,
    fatal: mpsc::Sender<Error>,
    tasks: Arc<Mutex<HashMap<String, JoinHandle<()>>>>,
}

impl Sources {
    /// Subscribes to `space` with `client` (its meeting resynced through `rest`) and forwards
    /// its events; nothing if already followed.
    ///
    /// # Errors
    /// As `Client::follow`: a refused subscription, a closed client.
    pub async fn follow(&self, client: &Client, rest: &Rest, space: &str) -> Result<(), Error> {
        if self.tasks.lock().expect("sources lock").contains_key(space) {
            return Ok(());
        }
        let mut following = client.follow(space, rest).await?;
        let (events, states, fatal) =
            (self.events.clone(), self.states.clone(), self.fatal.clone());
        let span = tracing::info_span!("space", space);
        let task = tokio::spawn(
            async move {
                while let Some(item) = following.next().await {
                    let sent = match item {
                        Ok(Followed::Event(event)) => {
                            let at = SystemTime::now();
                            telemetry::received(&event, at);
                            events.send(Received { event, at }).await.is_ok()
                        }
                        Ok(Followed::Change(change)) => {
                            telemetry::changed(&change);
                            // Only the latest state matters: a burst of changes is one write.
                            if let Some(states) = &states {
                                let MeetingChange { space, state, .. } = *change;
                                states.0.lock().expect("states lock").insert(space, state);
                                states.1.notify_one();
                            }
                            true
                        }
                        Err(MeetingError::Socket(e)) if e.is_fatal() => {
                            let _ = fatal.send(e).await;
                            false
                        }
                        Err(e) => {
                            telemetry::failed(&e);
                            warn!(error = %e, "skipped");
                            true
                        }
                    };
                    if !sent {
                        break;
                    }
                }
            }
            .instrument(span),
        );
        self.tasks
            .lock()
            .expect("sources lock")
            .insert(space.to_owned(), task);
        Ok(())
    }

    /// Stops forwarding `space` (it is unsubscribed).
    pub fn stop(&self, space: &str) {
        if let Some(task) = self.tasks.lock().expect("sources lock").remove(space) {
            task.abort();
        }
    }

    /// Stops forwarding every space.
    fn stop_all(&self) {
        for (_, task) in self.tasks.lock().expect("sources lock").drain() {
            task.abort();
        }
    }

    /// The spaces followed now.
    pub fn spaces(&self) -> Vec<String> {
        let mut spaces: Vec<String> = self
            .tasks
            .lock()
            .expect("sources lock")
            .keys()
            .cloned()
            .collect();
        spaces.sort();
        spaces
    }
}

/// A bridge: see the crate docs.
#[derive(Debug)]
pub struct Bridge {
    js: jetstream::Context,
    config: Config,
    meetings: Option<kv::Store>,
    stats: Arc<Stats>,
    sources: Sources,
    inbox: tokio::sync::Mutex<Inbox>,
}

#[derive(Debug)]
struct Inbox {
    events: mpsc::Receiver<Received>,
    fatal: mpsc::Receiver<Error>,
}

impl Bridge {
    /// Makes sure the stream (and the meetings bucket) exist, creating them if absent.
    ///
    /// # Errors
    /// [`BridgeError::Stream`] for an existing stream that does not fit, [`BridgeError::Nats`].
    pub async fn new(client: async_nats::Client, config: Config) -> Result<Bridge, BridgeError> {
        let js = jetstream::new(client);
        ensure_stream(&js, &config).await?;
        let meetings = match &config.meetings {
            Some(bucket) => Some(
                js.create_or_update_key_value(kv::Config {
                    bucket: bucket.clone(),
                    description: "Avaya Spaces meeting state per space (spaces-events)".into(),
                    history: 1,
                    storage: stream::StorageType::File,
                    ..kv::Config::default()
                })
                .await
                .map_err(nats)?,
            ),
            None => None,
        };
        let (events, events_rx) = mpsc::channel(config.in_flight.max(1));
        let (fatal, fatal_rx) = mpsc::channel(1);
        Ok(Bridge {
            js,
            config,
            stats: Arc::default(),
            sources: Sources {
                events,
                states: meetings.is_some().then(Arc::default),
                fatal,
                tasks: Arc::default(),
            },
            meetings,
            inbox: tokio::sync::Mutex::new(Inbox {
                events: events_rx,
                fatal: fatal_rx,
            }),
        })
    }

    /// Where spaces are added and removed, also while the bridge runs.
    pub fn sources(&self) -> Sources {
        self.sources.clone()
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The JetStream context (for leases in the same account).
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Publishes every event the sources give, and keeps the meeting states, until `stop`
    /// resolves; then stops reading Spaces and publishes what was received, waiting (up to 5 s
    /// in all) for every acknowledgement.
    ///
    /// # Errors
    /// [`BridgeError::Spaces`] when the Spaces client stopped for good.
    pub async fn run(&self, stop: impl Future) -> Result<(), BridgeError> {
        let mut inbox = self.inbox.lock().await;
        let Inbox { events, fatal } = &mut *inbox;
        let mut out = publish::Pipeline::new(&self.js, &self.config, &self.stats);
        // The meeting states are written beside the publishes, never holding them up.
        let (done, finished) = tokio::sync::oneshot::channel();
        let writer = match (&self.meetings, &self.sources.states) {
            (Some(bucket), Some(states)) => Some(tokio::spawn(write_states(
                bucket.clone(),
                states.clone(),
                finished,
            ))),
            _ => None,
        };
        tokio::pin!(stop);
        let result = loop {
            // Not borrowed across the select (the pipeline is not `Sync`).
            let room = out.has_room();
            tokio::select! {
                biased;
                _ = &mut stop => break Ok(()),
                Some(error) = fatal.recv() => break Err(BridgeError::Spaces(error)),
                () = out.acknowledged() => {}
                Some(received) = events.recv(), if room => {
                    self.stats.received.fetch_add(1, Ordering::Relaxed);
                    out.publish(received.event, received.at).await;
                }
            }
        };
        // Stop reading; what was received is published and acknowledged before the end.
        self.sources.stop_all();
        info!(
            in_flight = out.len(),
            "stopping: publishing what was received"
        );
        let finish = async {
            while let Ok(received) = events.try_recv() {
                while !out.has_room() {
                    out.acknowledged().await;
                }
                self.stats.received.fetch_add(1, Ordering::Relaxed);
                out.publish(received.event, received.at).await;
            }
            out.drain().await;
        };
        if tokio::time::timeout(Duration::from_secs(5), finish)
            .await
            .is_err()
        {
            warn!(
                in_flight = out.len(),
                "stopped with publishes unacknowledged"
            );
        }
        if let Some(writer) = writer {
            let _ = done.send(());
            let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        }
        result
    }
}

/// Writes the latest meeting state of each space that changed, about every 100 ms (a burst of
/// changes is one write), and once more when `finished`. What NATS does not take now is written
/// at a later turn, unless a newer state came meanwhile.
async fn write_states(
    bucket: kv::Store,
    states: States,
    mut finished: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let last = tokio::select! {
            () = states.1.notified() => false,
            _ = &mut finished => true,
        };
        if !last {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let batch = std::mem::take(&mut *states.0.lock().expect("states lock"));
        for (space, state) in batch {
            let json = serde_json::to_vec(&state).expect("a generated type serializes");
            let put = tokio::time::timeout(
                Duration::from_secs(2),
                bucket.put(token(&space), json.into()),
            );
            if !matches!(put.await, Ok(Ok(_))) {
                warn!(space, "meeting state not written yet");
                states
                    .0
                    .lock()
                    .expect("states lock")
                    .entry(space)
                    .or_insert(state);
                states.1.notify_one();
            }
        }
        if last {
            return;
        }
    }
}

/// Creates the stream if absent; checks an existing one can hold the bridge's messages.
async fn ensure_stream(js: &jetstream::Context, config: &Config) -> Result<(), BridgeError> {
    let subjects = format!("{}.>", config.prefix);
    let bad = |reason: String| BridgeError::Stream {
        stream: config.stream.clone(),
        reason,
    };
    match js.get_stream(&config.stream).await {
        Ok(mut existing) => {
            let info = existing.info().await.map_err(nats)?;
            let c = &info.config;
            if !c.subjects.contains(&subjects) {
                return Err(bad(format!(
                    "its subjects {:?} do not include {subjects}",
                    c.subjects
                )));
            }
            if c.duplicate_window < Duration::from_secs(120) {
                return Err(bad(format!(
                    "its duplicate window is {:?}; redundant bridges need at least 2 minutes",
                    c.duplicate_window
                )));
            }
            Ok(())
        }
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(j)
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            js.create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![subjects],
                storage: stream::StorageType::File,
                duplicate_window: config.duplicate_window.max(Duration::from_secs(120)),
                description: Some(
                    "Avaya Spaces media-session events (spaces-events bridge)".into(),
                ),
                ..stream::Config::default()
            })
            .await
            .map_err(nats)?;
            info!(stream = config.stream, "stream created");
            Ok(())
        }
        Err(e) => Err(nats(e)),
    }
}

/// Milliseconds since the Unix epoch.
fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
