//! The spaces a bridge follows, as they change: those listed (`--space`, `--spaces-file`) and
//! the keys of a NATS key-value bucket (`--spaces-bucket`), watched while it runs.

use std::collections::BTreeSet;

use async_nats::jetstream::kv;
use futures_util::{StreamExt, TryStreamExt};
use spaces_events::client::Client;
use spaces_events::rest::Rest;
use spaces_events_nats::Sources;
use tokio::sync::watch;

/// The spaces wanted now; it changes while the bridge runs.
pub(crate) type Wanted = watch::Receiver<BTreeSet<String>>;

/// `listed` and nothing else, for good.
pub(crate) fn fixed(listed: BTreeSet<String>) -> Wanted {
    watch::Sender::new(listed).subscribe()
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

/// Follows the spaces added to `wanted` and stops those removed, until the bridge ends. A
/// space that cannot be followed is reported, and the others go on.
pub(crate) async fn follow_changes(
    mut wanted: Wanted,
    client: Client,
    rest: Rest,
    sources: Sources,
) {
    while wanted.changed().await.is_ok() {
        let now = wanted.borrow_and_update().clone();
        for space in sources.spaces() {
            if !now.contains(&space) {
                sources.stop(&space);
                eprintln!("dropped {space}");
            }
        }
        for space in &now {
            if !sources.spaces().contains(space) {
                match sources.follow(&client, &rest, space).await {
                    Ok(()) => eprintln!("following {space}"),
                    Err(e) => eprintln!("warning: {space}: {e}"),
                }
            }
        }
    }
}
