//! Properties of the meeting fold: duplicates change nothing, and whatever events came (or were
//! missed), a resync with the server's truth gives the truth on all the document says. (With
//! a server that makes the events and the truth alike, under every reading of its ids:
//! `tests/it/meeting_properties.rs`.)

use proptest::prelude::*;
use serde_json::{Value, json};
use spaces_events::meeting::MeetingState;
use spaces_events::types::{ActiveMeeting, MeetingSnapshot, MeetingStatus};
use spaces_events::{MediaSessionEvent, decode};

const SPACE: &str = "s1";
const PEOPLE: [&str; 4] = ["ann", "bob", "cy", "dee"];
const RECORDINGS: [&str; 2] = ["r1", "r2"];
const MEETINGS: [&str; 2] = ["m1", "m2"];

fn person() -> impl Strategy<Value = Value> {
    prop::sample::select(&PEOPLE[..])
        .prop_map(|id| json!({ "_id": id, "displayname": id.to_uppercase(), "type": "user" }))
}

/// Any event the fold reads, from a small world so that sequences collide.
fn event() -> impl Strategy<Value = Value> {
    let meeting = prop::sample::select(&MEETINGS[..]);
    let recordings = prop::collection::vec(
        (prop::sample::select(&RECORDINGS[..]), any::<bool>())
            .prop_map(|(id, ended)| json!({ "_id": id, "endTime": if ended { json!("t9") } else { Value::Null } })),
        0..3,
    );
    let content = prop_oneof![
        (meeting.clone(), prop::collection::vec(person(), 0..4)).prop_map(|(m, roster)| (
            "app.event.meeting.started",
            m,
            json!({ "startTime": "t0", "attendees": roster })
        )),
        meeting
            .clone()
            .prop_map(|m| ("app.event.meeting.ended", m, json!({ "endTime": "t5" }))),
        (meeting.clone(), person()).prop_map(|(m, p)| (
            "app.event.attendee.added",
            m,
            json!({ "attendee": p })
        )),
        (meeting.clone(), person()).prop_map(|(m, p)| (
            "app.event.attendee.left",
            m,
            json!({ "attendee": p })
        )),
        (meeting.clone(), recordings.clone()).prop_map(|(m, r)| (
            "app.event.recording.started",
            m,
            json!({ "recordings": r })
        )),
        (meeting.clone(), recordings.clone()).prop_map(|(m, r)| (
            "app.event.recording.stopped",
            m,
            json!({ "recordings": r })
        )),
        (meeting.clone(), recordings).prop_map(|(m, r)| (
            "app.event.recording.ready",
            m,
            json!({ "recordings": r })
        )),
        (meeting.clone(), prop::sample::select(&PEOPLE[..])).prop_map(|(m, p)| (
            "app.event.meeting.permission.requested",
            m,
            json!({ "targetId": p })
        )),
        (meeting.clone(), prop::sample::select(&PEOPLE[..])).prop_map(|(m, p)| (
            "app.event.all.parties.muted",
            m,
            json!({ "exclude": [{ "attendeeId": p }] })
        )),
        meeting
            .clone()
            .prop_map(|m| ("app.event.not.known.yet", m, json!({}))),
    ];
    let media = (
        prop::sample::select(&PEOPLE[..]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(p, audio, video)| {
            json!({ "topicId": SPACE, "category": "tracksstatus", "sender": { "_id": p },
            "content": { "mediaSession": { "audio": audio, "video": video } } })
        });
    prop_oneof![
        4 => (content, 0u32..40).prop_map(|((category, m, content), id)| {
            json!({ "_id": format!("e{id}"), "messageId": m, "topicId": SPACE, "category": category, "content": content })
        }),
        1 => media,
    ]
}

fn decoded(value: &Value) -> MediaSessionEvent {
    decode(value.to_string().as_bytes()).expect("generated events decode")
}

/// The server's truth: a meeting going on, or none (404).
fn truth() -> impl Strategy<Value = Option<ActiveMeeting>> {
    let meeting = (
        prop::sample::select(&MEETINGS[..]),
        prop::sample::subsequence(&PEOPLE[..], 0..=4),
        prop::sample::subsequence(&RECORDINGS[..], 0..=2),
        any::<bool>(),
    )
        .prop_map(|(m, people, recordings, ended)| {
            let attendees: Vec<Value> = people.iter().map(|p| json!({ "_id": p, "displayname": p })).collect();
            let recordings: Vec<Value> = recordings
                .iter()
                .map(|r| json!({ "_id": r, "endTime": if ended { json!("t8") } else { Value::Null } }))
                .collect();
            serde_json::from_value(json!({ "_id": m, "topicId": SPACE, "content": {
                "startTime": "t0", "meetingStatus": "active", "attendees": attendees, "recordings": recordings } }))
            .expect("an active meeting")
        });
    proptest::option::of(meeting)
}

/// What the active-meeting document says (media, hands and mute-all it does not carry).
fn documented(s: &MeetingSnapshot) -> Value {
    if s.status != MeetingStatus::Active {
        return json!({ "active": false, "attendees": s.attendees.len() });
    }
    let attendees: Vec<Value> = s
        .attendees
        .iter()
        .map(|a| json!([a.id, a.displayname, a.username, a.type_, a.join_time]))
        .collect();
    json!({ "active": true, "id": s.meeting_id, "start": s.start_time, "end": s.end_time,
        "attendees": attendees })
}

/// Every recording the document lists is in `s`, at least in its phase (of the same meeting,
/// recordings the document does not list are kept).
fn has_recordings_of(s: &MeetingSnapshot, truth: &MeetingSnapshot) -> bool {
    truth.recordings.iter().all(|r| {
        s.recordings
            .iter()
            .any(|k| k.id == r.id && k.state >= r.state)
    })
}

proptest! {
    #[test]
    fn every_event_twice_changes_nothing_the_second_time(events in prop::collection::vec(event(), 0..30)) {
        let mut state = MeetingState::new(SPACE);
        for value in &events {
            let event = decoded(value);
            state.apply(&event);
            let after = state.snapshot().clone();
            prop_assert!(state.apply(&event).is_empty(), "{value}");
            prop_assert_eq!(state.snapshot(), &after);
        }
    }

    #[test]
    fn a_resync_gives_exactly_the_truth(
        events in prop::collection::vec(event(), 0..30),
        truth in truth(),
    ) {
        let mut state = MeetingState::new(SPACE);
        for value in &events {
            state.apply(&decoded(value));
        }
        state.resync(truth.as_ref());
        let mut fresh = MeetingState::new(SPACE);
        fresh.resync(truth.as_ref());
        prop_assert_eq!(documented(state.snapshot()), documented(fresh.snapshot()));
        prop_assert!(has_recordings_of(state.snapshot(), fresh.snapshot()));
        // Carried-over state belongs to attendees who are there.
        let snap = state.snapshot();
        prop_assert!(snap.raised_hands.iter().all(|h| snap.attendees.iter().any(|a| a.id == *h)));
    }

    #[test]
    fn a_second_resync_with_the_same_truth_reports_only_resynced(
        events in prop::collection::vec(event(), 0..20),
        truth in truth(),
    ) {
        let mut state = MeetingState::new(SPACE);
        for value in &events {
            state.apply(&decoded(value));
        }
        state.resync(truth.as_ref());
        let again = state.resync(truth.as_ref());
        prop_assert_eq!(again.len(), 1);
    }
}

/// Every valid fixture folds (in order, into one state per space) without a panic, and each
/// applied twice changes nothing the second time.
#[test]
fn every_fixture_folds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/valid");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    let mut folded = 0;
    for path in paths {
        let event =
            decode(std::fs::read(&path).expect("fixture")).expect("a valid fixture decodes");
        let mut state = MeetingState::new(event.topic_id().unwrap_or_default());
        state.apply(&event);
        let once = state.snapshot().clone();
        assert!(
            state.apply(&event).is_empty() || event.id().is_none(),
            "{}",
            path.display()
        );
        if event.id().is_some() {
            assert_eq!(state.snapshot(), &once, "{}", path.display());
        }
        folded += 1;
    }
    assert!(folded >= 20);
}
