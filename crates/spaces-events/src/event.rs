//! [`MediaSessionEvent`]: one decoded MEDIA_SESSION_RESPONSE.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::decode::bytes as json;
use crate::decode::scan::{Checked, Span, Spans};
use crate::decode::shape;
use crate::decode::{DecodeError, decode};
use crate::text::Text;
use crate::types::{Attendee, Content, MediaSessionResponse, Recording, Sender, Timestamp};
use crate::{Category, raw};

/// One MEDIA_SESSION_RESPONSE payload: a typed view for reading, and the wire JSON it came from.
///
/// The typed view ([`payload`](Self::payload)) is generated from `schema/`; typed accessors
/// cover what applications read most. The wire JSON ([`json`](Self::json)) is the payload as it
/// arrived, minus the whitespace between tokens: [`Serialize`] writes it, so re-serializing is
/// lossless — unknown fields at any depth, `null` versus absent, `[]` versus absent, number
/// spellings, string escapes and key order all survive. (Generated serde structs cannot: they
/// fold `null`, `[]` and absent into one value.)
///
/// Immutable; equality compares the wire JSON. The typed view is built on first use (`decode`
/// has already checked that it builds): the id, message id, space id and category are read
/// from the JSON without it.
///
/// The text is shared with the websocket frame the payload arrived in, not copied; cloning an
/// event shares it too (and copies a typed view already built).
#[derive(Clone)]
pub struct MediaSessionEvent {
    /// The payload as it arrived.
    text: Text,
    spans: Spans,
    category: Category,
    /// Whether `text` has whitespace between tokens (socket.io sends none: `text` is then the
    /// wire JSON as it is).
    spaced: bool,
    /// What is made on first use. Boxed: most events never need it, and an event stays small
    /// (every subscription's channel reserves room for a few dozen).
    lazy: OnceLock<Box<Lazy>>,
}

#[derive(Clone, Default)]
struct Lazy {
    /// The compact wire JSON of a `spaced` text.
    compact: OnceLock<Box<str>>,
    payload: OnceLock<MediaSessionResponse>,
}

impl MediaSessionEvent {
    /// An event of the JSON `text` that `decode::scan::check` accepted.
    pub(crate) fn new(text: Text, checked: Checked) -> Self {
        let category = Category::from_wire(
            checked
                .spans
                .get(shape::CATEGORY)
                .text(text.as_str())
                .unwrap_or_default(),
        );
        let mut event = Self {
            text,
            spans: checked.spans,
            category,
            spaced: checked.spaced,
            lazy: OnceLock::new(),
        };
        if matches!(event.spans.get(shape::CATEGORY), Span::Escaped) {
            event.category = Category::from_wire(event.category_name());
        }
        event
    }

    fn lazy(&self) -> &Lazy {
        self.lazy.get_or_init(Box::default)
    }

    /// A string field of the root: from the JSON when it has no escapes, else the typed view.
    fn root_string(
        &self,
        slot: usize,
        typed: fn(&MediaSessionResponse) -> Option<&str>,
    ) -> Option<&str> {
        match self.spans.get(slot) {
            Span::Escaped => typed(self.payload()),
            span => span.text(self.text.as_str()),
        }
    }

    /// The category; [`Category::Unknown`] for one the schema does not list (see
    /// [`category_name`](Self::category_name)).
    pub fn category(&self) -> Category {
        self.category
    }

    /// The category exactly as it arrived, known or not.
    pub fn category_name(&self) -> &str {
        self.root_string(shape::CATEGORY, |p| Some(&p.category))
            .unwrap_or_default()
    }

    /// Event id (`_id`).
    pub fn id(&self) -> Option<&str> {
        self.root_string(shape::ID, |p| p.id.as_deref())
    }

    /// Id of the message the event is about (`messageId`).
    pub fn message_id(&self) -> Option<&str> {
        self.root_string(shape::MESSAGE_ID, |p| p.message_id.as_deref())
    }

    /// Id of the space the event belongs to (`topicId`).
    pub fn topic_id(&self) -> Option<&str> {
        self.root_string(shape::TOPIC_ID, |p| p.topic_id.as_deref())
    }

    /// Who caused the event.
    pub fn sender(&self) -> Option<&Sender> {
        self.payload().sender.as_ref()
    }

    /// The event body.
    pub fn content(&self) -> Option<&Content> {
        self.payload().content.as_ref()
    }

    /// When the object of the event was last modified (`modified`).
    pub fn modified(&self) -> Option<&Timestamp> {
        self.payload().modified.as_ref()
    }

    /// `active` or `inactive` (`content.meetingStatus`).
    pub fn meeting_status(&self) -> Option<&str> {
        self.content()?.meeting_status.as_deref()
    }

    /// When the meeting or the event's object started (`content.startTime`).
    pub fn start_time(&self) -> Option<&Timestamp> {
        self.content()?.start_time.as_ref()
    }

    /// When it ended (`content.endTime`); `None` while it runs.
    pub fn end_time(&self) -> Option<&Timestamp> {
        self.content()?.end_time.as_ref()
    }

    /// The meeting's attendees (`content.attendees`); empty when absent.
    pub fn attendees(&self) -> &[Attendee] {
        self.content().map_or(&[], |c| &c.attendees)
    }

    /// Who joined or left, on attendee events (`content.attendee`).
    pub fn attendee(&self) -> Option<&Attendee> {
        self.content()?.attendee.as_ref()
    }

    /// The meeting's recordings (`content.recordings`); on recording events the first one is
    /// the recording the event is about. Empty when absent.
    pub fn recordings(&self) -> &[Recording] {
        self.content().map_or(&[], |c| &c.recordings)
    }

    /// The whole typed view (built on the first call).
    pub fn payload(&self) -> &MediaSessionResponse {
        self.lazy()
            .payload
            .get_or_init(|| typed_view(self.text.as_str(), &self.spans))
    }

    /// The payload's JSON where it lies, to read without the typed view: any field by name,
    /// unknown ones included (see [`raw`](crate::raw)).
    pub fn raw(&self) -> raw::Object<'_> {
        // `decode` checked that the text is an object, after any whitespace.
        let text = self.text.as_str();
        self.raw_at(text.len() - text.trim_start().len())
            .and_then(raw::Value::object)
            .unwrap_or(raw::Object::EMPTY)
    }

    /// The value of this event's JSON that starts at `offset` (an offset found before:
    /// [`Object::offset`](raw::Object::offset), [`Entries::offset`](raw::Entries::offset)); `None`
    /// when no value starts there.
    pub fn raw_at(&self, offset: usize) -> Option<raw::Value<'_>> {
        raw::Value::starting(self.text.as_str(), offset)
    }

    /// The wire JSON, compact.
    pub fn json(&self) -> &str {
        let text = self.text.as_str();
        if !self.spaced {
            return text;
        }
        self.lazy()
            .compact
            .get_or_init(|| json::minify(text).into())
    }

    /// The wire JSON as shared bytes: no copy when the text is compact (the rule), for
    /// handing the payload on (a broker's publish, a socket's write).
    pub fn to_bytes(&self) -> bytes::Bytes {
        if self.spaced {
            bytes::Bytes::copy_from_slice(self.json().as_bytes())
        } else {
            self.text.bytes()
        }
    }

    /// The typed view, owned.
    pub fn into_payload(self) -> MediaSessionResponse {
        let payload = self.lazy.into_inner().and_then(|l| l.payload.into_inner());
        payload.unwrap_or_else(|| typed_view(self.text.as_str(), &self.spans))
    }
}

/// The typed view of JSON that `decode::scan::check` accepted, giving `spans`.
fn typed_view(json: &str, spans: &Spans) -> MediaSessionResponse {
    serde_json::from_str(json).unwrap_or_else(|e| {
        // The check and serde's derives disagree: a bug, which the tests and fuzzing look for.
        debug_assert!(
            false,
            "the check accepted what the typed view refuses: {e}: {json}"
        );
        let category = spans.get(shape::CATEGORY).text(json);
        let minimal = serde_json::json!({ "category": category.unwrap_or_default() });
        serde_json::from_value(minimal).expect("a payload of only a category decodes (tested)")
    })
}

impl PartialEq for MediaSessionEvent {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Eq for MediaSessionEvent {}

impl fmt::Debug for MediaSessionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaSessionEvent")
            .field("category", &self.category_name())
            .field("topic_id", &self.topic_id())
            .field("json", &self.json())
            .finish()
    }
}

/// The compact wire JSON.
impl fmt::Display for MediaSessionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl FromStr for MediaSessionEvent {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, DecodeError> {
        decode(s)
    }
}

/// Writes the wire JSON verbatim (with `serde_json`; other formats see a JSON string wrapper).
impl Serialize for MediaSessionEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue =
            serde_json::from_str(self.json()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Decodes from a JSON value inside a larger document (`serde_json` only), e.g. the payload of a
/// Socket.IO event `["MEDIA_SESSION_RESPONSE", {…}]`.
impl<'de> Deserialize<'de> for MediaSessionEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        decode(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// Serializes the typed view and decodes the result: for building events, e.g. in tests.
impl TryFrom<MediaSessionResponse> for MediaSessionEvent {
    type Error = DecodeError;

    fn try_from(payload: MediaSessionResponse) -> Result<Self, DecodeError> {
        // A generated struct always serializes to a payload that decodes.
        decode(serde_json::to_vec(&payload).unwrap_or_default())
    }
}
