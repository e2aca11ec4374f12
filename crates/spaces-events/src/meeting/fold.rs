//! Folding one event into the state of a space's meeting.

use super::identity::{Claim, Learned, Names, Verdict};
use super::{Change, Current};
use crate::types::{
    Attendee, AttendeeMedia, AttendeeState, ChangeKind, ChangeSource, MeetingStatus, MuteAll,
    Recording, RecordingPhase, RecordingState,
};
use crate::{Category, MediaSessionEvent};

/// Where a fold's effects go besides the state.
pub(super) struct Sink<'a> {
    pub(super) learned: &'a mut Learned,
    pub(super) changes: &'a mut Vec<Change>,
    pub(super) unknown: &'a mut u64,
    /// The event arrives now (not replayed onto a resync's document): what it shows of
    /// `messageId` may be learned.
    pub(super) live: bool,
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

pub(super) fn attendee(a: &Attendee) -> Option<AttendeeState> {
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
pub(super) fn phase(r: &Recording) -> RecordingPhase {
    if r.status.as_deref() == Some("ready") {
        RecordingPhase::Ready
    } else if r.end_time.is_some() {
        RecordingPhase::Ended
    } else {
        RecordingPhase::Started
    }
}

pub(super) fn recording(r: &Recording, state: RecordingPhase) -> Option<RecordingState> {
    Some(RecordingState {
        id: r.id.clone()?,
        state,
        started_by: r.started_by.clone(),
        start_time: r.start_time.clone(),
        end_time: r.end_time.clone(),
    })
}

pub(super) fn recording_change(phase: RecordingPhase) -> ChangeKind {
    match phase {
        RecordingPhase::Started => ChangeKind::RecordingStarted,
        RecordingPhase::Ended => ChangeKind::RecordingEnded,
        RecordingPhase::Ready => ChangeKind::RecordingReady,
    }
}

/// Folds `event` into `m`, with changes of source `event`.
pub(super) fn fold(m: &mut Current, event: &MediaSessionEvent, sink: &mut Sink<'_>) {
    let category = event.category();
    let starts = category == Category::MeetingStarted;
    let claim = Claim::event(event, sink.learned, starts);
    m.names
        .learn_from_event(&claim, sink.live && event.id().is_some(), sink.learned);
    let content = event.content();
    let changes = &mut *sink.changes;
    let change = |kind, subject: Option<&str>| Change::new(kind, ChangeSource::Event, subject);
    let active = m.snapshot.status == MeetingStatus::Active;
    match category {
        Category::MeetingStarted => {
            let same = active && m.names.judge(&claim, sink.learned) != Verdict::Other;
            if same {
                let s = &mut m.snapshot;
                s.start_time = s.start_time.take().or(event.start_time().cloned());
                // The same meeting said again: the roster it carries is the roster.
                if content.is_some_and(|c| !c.attendees.is_empty()) {
                    let roster: Vec<AttendeeState> =
                        event.attendees().iter().filter_map(attendee).collect();
                    for gone in s
                        .attendees
                        .iter()
                        .filter(|k| !roster.iter().any(|a| a.id == k.id))
                    {
                        changes.push(change(ChangeKind::AttendeeLeft, Some(&gone.id)));
                    }
                    let mut kept = std::mem::take(&mut s.attendees);
                    for a in roster {
                        match kept.iter().position(|k| k.id == a.id) {
                            Some(at) => s.attendees.push(kept.swap_remove(at)),
                            None => {
                                changes.push(change(ChangeKind::AttendeeJoined, Some(&a.id)));
                                s.attendees.push(a);
                            }
                        }
                    }
                    s.raised_hands
                        .retain(|h| s.attendees.iter().any(|a| a.id == *h));
                }
            } else {
                if active {
                    // Its end was not seen.
                    changes.push(change(ChangeKind::MeetingEnded, None));
                }
                *m = Current::new(&m.snapshot.space, Names::of(&claim, event.id()));
                let s = &mut m.snapshot;
                s.status = MeetingStatus::Active;
                s.start_time = event.start_time().cloned();
                // A meeting that starts says so once, with its roster, not per attendee.
                s.attendees = event.attendees().iter().filter_map(attendee).collect();
                changes.push(change(ChangeKind::MeetingStarted, None));
            }
            for r in event.recordings() {
                let s = &mut m.snapshot;
                if !s.recordings.iter().any(|k| r.id.as_ref() == Some(&k.id)) {
                    s.recordings.extend(recording(r, phase(r)));
                }
            }
        }
        Category::MeetingEnded => {
            // The end of another meeting ends nothing; an explicit id must say so (a missed
            // end would keep a meeting going for ever).
            if active && m.names.judge(&claim.ids_only(), sink.learned) == Verdict::Other {
                return;
            }
            let s = &mut m.snapshot;
            if active {
                changes.push(change(ChangeKind::MeetingEnded, None));
            }
            s.status = MeetingStatus::Inactive;
            s.end_time = event.end_time().cloned().or(s.end_time.take());
            s.attendees.clear();
            s.raised_hands.clear();
        }
        Category::AttendeeAdded => {
            if !active {
                // Joined a meeting whose start we did not see: this one, if a name says so.
                let resumed = m.snapshot.status == MeetingStatus::Inactive
                    && m.names.judge(&claim, sink.learned) == Verdict::Same;
                if !resumed {
                    *m = Current::new(&m.snapshot.space, Names::of(&claim, event.id()));
                }
                m.snapshot.status = MeetingStatus::Active;
                m.snapshot.end_time = None;
                changes.push(change(ChangeKind::MeetingStarted, None));
            }
            let s = &mut m.snapshot;
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
            let s = &mut m.snapshot;
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
            let s = &mut m.snapshot;
            let sender = event.sender().and_then(|x| x.id.as_deref());
            let media = content.and_then(|c| c.media_session.as_ref());
            let who = s
                .attendees
                .iter_mut()
                .find(|k| Some(k.id.as_str()) == sender);
            if let (Some(who), Some(media)) = (who, media) {
                let before = who.media.clone();
                let now = &mut who.media;
                for (slot, value) in [
                    (&mut now.audio, media.audio),
                    (&mut now.video, media.video),
                    (&mut now.screenshare, media.screenshare),
                    (&mut now.connected, media.connected),
                    (&mut now.self_muted, media.self_muted),
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
        Category::RecordingStarted => record(m, event, RecordingPhase::Started, changes),
        Category::RecordingEnded | Category::RecordingStopped => {
            record(m, event, RecordingPhase::Ended, changes);
        }
        Category::RecordingReady => record(m, event, RecordingPhase::Ready, changes),
        Category::MeetingPermissionRequested => {
            let s = &mut m.snapshot;
            let target = content.and_then(|c| c.target_id.as_deref());
            let present = |id: &&str| s.attendees.iter().any(|k| k.id == *id);
            let new = |id: &&str| !s.raised_hands.iter().any(|h| h == id);
            if let Some(id) = target.filter(present).filter(new) {
                s.raised_hands.push(id.to_owned());
                changes.push(change(ChangeKind::HandRaised, Some(id)));
            }
        }
        Category::AllPartiesMuted => {
            let s = &mut m.snapshot;
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
        Category::Unknown => *sink.unknown += 1,
        _ => {}
    }
    m.names.absorb(&claim);
    m.snapshot.meeting_id = m.names.id(sink.learned).map(str::to_owned);
}

/// Moves each recording the event carries forward to `to` (never back: a late `started`
/// after `ended` changes nothing).
fn record(
    m: &mut Current,
    event: &MediaSessionEvent,
    to: RecordingPhase,
    changes: &mut Vec<Change>,
) {
    let s = &mut m.snapshot;
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
        changes.push(Change::new(
            recording_change(to),
            ChangeSource::Event,
            Some(id),
        ));
    }
}
