//! Shared helpers of the cross-crate tests: fixtures, the schema validator, the real peers.

pub mod nats;
pub mod nats_auth;
pub mod net;
pub mod peer;
pub mod tinyproxy;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use spaces_events::MediaSessionEvent;
use spaces_events::client::{Builder, Client, ConnectionState, Error, Reconnect, Subscription};

/// The seven categories the vendor documents.
pub const DOCUMENTED_CATEGORIES: [spaces_events::Category; 7] = {
    use spaces_events::Category::*;
    [
        MeetingStarted,
        MeetingEnded,
        AttendeeAdded,
        AttendeeLeft,
        RecordingStarted,
        RecordingEnded,
        RecordingReady,
    ]
};

/// `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The fixtures of `tests/fixtures/<kind>/` (`valid` or `invalid`) as `(name, text)`, by name.
pub fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = fixtures_dir().join(kind);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("readable fixture dir").path();
            let name = path
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, fs::read_to_string(&path).expect("UTF-8 fixture"))
        })
        .collect();
    out.sort();
    out
}

/// A draft-07 validator for the MEDIA_SESSION_RESPONSE payload, or with `Some(name)` for a
/// definition of `schema/subscription.schema.json` (cross-file `$ref`s resolved).
pub fn validator(definition: Option<&str>) -> jsonschema::Validator {
    match definition {
        None => schema_validator(spaces_events::MEDIA_SESSION_RESPONSE_SCHEMA, None),
        Some(name) => schema_validator(spaces_events::SUBSCRIPTION_SCHEMA, Some(name)),
    }
}

/// A draft-07 validator for the schema `file` (one of the crate's `*_SCHEMA` texts) or one of
/// its definitions, with every schema file registered for cross-file `$ref`s.
pub fn schema_validator(file: &str, definition: Option<&str>) -> jsonschema::Validator {
    let id = |doc: &Value| doc["$id"].as_str().expect("schema has $id").to_owned();
    let mut registry = jsonschema::Registry::new();
    for text in [
        spaces_events::MEDIA_SESSION_RESPONSE_SCHEMA,
        spaces_events::SUBSCRIPTION_SCHEMA,
        spaces_events::REST_SCHEMA,
        spaces_events::MEETING_STATE_SCHEMA,
    ] {
        let doc: Value = serde_json::from_str(text).expect("schema is JSON");
        registry = registry.add(id(&doc), doc).expect("schemas register");
    }
    let doc: Value = serde_json::from_str(file).expect("schema is JSON");
    let root = match definition {
        None => serde_json::json!({ "$ref": id(&doc) }),
        Some(name) => serde_json::json!({ "$ref": format!("{}#/definitions/{name}", id(&doc)) }),
    };
    let registry = registry.prepare().expect("schemas register");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_registry(&registry)
        .build(&root)
        .expect("schema compiles")
}

/// Quick heartbeats for a peer: `pingInterval` 300 ms, `pingTimeout` 600 ms.
pub fn heartbeat() -> Value {
    serde_json::json!({ "pingInterval": 300, "pingTimeout": 600 })
}

/// Reconnect quickly: 100 ms doubling to 500 ms.
pub fn fast_reconnect() -> Reconnect {
    Reconnect {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
        ..Reconnect::default()
    }
}

/// A client builder that reconnects quickly.
pub fn builder(url: &str, token: &str) -> Builder {
    Client::builder(url, token).reconnect(fast_reconnect())
}

/// The next item of a subscription, within 10 s.
pub async fn next_item(sub: &mut Subscription) -> Result<MediaSessionEvent, Error> {
    use futures_util::StreamExt;
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an item in time")
        .expect("stream open")
}

/// The next event of a subscription, within 10 s.
pub async fn next_event(sub: &mut Subscription) -> MediaSessionEvent {
    next_item(sub).await.expect("an event, not an error")
}

/// The example `name` of a workspace crate, built by `cargo test --workspace` next to the test
/// binaries (`target/debug/examples`).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let example = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/debug")
        .join("examples")
        .join(name);
    assert!(
        example.exists(),
        "{} is missing: run `cargo test --workspace`, which builds the examples",
        example.display()
    );
    example
}

/// The next item is the notice that `sub` was re-subscribed after a drop ([`Error::Gap`]).
pub async fn next_gap(sub: &mut Subscription) {
    match next_item(sub).await {
        Err(Error::Gap(space)) => assert_eq!(space, sub.space_id()),
        other => panic!("expected the gap notice, got {other:?}"),
    }
}

/// Waits (up to 20 s) until the client's state matches, and returns it.
pub async fn wait_state(
    client: &Client,
    want: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState {
    let mut states = client.state_changes();
    let wanted = async {
        while let Some(state) = states.next().await {
            if want(&state) {
                return state;
            }
        }
        panic!("the client ended first")
    };
    tokio::time::timeout(Duration::from_secs(20), wanted)
        .await
        .expect("state in time")
}

/// After a fault that silences the link: the client gives up on it for a heartbeat timeout,
/// reconnects, re-subscribes (the peer sees its `subscriptions`-th SUBSCRIBE_CHANNEL), and event
/// `n` then arrives on `sub`.
pub async fn recovers_from_silence(
    client: &Client,
    peer: &mut peer::NodePeer,
    sub: &mut Subscription,
    subscriptions: usize,
    n: u32,
) {
    let state = wait_state(client, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    let ConnectionState::Reconnecting { reason, .. } = state else {
        unreachable!("waited for it")
    };
    assert!(matches!(reason, Error::Timeout(_)), "{reason:?}");
    wait_state(client, |s| matches!(s, ConnectionState::Connected)).await;
    peer.wait_count(|e| e["ev"] == "subscribe", subscriptions)
        .await;
    peer.emit_media("space-1", n).await;
    next_gap(sub).await;
    assert_eq!(
        next_event(sub).await.id(),
        Some(format!("event-{n}").as_str())
    );
}

/// For each async test function `name(identity: spaces_sim::Identity)` named, a module `name`
/// with one `#[tokio::test]` per reading of [`spaces_sim::Identity::ALL`], named after it
/// (`name::message_per_event_no_meeting_id_doc_own`, …): the suite runs under every reading
/// of how Spaces names meetings, not only the one the simulator happens to play.
#[macro_export]
macro_rules! each_reading {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            $crate::each_reading!(@one $test, message_per_event_no_meeting_id_doc_own, 0);
            $crate::each_reading!(@one $test, message_per_event_no_meeting_id_doc_message_id, 1);
            $crate::each_reading!(@one $test, message_per_event_meeting_id_doc_own, 2);
            $crate::each_reading!(@one $test, message_per_event_meeting_id_doc_message_id, 3);
            $crate::each_reading!(@one $test, message_per_event_meeting_id_doc_meeting_id, 4);
            $crate::each_reading!(@one $test, message_per_meeting_no_meeting_id_doc_own, 5);
            $crate::each_reading!(@one $test, message_per_meeting_no_meeting_id_doc_message_id, 6);
            $crate::each_reading!(@one $test, message_per_meeting_meeting_id_doc_own, 7);
            $crate::each_reading!(@one $test, message_per_meeting_meeting_id_doc_message_id, 8);
            $crate::each_reading!(@one $test, message_per_meeting_meeting_id_doc_meeting_id, 9);
        }
    )*};
    (@one $test:ident, $name:ident, $i:expr) => {
        #[tokio::test]
        async fn $name() {
            let identity = ::spaces_sim::Identity::ALL[$i];
            assert_eq!(
                identity.to_string().replace(['/', '-'], "_"),
                stringify!($name),
                "the test is named after its reading"
            );
            super::$test(identity).await
        }
    };
}

/// SIGTERM (how systemd and Kubernetes stop a service) to a running child, through the `kill`
/// command: no libc binding needed.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM {pid}: {status}");
}

/// Waits (up to 60 s) for a process whose output is piped: (exit code, stdout, stderr).
pub async fn finish(child: tokio::process::Child) -> (Option<i32>, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("exits in time")
        .expect("waits");
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    )
}

/// `GET http://{addr}{path}` (HTTP/1.0, one request a connection): the status and the body;
/// `(0, "")` when nothing answers.
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let (status, _, body) = http_get_with_head(addr, path).await;
    (status, body)
}

/// [`http_get`], with the answer's head (status line and headers) too.
pub async fn http_get_with_head(addr: &str, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new(), String::new());
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut answer = String::new();
    if stream.write_all(request.as_bytes()).await.is_err()
        || stream.read_to_string(&mut answer).await.is_err()
    {
        return (0, String::new(), String::new());
    }
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (status, head.to_owned(), body.to_owned())
}

/// Where `http://…` `url` redirects to (its `Location`), as a browser would be sent on.
pub async fn redirect(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (status, head, body) = http_get_with_head(addr, path).await;
    assert!((300..400).contains(&status), "{url}: {status} {body}");
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .expect("a Location header")
}

/// Follows what a browser does with an authorization URL: the provider's redirect, then the
/// request to where it points (a loopback listener); that last answer's status.
pub async fn browse(url: &str) -> u16 {
    let location = redirect(url).await;
    let rest = location
        .strip_prefix("http://")
        .expect("redirected to http://");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    http_get(addr, path).await.0
}

/// Replaces the file at `path` with `text` as a secret mount or an agent does: a new file
/// renamed over the old one.
pub fn replace_file(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A simulator that plays nothing by itself (events only when a test emits or plays them).
pub async fn quiet_sim() -> spaces_sim::Sim {
    spaces_sim::Simulator::new()
        .scenario(spaces_sim::Scenario::default())
        .start()
        .await
        .expect("the simulator starts")
}
