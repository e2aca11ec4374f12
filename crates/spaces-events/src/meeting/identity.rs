//! Which meeting an event or a document is about.
//!
//! Spaces documents no meeting id: `messageId` is only "the unique identifier of the message"
//! (one per event, or one per meeting: both are plausible), `content.meetingId` may or may not
//! be sent, and the active-meeting document's `_id` may equal either or neither. So a meeting
//! is known by every name it has shown ([`Names`]), and two descriptions are of different
//! meetings only on positive evidence ([`Verdict::Other`]): an explicit id that differs from one
//! of the same kind, or start times more than a second apart. What the API turns out to do is
//! remembered ([`Learned`]) and used from then on.

use std::collections::VecDeque;

use crate::MediaSessionEvent;
use crate::types::{ActiveMeeting, Timestamp};

/// `messageId`s remembered per meeting: the first (a start's, which a document may be named
/// by) and the latest (enough to see one repeated).
const MESSAGES: usize = 16;

/// Start times closer than this are one start (sent with a different precision).
const SAME_START_MS: i64 = 1000;

/// An event field that names meetings as the active-meeting document's `_id` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdField {
    /// The events' `messageId` (every event's, or only that of the event that started the
    /// meeting: the two are not told apart, as only a start's is used).
    MessageId,
    /// The events' `content.meetingId`.
    MeetingId,
}

/// What a [`MeetingState`](super::MeetingState) has learned of how the API names meetings
/// (none of it is documented; see the module docs of [`meeting`](super)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Learned {
    /// The event field found equal to the document's `_id`, once a resync showed it.
    pub document_id: Option<IdField>,
    /// Whether two different events (different `_id`) came with the same `messageId`: it then
    /// names the meeting, and a start with another `messageId` is another meeting.
    pub message_id_per_meeting: bool,
}

/// The names one meeting has shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Names {
    /// The document's `_id` (from a resync, or from a start through a learned [`IdField`]).
    document: Option<String>,
    /// `content.meetingId`, of events or of the document.
    meeting: Option<String>,
    /// `messageId`s of its events: the first and the latest.
    messages: VecDeque<String>,
    /// Its start, in milliseconds since the Unix epoch.
    start: Option<i64>,
    /// The `_id` of the event that began it in this fold, if one did.
    origin: Option<String>,
}

/// What one event or document says of the meeting it is about.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Claim<'a> {
    document: Option<&'a str>,
    meeting: Option<&'a str>,
    message: Option<&'a str>,
    start: Option<i64>,
}

/// Whether a claim is about the meeting of some [`Names`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A name matches.
    Same,
    /// No name matches and one differs: another meeting.
    Other,
    /// Nothing to tell by (taken as the same meeting: a new one needs evidence).
    Unknown,
}

fn millis(t: Option<&Timestamp>) -> Option<i64> {
    t.and_then(Timestamp::unix_millis)
}

impl<'a> Claim<'a> {
    /// What an event says. Its `startTime` counts only for a meeting's start or end (a
    /// recording's events carry the recording's).
    pub(super) fn event(event: &'a MediaSessionEvent, learned: &Learned, start: bool) -> Self {
        let meeting = event.content().and_then(|c| c.meeting_id.as_deref());
        let message = event.message_id();
        Claim {
            // Only a start's `messageId` is taken for the document's: with one per event, the
            // document may be named after the message that started the meeting.
            document: match learned.document_id {
                Some(IdField::MessageId) if start => message,
                Some(IdField::MeetingId) => meeting,
                _ => None,
            },
            meeting,
            message,
            start: if start {
                millis(event.start_time())
            } else {
                None
            },
        }
    }

    /// The claim without its `messageId`: what explicit ids alone say.
    pub(super) fn ids_only(self) -> Self {
        Claim {
            message: None,
            ..self
        }
    }

    /// What an active-meeting document says.
    pub(super) fn document(doc: &'a ActiveMeeting) -> Self {
        let content = doc.content.as_ref();
        Claim {
            document: doc.id.as_deref(),
            meeting: content.and_then(|c| c.meeting_id.as_deref()),
            message: None,
            start: millis(content.and_then(|c| c.start_time.as_ref())),
        }
    }
}

impl Names {
    /// The best id to show: the document's, else `content.meetingId`, else a `messageId`
    /// known to name the meeting.
    pub(super) fn id(&self, learned: &Learned) -> Option<&str> {
        self.document
            .as_deref()
            .or(self.meeting.as_deref())
            .or_else(|| {
                learned
                    .message_id_per_meeting
                    .then(|| self.messages.back().map(String::as_str))
                    .flatten()
            })
    }

    /// Whether `claim` is about this meeting.
    pub(super) fn judge(&self, claim: &Claim<'_>, learned: &Learned) -> Verdict {
        let equal = |a: Option<&str>, b: Option<&str>| a.is_some() && a == b;
        let differ = |a: Option<&str>, b: Option<&str>| a.is_some() && b.is_some() && a != b;
        let known = |m: Option<&str>| m.is_some_and(|m| self.messages.iter().any(|k| k == m));
        if equal(claim.document, self.document.as_deref())
            || equal(claim.meeting, self.meeting.as_deref())
            || known(claim.message)
            || known(claim.document)
            || equal(claim.document, self.meeting.as_deref())
        {
            return Verdict::Same;
        }
        let moved = matches!((claim.start, self.start), (Some(a), Some(b)) if (a - b).abs() > SAME_START_MS);
        let renamed =
            learned.message_id_per_meeting && claim.message.is_some() && !self.messages.is_empty();
        if differ(claim.document, self.document.as_deref())
            || differ(claim.meeting, self.meeting.as_deref())
            || renamed
            || moved
        {
            Verdict::Other
        } else {
            Verdict::Unknown
        }
    }

    /// Learns from a document found to be about this meeting which event field its `_id` is.
    pub(super) fn learn_from(&self, doc: &Claim<'_>, learned: &mut Learned) {
        let Some(id) = doc.document else { return };
        if self.meeting.as_deref() == Some(id) {
            learned.document_id = Some(IdField::MeetingId);
        } else if self.messages.iter().any(|m| m == id) {
            learned.document_id = Some(IdField::MessageId);
        }
    }

    /// Learns from an event of this meeting whether `messageId` repeats across events
    /// (`fresh`: the event's `_id` was not seen before).
    pub(super) fn learn_from_event(&self, claim: &Claim<'_>, fresh: bool, learned: &mut Learned) {
        if fresh
            && claim
                .message
                .is_some_and(|m| self.messages.iter().any(|k| k == m))
        {
            learned.message_id_per_meeting = true;
        }
    }

    /// Adds what `claim` names to this meeting's names (what is known stays).
    pub(super) fn absorb(&mut self, claim: &Claim<'_>) {
        let fill = |slot: &mut Option<String>, value: Option<&str>| {
            if slot.is_none() {
                *slot = value.map(str::to_owned);
            }
        };
        fill(&mut self.document, claim.document);
        fill(&mut self.meeting, claim.meeting);
        self.start = self.start.or(claim.start);
        if let Some(m) = claim
            .message
            .filter(|m| self.messages.back().is_none_or(|k| k != m))
        {
            if self.messages.len() == MESSAGES {
                // Keep the first: a document may be named after the start's message.
                self.messages.remove(1);
            }
            self.messages.push_back(m.to_owned());
        }
    }

    /// The names of a new meeting that `claim` describes, begun by the event `origin`.
    pub(super) fn of(claim: &Claim<'_>, origin: Option<&str>) -> Names {
        let mut names = Names {
            origin: origin.map(str::to_owned),
            ..Names::default()
        };
        names.absorb(claim);
        names
    }

    /// Whether one event began both meetings.
    pub(super) fn same_origin(&self, other: &Names) -> bool {
        self.origin.is_some() && self.origin == other.origin
    }

    /// Forgets the `messageId`s: after a resync that could not tell whether the document is of
    /// this meeting, they may be of one that ended unseen, and must not vouch for it.
    pub(super) fn forget_messages(&mut self) {
        self.messages.clear();
    }

    /// Takes the document's names as the truth (its `_id` replaces a guess).
    pub(super) fn confirm(&mut self, doc: &Claim<'_>) {
        if doc.document.is_some() {
            self.document = doc.document.map(str::to_owned);
        }
        if doc.meeting.is_some() {
            self.meeting = doc.meeting.map(str::to_owned);
        }
        self.start = doc.start.or(self.start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<'a>(
        document: Option<&'a str>,
        meeting: Option<&'a str>,
        message: Option<&'a str>,
        start: Option<i64>,
    ) -> Claim<'a> {
        Claim {
            document,
            meeting,
            message,
            start,
        }
    }

    #[test]
    fn different_meetings_only_on_evidence() {
        let learned = Learned::default();
        let names = Names::of(&claim(None, None, Some("msg-1"), Some(10_000)), None);
        // Another per-event messageId says nothing.
        assert_eq!(
            names.judge(&claim(None, None, Some("msg-2"), None), &learned),
            Verdict::Unknown
        );
        // A document with its own id says nothing either; its start does.
        assert_eq!(
            names.judge(&claim(Some("doc"), None, None, Some(10_500)), &learned),
            Verdict::Unknown
        );
        assert_eq!(
            names.judge(&claim(Some("doc"), None, None, Some(99_000)), &learned),
            Verdict::Other
        );
        // Once messageIds are known to repeat, another one is another meeting.
        let per_meeting = Learned {
            message_id_per_meeting: true,
            ..Learned::default()
        };
        assert_eq!(
            names.judge(&claim(None, None, Some("msg-2"), None), &per_meeting),
            Verdict::Other
        );
        assert_eq!(
            names.judge(&claim(None, None, Some("msg-1"), None), &per_meeting),
            Verdict::Same
        );
    }

    #[test]
    fn a_document_named_after_a_message_teaches_the_mapping() {
        let mut learned = Learned::default();
        let mut names = Names::of(&claim(None, None, Some("m1"), None), None);
        for n in 2..40 {
            names.absorb(&claim(None, None, Some(&format!("m{n}")), None));
        }
        let doc = claim(Some("m1"), None, None, None);
        assert_eq!(
            names.judge(&doc, &learned),
            Verdict::Same,
            "the start's messageId is kept"
        );
        names.learn_from(&doc, &mut learned);
        assert_eq!(learned.document_id, Some(IdField::MessageId));
        names.confirm(&doc);
        assert_eq!(names.id(&learned), Some("m1"));
        assert_eq!(
            names.judge(&claim(Some("m9"), None, None, None), &learned),
            Verdict::Other
        );
    }
}
