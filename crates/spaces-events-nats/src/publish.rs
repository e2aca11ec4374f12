//! The publish pipeline: publishes in order, keeps up to `in_flight` awaiting their
//! acknowledgement, and sends again, in order, from the first one not acknowledged.
//!
//! The stream keeps the order of arrival, except across a failure: if message k is lost while
//! k+1 is stored, k is stored after k+1 when it is sent again (the price of pipelining; a
//! consumer that needs strict order sorts by `Spaces-Received` within a space).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishError;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{self};
use bytes::Bytes;
use spaces_events::MediaSessionEvent;
use tracing::warn;

use crate::{CATEGORY, Config, RECEIVED, Stats, TOPIC, epoch_ms, msg_id, subject};

/// async-nats' own acknowledgement future (already boxed: no second box of ours).
type Ack = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// A message and, once sent, its acknowledgement to come (`None`: to be sent again).
struct Pending {
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
    at: SystemTime,
    ack: Option<Ack>,
}

pub(crate) struct Pipeline<'a> {
    js: &'a jetstream::Context,
    prefix: &'a str,
    cap: usize,
    stats: &'a Stats,
    queue: VecDeque<Pending>,
    /// Failed acknowledgements in a row (for the backoff).
    failures: u32,
}

impl<'a> Pipeline<'a> {
    pub(crate) fn new(js: &'a jetstream::Context, config: &'a Config, stats: &'a Stats) -> Self {
        Pipeline {
            js,
            prefix: &config.prefix,
            cap: config.in_flight.max(1),
            stats,
            queue: VecDeque::new(),
            failures: 0,
        }
    }

    /// Whether another publish may go out.
    pub(crate) fn has_room(&self) -> bool {
        self.queue.len() < self.cap
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Sends `event` to the stream.
    pub(crate) async fn publish(&mut self, event: MediaSessionEvent, at: SystemTime) {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id(&event).as_str());
        headers.insert(CATEGORY, event.category_name());
        headers.insert(TOPIC, event.topic_id().unwrap_or_default());
        headers.insert(RECEIVED, epoch_ms(at).to_string().as_str());
        let mut pending = Pending {
            subject: subject(self.prefix, &event),
            headers,
            // The event's own bytes, shared (no copy).
            payload: event.to_bytes(),
            at,
            ack: None,
        };
        let (subject, message) = pending.message();
        pending.ack = Some(send(self.js, subject, message).await);
        self.queue.push_back(pending);
        self.stats
            .in_flight
            .store(self.queue.len() as u64, Ordering::Relaxed);
    }

    /// Resolves once the oldest publish is acknowledged (it leaves the queue), or after it
    /// failed and everything from it on was sent again (after a backoff). Never resolves while
    /// nothing is in flight. Cancel-safe: an acknowledgement under way stays in the queue.
    pub(crate) async fn acknowledged(&mut self) {
        let Some(front) = self.queue.front_mut() else {
            return std::future::pending().await;
        };
        let Some(ack) = front.ack.as_mut() else {
            return self.resend().await;
        };
        match ack.as_mut().await {
            Ok(ack) => {
                let done = self.queue.pop_front().expect("the front was there");
                self.failures = 0;
                let stats = self.stats;
                stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                if ack.duplicate {
                    stats.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                let lag = SystemTime::now()
                    .duration_since(done.at)
                    .unwrap_or_default();
                stats
                    .lag_ms
                    .store(lag.as_millis() as u64, Ordering::Relaxed);
                crate::telemetry::published(lag, ack.duplicate);
                stats
                    .in_flight
                    .store(self.queue.len() as u64, Ordering::Relaxed);
            }
            Err(error) => {
                front.ack = None;
                self.failures += 1;
                warn!(%error, in_flight = self.queue.len(), "a publish was not acknowledged; sending again");
            }
        }
    }

    /// After a backoff, sends every queued message again, in order (the stream drops those it
    /// already has: same `Nats-Msg-Id`).
    async fn resend(&mut self) {
        let delay = Duration::from_millis(100 << self.failures.min(5)).min(Duration::from_secs(2));
        tokio::time::sleep(delay).await;
        for pending in &mut self.queue {
            let (subject, message) = pending.message();
            pending.ack = Some(send(self.js, subject, message).await);
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Until every publish is acknowledged.
    pub(crate) async fn drain(&mut self) {
        while !self.queue.is_empty() {
            self.acknowledged().await;
        }
    }
}

impl Pending {
    /// What to send (made before any await: a `Pending` is not `Sync`).
    fn message(&self) -> (String, PublishMessage) {
        let message = PublishMessage::build()
            .payload(self.payload.clone())
            .headers(self.headers.clone());
        (self.subject.clone(), message)
    }
}

async fn send(js: &jetstream::Context, subject: String, message: PublishMessage) -> Ack {
    match js.send_publish(subject, message).await {
        Ok(ack) => ack.into_future(),
        Err(e) => Box::pin(std::future::ready(Err(e))),
    }
}
