//! The spaces a command follows, as they change: those listed (`--space`, `--spaces-file`),
//! the keys of a NATS key-value bucket (`--spaces-bucket`) or every space the token sees
//! (`--all-spaces`), and the paced follower that subscribes and drops them without a restart.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use clap::Args;
use futures_util::{Stream, StreamExt, TryStreamExt};
use spaces_events::client::Client;
use spaces_events::rest::{Rest, RestError};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::AbortHandle;

use crate::telemetry::HEALTH;

/// The spaces wanted now; it changes while the command runs.
pub(crate) type Wanted = watch::Receiver<BTreeSet<String>>;

/// `--all-spaces` and the pace of subscribing (`watch`, `meeting`, `bridge`).
#[derive(Args)]
pub(crate) struct Listing {
    /// Follow every space the token sees (`GET /users/me/spaces`, type group), re-listed every
    /// --relist seconds and when a space changes: new spaces are subscribed, removed ones
    /// dropped, without a restart. A space that refuses is reported; the others go on.
    #[arg(long)]
    pub(crate) all_spaces: bool,
    /// With --all-spaces: seconds between listings.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    relist: f64,
    /// Subscriptions sent per second at most, so that thousands of spaces do not arrive at
    /// Spaces at once.
    #[arg(long, default_value_t = 20.0, value_name = "PER_SECOND")]
    subscribe_rate: f64,
}

impl Listing {
    /// The pace of subscriptions, or the error for a rate that is not positive.
    pub(crate) fn pace(&self) -> Result<Pace, String> {
        Pace::new(self.subscribe_rate)
    }

    /// Every space the token sees, re-listed every `--relist` seconds and whenever the client
    /// sees a space change (`MESSAGE_SENT` with a `topic.*` category). A failed re-listing is
    /// reported and keeps the last list; a failed first listing is the error.
    pub(crate) async fn listed(&self, client: &Client, rest: Rest) -> Result<Wanted, String> {
        let every = Duration::try_from_secs_f64(self.relist)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("--relist {} is not a positive number", self.relist))?;
        let first = list(&rest).await.map_err(|e| e.to_string())?;
        eprintln!("listed {} space(s)", first.len());
        let wanted = watch::Sender::new(first);
        let receiver = wanted.subscribe();
        let changed = Arc::new(Notify::new());
        if let Ok(mut events) = client.raw_events().await {
            let changed = changed.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    if event.name == "MESSAGE_SENT"
                        && event
                            .args
                            .first()
                            .is_some_and(|a| a.get().contains(r#""category":"topic."#))
                    {
                        changed.notify_one();
                    }
                }
            });
        }
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = changed.notified() => {}
                    () = wanted.closed() => return,
                }
                match list(&rest).await {
                    Ok(now) => {
                        wanted.send_if_modified(|spaces| {
                            let modified = *spaces != now;
                            *spaces = now;
                            modified
                        });
                    }
                    Err(e) => eprintln!("warning: listing the spaces: {e} (the last list stays)"),
                }
            }
        });
        Ok(receiver)
    }
}

async fn list(rest: &Rest) -> Result<BTreeSet<String>, RestError> {
    Ok(rest
        .my_spaces()
        .await?
        .into_iter()
        .filter_map(|topic| topic.typed().id.clone())
        .collect())
}

/// `listed` and the keys of `bucket`, kept up to date by a task that watches the bucket: a key
/// put adds its space, a key deleted removes it (unless listed).
pub(crate) async fn with_bucket(
    listed: BTreeSet<String>,
    bucket: kv::Store,
) -> Result<Wanted, String> {
    // Watched before listed: a change in between is seen twice, never missed.
    let mut changes = bucket.watch_all().await.map_err(|e| e.to_string())?;
    let keys: Vec<String> = bucket
        .keys()
        .await
        .map_err(|e| e.to_string())?
        .try_collect()
        .await
        .map_err(|e| e.to_string())?;
    let wanted = watch::Sender::new(listed.iter().cloned().chain(keys).collect());
    let receiver = wanted.subscribe();
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            let Ok(entry) = change else {
                eprintln!("warning: watching the spaces bucket: {change:?}");
                continue;
            };
            wanted.send_if_modified(|spaces: &mut BTreeSet<String>| match entry.operation {
                kv::Operation::Put => spaces.insert(entry.key),
                kv::Operation::Delete | kv::Operation::Purge => {
                    !listed.contains(&entry.key) && spaces.remove(&entry.key)
                }
            });
        }
    });
    Ok(receiver)
}

/// At most so many subscriptions a second.
pub(crate) struct Pace(tokio::time::Interval);

impl Pace {
    fn new(per_second: f64) -> Result<Pace, String> {
        let period = Duration::try_from_secs_f64(1.0 / per_second)
            .ok()
            .filter(|_| per_second > 0.0)
            .ok_or_else(|| format!("--subscribe-rate {per_second} is not a positive number"))?;
        let mut interval = tokio::time::interval(period);
        // After a pause, go on at the pace rather than catch up in a burst.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ok(Pace(interval))
    }

    pub(crate) async fn wait(&mut self) {
        self.0.tick().await;
    }
}

/// What follows spaces: the bridge's sources, or the streams of `watch` and `meeting`.
pub(crate) trait Follow {
    /// Subscribes to `space` and starts forwarding it.
    async fn follow(&mut self, space: &str) -> Result<(), String>;
    /// Stops forwarding `space` (it is unsubscribed).
    fn stop(&mut self, space: &str);
}

/// How long a space that could not be followed waits before it is tried again.
const RETRY: Duration = Duration::from_secs(10);

/// Follows the spaces of `wanted` as it changes, until it closes (`following`: those the
/// follower follows already): a space removed is dropped at once; new ones are subscribed one
/// by one at `pace`, the set checked again between each (a space removed meanwhile is dropped
/// before the next subscription). A space that cannot be followed is reported once and tried
/// again every [`RETRY`] (a refusal may be a race: a space dropped and taken back at once is
/// still being unsubscribed), until it leaves the set.
pub(crate) async fn follow_changes(
    mut wanted: Wanted,
    mut pace: Pace,
    mut follower: impl Follow,
    mut following: HashSet<String>,
) {
    let mut failed: HashMap<String, tokio::time::Instant> = HashMap::new();
    let mut told = None;
    loop {
        let now = wanted.borrow_and_update().clone();
        following.retain(|space: &String| {
            let keep = now.contains(space);
            if !keep {
                follower.stop(space);
                eprintln!("dropped {space}");
            }
            keep
        });
        failed.retain(|space, _| now.contains(space));
        let at = tokio::time::Instant::now();
        let next = now.iter().find(|s| {
            !following.contains(*s) && failed.get(*s).is_none_or(|since| at >= *since + RETRY)
        });
        HEALTH
            .subscriptions
            .store(following.len(), std::sync::atomic::Ordering::Relaxed);
        let Some(space) = next else {
            if told != Some(following.len()) {
                eprintln!("following {} space(s)", following.len());
                told = Some(following.len());
            }
            let retry = failed.values().min().map(|since| *since + RETRY);
            tokio::select! {
                changed = wanted.changed() => if changed.is_err() {
                    return;
                },
                () = async {
                    match retry {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
            continue;
        };
        pace.wait().await;
        match follower.follow(space).await {
            Ok(()) => {
                failed.remove(space);
                following.insert(space.clone());
            }
            Err(e) => {
                if failed
                    .insert(space.clone(), tokio::time::Instant::now())
                    .is_none()
                {
                    eprintln!(
                        "warning: {space}: {e} (tried again every {} s)",
                        RETRY.as_secs()
                    );
                }
            }
        }
    }
}

/// A [`Follow`]er of streams, one per space (`open` makes it: a subscription, a meeting),
/// their items in one bounded channel: a forwarding task per space, aborted (its stream
/// dropped: the space unsubscribed) when the space is dropped. A full channel holds the tasks
/// up, their streams fill, and the client stops reading: nothing is dropped.
pub(crate) struct Streams<T, F> {
    open: F,
    items: mpsc::Sender<T>,
    tasks: HashMap<String, AbortHandle>,
}

impl<T: Send + 'static, F> Streams<T, F> {
    /// The follower and the stream of its items.
    pub(crate) fn new(open: F) -> (Self, impl Stream<Item = T> + Unpin) {
        let (items, mut rx) = mpsc::channel(1024);
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let streams = Streams {
            open,
            items,
            tasks: HashMap::new(),
        };
        (streams, stream)
    }
}

impl<T, F, Fut, S> Follow for Streams<T, F>
where
    T: Send + 'static,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<S, String>>,
    S: Stream<Item = T> + Send + Unpin + 'static,
{
    async fn follow(&mut self, space: &str) -> Result<(), String> {
        let mut stream = (self.open)(space.to_owned()).await?;
        let items = self.items.clone();
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                if items.send(item).await.is_err() {
                    return;
                }
            }
        });
        self.tasks.insert(space.to_owned(), task.abort_handle());
        Ok(())
    }

    fn stop(&mut self, space: &str) {
        if let Some(task) = self.tasks.remove(space) {
            task.abort();
        }
    }
}
