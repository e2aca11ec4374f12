//! [`Events`]: a subscription's events, a meeting's changes or every raw event, handed to
//! Python in batches through a [`Pending`].

use std::sync::Arc;

use futures_util::FutureExt;
use pyo3::prelude::*;
use spaces_events::MediaSessionEvent;
use spaces_events::client::{Error, RawEvent, RawEvents, Subscription};
use spaces_events::meeting::{Meeting, MeetingError};
use spaces_events::types::MeetingChange;

use crate::client::{Outcome, Pending};

/// What an [`Events`] reads: a subscription's events, a meeting's changes, or every raw event.
pub(crate) enum Source {
    Media(Subscription),
    Meeting(Meeting),
    Raw(RawEvents),
}

/// Events handed to Python in batches.
#[pyclass(frozen, module = "spaces_events._native")]
pub(crate) struct Events {
    /// The space id; empty for raw events.
    space: String,
    inner: Arc<tokio::sync::Mutex<Queue>>,
}

struct Queue {
    source: Source,
    /// A fatal error found while filling a batch: the next batch raises it.
    error: Option<Error>,
}

impl Events {
    pub(crate) fn new(source: Source) -> Self {
        let space = match &source {
            Source::Media(subscription) => subscription.space_id().to_owned(),
            Source::Meeting(meeting) => meeting.space_id().to_owned(),
            Source::Raw(_) => String::new(),
        };
        Events {
            space,
            inner: Arc::new(tokio::sync::Mutex::new(Queue {
                source,
                error: None,
            })),
        }
    }
}

/// Up to `max` items: waits for the first, then takes what is already there; empty at the end.
async fn next_batch(inner: Arc<tokio::sync::Mutex<Queue>>, max: usize) -> Outcome {
    let mut queue = inner.lock().await;
    let Queue { source, error } = &mut *queue;
    let batch = match source {
        Source::Media(subscription) => fill(subscription, max, error, |item| match item {
            Err(fatal) if fatal.is_fatal() => Err(fatal),
            item => Ok(item),
        })
        .await
        .map(Outcome::Batch),
        Source::Meeting(meeting) => fill(meeting, max, error, |item| match item {
            Ok(change) => Ok(Ok(
                serde_json::to_string(&change).expect("a generated type serializes")
            )),
            Err(MeetingError::Socket(fatal)) if fatal.is_fatal() => Err(fatal),
            Err(e) => Ok(Err(e.to_string())),
        })
        .await
        .map(Outcome::Changes),
        Source::Raw(raw) => fill(raw, max, error, Ok).await.map(Outcome::RawBatch),
    };
    batch.unwrap_or_else(Outcome::Failed)
}

/// What a batch is filled from.
trait Receive {
    type Item;
    fn receive(&mut self) -> impl Future<Output = Option<Self::Item>> + Send;
}

impl Receive for Subscription {
    type Item = Result<MediaSessionEvent, Error>;
    fn receive(&mut self) -> impl Future<Output = Option<Self::Item>> + Send {
        self.recv()
    }
}

impl Receive for Meeting {
    type Item = Result<MeetingChange, MeetingError>;
    fn receive(&mut self) -> impl Future<Output = Option<Self::Item>> + Send {
        self.recv()
    }
}

impl Receive for RawEvents {
    type Item = RawEvent;
    fn receive(&mut self) -> impl Future<Output = Option<Self::Item>> + Send {
        self.recv()
    }
}

/// Up to `max` entries that `take` makes of `source`'s items: waits for the first item, then
/// takes what is already there. A fatal error `take` gives back ends the batch: returned at
/// once when the batch is empty, else kept in `error` and returned by the next call.
async fn fill<S: Receive, T>(
    source: &mut S,
    max: usize,
    error: &mut Option<Error>,
    mut take: impl FnMut(S::Item) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    if let Some(fatal) = error.take() {
        return Err(fatal);
    }
    let mut batch = Vec::new();
    let mut next = source.receive().await;
    while let Some(item) = next {
        match take(item) {
            Ok(entry) => batch.push(entry),
            Err(fatal) if batch.is_empty() => return Err(fatal),
            Err(fatal) => {
                *error = Some(fatal);
                break;
            }
        }
        if batch.len() >= max {
            break;
        }
        next = source.receive().now_or_never().flatten();
    }
    Ok(batch)
}

#[pymethods]
impl Events {
    /// The space id.
    #[getter]
    fn space(&self) -> &str {
        &self.space
    }

    /// The next batch of at most `max` events; `[]` when the subscription ended.
    fn next_batch(&self, max: usize) -> PyResult<Pending> {
        Pending::spawn(next_batch(self.inner.clone(), max.max(1)))
    }
}
