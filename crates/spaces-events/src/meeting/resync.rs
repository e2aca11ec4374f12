//! Taking the server's truth, the active-meeting document, and saying how it differs.

use super::fold::{attendee, phase, recording, recording_change};
use super::identity::{Claim, Learned, Names, Verdict};
use super::{Change, Current};
use crate::types::{
    ActiveMeeting, AttendeeState, ChangeKind, ChangeSource, MeetingSnapshot, MeetingStatus,
    Recording, RecordingPhase, RecordingState,
};

/// The state once the document is taken as true, and whether it is the meeting `now` is of
/// (a new meeting only on evidence: a name that differs, another start, a status change).
pub(super) fn truth(
    now: &Current,
    doc: Option<&ActiveMeeting>,
    learned: &mut Learned,
) -> (Current, bool) {
    let Some(doc) = doc else {
        if now.snapshot.status != MeetingStatus::Active {
            return (now.clone(), true);
        }
        // It ended while we were away: when is unknown; its recordings ended with it.
        let mut ended = now.clone();
        let s = &mut ended.snapshot;
        s.status = MeetingStatus::Inactive;
        s.attendees.clear();
        s.raised_hands.clear();
        for r in &mut s.recordings {
            r.state = r.state.max(RecordingPhase::Ended);
        }
        return (ended, true);
    };
    let claim = Claim::document(doc);
    let verdict = match now.snapshot.status {
        MeetingStatus::None => Verdict::Other,
        _ => now.names.judge(&claim, learned),
    };
    let same = verdict != Verdict::Other;
    let names = if same {
        now.names.learn_from(&claim, learned);
        let mut names = now.names.clone();
        if verdict == Verdict::Unknown {
            names.forget_messages();
        }
        names.confirm(&claim);
        names
    } else {
        Names::of(&claim, None)
    };
    let content = doc.content.as_ref();
    let old = &now.snapshot;
    let attendees: Vec<AttendeeState> = content
        .map(|c| c.attendees.iter().filter_map(attendee).collect())
        .unwrap_or_default();
    let attendees: Vec<AttendeeState> = attendees
        .into_iter()
        .map(|mut a| {
            if let Some(known) = old.attendees.iter().find(|k| same && k.id == a.id) {
                a.media = known.media.clone();
            }
            a
        })
        .collect();
    let raised_hands = old
        .raised_hands
        .iter()
        .filter(|h| same && attendees.iter().any(|a| a.id == **h))
        .cloned()
        .collect();
    let inactive = content.and_then(|c| c.meeting_status.as_deref()) == Some("inactive");
    let start_time = content.and_then(|c| c.start_time.clone());
    let snapshot = MeetingSnapshot {
        space: old.space.clone(),
        status: if inactive {
            MeetingStatus::Inactive
        } else {
            MeetingStatus::Active
        },
        meeting_id: names.id(learned).map(str::to_owned),
        start_time: start_time.or_else(|| old.start_time.clone().filter(|_| same)),
        end_time: content.and_then(|c| c.end_time.clone()),
        attendees,
        recordings: recordings(old, content.map_or(&[], |c| &c.recordings[..]), same),
        raised_hands,
        mute_all: old.mute_all.clone().filter(|_| same),
    };
    (Current { snapshot, names }, same)
}

/// The recordings once `listed` (the document's) are taken as true. Of the same meeting, a
/// recording never goes back and one the document does not list is kept: recordings do not
/// un-happen, and what a document lists of them is undocumented.
fn recordings(old: &MeetingSnapshot, listed: &[Recording], same: bool) -> Vec<RecordingState> {
    let listed = listed.iter().filter_map(|r| recording(r, phase(r)));
    if !same {
        return listed.collect();
    }
    let mut merged = old.recordings.clone();
    for r in listed {
        match merged.iter_mut().find(|k| k.id == r.id) {
            Some(known) => {
                known.state = known.state.max(r.state);
                known.started_by = r.started_by.or(known.started_by.take());
                known.start_time = r.start_time.or(known.start_time.take());
                known.end_time = r.end_time.or(known.end_time.take());
            }
            None => merged.push(r),
        }
    }
    merged
}

/// The changes (source `resync`) that lead from `old` to `new`; `same`: of one meeting.
pub(super) fn diff(old: &MeetingSnapshot, new: &MeetingSnapshot, same: bool) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut push = |kind, subject: Option<&str>| {
        changes.push(Change::new(kind, ChangeSource::Resync, subject));
    };
    let was = old.status == MeetingStatus::Active;
    let is = new.status == MeetingStatus::Active;
    if was && (!is || !same) {
        push(ChangeKind::MeetingEnded, None);
    }
    // A meeting that starts says so once, with its roster, not per attendee.
    let started = is && (!was || !same);
    if started {
        push(ChangeKind::MeetingStarted, None);
    }
    if was && is && same {
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
    let recordings: &[RecordingState] = if same && !started {
        &old.recordings
    } else {
        &[]
    };
    for r in &new.recordings {
        let was = recordings.iter().find(|k| k.id == r.id).map(|k| k.state);
        if was != Some(r.state) {
            push(recording_change(r.state), Some(&r.id));
        }
    }
    for h in &new.raised_hands {
        if !old.raised_hands.contains(h) || !same {
            push(ChangeKind::HandRaised, Some(h));
        }
    }
    changes
}
