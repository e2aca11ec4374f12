//! Sharing an organisation's spaces among bridges: each space is held by at most `replicas`
//! bridges at a time, through claims in a JetStream key-value bucket.
//!
//! How (every `ttl / 3`, each bridge):
//! 1. It says it is alive: it puts `bridges.<id>`. The bucket's `max_age` is the TTL, so the key
//!    of a bridge that stopped disappears within `ttl`, and so do its claims.
//! 2. It renews its claims (`space.<space>.<slot>`, one per replica slot) with a revision check
//!    (`update` with the revision it last wrote): a claim someone else took is lost, at once.
//! 3. Its fair share is `ceil(slots / live bridges)`. Below it, it claims free slots with
//!    `create` (only if absent: two bridges cannot both win), never two slots of one space.
//! 4. A slot left free for a whole round (nobody below its share could take it: with replicas,
//!    a bridge never takes two slots of one space, so the one below its share may hold the other
//!    slot of every free one) is claimed by any bridge that does not hold its space, even above
//!    its share.
//! 5. Above its share (a bridge joined, or after step 4), it releases its oldest extra claims
//!    (`delete` with the revision check) but keeps following those spaces until another bridge
//!    holds the claim, so there is no moment when nobody subscribes (the stream drops the
//!    duplicates of the overlap). A bridge below its share takes a released slot at once, so
//!    the shares even out; the slots a bridge holds are kept whole.
//!
//! Guarantees and failures:
//! - A space is held by at most `replicas` bridges; while all are healthy, by exactly that many
//!   (when there are as many bridges).
//! - A bridge that dies (SIGKILL, a lost machine) keeps its claims until they expire: its spaces
//!   are taken over within `ttl` + one renewal period. Events emitted in that window are lost
//!   with one replica (nobody subscribes); with `replicas` 2 the other holder publishes them.
//! - A bridge cut off from NATS cannot renew: after `ttl` others take its spaces, and it drops
//!   them at its first renewal once back (revision mismatch). Meanwhile both may publish: the
//!   stream de-duplicates.
//! - Spread, not perfect balance: shares differ by at most one; a joining bridge gets its share
//!   within a few renewal periods, without claims moving back and forth (a bridge only releases
//!   above its share, and only what a successor then takes).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use futures_util::TryStreamExt;
use tracing::{debug, info};

use crate::{BridgeError, nats, token};

/// How leases are held.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The bucket (`spaces_leases`).
    pub bucket: String,
    /// How long a claim lives without renewal (10 s); renewed every third of it.
    pub ttl: Duration,
    /// Bridges per space (1).
    pub replicas: usize,
    /// This bridge's id (unique among the bridges).
    pub id: String,
}

impl LeaseConfig {
    /// Defaults, with `id`.
    pub fn new(id: &str) -> Self {
        LeaseConfig {
            bucket: "spaces_leases".into(),
            ttl: Duration::from_secs(10),
            replicas: 1,
            id: id.to_owned(),
        }
    }
}

/// A claim this bridge holds or is handing over.
#[derive(Debug)]
struct Claim {
    space: String,
    revision: u64,
    /// When it was made (the oldest are released first).
    made: Instant,
    /// Released at this time: followed until a successor holds it (or a TTL passed).
    released: Option<Instant>,
}

/// This bridge's claims; see the module docs.
#[derive(Debug)]
pub struct Leases {
    kv: kv::Store,
    config: LeaseConfig,
    claims: BTreeMap<String, Claim>,
    /// The slots nobody held at the last round.
    free: BTreeSet<String>,
}

impl Leases {
    /// Opens (creating if absent) the bucket.
    ///
    /// # Errors
    /// [`BridgeError::Nats`].
    pub async fn open(js: &jetstream::Context, config: LeaseConfig) -> Result<Leases, BridgeError> {
        let kv = js
            .create_or_update_key_value(kv::Config {
                bucket: config.bucket.clone(),
                description: "spaces-events bridge claims".into(),
                history: 1,
                max_age: config.ttl,
                storage: jetstream::stream::StorageType::File,
                ..kv::Config::default()
            })
            .await
            .map_err(nats)?;
        Ok(Leases {
            kv,
            config,
            claims: BTreeMap::new(),
            free: BTreeSet::new(),
        })
    }

    /// How often [`round`](Self::round) should run: a third of the TTL.
    pub fn period(&self) -> Duration {
        self.config.ttl / 3
    }

    /// One round (see the module docs) over `spaces`; the spaces to follow now.
    ///
    /// # Errors
    /// [`BridgeError::Nats`] when the bucket cannot be reached (the claims are kept; they
    /// expire if this goes on).
    pub async fn round(&mut self, spaces: &[String]) -> Result<BTreeSet<String>, BridgeError> {
        let id = self.config.id.clone();
        self.kv
            .put(format!("bridges.{}", token(&id)), id.clone().into())
            .await
            .map_err(nats)?;
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(nats)?
            .try_collect()
            .await
            .map_err(nats)?;
        let live = keys
            .iter()
            .filter(|k| k.starts_with("bridges."))
            .count()
            .max(1);
        let slots: Vec<(String, String)> = spaces
            .iter()
            .flat_map(|space| {
                (0..self.config.replicas)
                    .map(move |slot| (format!("space.{}.{slot}", token(space)), space.clone()))
            })
            .collect();
        let fair = slots.len().div_ceil(live);

        // Renew (or learn that a claim was lost); follow handed-over ones until taken.
        let mut lost = Vec::new();
        for (key, claim) in &mut self.claims {
            if let Some(at) = claim.released {
                let taken = matches!(self.kv.get(key.as_str()).await, Ok(Some(holder)) if holder != id.as_bytes());
                if taken || at.elapsed() > self.config.ttl {
                    lost.push(key.clone());
                }
                continue;
            }
            match self.kv.update(key, id.clone().into(), claim.revision).await {
                Ok(revision) => claim.revision = revision,
                Err(e) => {
                    info!(key, error = %e, "claim lost");
                    lost.push(key.clone());
                }
            }
        }
        for key in lost {
            self.claims.remove(&key);
        }
        let wanted = spaces.iter().collect::<BTreeSet<_>>();
        self.claims.retain(|_, c| wanted.contains(&c.space));

        let held = self
            .claims
            .values()
            .filter(|c| c.released.is_none())
            .count();
        let taken: BTreeSet<&String> = keys.iter().collect();
        let free: BTreeSet<String> = slots
            .iter()
            .filter(|(key, _)| !taken.contains(key))
            .map(|(key, _)| key.clone())
            .collect();
        // Start at a place of our own, so that bridges do not all race for the same slots.
        let start = id
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
            % slots.len().max(1);
        let mut need = fair.saturating_sub(held);
        for (key, space) in slots.iter().cycle().skip(start).take(slots.len()) {
            // Below its share: any free slot. At or above: one free since the last round.
            let stale = self.free.contains(key);
            if (need == 0 && !stale) || !free.contains(key) {
                continue;
            }
            if self.claims.values().any(|c| c.space == *space) {
                continue;
            }
            if let Ok(revision) = self.kv.create(key, id.clone().into()).await {
                debug!(key, stale, "claimed");
                self.claims.insert(
                    key.clone(),
                    Claim {
                        space: space.clone(),
                        revision,
                        made: Instant::now(),
                        released: None,
                    },
                );
                need = need.saturating_sub(1);
            }
        }
        self.free = free;
        let held = self
            .claims
            .values()
            .filter(|c| c.released.is_none())
            .count();
        if held > fair {
            let mut mine: Vec<(&String, &Claim)> = self
                .claims
                .iter()
                .filter(|(_, c)| c.released.is_none())
                .collect();
            mine.sort_by_key(|(_, c)| c.made);
            let extra: Vec<String> = mine
                .iter()
                .take(held - fair)
                .map(|(k, _)| (*k).clone())
                .collect();
            for key in extra {
                let claim = self.claims.get_mut(&key).expect("listed above");
                if self
                    .kv
                    .delete_expect_revision(&key, Some(claim.revision))
                    .await
                    .is_ok()
                {
                    info!(key, "claim released for another bridge");
                    claim.released = Some(Instant::now());
                }
            }
        }
        Ok(self.claims.values().map(|c| c.space.clone()).collect())
    }

    /// Gives every claim back (a bridge that stops cleanly): others take them at their next
    /// round instead of after the TTL.
    pub async fn release_all(&mut self) {
        for (key, claim) in std::mem::take(&mut self.claims) {
            let _ = self
                .kv
                .delete_expect_revision(&key, Some(claim.revision))
                .await;
        }
        let _ = self
            .kv
            .delete(format!("bridges.{}", token(&self.config.id)))
            .await;
    }
}
