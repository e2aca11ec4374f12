//! [`Client::meeting`]: a subscription folded into a [`MeetingState`], resynced from the REST
//! API after the first subscribe and after every gap.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{Change, MeetingState};
use crate::MediaSessionEvent;
use crate::client::{Client, Error, Reconnect, Subscription};
use crate::rest::{Rest, RestError};
use crate::types::{ActiveMeeting, MeetingChange};

/// Events kept while a resync's document is awaited, to fold onto it. Past this the resync
/// starts over (a meeting does not make this many events in one REST call's time).
const REPLAY: usize = 10_000;

/// What a [`Meeting`] stream yields besides changes.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeetingError {
    /// From the subscription: skipped payloads (the stream goes on) or, last, why the client
    /// stopped ([`Error::is_fatal`]).
    #[error(transparent)]
    Socket(#[from] Error),
    /// A resync failed; the folded state is kept and the resync is retried with backoff while
    /// events keep coming.
    #[error("resync failed: {0}")]
    Resync(#[from] RestError),
}

impl MeetingError {
    /// Whether the stream ends after this error (the client stopped).
    pub fn is_fatal(&self) -> bool {
        matches!(self, MeetingError::Socket(e) if e.is_fatal())
    }
}

/// An item of [`Client::follow`]: an event as it arrived, or a change of the meeting.
#[derive(Clone, Debug)]
pub enum Followed {
    /// An event of the space, before the changes it made.
    Event(MediaSessionEvent),
    /// A change, with the state after it.
    Change(Box<MeetingChange>),
}

/// A space's meeting, live: each [`MeetingChange`] with the state after it, from events
/// (source `event`) and from resyncs (source `resync`). Made by [`Client::meeting`]; dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct Meeting(Following);

impl Meeting {
    /// The space id.
    pub fn space_id(&self) -> &str {
        self.0.space_id()
    }

    /// The next change; `None` once the client stopped.
    pub async fn recv(&mut self) -> Option<Result<MeetingChange, MeetingError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Meeting {
    type Item = Result<MeetingChange, MeetingError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return Poll::Ready(match std::task::ready!(self.0.items.poll_recv(cx)) {
                Some(Ok(Followed::Event(_))) => continue, // not asked for
                Some(Ok(Followed::Change(change))) => Some(Ok(*change)),
                Some(Err(e)) => Some(Err(e)),
                None => None,
            });
        }
    }
}

/// A space's events and its meeting's changes, in order: each event, then the changes it made;
/// a resync's changes where it happened. Made by [`Client::follow`]; dropping it unsubscribes.
#[derive(Debug)]
pub struct Following {
    space: String,
    items: mpsc::Receiver<Result<Followed, MeetingError>>,
}

impl Following {
    /// The space id.
    pub fn space_id(&self) -> &str {
        &self.space
    }

    /// The next item; `None` once the client stopped.
    pub async fn recv(&mut self) -> Option<Result<Followed, MeetingError>> {
        self.items.recv().await
    }
}

impl Stream for Following {
    type Item = Result<Followed, MeetingError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.poll_recv(cx)
    }
}

impl Client {
    /// Subscribes to `space` and follows its meeting: events are folded into a
    /// [`MeetingState`], which is resynced from `rest`'s
    /// [`active_meeting`](Rest::active_meeting) once subscribed and after every
    /// re-subscription ([`Error::Gap`]). A failed resync is reported as
    /// [`MeetingError::Resync`] and retried (1 s doubling to 30 s) without holding up events.
    /// A slow reader holds up the subscription (and so the socket), as a slow
    /// [`Subscription`] reader does.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use spaces_events::client::{Client, PRODUCTION_URL};
    /// use spaces_events::rest::{PRODUCTION_API_URL, Rest};
    ///
    /// # async fn run(token: String) -> Result<(), Box<dyn std::error::Error>> {
    /// let rest = Rest::builder(PRODUCTION_API_URL).token(token.as_str()).build()?;
    /// let client = Client::connect(PRODUCTION_URL, token).await?;
    /// let mut meeting = client.meeting("5f1051f0f3ed772f915e19ed", &rest).await?;
    /// while let Some(change) = meeting.next().await {
    ///     match change {
    ///         Ok(c) => println!("{} ({}): {} attendees", c.change, c.source, c.state.attendees.len()),
    ///         Err(e) if e.is_fatal() => return Err(e.into()),
    ///         Err(e) => eprintln!("{e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`subscribe`](Client::subscribe).
    pub async fn meeting(&self, space: &str, rest: &Rest) -> Result<Meeting, Error> {
        self.following(space, rest, false).await.map(Meeting)
    }

    /// Like [`meeting`](Self::meeting), with each event too (before the changes it made): for
    /// a consumer that needs both, such as a bridge that forwards events and keeps the state.
    ///
    /// # Errors
    /// As [`subscribe`](Client::subscribe).
    pub async fn follow(&self, space: &str, rest: &Rest) -> Result<Following, Error> {
        self.following(space, rest, true).await
    }

    async fn following(&self, space: &str, rest: &Rest, events: bool) -> Result<Following, Error> {
        let subscription = self.subscribe(space).await?;
        let (tx, items) = mpsc::channel(64);
        tokio::spawn(follow(subscription, rest.clone(), tx, events));
        Ok(Following {
            space: space.to_owned(),
            items,
        })
    }
}

type Fetch = Pin<Box<dyn Future<Output = Result<Option<ActiveMeeting>, RestError>> + Send>>;

/// The resync under way: its request, and the events that arrived since it was sent.
struct Resync {
    fetch: Fetch,
    since: Vec<MediaSessionEvent>,
    /// Failed resyncs in a row.
    failures: u32,
}

fn fetch(rest: &Rest, space: &str, delay: Duration) -> Fetch {
    let (rest, space) = (rest.clone(), space.to_owned());
    Box::pin(async move {
        tokio::time::sleep(delay).await;
        Ok(rest
            .active_meeting(&space)
            .await?
            .map(|a| a.meeting().clone()))
    })
}

/// Runs a [`Following`] (with `events`, each event is sent too): ends when the subscription
/// ends or the reader is dropped.
async fn follow(
    mut subscription: Subscription,
    rest: Rest,
    tx: mpsc::Sender<Result<Followed, MeetingError>>,
    events: bool,
) {
    let space = subscription.space_id().to_owned();
    let mut state = MeetingState::new(&space);
    let backoff = Reconnect {
        max_delay: Duration::from_secs(30),
        ..Reconnect::default()
    };
    let mut resync = Some(Resync {
        fetch: fetch(&rest, &space, Duration::ZERO),
        since: Vec::new(),
        failures: 0,
    });
    let send_all = async |state: &MeetingState, changes: Vec<Change>| {
        for change in changes {
            let change = Followed::Change(Box::new(state.describe(&change)));
            if tx.send(Ok(change)).await.is_err() {
                return false;
            }
        }
        true
    };
    loop {
        let pending = async {
            match resync.as_mut() {
                Some(r) => (&mut r.fetch).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // The reader is gone: stop (dropping the subscription unsubscribes).
            () = tx.closed() => break,
            item = subscription.recv() => {
                let open = match item {
                    None => break,
                    Some(Ok(event)) => {
                        let changes = state.apply(&event);
                        if events && tx.send(Ok(Followed::Event(event.clone()))).await.is_err() {
                            break;
                        }
                        if let Some(r) = resync.as_mut() {
                            r.since.push(event);
                            if r.since.len() > REPLAY {
                                r.fetch = fetch(&rest, &space, Duration::ZERO);
                                r.since.clear();
                            }
                        }
                        send_all(&state, changes).await
                    }
                    Some(Err(Error::Gap(_))) => {
                        debug!(space, "gap: resyncing");
                        resync = Some(Resync {
                            fetch: fetch(&rest, &space, Duration::ZERO),
                            since: Vec::new(),
                            failures: 0,
                        });
                        true
                    }
                    Some(Err(error)) => {
                        let fatal = error.is_fatal();
                        tx.send(Err(error.into())).await.is_ok() && !fatal
                    }
                };
                if !open {
                    break;
                }
            }
            truth = pending => {
                let r = resync.take().expect("a resync is under way");
                match truth {
                    Ok(meeting) => {
                        let changes = state.resync_replaying(meeting.as_ref(), &r.since);
                        if !send_all(&state, changes).await {
                            break;
                        }
                    }
                    Err(error) => {
                        let delay = backoff.delay(r.failures + 1);
                        warn!(space, %error, ?delay, "resync failed; retrying");
                        resync = Some(Resync {
                            // The events that count are those after the retry's request.
                            fetch: fetch(&rest, &space, delay),
                            since: Vec::new(),
                            failures: r.failures + 1,
                        });
                        if tx.send(Err(error.into())).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
}
