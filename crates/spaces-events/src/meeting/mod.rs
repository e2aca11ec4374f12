//! The live state of a space's meeting: a pure fold of its events, corrected by the REST API.
//!
//! Socket.IO 2 has no session resume and Spaces replays nothing, so a state folded from events
//! alone is wrong after the first dropped connection. [`MeetingState`] folds events
//! ([`apply`](MeetingState::apply)) and takes the server's truth, the document of
//! `GET /spaces/{id}/activemeeting` ([`resync`](MeetingState::resync)), whenever events may
//! have been missed; both return what changed. No I/O: the client's
//! `Client::meeting` (feature `rest`) runs it on a subscription, as a [`Meeting`] stream.
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

use std::collections::{HashSet, VecDeque};

use crate::types::{
    ActiveMeeting, Attendee, AttendeeMedia, AttendeeState, ChangeKind, ChangeSource, MeetingChange,
    MeetingSnapshot, MeetingStatus, MuteAll, Recording, RecordingPhase, RecordingState,
};
use crate::{Category, MediaSessionEvent};
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

/// A space's meeting, folded from its events and resynced from the REST API. See the module
/// docs.
#[derive(Clone, Debug)]
pub struct MeetingState {
    snapshot: MeetingSnapshot,
    /// Ids of the events applied lately (a set and its insertion order, to forget the oldest).
    seen: HashSet<String>,
    order: VecDeque<String>,
    unknown: u64,
}

impl MeetingState {
    /// No meeting known yet in `space`.
    pub fn new(space: &str) -> Self {
        MeetingState {
            snapshot: empty(space),
            seen: HashSet::new(),
            order: VecDeque::new(),
            unknown: 0,
        }
    }

    /// The state now (its JSON form is `schema/meeting-state.schema.json`'s `MeetingSnapshot`).
    pub fn snapshot(&self) -> &MeetingSnapshot {
        &self.snapshot
    }

    /// The space id.
    pub fn space(&self) -> &str {
        &self.snapshot.space
    }

    /// Events of a category the schema does not know, so far (they change nothing).
    pub fn unknown_events(&self) -> u64 {
        self.unknown
    }

    /// `change` with the state now: a line of `spaces-events meeting --format jsonl`.
    pub fn describe(&self, change: &Change) -> MeetingChange {
        MeetingChange {
            space: self.snapshot.space.clone(),
            change: change.kind,
            source: change.source,
            subject: change.subject.clone(),
            state: self.snapshot.clone(),
        }
    }

    /// Folds one event of this space (events of other spaces change nothing). An event seen
    /// before (same `_id`) changes nothing; so does an `attendee.left` for someone unknown.
    pub fn apply(&mut self, event: &MediaSessionEvent) -> Vec<Change> {
        if event.topic_id().is_some_and(|t| t != self.snapshot.space) {
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
        fold(&mut self.snapshot, event, &mut changes, &mut self.unknown);
        changes
    }

    /// Takes the server's truth, the active meeting (`None`: the API answered 404, no meeting),
    /// and returns how it differed from the folded state, with source `resync`, then
    /// `resynced`. What the document does not carry (media, raised hands, mute-all) is kept
    /// for the attendees still there.
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
        let mut target = truth(&self.snapshot, meeting);
        let mut ignored = (Vec::new(), 0);
        let mut replayed = HashSet::new();
        for event in since {
            let fresh = event.id().is_none_or(|id| replayed.insert(id));
            if fresh && event.topic_id().is_none_or(|t| t == self.snapshot.space) {
                fold(&mut target, event, &mut ignored.0, &mut ignored.1);
            }
        }
        let mut changes = diff(&self.snapshot, &target);
        changes.push(Change::new(
            ChangeKind::Resynced,
            ChangeSource::Resync,
            None,
        ));
        self.snapshot = target;
        changes
    }
}

fn empty(space: &str) -> MeetingSnapshot {
    MeetingSnapshot {
        space: space.to_owned(),
        status: MeetingStatus::None,
        meeting_id: None,
        start_time: None,
        end_time: None,
        attendees: Vec::new(),
        recordings: Vec::new(),
        raised_hands: Vec::new(),
        mute_all: None,
    }
}

fn no_media() -> AttendeeMedia {
    AttendeeMedia {
        audio: None,
        video: None,
        screenshare: None,
        connected: None,
        self_muted: None,
    }
}

fn attendee(a: &Attendee) -> Option<AttendeeState> {
    Some(AttendeeState {
        id: a.id.clone()?,
        displayname: a.displayname.clone(),
        username: a.username.clone(),
        type_: a.type_.clone(),
        join_time: a.join_time.clone(),
        media: no_media(),
    })
}

/// The phase a recording document says it is in.
fn phase(r: &Recording) -> RecordingPhase {
    if r.status.as_deref() == Some("ready") {
        RecordingPhase::Ready
    } else if r.end_time.is_some() {
        RecordingPhase::Ended
    } else {
        RecordingPhase::Started
    }
}

fn recording(r: &Recording, state: RecordingPhase) -> Option<RecordingState> {
    Some(RecordingState {
        id: r.id.clone()?,
        state,
        started_by: r.started_by.clone(),
        start_time: r.start_time.clone(),
        end_time: r.end_time.clone(),
    })
}

/// Folds `event` into `s`, recording changes (source `event`) and unknown categories.
fn fold(
    s: &mut MeetingSnapshot,
    event: &MediaSessionEvent,
    changes: &mut Vec<Change>,
    unknown: &mut u64,
) {
    let content = event.content();
    let change = |kind, subject: Option<&str>| Change::new(kind, ChangeSource::Event, subject);
    let meeting_id = content
        .and_then(|c| c.meeting_id.as_deref())
        .or(event.message_id());
    match event.category() {
        Category::MeetingStarted => {
            let same = s.status == MeetingStatus::Active && s.meeting_id.as_deref() == meeting_id;
            if !same {
                *s = MeetingSnapshot {
                    status: MeetingStatus::Active,
                    meeting_id: meeting_id.map(str::to_owned),
                    start_time: event.start_time().cloned(),
                    ..empty(&s.space)
                };
                changes.push(change(ChangeKind::MeetingStarted, None));
            }
            // The roster it carries is the roster.
            if content.is_some_and(|c| !c.attendees.is_empty()) {
                s.attendees = event.attendees().iter().filter_map(attendee).collect();
            }
            for r in event.recordings() {
                if !s.recordings.iter().any(|k| r.id.as_ref() == Some(&k.id)) {
                    s.recordings.extend(recording(r, phase(r)));
                }
            }
        }
        Category::MeetingEnded => {
            if s.status == MeetingStatus::Active {
                changes.push(change(ChangeKind::MeetingEnded, None));
            }
            s.status = MeetingStatus::Inactive;
            s.meeting_id = meeting_id.map(str::to_owned).or(s.meeting_id.take());
            s.end_time = event.end_time().cloned().or(s.end_time.take());
            s.attendees.clear();
            s.raised_hands.clear();
        }
        Category::AttendeeAdded => {
            if s.status != MeetingStatus::Active {
                // Joined a meeting whose start we did not see.
                if s.meeting_id.as_deref() != meeting_id {
                    *s = MeetingSnapshot {
                        meeting_id: meeting_id.map(str::to_owned),
                        ..empty(&s.space)
                    };
                }
                s.status = MeetingStatus::Active;
                s.end_time = None;
            }
            let joined = event.attendee().map(std::slice::from_ref);
            for a in joined.unwrap_or(event.attendees()) {
                if let Some(new) = attendee(a).filter(|n| !s.attendees.iter().any(|k| k.id == n.id))
                {
                    changes.push(change(ChangeKind::AttendeeJoined, Some(&new.id)));
                    s.attendees.push(new);
                }
            }
        }
        Category::AttendeeLeft => {
            let gone: Vec<String> = match event.attendee() {
                Some(a) => a.id.iter().cloned().collect(),
                // No `attendee`: whoever is missing from the roster it carries left.
                None if content.is_some_and(|c| !c.attendees.is_empty()) => s
                    .attendees
                    .iter()
                    .filter(|k| {
                        !event
                            .attendees()
                            .iter()
                            .any(|a| a.id.as_ref() == Some(&k.id))
                    })
                    .map(|k| k.id.clone())
                    .collect(),
                None => Vec::new(),
            };
            for id in gone {
                if let Some(at) = s.attendees.iter().position(|k| k.id == id) {
                    s.attendees.remove(at);
                    s.raised_hands.retain(|h| *h != id);
                    changes.push(change(ChangeKind::AttendeeLeft, Some(&id)));
                }
            }
        }
        Category::TracksStatus | Category::TrackStatus => {
            let sender = event.sender().and_then(|x| x.id.as_deref());
            let media = content.and_then(|c| c.media_session.as_ref());
            let who = s
                .attendees
                .iter_mut()
                .find(|k| Some(k.id.as_str()) == sender);
            if let (Some(who), Some(m)) = (who, media) {
                let before = who.media.clone();
                let now = &mut who.media;
                for (slot, value) in [
                    (&mut now.audio, m.audio),
                    (&mut now.video, m.video),
                    (&mut now.screenshare, m.screenshare),
                    (&mut now.connected, m.connected),
                    (&mut now.self_muted, m.self_muted),
                ] {
                    if value.is_some() {
                        *slot = value;
                    }
                }
                if who.media != before {
                    changes.push(change(ChangeKind::MediaChanged, Some(&who.id)));
                }
            }
        }
        Category::RecordingStarted => record(s, event, RecordingPhase::Started, changes),
        Category::RecordingEnded | Category::RecordingStopped => {
            record(s, event, RecordingPhase::Ended, changes);
        }
        Category::RecordingReady => record(s, event, RecordingPhase::Ready, changes),
        Category::MeetingPermissionRequested => {
            let target = content.and_then(|c| c.target_id.as_deref());
            let present = |id: &&str| s.attendees.iter().any(|k| k.id == *id);
            let new = |id: &&str| !s.raised_hands.iter().any(|h| h == id);
            if let Some(id) = target.filter(present).filter(new) {
                s.raised_hands.push(id.to_owned());
                changes.push(change(ChangeKind::HandRaised, Some(id)));
            }
        }
        Category::AllPartiesMuted => {
            let exclude: Vec<String> = content
                .map(|c| {
                    c.exclude
                        .iter()
                        .filter_map(|x| x.attendee_id.clone())
                        .collect()
                })
                .unwrap_or_default();
            for k in &mut s.attendees {
                if !exclude.contains(&k.id) {
                    k.media.audio = Some(false);
                }
            }
            s.mute_all = Some(MuteAll { exclude });
            changes.push(change(ChangeKind::MediaChanged, None));
        }
        Category::Unknown => *unknown += 1,
        _ => {}
    }
}

/// Moves each recording the event carries forward to `to` (never back: a late `started`
/// after `ended` changes nothing).
fn record(
    s: &mut MeetingSnapshot,
    event: &MediaSessionEvent,
    to: RecordingPhase,
    changes: &mut Vec<Change>,
) {
    let kind = match to {
        RecordingPhase::Started => ChangeKind::RecordingStarted,
        RecordingPhase::Ended => ChangeKind::RecordingEnded,
        RecordingPhase::Ready => ChangeKind::RecordingReady,
    };
    for r in event.recordings() {
        let Some(id) = r.id.as_deref() else { continue };
        match s.recordings.iter_mut().find(|k| k.id == id) {
            Some(known) if known.state < to => {
                known.state = to;
                known.end_time = r.end_time.clone().or(known.end_time.take());
                known.started_by = known.started_by.take().or(r.started_by.clone());
            }
            Some(_) => continue,
            None => s.recordings.extend(recording(r, to)),
        }
        changes.push(Change::new(kind, ChangeSource::Event, Some(id)));
    }
}

/// What the state is once the server's document is taken as true.
fn truth(now: &MeetingSnapshot, meeting: Option<&ActiveMeeting>) -> MeetingSnapshot {
    let Some(meeting) = meeting else {
        if now.status != MeetingStatus::Active {
            return now.clone();
        }
        // It ended while we were away: when is unknown; its recordings ended with it.
        let mut ended = MeetingSnapshot {
            status: MeetingStatus::Inactive,
            attendees: Vec::new(),
            raised_hands: Vec::new(),
            ..now.clone()
        };
        for r in &mut ended.recordings {
            r.state = r.state.max(RecordingPhase::Ended);
        }
        return ended;
    };
    let content = meeting.content.as_ref();
    let id = meeting
        .id
        .as_deref()
        .or(content.and_then(|c| c.meeting_id.as_deref()));
    let same = now.meeting_id.is_some() && now.meeting_id.as_deref() == id;
    let inactive = content.and_then(|c| c.meeting_status.as_deref()) == Some("inactive");
    let attendees: Vec<AttendeeState> = content
        .map(|c| c.attendees.iter().filter_map(attendee).collect())
        .unwrap_or_default();
    let attendees: Vec<AttendeeState> = attendees
        .into_iter()
        .map(|mut a| {
            if let Some(known) = now.attendees.iter().find(|k| same && k.id == a.id) {
                a.media = known.media.clone();
            }
            a
        })
        .collect();
    let raised_hands = now
        .raised_hands
        .iter()
        .filter(|h| same && attendees.iter().any(|a| a.id == **h))
        .cloned()
        .collect();
    MeetingSnapshot {
        space: now.space.clone(),
        status: if inactive {
            MeetingStatus::Inactive
        } else {
            MeetingStatus::Active
        },
        meeting_id: id.map(str::to_owned),
        start_time: content.and_then(|c| c.start_time.clone()),
        end_time: content.and_then(|c| c.end_time.clone()),
        attendees,
        recordings: content
            .map(|c| {
                c.recordings
                    .iter()
                    .filter_map(|r| recording(r, phase(r)))
                    .collect()
            })
            .unwrap_or_default(),
        raised_hands,
        mute_all: now.mute_all.clone().filter(|_| same),
    }
}

/// The changes (source `resync`) that lead from `old` to `new`.
fn diff(old: &MeetingSnapshot, new: &MeetingSnapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut push = |kind, subject: Option<&str>| {
        changes.push(Change::new(kind, ChangeSource::Resync, subject));
    };
    let was = old.status == MeetingStatus::Active;
    let is = new.status == MeetingStatus::Active;
    let other = old.meeting_id != new.meeting_id;
    if was && (!is || other) {
        push(ChangeKind::MeetingEnded, None);
    }
    if is && (!was || other) {
        push(ChangeKind::MeetingStarted, None);
    }
    // As with events, a meeting that starts or ends says so once, not per attendee.
    if was && is && !other {
        let before = &old.attendees;
        for gone in before
            .iter()
            .filter(|k| !new.attendees.iter().any(|n| n.id == k.id))
        {
            push(ChangeKind::AttendeeLeft, Some(&gone.id));
        }
        for come in new
            .attendees
            .iter()
            .filter(|n| !before.iter().any(|k| k.id == n.id))
        {
            push(ChangeKind::AttendeeJoined, Some(&come.id));
        }
        for n in &new.attendees {
            if before.iter().any(|k| k.id == n.id && k.media != n.media) {
                push(ChangeKind::MediaChanged, Some(&n.id));
            }
        }
    }
    let recordings: &[RecordingState] = if other { &[] } else { &old.recordings };
    for r in &new.recordings {
        let was = recordings.iter().find(|k| k.id == r.id).map(|k| k.state);
        if was != Some(r.state) {
            push(
                match r.state {
                    RecordingPhase::Started => ChangeKind::RecordingStarted,
                    RecordingPhase::Ended => ChangeKind::RecordingEnded,
                    RecordingPhase::Ready => ChangeKind::RecordingReady,
                },
                Some(&r.id),
            );
        }
    }
    for h in &new.raised_hands {
        if !old.raised_hands.contains(h) || other {
            push(ChangeKind::HandRaised, Some(h));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

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
        assert_eq!(snap.meeting_id.as_deref(), Some("m"));
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
