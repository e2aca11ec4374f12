//! The meeting fold against a model of the server, under every reading of how Spaces names
//! meetings: any meetings, any gaps, then a resync with the server's truth. The server is the
//! simulator's own [`Store`] (the events it names and the documents it keeps), driven without
//! a socket.
//!
//! - After a resync the state is the truth (with evidence of a new meeting to be had: start
//!   times or `meetingId`; without, the roster and status are, and no recording is lost).
//! - Every change list, of an event or of a resync, applied to the state before it gives the
//!   state after it: the changes say all that happened.
//! - No `meeting.ended` while the server's meeting never ended, and none from an event but an
//!   end.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use spaces_events::decode;
use spaces_events::meeting::{Change, MeetingState};
use spaces_events::types::{
    ActiveMeeting, ChangeKind, MeetingSnapshot, MeetingStatus, RecordingPhase,
};
use spaces_sim::{Identity, Store};

const SPACE: &str = "s1";
const PEOPLE: usize = 5;

/// What happens on the server (invalid steps, such as a join while no meeting goes on, are
/// skipped).
#[derive(Clone, Debug)]
enum Op {
    Start(Vec<usize>),
    End,
    Join(usize),
    Leave(usize),
    /// A recording of the meeting (its index) moves on a phase.
    Record(usize),
    Hand(usize),
    Media(usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let person = 0..PEOPLE;
    prop_oneof![
        2 => prop::sample::subsequence((0..PEOPLE).collect::<Vec<_>>(), 0..=3).prop_map(Op::Start),
        1 => Just(Op::End),
        4 => person.clone().prop_map(Op::Join),
        3 => person.clone().prop_map(Op::Leave),
        2 => (0..2usize).prop_map(Op::Record),
        1 => person.clone().prop_map(Op::Hand),
        1 => (person, any::<bool>()).prop_map(|(p, on)| Op::Media(p, on)),
    ]
}

fn person(p: usize) -> Value {
    json!({ "_id": format!("p{p}"), "displayname": format!("P{p}"), "type": "user" })
}

/// The server's history: the payloads it sent (named by its [`Store`]), its document after each,
/// and whether the meeting that went on before each was still going on after it.
struct History {
    sent: Vec<Value>,
    truth: Vec<Option<ActiveMeeting>>,
    /// The server's meeting (a number) after each event, if one went on.
    meeting: Vec<Option<usize>>,
}

fn play(ops: &[Op], identity: Identity, start_times: bool, rosters: bool) -> History {
    let mut store = Store::new(Some(identity));
    let mut history = History {
        sent: Vec::new(),
        truth: Vec::new(),
        meeting: Vec::new(),
    };
    let (mut meeting, mut meetings) = (None::<usize>, 0);
    let mut roster: Vec<usize> = Vec::new();
    let mut recordings: Vec<u8> = Vec::new(); // phases 1..=3 of the meeting's recordings
    for op in ops {
        let with_roster = |roster: &[usize], mut content: Value| {
            if rosters {
                content["attendees"] = roster.iter().map(|p| person(*p)).collect();
            }
            content
        };
        let (category, content) = match (op, meeting) {
            (Op::Start(people), None) => {
                meetings += 1;
                meeting = Some(meetings);
                roster = people.clone();
                recordings.clear();
                let mut content = json!({ "meetingStatus": "active",
                    "attendees": people.iter().map(|p| person(*p)).collect::<Vec<_>>() });
                if start_times {
                    content["startTime"] = json!(1_800_000_000_000_i64 + 60_000 * meetings as i64);
                }
                ("app.event.meeting.started", content)
            }
            (Op::End, Some(_)) => {
                meeting = None;
                roster.clear();
                (
                    "app.event.meeting.ended",
                    json!({ "meetingStatus": "inactive" }),
                )
            }
            (Op::Join(p), Some(_)) if !roster.contains(p) => {
                roster.push(*p);
                (
                    "app.event.attendee.added",
                    with_roster(&roster, json!({ "attendee": person(*p) })),
                )
            }
            (Op::Leave(p), Some(_)) if roster.contains(p) => {
                roster.retain(|k| k != p);
                (
                    "app.event.attendee.left",
                    with_roster(&roster, json!({ "attendee": person(*p) })),
                )
            }
            (Op::Record(r), Some(m))
                if *r <= recordings.len() && recordings.get(*r).is_none_or(|&ph| ph < 3) =>
            {
                if *r == recordings.len() {
                    recordings.push(0);
                }
                recordings[*r] += 1;
                let phase = recordings[*r];
                let mut recording = json!({ "_id": format!("rec-{m}-{r}") });
                if phase >= 2 {
                    recording["endTime"] = json!(1_900_000_000_000_i64);
                }
                let category = [
                    "app.event.recording.started",
                    "app.event.recording.stopped",
                    "app.event.recording.ready",
                ][phase as usize - 1];
                (category, json!({ "recordings": [recording] }))
            }
            (Op::Hand(p), Some(_)) if roster.contains(p) => (
                "app.event.meeting.permission.requested",
                json!({ "targetId": format!("p{p}") }),
            ),
            (Op::Media(p, on), Some(_)) if roster.contains(p) => (
                "tracksstatus",
                json!({ "mediaSession": { "audio": on, "video": !on } }),
            ),
            _ => continue,
        };
        let sender = match op {
            Op::Media(p, _) => person(*p),
            _ => json!({ "_id": SPACE, "type": "spaceserver" }),
        };
        let mut payload = json!({ "_id": format!("ev-{}", history.sent.len()), "topicId": SPACE,
            "category": category, "sender": sender, "content": content });
        store.keep(&mut payload);
        history.sent.push(payload);
        history.truth.push(
            store
                .document(SPACE)
                .map(|d| serde_json::from_value(d.clone()).expect("a document")),
        );
        history.meeting.push(meeting);
    }
    history
}

/// What changes can tell: whether a meeting goes on, who is in it, its recordings' phases.
#[derive(Clone, Debug, PartialEq, Eq)]
struct View {
    active: bool,
    attendees: Vec<String>,
    recordings: BTreeMap<String, RecordingPhase>,
}

fn view(s: &MeetingSnapshot) -> View {
    let mut attendees: Vec<String> = s.attendees.iter().map(|a| a.id.clone()).collect();
    attendees.sort();
    View {
        active: s.status == MeetingStatus::Active,
        attendees,
        recordings: s
            .recordings
            .iter()
            .map(|r| (r.id.clone(), r.state))
            .collect(),
    }
}

/// `before` with `changes` applied; `after` is the state they led to (a start brings its roster
/// and recordings, as the state after it shows).
fn applied(before: &MeetingSnapshot, changes: &[Change], after: &MeetingSnapshot) -> View {
    let mut v = view(before);
    for c in changes {
        let subject = c.subject.clone().unwrap_or_default();
        match c.kind {
            ChangeKind::MeetingStarted => {
                let a = view(after);
                (v.active, v.attendees, v.recordings) = (true, a.attendees, a.recordings);
            }
            ChangeKind::MeetingEnded => (v.active, v.attendees) = (false, Vec::new()),
            ChangeKind::AttendeeJoined => v.attendees.push(subject),
            ChangeKind::AttendeeLeft => v.attendees.retain(|a| *a != subject),
            ChangeKind::RecordingStarted => {
                _ = v.recordings.insert(subject, RecordingPhase::Started)
            }
            ChangeKind::RecordingEnded => _ = v.recordings.insert(subject, RecordingPhase::Ended),
            ChangeKind::RecordingReady => _ = v.recordings.insert(subject, RecordingPhase::Ready),
            _ => {}
        }
    }
    v.attendees.sort();
    v.attendees.dedup();
    v
}

fn reading() -> impl Strategy<Value = Identity> {
    prop::sample::select(&Identity::ALL[..])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn resyncs_give_the_truth_and_changes_say_all(
        ops in prop::collection::vec(op(), 0..40),
        identity in reading(),
        start_times in any::<bool>(),
        rosters in any::<bool>(),
        gaps in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..3),
    ) {
        let history = play(&ops, identity, start_times, rosters);
        let n = history.sent.len();
        // Gaps as (first missed, first seen again), in order, not overlapping.
        let mut cuts: Vec<usize> = gaps.iter().flat_map(|(a, b)| [a.index(n + 1), b.index(n + 1)]).collect();
        cuts.sort();
        let gaps: Vec<(usize, usize)> = cuts.chunks(2).map(|c| (c[0], c[1])).collect();
        // Evidence of a new meeting to be had: else a meeting replaced unseen reads as one.
        let evidence = start_times || identity.meeting_id;
        let mut state = MeetingState::new(SPACE);
        let (mut at, mut gap) = (0, gaps.iter().peekable());
        // Subscribing: the first resync, with what the server says then.
        let resync = |state: &mut MeetingState, seen: usize, missed_from: usize| -> Result<(), TestCaseError> {
            let truth = if seen == 0 { None } else { history.truth[seen - 1].clone() };
            let before = state.snapshot().clone();
            let changes = state.resync(truth.as_ref());
            let after = state.snapshot().clone();
            let mut fresh = MeetingState::new(SPACE);
            fresh.resync(truth.as_ref());
            let (got, want) = (view(&after), view(fresh.snapshot()));
            prop_assert_eq!(&got.active, &want.active, "{} {:?}", identity, changes);
            prop_assert_eq!(&got.attendees, &want.attendees, "{} {:?}", identity, changes);
            prop_assert!(want.recordings.iter().all(|(r, p)| got.recordings.get(r).is_some_and(|g| g >= p)), "{identity}: {got:?} {want:?}");
            // An ended meeting keeps its recordings (a `ready` may follow); 404 says nothing of them.
            if evidence && want.active {
                prop_assert_eq!(&got, &want, "{} {:?}", identity, changes);
                if let Some(id) = truth.as_ref().and_then(|t| t.id.clone()) {
                    prop_assert_eq!(after.meeting_id.as_deref(), Some(id.as_str()), "{}", identity);
                }
            }
            prop_assert_eq!(applied(&before, &changes, &after), got, "{} {:?}", identity, changes);
            // The meeting before the gap went on all through it: nothing ended.
            let went_on = missed_from > 0
                && history.meeting[missed_from - 1].is_some()
                && history.meeting[missed_from - 1..seen].iter().all(|m| *m == history.meeting[missed_from - 1]);
            if went_on {
                prop_assert!(!changes.iter().any(|c| matches!(c.kind, ChangeKind::MeetingEnded | ChangeKind::MeetingStarted)),
                    "{}: a meeting that went on ended: {:?}", identity, changes);
            }
            Ok(())
        };
        resync(&mut state, 0, 0)?;
        while at < n {
            if let Some(&&(from, to)) = gap.peek()
                && at == from
            {
                gap.next();
                at = to;
                resync(&mut state, to, from)?;
                continue;
            }
            let event = decode(history.sent[at].to_string().as_bytes()).expect("the server's events decode");
            let before = state.snapshot().clone();
            let changes = state.apply(&event);
            prop_assert_eq!(applied(&before, &changes, state.snapshot()), view(state.snapshot()), "{} {:?}", identity, changes);
            if changes.iter().any(|c| c.kind == ChangeKind::MeetingEnded) {
                prop_assert_eq!(event.category_name(), "app.event.meeting.ended", "{}", identity);
            }
            at += 1;
        }
    }
}
