//! The live state of a space's meeting: a pure fold of its events, corrected by the REST API.
//!
//! Socket.IO 2 has no session resume and Spaces replays nothing, so a state folded from events
//! alone is wrong after the first dropped connection. [`MeetingState`] folds events
//! ([`apply`](MeetingState::apply)) and takes the server's truth, the document of
//! `GET /spaces/{id}/activemeeting` ([`resync`](MeetingState::resync)), whenever events may
//! have been missed; both return what changed. No I/O: the client's
//! `Client::meeting` (feature `rest`) runs it on a subscription, as a [`Meeting`] stream.
//!
//! # Which meeting: inferred, not documented
//!
//! Spaces documents no meeting id. `messageId` is "the unique identifier of the message": one
//! per event or one per meeting, both plausible; `content.meetingId` may be absent; the
//! document's `_id` may equal either or neither. So the fold never rests on one guess:
//!
//! - A meeting is known by every name it has shown: the document's `_id`, `content.meetingId`,
//!   the `messageId`s of its events, its `startTime`.
//! - A resync (or a `meeting.started` during a meeting) is **another meeting** — `meeting.ended`
//!   then `meeting.started` — only on positive evidence: an explicit id that differs from one
//!   of the same kind seen before (a document `_id` from an earlier resync, a `meetingId`), a
//!   `startTime` more than a second off, or a status change (404 or `meetingStatus:
//!   "inactive"` while a meeting went on; a meeting found while none was known). Otherwise it
//!   is the same meeting, and the roster and recordings are diffed (`attendee.left`,
//!   `attendee.joined`, `recording.*` with source `resync`).
//! - What the API shows is learned ([`MeetingState::learned`]): a document whose `_id` equals
//!   an event's `messageId` or `meetingId` names that field as the meeting's id
//!   ([`IdField`]), and then a `meeting.started` whose field differs is another meeting; two
//!   different events with one `messageId` show it is per meeting, and then a start with
//!   another `messageId` is another meeting.
//! - The snapshot's `meetingId` is the best name known: the document's `_id` once a resync (or
//!   a learned field) gave it, else `content.meetingId`, else a `messageId` known to be per
//!   meeting; `null` until one is known. It may become known, or change once from
//!   `meetingId` to the document's `_id`, without a new meeting.
//! - The cost of needing evidence: with no ids and no start times, a meeting that ended and was
//!   followed by another while events were missed reads as one meeting whose roster changed.
//!
//! ```
//! use spaces_events::meeting::MeetingState;
//! use spaces_events::types::{ChangeKind, MeetingStatus};
//!
//! let mut state = MeetingState::new("s1");
//! let started = spaces_events::decode(br#"{"_id":"e1","messageId":"m1","topicId":"s1",
//!     "category":"app.event.meeting.started","content":{"meetingStatus":"active",
//!     "attendees":[{"_id":"u1","displayname":"Ann"}]}}"#)?;
//! let changes = state.apply(&started);
//! assert_eq!(changes[0].kind, ChangeKind::MeetingStarted);
//! assert!(state.apply(&started).is_empty()); // the same event again changes nothing
//! assert_eq!(state.snapshot().status, MeetingStatus::Active);
//! assert_eq!(state.snapshot().attendees[0].displayname.as_deref(), Some("Ann"));
//!
//! // After a gap: the meeting ended while we were away (the API answered 404).
//! let changes = state.resync(None);
//! assert_eq!(changes[0].kind, ChangeKind::MeetingEnded);
//! assert_eq!(changes.last().unwrap().kind, ChangeKind::Resynced);
//! assert!(state.snapshot().attendees.is_empty());
//! # Ok::<(), spaces_events::DecodeError>(())
//! ```

#[cfg(feature = "rest")]
mod watch;

mod fold;
mod identity;
mod resync;

use std::collections::{HashSet, VecDeque};

use crate::MediaSessionEvent;
use crate::types::{
    ActiveMeeting, ChangeKind, ChangeSource, MeetingChange, MeetingSnapshot, MeetingStatus,
};
use fold::{Sink, fold};
use identity::Names;
pub use identity::{IdField, Learned};
#[cfg(feature = "rest")]
pub use watch::{Followed, Following, Meeting, MeetingError};

/// Event ids remembered for de-duplication: enough for any redelivery burst, bounded for
/// subscriptions that run for weeks.
const REMEMBERED: usize = 4096;

/// One change of the meeting; the state after it is [`MeetingState::snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// What changed.
    pub kind: ChangeKind,
    /// Whether an event said so or a resync found it.
    pub source: ChangeSource,
    /// The `_id` of the attendee or recording it is about, if any.
    pub subject: Option<String>,
}

impl Change {
    fn new(kind: ChangeKind, source: ChangeSource, subject: Option<&str>) -> Self {
        Change {
            kind,
            source,
            subject: subject.map(str::to_owned),
        }
    }
}

/// The meeting as folded: what the snapshot shows, and the names it is known by.
#[derive(Clone, Debug)]
struct Current {
    snapshot: MeetingSnapshot,
    names: Names,
}

impl Current {
    fn new(space: &str, names: Names) -> Self {
        Current {
            snapshot: MeetingSnapshot {
                space: space.to_owned(),
                status: MeetingStatus::None,
                meeting_id: None,
                start_time: None,
                end_time: None,
                attendees: Vec::new(),
                recordings: Vec::new(),
                raised_hands: Vec::new(),
                mute_all: None,
            },
            names,
        }
    }
}

/// A space's meeting, folded from its events and resynced from the REST API. See the module
/// docs.
#[derive(Clone, Debug)]
pub struct MeetingState {
    current: Current,
    learned: Learned,
    /// Ids of the events applied lately (a set and its insertion order, to forget the oldest).
    seen: HashSet<String>,
    order: VecDeque<String>,
    unknown: u64,
}

impl MeetingState {
    /// No meeting known yet in `space`.
    pub fn new(space: &str) -> Self {
        MeetingState {
            current: Current::new(space, Names::default()),
            learned: Learned::default(),
            seen: HashSet::new(),
            order: VecDeque::new(),
            unknown: 0,
        }
    }

    /// The state now (its JSON form is `schema/meeting-state.schema.json`'s `MeetingSnapshot`).
    pub fn snapshot(&self) -> &MeetingSnapshot {
        &self.current.snapshot
    }

    /// The space id.
    pub fn space(&self) -> &str {
        &self.current.snapshot.space
    }

    /// Events of a category the schema does not know, so far (they change nothing).
    pub fn unknown_events(&self) -> u64 {
        self.unknown
    }

    /// What has been learned so far of how the API names meetings (see the module docs).
    pub fn learned(&self) -> Learned {
        self.learned
    }

    /// `change` with the state now: a line of `spaces-events meeting --format jsonl`.
    pub fn describe(&self, change: &Change) -> MeetingChange {
        MeetingChange {
            space: self.current.snapshot.space.clone(),
            change: change.kind,
            source: change.source,
            subject: change.subject.clone(),
            state: self.current.snapshot.clone(),
        }
    }

    /// Folds one event of this space (events of other spaces change nothing). An event seen
    /// before (same `_id`) changes nothing; so does an `attendee.left` for someone unknown.
    pub fn apply(&mut self, event: &MediaSessionEvent) -> Vec<Change> {
        if event.topic_id().is_some_and(|t| t != self.space()) {
            return Vec::new();
        }
        if let Some(id) = event.id() {
            if !self.seen.insert(id.to_owned()) {
                return Vec::new();
            }
            self.order.push_back(id.to_owned());
            if self.order.len() > REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
        let mut changes = Vec::new();
        let mut sink = Sink {
            learned: &mut self.learned,
            changes: &mut changes,
            unknown: &mut self.unknown,
            live: true,
        };
        fold(&mut self.current, event, &mut sink);
        changes
    }

    /// Takes the server's truth, the active meeting (`None`: the API answered 404, no meeting),
    /// and returns how it differed from the folded state, with source `resync`, then
    /// `resynced`. What the document does not carry (media, raised hands, mute-all) is kept
    /// for the attendees still there, when it is the same meeting.
    pub fn resync(&mut self, meeting: Option<&ActiveMeeting>) -> Vec<Change> {
        self.resync_replaying(meeting, &[])
    }

    /// [`resync`](Self::resync) with a document requested before `since` arrived: the truth,
    /// then those events folded onto it, so a document older than the events does not undo
    /// them. The events must have been [`apply`](Self::apply)'d already.
    pub fn resync_replaying(
        &mut self,
        meeting: Option<&ActiveMeeting>,
        since: &[MediaSessionEvent],
    ) -> Vec<Change> {
        let (mut target, mut same) = resync::truth(&self.current, meeting, &mut self.learned);
        let (mut ignored, mut unknown) = (Vec::new(), 0);
        let mut replayed = HashSet::new();
        for event in since {
            let fresh = event.id().is_none_or(|id| replayed.insert(id));
            if fresh && event.topic_id().is_none_or(|t| t == self.space()) {
                let mut sink = Sink {
                    learned: &mut self.learned,
                    changes: &mut ignored,
                    unknown: &mut unknown,
                    live: false,
                };
                fold(&mut target, event, &mut sink);
            }
        }
        // A replayed event began the meeting: it is ours if that event began ours too.
        if ignored.iter().any(|c| c.kind == ChangeKind::MeetingStarted) {
            same = target.names.same_origin(&self.current.names);
        }
        let mut changes = resync::diff(&self.current.snapshot, &target.snapshot, same);
        changes.push(Change::new(
            ChangeKind::Resynced,
            ChangeSource::Resync,
            None,
        ));
        self.current = target;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;
    use crate::types::RecordingPhase;

    fn event(json: &str) -> MediaSessionEvent {
        decode(json.as_bytes()).expect("test event decodes")
    }

    fn kinds(changes: &[Change]) -> Vec<(ChangeKind, Option<&str>)> {
        changes
            .iter()
            .map(|c| (c.kind, c.subject.as_deref()))
            .collect()
    }

    #[test]
    fn a_meeting_from_start_to_ready_recording() {
        let mut s = MeetingState::new("s");
        let seq = [
            r#"{"_id":"1","messageId":"m","topicId":"s","category":"app.event.meeting.started","content":{"startTime":"t0","attendees":[{"_id":"a"}]}}"#,
            r#"{"_id":"2","topicId":"s","category":"app.event.attendee.added","content":{"attendee":{"_id":"b","displayname":"Bob"}}}"#,
            r#"{"topicId":"s","category":"tracksstatus","sender":{"_id":"b"},"content":{"mediaSession":{"audio":true,"video":false}}}"#,
            r#"{"_id":"3","topicId":"s","category":"app.event.recording.started","content":{"recordings":[{"_id":"r"}]}}"#,
            r#"{"_id":"4","topicId":"s","category":"app.event.meeting.permission.requested","content":{"targetId":"b"}}"#,
            r#"{"_id":"5","topicId":"s","category":"app.event.recording.stopped","content":{"recordings":[{"_id":"r","endTime":"t1"}]}}"#,
            r#"{"_id":"6","topicId":"s","category":"app.event.attendee.left","content":{"attendee":{"_id":"b"}}}"#,
            r#"{"_id":"7","topicId":"s","category":"app.event.meeting.ended","content":{"endTime":"t2"}}"#,
            r#"{"_id":"8","topicId":"s","category":"app.event.recording.ready","content":{"recordings":[{"_id":"r"}]}}"#,
            r#"{"_id":"9","topicId":"s","category":"app.event.something.new"}"#,
        ];
        let all: Vec<Change> = seq.iter().flat_map(|e| s.apply(&event(e))).collect();
        use ChangeKind::*;
        assert_eq!(
            kinds(&all),
            [
                (MeetingStarted, None),
                (AttendeeJoined, Some("b")),
                (MediaChanged, Some("b")),
                (RecordingStarted, Some("r")),
                (HandRaised, Some("b")),
                (RecordingEnded, Some("r")),
                (AttendeeLeft, Some("b")),
                (MeetingEnded, None),
                (RecordingReady, Some("r")),
            ]
        );
        assert!(all.iter().all(|c| c.source == ChangeSource::Event));
        let snap = s.snapshot();
        assert_eq!(snap.status, MeetingStatus::Inactive);
        // One messageId seen: it may be the message's alone, so it is no meeting id.
        assert_eq!(snap.meeting_id, None);
        assert_eq!(snap.recordings[0].state, RecordingPhase::Ready);
        assert!(snap.attendees.is_empty() && snap.raised_hands.is_empty());
        assert_eq!(s.unknown_events(), 1);
    }

    #[test]
    fn what_networks_do_is_harmless() {
        let mut s = MeetingState::new("s");
        let left = event(
            r#"{"_id":"1","topicId":"s","category":"app.event.attendee.left","content":{"attendee":{"_id":"x"}}}"#,
        );
        assert!(s.apply(&left).is_empty());
        let other = event(
            r#"{"_id":"2","topicId":"t","category":"app.event.meeting.started","content":{}}"#,
        );
        assert!(s.apply(&other).is_empty());
        assert_eq!(s.snapshot().status, MeetingStatus::None);
        let late = event(
            r#"{"_id":"3","topicId":"s","category":"app.event.recording.ended","content":{"recordings":[{"_id":"r"}]}}"#,
        );
        let early = event(
            r#"{"_id":"4","topicId":"s","category":"app.event.recording.started","content":{"recordings":[{"_id":"r"}]}}"#,
        );
        assert_eq!(s.apply(&late).len(), 1);
        assert!(s.apply(&early).is_empty(), "a recording never goes back");
    }

    #[test]
    fn mute_all_mutes_all_but_the_excluded() {
        let mut s = MeetingState::new("s");
        s.apply(&event(
            r#"{"_id":"1","topicId":"s","category":"app.event.meeting.started","content":{"attendees":[{"_id":"a"},{"_id":"b"}]}}"#,
        ));
        let muted = s.apply(&event(
            r#"{"_id":"2","topicId":"s","category":"app.event.all.parties.muted","content":{"exclude":[{"attendeeId":"a"}]}}"#,
        ));
        assert_eq!(kinds(&muted), [(ChangeKind::MediaChanged, None)]);
        let snap = s.snapshot();
        assert_eq!(snap.attendees[0].media.audio, None);
        assert_eq!(snap.attendees[1].media.audio, Some(false));
        assert_eq!(
            snap.mute_all.as_ref().map(|m| &m.exclude[..]),
            Some(&["a".to_owned()][..])
        );
    }

    #[test]
    fn resync_reports_what_happened_while_away() {
        let mut s = MeetingState::new("s");
        s.apply(&event(
            r#"{"_id":"1","messageId":"m","topicId":"s","category":"app.event.meeting.started","content":{"attendees":[{"_id":"a"},{"_id":"b"}]}}"#,
        ));
        s.apply(&event(
            r#"{"topicId":"s","category":"tracksstatus","sender":{"_id":"a"},"content":{"mediaSession":{"video":true}}}"#,
        ));
        s.apply(&event(
            r#"{"_id":"2","topicId":"s","category":"app.event.recording.started","content":{"recordings":[{"_id":"r"}]}}"#,
        ));
        let doc: ActiveMeeting = serde_json::from_str(
            r#"{"_id":"m","topicId":"s","content":{"meetingStatus":"active","attendees":[{"_id":"a"},{"_id":"c"}],"recordings":[{"_id":"r","endTime":"t"}]}}"#,
        )
        .unwrap();
        let changes = s.resync(Some(&doc));
        use ChangeKind::*;
        assert_eq!(
            kinds(&changes),
            [
                (AttendeeLeft, Some("b")),
                (AttendeeJoined, Some("c")),
                (RecordingEnded, Some("r")),
                (Resynced, None)
            ]
        );
        assert!(changes.iter().all(|c| c.source == ChangeSource::Resync));
        assert_eq!(
            s.snapshot().attendees[0].media.video,
            Some(true),
            "media kept"
        );
        assert_eq!(kinds(&s.resync(Some(&doc))), [(Resynced, None)]);
    }

    #[test]
    fn a_document_older_than_the_events_does_not_undo_them() {
        let mut s = MeetingState::new("s");
        let doc: ActiveMeeting =
            serde_json::from_str(r#"{"_id":"m","content":{"attendees":[{"_id":"a"}]}}"#).unwrap();
        s.resync(Some(&doc));
        let joined = event(
            r#"{"_id":"1","topicId":"s","category":"app.event.attendee.added","content":{"attendee":{"_id":"b"}}}"#,
        );
        s.apply(&joined);
        // The document was requested before `joined` arrived.
        let changes = s.resync_replaying(Some(&doc), &[joined]);
        assert_eq!(kinds(&changes), [(ChangeKind::Resynced, None)]);
        assert_eq!(s.snapshot().attendees.len(), 2);
    }
}
