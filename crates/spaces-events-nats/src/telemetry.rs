//! What a bridge (and `spaces-events watch`/`meeting`) measures, through the `metrics` facade:
//! nothing is recorded, and no label is built, until the application installs a recorder and
//! calls [`enable`] (as `spaces-events --metrics-addr` does). Names follow Prometheus
//! conventions; the per-space and per-category labels are capped ([`MAX_LABELS`] values each,
//! the rest counted as `other`) so that an organisation's thousands of spaces cannot blow up a
//! scrape.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, histogram};
use spaces_events::MediaSessionEvent;
use spaces_events::client::Error;
use spaces_events::meeting::MeetingError;
use spaces_events::types::{ChangeKind, MeetingChange};

/// Events received from Spaces, by `space` and `category`.
pub const RECEIVED: &str = "spaces_events_received_total";
/// From the event's `modified` time to its receipt.
pub const EVENT_AGE: &str = "spaces_event_age_seconds";
/// Re-subscriptions after a dropped connection, one per space (events sent meanwhile were
/// missed).
pub const GAPS: &str = "spaces_gaps_total";
/// Meeting resyncs from the REST API that succeeded.
pub const RESYNCS: &str = "spaces_resyncs_total";
/// Meeting resyncs that failed (retried at the next gap).
pub const RESYNC_FAILURES: &str = "spaces_resync_failures_total";
/// Reconnections, by `reason`.
pub const RECONNECTS: &str = "spaces_reconnects_total";
/// Spaces subscribed now.
pub const SUBSCRIPTIONS: &str = "spaces_subscriptions";
/// 1 while the socket is connected, else 0.
pub const CONNECTED: &str = "spaces_connected";
/// Tokens got from their source, by `source` (`file`, `command`, `oauth`, `guest`, `fixed`):
/// the first and each different one after it.
pub const TOKEN_RENEWALS: &str = "spaces_token_renewals_total";
/// Events acknowledged by the stream (duplicates included).
pub const ACKNOWLEDGED: &str = "spaces_bridge_events_acknowledged_total";
/// Of those, events stored for the first time.
pub const PUBLISHED: &str = "spaces_bridge_events_published_total";
/// Of those, events the stream had already (another bridge published them first).
pub const DUPLICATES: &str = "spaces_bridge_duplicates_total";
/// Publishes sent again after a failed or missing acknowledgement.
pub const RETRIES: &str = "spaces_bridge_publish_retries_total";
/// Publishes awaiting their acknowledgement now.
pub const IN_FLIGHT: &str = "spaces_bridge_publish_in_flight";
/// From an event's receipt to its acknowledgement by the stream.
pub const PUBLISH_LATENCY: &str = "spaces_bridge_publish_latency_seconds";
/// Spaces this bridge holds a lease on now.
pub const LEASES: &str = "spaces_bridge_leases_held";
/// 1 while NATS is connected, else 0.
pub const NATS_CONNECTED: &str = "spaces_nats_connected";

/// Values kept per label before further ones are counted as `other`.
pub const MAX_LABELS: usize = 1000;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Starts recording (after the application installed a recorder) and describes every metric.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
    for (name, help) in [
        (
            RECEIVED,
            "Events received from Spaces, by space and category.",
        ),
        (
            GAPS,
            "Re-subscriptions after a dropped connection: events sent meanwhile were missed.",
        ),
        (RESYNCS, "Meeting resyncs from the REST API."),
        (RESYNC_FAILURES, "Meeting resyncs that failed."),
        (RECONNECTS, "Reconnections to Spaces, by reason."),
        (
            TOKEN_RENEWALS,
            "Tokens got from their source (the first and each renewal), by source.",
        ),
        (
            ACKNOWLEDGED,
            "Events acknowledged by the stream (duplicates included).",
        ),
        (PUBLISHED, "Events stored in the stream for the first time."),
        (DUPLICATES, "Events the stream had already."),
        (RETRIES, "Publishes sent again."),
    ] {
        describe_counter!(name, Unit::Count, help);
    }
    for (name, help) in [
        (SUBSCRIPTIONS, "Spaces subscribed now."),
        (CONNECTED, "1 while the socket to Spaces is connected."),
        (IN_FLIGHT, "Publishes awaiting their acknowledgement."),
        (LEASES, "Spaces this bridge holds a lease on."),
        (NATS_CONNECTED, "1 while NATS is connected."),
    ] {
        describe_gauge!(name, help);
    }
    describe_histogram!(
        EVENT_AGE,
        Unit::Seconds,
        "From the event's modified time to its receipt."
    );
    describe_histogram!(
        PUBLISH_LATENCY,
        Unit::Seconds,
        "From receipt to the stream's acknowledgement."
    );
}

/// Whether [`enable`] was called.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `value`, or `other` once [`MAX_LABELS`] other values were seen in `seen`.
fn capped(seen: &Mutex<Option<HashSet<String>>>, value: &str) -> String {
    let mut seen = seen.lock().expect("labels lock");
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.contains(value) || seen.len() < MAX_LABELS && seen.insert(value.to_owned()) {
        value.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Counts `event`, received at `at`, and records its age.
pub fn received(event: &MediaSessionEvent, at: SystemTime) {
    if !enabled() {
        return;
    }
    static SPACES: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    static CATEGORIES: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let space = capped(&SPACES, event.topic_id().unwrap_or_default());
    let category = capped(&CATEGORIES, event.category_name());
    counter!(RECEIVED, "space" => space, "category" => category).increment(1);
    if let Some(modified) = event.modified().and_then(|t| t.unix_millis()) {
        let at = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let modified = Duration::from_millis(u64::try_from(modified).unwrap_or_default());
        histogram!(EVENT_AGE).record(at.saturating_sub(modified).as_secs_f64());
    }
}

/// Counts what a meeting change says: a resync.
pub fn changed(change: &MeetingChange) {
    if change.change == ChangeKind::Resynced {
        count(RESYNCS);
    }
}

/// Counts what a meeting's error says: a failed resync.
pub fn failed(error: &MeetingError) {
    if let MeetingError::Resync(_) = error {
        count(RESYNC_FAILURES);
    }
}

/// Counts a reconnection attempt for the reason `error` and, at the first attempt after a
/// loss, the gaps it makes: one per space to re-subscribe (`subscriptions`).
pub fn reconnecting(error: &Error, attempt: u32, subscriptions: usize) {
    if !enabled() {
        return;
    }
    let reason = match error {
        Error::Transport { .. } => "transport",
        Error::Timeout(_) => "timeout",
        Error::Auth(_) => "auth",
        Error::TokenProvider(_) => "token",
        Error::Proxy { .. } => "proxy",
        Error::Protocol(_) | Error::Malformed { .. } => "protocol",
        _ => "other",
    };
    counter!(RECONNECTS, "reason" => reason).increment(1);
    if attempt == 1 {
        counter!(GAPS).increment(subscriptions as u64);
    }
}

/// Counts a token got from a source of this kind (`file`, `command`, `oauth`, `guest`,
/// `fixed`).
pub fn renewed(source: &'static str) {
    if enabled() {
        counter!(TOKEN_RENEWALS, "source" => source).increment(1);
    }
}

/// Counts one of the label-free counters (`name` is one of this module's constants).
pub fn count(name: &'static str) {
    if enabled() {
        counter!(name).increment(1);
    }
}

/// Records a publish's latency.
pub(crate) fn published(latency: Duration, duplicate: bool) {
    if enabled() {
        histogram!(PUBLISH_LATENCY).record(latency.as_secs_f64());
        counter!(ACKNOWLEDGED).increment(1);
        counter!(if duplicate { DUPLICATES } else { PUBLISHED }).increment(1);
    }
}
