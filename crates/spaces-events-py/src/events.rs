//! [`Events`]: a subscription's events, a meeting's changes or every raw event, handed to
//! Python in batches through a [`Pending`].

use std::sync::Arc;

use futures_util::FutureExt;
use pyo3::prelude::*;
use spaces_events::client::{Error, RawEvents, Subscription};
use spaces_events::meeting::{Meeting, MeetingError};

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
    let subscription = match source {
        Source::Media(subscription) => subscription,
        Source::Meeting(meeting) => return meeting_batch(meeting, error, max).await,
        Source::Raw(raw) => {
            let mut batch = Vec::new();
            let mut next = raw.recv().await;
            while let Some(event) = next {
                batch.push(event);
                if batch.len() >= max {
                    break;
                }
                next = raw.recv().now_or_never().flatten();
            }
            return Outcome::RawBatch(batch);
        }
    };
    if let Some(error) = error.take() {
        return Outcome::Failed(error);
    }
    let mut batch = Vec::new();
    let mut next = subscription.recv().await;
    while let Some(item) = next {
        match item {
            Err(fatal) if fatal.is_fatal() && batch.is_empty() => return Outcome::Failed(fatal),
            Err(fatal) if fatal.is_fatal() => {
                *error = Some(fatal);
                break;
            }
            item => batch.push(item),
        }
        if batch.len() >= max {
            break;
        }
        next = subscription.recv().now_or_never().flatten();
    }
    Outcome::Batch(batch)
}

/// Up to `max` changes of a meeting: waits for the first, then takes what is already there.
async fn meeting_batch(meeting: &mut Meeting, error: &mut Option<Error>, max: usize) -> Outcome {
    if let Some(error) = error.take() {
        return Outcome::Failed(error);
    }
    let mut batch = Vec::new();
    let mut next = meeting.recv().await;
    while let Some(item) = next {
        match item {
            Ok(change) => batch.push(Ok(
                serde_json::to_string(&change).expect("a generated type serializes")
            )),
            Err(MeetingError::Socket(fatal)) if fatal.is_fatal() => {
                if batch.is_empty() {
                    return Outcome::Failed(fatal);
                }
                *error = Some(fatal);
                break;
            }
            Err(e) => batch.push(Err(e.to_string())),
        }
        if batch.len() >= max {
            break;
        }
        next = meeting.recv().now_or_never().flatten();
    }
    Outcome::Changes(batch)
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
