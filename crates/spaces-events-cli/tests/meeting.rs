//! `spaces-events meeting --format jsonl` against the simulator (socket and REST API) and
//! against the Node socket.io 2.0.4 server with the simulator's REST API beside it: a guest
//! token, the meeting's changes line by line, a resync after a drop, SIGTERM ends it with 0 —
//! each under every reading of how Spaces names meetings.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use spaces_events_tests::peer::NodePeer;
use spaces_events_tests::{each_reading, schema_validator, sigterm};
use spaces_sim::{Identity, Scenario, Sim, Simulator};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const SPACE: &str = "5f1051f0f3ed772f915e19ed";

each_reading!(
    jsonl_follows_the_meeting_as_a_guest_across_a_drop_and_ends_with_0_on_sigterm,
    against_the_node_server_a_roster_change_while_away_is_just_that,
);

/// An event of the space; the simulator names its meeting.
fn event(n: u32, category: &str, content: Value) -> Value {
    json!({ "_id": format!("ev-{n}"), "topicId": SPACE, "category": category, "content": content })
}

async fn sim(identity: Identity) -> Sim {
    Simulator::new()
        .scenario(Scenario::default())
        .identity(identity)
        .start()
        .await
        .unwrap()
}

/// `spaces-events meeting --format jsonl` on `url` and `api_url`, with `args`; stdout's lines.
fn meeting(url: &str, api_url: &str, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(["meeting", "--format", "jsonl", "--space", SPACE])
        .args(["--url", url, "--api-url", api_url])
        .args(args)
        .env_remove("SPACES_TOKEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

fn person(id: &str) -> Value {
    json!({ "_id": id, "displayname": id.to_uppercase(), "type": "user" })
}

async fn emit(sim: &Sim, payload: Value) {
    sim.emit("MEDIA_SESSION_RESPONSE", &payload).await;
}

/// The next line, parsed and checked against the schema's `MeetingChange`.
async fn next(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("a line in time")
        .expect("stdout readable")
        .expect("a line before the end");
    let change: Value = serde_json::from_str(&line).expect("a JSON line");
    let schema = schema_validator(spaces_events::MEETING_STATE_SCHEMA, Some("MeetingChange"));
    assert!(schema.is_valid(&change), "{line}");
    change
}

/// Lines up to and including the next whose change is `kind`.
async fn until(lines: &mut Lines<BufReader<ChildStdout>>, kind: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let change = next(lines).await;
        let done = change["change"] == kind;
        seen.push(change);
        if done {
            return seen;
        }
    }
}

fn said(changes: &[Value]) -> Vec<(String, String, Value)> {
    changes
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().into(),
                c["source"].as_str().unwrap().into(),
                c["subject"].clone(),
            )
        })
        .collect()
}

async fn jsonl_follows_the_meeting_as_a_guest_across_a_drop_and_ends_with_0_on_sigterm(
    identity: Identity,
) {
    let sim = sim(identity).await;
    let (mut child, mut lines) = meeting(sim.url(), sim.api_url(), &["--guest", "CLI test"]);
    // No meeting yet: the first resync says so.
    let first = next(&mut lines).await;
    assert_eq!(
        (first["change"].as_str(), first["state"]["status"].as_str()),
        (Some("resynced"), Some("none"))
    );

    emit(
        &sim,
        event(
            1,
            "app.event.meeting.started",
            json!({ "attendees": [person("ann")] }),
        ),
    )
    .await;
    emit(
        &sim,
        event(
            2,
            "app.event.attendee.added",
            json!({ "attendee": person("bob") }),
        ),
    )
    .await;
    let live = until(&mut lines, "attendee.joined").await;
    assert_eq!(
        said(&live),
        [
            ("meeting.started".into(), "event".into(), Value::Null),
            ("attendee.joined".into(), "event".into(), json!("bob")),
        ]
    );
    let state = &live[1]["state"];
    assert_eq!(
        state["attendees"][1],
        json!({ "_id": "bob", "displayname": "BOB", "type": "user", "username": null,
        "joinTime": null, "media": { "audio": null, "video": null, "screenshare": null, "connected": null, "selfMuted": null } })
    );

    // Away: connections dropped and refused while Ann leaves and a recording starts.
    sim.away(Duration::from_millis(800));
    tokio::time::sleep(Duration::from_millis(100)).await; // the drop is done before the events
    emit(
        &sim,
        event(
            3,
            "app.event.attendee.left",
            json!({ "attendee": person("ann") }),
        ),
    )
    .await;
    emit(
        &sim,
        event(
            4,
            "app.event.recording.started",
            json!({ "recordings": [{ "_id": "rec-1" }] }),
        ),
    )
    .await;
    let resync = until(&mut lines, "resynced").await;
    assert_eq!(
        said(&resync),
        [
            ("attendee.left".into(), "resync".into(), json!("ann")),
            ("recording.started".into(), "resync".into(), json!("rec-1")),
            ("resynced".into(), "resync".into(), Value::Null),
        ]
    );
    let state = &resync[2]["state"];
    assert_eq!(state["attendees"].as_array().unwrap().len(), 1);
    assert_eq!(
        state["meetingId"],
        sim.active_meeting(SPACE).unwrap()["_id"],
        "{identity}"
    );
    assert_eq!(
        state["recordings"],
        json!([{ "_id": "rec-1", "state": "started", "startedBy": null, "startTime": null, "endTime": null }])
    );

    emit(&sim, event(5, "app.event.meeting.ended", json!({}))).await;
    let ended = until(&mut lines, "meeting.ended").await;
    assert_eq!(ended.last().unwrap()["state"]["status"], "inactive");

    // SIGTERM: exit 0, nothing half-written.
    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    while let Some(line) = lines.next_line().await.unwrap() {
        serde_json::from_str::<Value>(&line).expect("whole lines only");
    }
}

/// Issue 21's drop, against the real socket.io 2.0.4 server: Ann, Bob and Cy in a meeting
/// that records; while the server is away Bob leaves and Dee joins. The resync says that.
async fn against_the_node_server_a_roster_change_while_away_is_just_that(identity: Identity) {
    let sim = sim(identity).await;
    let mut peer = NodePeer::start(
        json!({ "pingInterval": 300, "pingTimeout": 600, "tokens": [sim.token()] }),
    )
    .await;
    let (mut child, mut lines) = meeting(&peer.url(), sim.api_url(), &["--token", sim.token()]);
    let first = next(&mut lines).await;
    assert_eq!(first["change"], "resynced");
    let started = json!({ "meetingStatus": "active", "startTime": "2026-12-05T10:00:00.000Z",
        "attendees": [person("ann"), person("bob"), person("cy")] });
    peer.send(&sim, &event(1, "app.event.meeting.started", started))
        .await;
    peer.send(
        &sim,
        &event(
            2,
            "app.event.recording.started",
            json!({ "recordings": [{ "_id": "rec-9f1" }] }),
        ),
    )
    .await;
    let live = until(&mut lines, "recording.started").await;
    assert_eq!(
        said(&live),
        [
            ("meeting.started".into(), "event".into(), Value::Null),
            ("recording.started".into(), "event".into(), json!("rec-9f1")),
        ]
    );
    peer.away(Duration::from_millis(800)).await;
    peer.send(
        &sim,
        &event(
            3,
            "app.event.attendee.left",
            json!({ "attendee": person("bob") }),
        ),
    )
    .await;
    peer.send(
        &sim,
        &event(
            4,
            "app.event.attendee.added",
            json!({ "attendee": person("dee") }),
        ),
    )
    .await;
    let resync = until(&mut lines, "resynced").await;
    assert_eq!(
        said(&resync),
        [
            ("attendee.left".into(), "resync".into(), json!("bob")),
            ("attendee.joined".into(), "resync".into(), json!("dee")),
            ("resynced".into(), "resync".into(), Value::Null),
        ],
        "{identity}"
    );
    let state = &resync[2]["state"];
    let ids: Vec<&str> = state["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ann", "cy", "dee"]);
    assert_eq!(state["recordings"][0]["_id"], "rec-9f1");
    assert_eq!(
        state["meetingId"],
        sim.active_meeting(SPACE).unwrap()["_id"]
    );
    assert!(
        peer.count(|e| e["ev"] == "subscribe") >= 2,
        "re-subscribed on the Node server"
    );
    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
