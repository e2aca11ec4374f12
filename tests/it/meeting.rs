//! The live meeting state and the REST client against the simulator, which serves the Spaces REST
//! API beside its socket: resyncs after drops, REST failures, guest tokens. Every test that
//! follows a meeting runs under each reading of how Spaces names meetings ([`Identity::ALL`]).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use spaces_events::client::{Client, ConnectionState, Reconnect};
use spaces_events::meeting::{Meeting, MeetingError};
use spaces_events::rest::{Rest, RestError};
use spaces_events::types::{
    ChangeKind, ChangeSource, MeetingChange, MeetingStatus, RecordingPhase,
};
use spaces_events_tests::{builder, each_reading, next_event, wait_state};
use spaces_sim::{Identity, RestFault, Scenario, Sim, Simulator};

const SPACE: &str = "5f1051f0f3ed772f915e19ed";

async fn sim() -> Sim {
    Simulator::new()
        .scenario(Scenario::default())
        .start()
        .await
        .expect("the simulator starts")
}

/// A simulator that names meetings as `identity` says.
async fn sim_naming(identity: Identity) -> Sim {
    Simulator::new()
        .scenario(Scenario::default())
        .identity(identity)
        .start()
        .await
        .expect("the simulator starts")
}

each_reading!(
    after_a_drop_the_state_is_the_servers_and_the_changes_say_resync,
    a_roster_change_while_away_is_not_a_new_meeting,
    a_new_meeting_while_away_ends_the_old_one_and_starts_the_new,
    a_meeting_that_ended_while_away_ends_on_resync,
    a_failing_api_is_reported_and_retried_without_holding_up_events,
);

fn rest(sim: &Sim) -> Rest {
    Rest::builder(sim.api_url())
        .token(sim.token())
        .backoff(Reconnect {
            initial_delay: Duration::from_millis(50),
            ..Reconnect::default()
        })
        .build()
        .expect("a valid API URL")
}

/// An event of the space; the simulator names its meeting (`messageId`, `meetingId`).
fn event(n: u32, category: &str, content: Value) -> Value {
    json!({ "_id": format!("ev-{n}"), "topicId": SPACE,
        "category": category, "sender": { "_id": SPACE, "type": "spaceserver" }, "content": content })
}

fn person(id: &str) -> Value {
    json!({ "_id": id, "displayname": id.to_uppercase(), "type": "user" })
}

/// The next item, within 10 s.
async fn next(meeting: &mut Meeting) -> Result<MeetingChange, MeetingError> {
    tokio::time::timeout(Duration::from_secs(10), meeting.next())
        .await
        .expect("a change in time")
        .expect("the meeting stream is open")
}

/// Changes up to and including the next of `kind`.
async fn until(meeting: &mut Meeting, kind: ChangeKind) -> Vec<MeetingChange> {
    let mut seen = Vec::new();
    loop {
        match next(meeting).await {
            Ok(change) => {
                let done = change.change == kind;
                seen.push(change);
                if done {
                    return seen;
                }
            }
            Err(e) => assert!(!e.is_fatal(), "{e}"),
        }
    }
}

fn kinds(changes: &[MeetingChange]) -> Vec<(ChangeKind, ChangeSource, Option<&str>)> {
    changes
        .iter()
        .map(|c| (c.change, c.source, c.subject.as_deref()))
        .collect()
}

/// Ids of the attendees and (id, phase) of the recordings, as the document or a snapshot has them.
fn roster(doc: &Value) -> (Vec<String>, Vec<(String, RecordingPhase)>) {
    let ids = doc["content"]["attendees"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| a["_id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let recordings = doc["content"]["recordings"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    let phase = if r["endTime"].is_string() {
                        RecordingPhase::Ended
                    } else {
                        RecordingPhase::Started
                    };
                    (r["_id"].as_str().unwrap().to_owned(), phase)
                })
                .collect()
        })
        .unwrap_or_default();
    (ids, recordings)
}

fn state_roster(change: &MeetingChange) -> (Vec<String>, Vec<(String, RecordingPhase)>) {
    (
        change
            .state
            .attendees
            .iter()
            .map(|a| a.id.clone())
            .collect(),
        change
            .state
            .recordings
            .iter()
            .map(|r| (r.id.clone(), r.state))
            .collect(),
    )
}

/// Connects, follows the meeting, and waits for the first resync.
async fn follow(sim: &Sim) -> (Client, Meeting) {
    let client = builder(sim.url(), sim.token()).connect().await.unwrap();
    let mut meeting = client.meeting(SPACE, &rest(sim)).await.unwrap();
    let first = until(&mut meeting, ChangeKind::Resynced).await;
    assert_eq!(first.last().unwrap().state.status, MeetingStatus::None);
    (client, meeting)
}

/// Away from the server (connections dropped and refused) while `during` happens.
async fn away(sim: &Sim, client: &Client, during: &[Value]) {
    sim.away(Duration::from_millis(800));
    wait_state(client, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    for payload in during {
        sim.emit("MEDIA_SESSION_RESPONSE", payload).await;
    }
}

async fn after_a_drop_the_state_is_the_servers_and_the_changes_say_resync(identity: Identity) {
    let sim = sim_naming(identity).await;
    let (client, mut meeting) = follow(&sim).await;
    for payload in [
        event(
            1,
            "app.event.meeting.started",
            json!({ "meetingStatus": "active", "attendees": [person("ann")] }),
        ),
        event(
            2,
            "app.event.attendee.added",
            json!({ "attendee": person("bob") }),
        ),
        event(
            3,
            "app.event.recording.started",
            json!({ "recordings": [{ "_id": "rec-1" }] }),
        ),
    ] {
        sim.emit("MEDIA_SESSION_RESPONSE", &payload).await;
    }
    let live = until(&mut meeting, ChangeKind::RecordingStarted).await;
    assert!(live.iter().all(|c| c.source == ChangeSource::Event));
    away(&sim, &client, &[
        event(4, "app.event.attendee.left", json!({ "attendee": person("ann") })),
        event(5, "app.event.attendee.added", json!({ "attendee": person("cy") })),
        event(6, "app.event.recording.stopped", json!({ "recordings": [{ "_id": "rec-1", "endTime": "2026-11-30T10:00:00.000Z" }] })),
    ])
    .await;
    let resync = until(&mut meeting, ChangeKind::Resynced).await;
    assert_eq!(
        kinds(&resync),
        [
            (ChangeKind::AttendeeLeft, ChangeSource::Resync, Some("ann")),
            (ChangeKind::AttendeeJoined, ChangeSource::Resync, Some("cy")),
            (
                ChangeKind::RecordingEnded,
                ChangeSource::Resync,
                Some("rec-1")
            ),
            (ChangeKind::Resynced, ChangeSource::Resync, None),
        ]
    );
    let truth = sim.active_meeting(SPACE).expect("a meeting goes on");
    assert_eq!(state_roster(resync.last().unwrap()), roster(&truth));
    assert_eq!(
        resync.last().unwrap().state.meeting_id.as_deref(),
        truth["_id"].as_str(),
        "the document's id names the meeting"
    );
    // Events after the gap fold onto the resynced state.
    sim.emit(
        "MEDIA_SESSION_RESPONSE",
        &event(
            7,
            "app.event.attendee.left",
            json!({ "attendee": person("bob") }),
        ),
    )
    .await;
    let left = until(&mut meeting, ChangeKind::AttendeeLeft).await;
    assert_eq!(state_roster(left.last().unwrap()).0, ["cy"]);
}

/// The drop of issue 21: Ann, Bob and Cy in a meeting that records; while away, Bob leaves and
/// Dee joins. The resync says exactly that — not that the meeting ended and started again.
async fn a_roster_change_while_away_is_not_a_new_meeting(identity: Identity) {
    let sim = sim_naming(identity).await;
    let (client, mut meeting) = follow(&sim).await;
    let started = json!({ "meetingStatus": "active", "startTime": "2026-12-05T10:00:00.000Z",
        "attendees": [person("ann"), person("bob"), person("cy")] });
    sim.emit(
        "MEDIA_SESSION_RESPONSE",
        &event(1, "app.event.meeting.started", started),
    )
    .await;
    sim.emit(
        "MEDIA_SESSION_RESPONSE",
        &event(
            2,
            "app.event.recording.started",
            json!({ "recordings": [{ "_id": "rec-9f1" }] }),
        ),
    )
    .await;
    until(&mut meeting, ChangeKind::RecordingStarted).await;
    away(
        &sim,
        &client,
        &[
            event(
                3,
                "app.event.attendee.left",
                json!({ "attendee": person("bob") }),
            ),
            event(
                4,
                "app.event.attendee.added",
                json!({ "attendee": person("dee") }),
            ),
        ],
    )
    .await;
    let resync = until(&mut meeting, ChangeKind::Resynced).await;
    eprintln!(
        "{identity}: {}",
        resync
            .iter()
            .map(|c| format!(
                "{} {} {}",
                c.change,
                c.source,
                c.subject.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(
        kinds(&resync),
        [
            (ChangeKind::AttendeeLeft, ChangeSource::Resync, Some("bob")),
            (
                ChangeKind::AttendeeJoined,
                ChangeSource::Resync,
                Some("dee")
            ),
            (ChangeKind::Resynced, ChangeSource::Resync, None),
        ],
        "{identity}"
    );
    let truth = sim.active_meeting(SPACE).expect("a meeting goes on");
    assert_eq!(state_roster(resync.last().unwrap()), roster(&truth));
}

/// While away, the meeting ends and another starts (a later `startTime`): the resync says so.
async fn a_new_meeting_while_away_ends_the_old_one_and_starts_the_new(identity: Identity) {
    let sim = sim_naming(identity).await;
    let (client, mut meeting) = follow(&sim).await;
    let started = |at: &str, who: &str| json!({ "meetingStatus": "active", "startTime": at, "attendees": [person(who)] });
    sim.emit(
        "MEDIA_SESSION_RESPONSE",
        &event(
            1,
            "app.event.meeting.started",
            started("2026-12-05T10:00:00.000Z", "ann"),
        ),
    )
    .await;
    until(&mut meeting, ChangeKind::MeetingStarted).await;
    away(
        &sim,
        &client,
        &[
            event(
                2,
                "app.event.meeting.ended",
                json!({ "meetingStatus": "inactive" }),
            ),
            event(
                3,
                "app.event.meeting.started",
                started("2026-12-05T11:00:00.000Z", "cy"),
            ),
        ],
    )
    .await;
    let resync = until(&mut meeting, ChangeKind::Resynced).await;
    assert_eq!(
        kinds(&resync),
        [
            (ChangeKind::MeetingEnded, ChangeSource::Resync, None),
            (ChangeKind::MeetingStarted, ChangeSource::Resync, None),
            (ChangeKind::Resynced, ChangeSource::Resync, None),
        ],
        "{identity}"
    );
    let truth = sim.active_meeting(SPACE).expect("the new meeting goes on");
    let state = &resync.last().unwrap().state;
    assert_eq!(state_roster(resync.last().unwrap()), roster(&truth));
    assert_eq!(state.meeting_id.as_deref(), truth["_id"].as_str());
}

async fn a_meeting_that_ended_while_away_ends_on_resync(identity: Identity) {
    let sim = sim_naming(identity).await;
    let (client, mut meeting) = follow(&sim).await;
    sim.emit(
        "MEDIA_SESSION_RESPONSE",
        &event(
            1,
            "app.event.meeting.started",
            json!({ "attendees": [person("ann"), person("bob")] }),
        ),
    )
    .await;
    until(&mut meeting, ChangeKind::MeetingStarted).await;
    away(
        &sim,
        &client,
        &[event(
            2,
            "app.event.meeting.ended",
            json!({ "meetingStatus": "inactive" }),
        )],
    )
    .await;
    assert!(sim.active_meeting(SPACE).is_none());
    let resync = until(&mut meeting, ChangeKind::Resynced).await;
    assert_eq!(
        kinds(&resync),
        [
            (ChangeKind::MeetingEnded, ChangeSource::Resync, None),
            (ChangeKind::Resynced, ChangeSource::Resync, None),
        ]
    );
    let state = &resync.last().unwrap().state;
    assert_eq!(state.status, MeetingStatus::Inactive);
    assert!(state.attendees.is_empty());
}

async fn a_failing_api_is_reported_and_retried_without_holding_up_events(identity: Identity) {
    let sim = sim_naming(identity).await;
    sim.rest_fault(RestFault::Status(503));
    let client = builder(sim.url(), sim.token()).connect().await.unwrap();
    let mut meeting = client.meeting(SPACE, &rest(&sim)).await.unwrap();
    match next(&mut meeting).await {
        Err(MeetingError::Resync(RestError::Unavailable {
            attempts: 3, last, ..
        })) => {
            assert!(last.contains("503"), "{last}");
        }
        other => panic!("expected a failed resync, got {other:?}"),
    }
    sim.emit(
        "MEDIA_SESSION_RESPONSE",
        &event(
            1,
            "app.event.meeting.started",
            json!({ "attendees": [person("ann")] }),
        ),
    )
    .await;
    let started = until(&mut meeting, ChangeKind::MeetingStarted).await;
    assert_eq!(started.last().unwrap().source, ChangeSource::Event);
    sim.rest_fault(RestFault::None);
    let resync = until(&mut meeting, ChangeKind::Resynced).await;
    let state = &resync.last().unwrap().state;
    assert_eq!(state.status, MeetingStatus::Active);
    assert_eq!(state.attendees[0].id, "ann");
}

#[tokio::test]
async fn rest_answers_and_errors() {
    let sim = sim().await;
    let rest = rest(&sim);
    assert!(
        rest.active_meeting(SPACE).await.unwrap().is_none(),
        "404 is no meeting"
    );
    let config = rest.service_configurations().await.unwrap();
    let socket = config
        .typed()
        .spaces
        .as_ref()
        .and_then(|s| s.socketio_server_url.clone())
        .unwrap();
    assert_eq!(format!("{socket}/chat"), sim.url());
    let joined = rest.join_space(SPACE, None).await.unwrap();
    assert_eq!(joined["topic"]["_id"], SPACE);
    sim.refuse_space("private");
    assert!(matches!(
        rest.join_space("private", Some("1234")).await,
        Err(RestError::Auth { status: 403, .. })
    ));

    let stranger = Rest::builder(sim.api_url())
        .token("not-a-token")
        .build()
        .unwrap();
    let err = stranger.active_meeting(SPACE).await.unwrap_err();
    assert!(matches!(err, RestError::Auth { status: 401, .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("GET /spaces/{SPACE}/activemeeting: not authorized (HTTP 401)")
    );

    sim.rest_fault(RestFault::Status(500));
    let err = rest.active_meeting(SPACE).await.unwrap_err();
    assert!(
        matches!(err, RestError::Unavailable { attempts: 3, .. }),
        "{err}"
    );

    sim.rest_fault(RestFault::Hang);
    let hasty = Rest::builder(sim.api_url())
        .token(sim.token())
        .timeout(Duration::from_millis(300))
        .attempts(2)
        .build()
        .unwrap();
    match hasty.active_meeting(SPACE).await {
        Err(RestError::Unavailable {
            attempts: 2, last, ..
        }) => assert!(last.starts_with("timed out"), "{last}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_guest_token_works_end_to_end() {
    let sim = sim().await;
    let guest = Rest::builder(sim.api_url())
        .build()
        .unwrap()
        .anonymous_auth("Guest Bot", "guest-bot-1")
        .await
        .unwrap();
    let expires = guest.expires_at().expect("the JWT has exp");
    let left = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(
        left > Duration::from_secs(23 * 3600) && left <= Duration::from_secs(24 * 3600),
        "{left:?}"
    );
    // The socket accepts it, and the REST API too.
    let rest = Rest::builder(sim.api_url())
        .token(guest.token().clone())
        .build()
        .unwrap();
    assert!(rest.active_meeting(SPACE).await.unwrap().is_none());
    let provider = Rest::builder(sim.api_url())
        .build()
        .unwrap()
        .guest_tokens("Guest Bot", "guest-bot-2");
    let client = Client::builder(sim.url(), "unused")
        .token_provider(provider)
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe(SPACE).await.unwrap();
    sim.subscribed(SPACE, 1).await;
    sim.emit(
        "MEDIA_SESSION_RESPONSE",
        &event(1, "app.event.meeting.started", json!({})),
    )
    .await;
    assert_eq!(next_event(&mut sub).await.id(), Some("ev-1"));
}

#[tokio::test]
async fn dropping_the_meeting_unsubscribes() {
    let sim = sim().await;
    let (client, meeting) = follow(&sim).await;
    drop(meeting);
    let again = async {
        loop {
            match client.subscribe(SPACE).await {
                Ok(subscription) => return subscription,
                Err(spaces_events::client::Error::AlreadySubscribed(_)) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), again)
        .await
        .expect("the space is free again");
}
