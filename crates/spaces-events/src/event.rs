//! [`MediaSessionEvent`]: one decoded MEDIA_SESSION_RESPONSE.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::Category;
use crate::decode::{DecodeError, decode};
use crate::types::{Attendee, Content, MediaSessionResponse, Recording, Sender, Timestamp};

/// One MEDIA_SESSION_RESPONSE payload: a typed view for reading, and the wire JSON it came from.
///
/// The typed view ([`payload`](Self::payload)) is generated from `schema/`; typed accessors
/// cover what applications read most. The wire JSON ([`json`](Self::json)) is the payload as it
/// arrived, minus the whitespace between tokens: [`Serialize`] writes it, so re-serializing is
/// lossless — unknown fields at any depth, `null` versus absent, `[]` versus absent, number
/// spellings, string escapes and key order all survive. (Generated serde structs cannot: they
/// fold `null`, `[]` and absent into one value.)
///
/// Immutable; equality compares the wire JSON.
#[derive(Clone)]
pub struct MediaSessionEvent {
    category: Category,
    // Boxed: events travel through channels, and the typed view is large.
    payload: Box<MediaSessionResponse>,
    json: Box<RawValue>,
}

impl MediaSessionEvent {
    pub(crate) fn new(payload: MediaSessionResponse, json: Box<RawValue>) -> Self {
        Self {
            category: Category::from_wire(&payload.category),
            payload: Box::new(payload),
            json,
        }
    }

    /// The category; [`Category::Unknown`] for one the schema does not list (see
    /// [`category_name`](Self::category_name)).
    pub fn category(&self) -> Category {
        self.category
    }

    /// The category exactly as it arrived, known or not.
    pub fn category_name(&self) -> &str {
        &self.payload.category
    }

    /// Event id (`_id`).
    pub fn id(&self) -> Option<&str> {
        self.payload.id.as_deref()
    }

    /// Id of the message the event is about (`messageId`).
    pub fn message_id(&self) -> Option<&str> {
        self.payload.message_id.as_deref()
    }

    /// Id of the space the event belongs to (`topicId`).
    pub fn topic_id(&self) -> Option<&str> {
        self.payload.topic_id.as_deref()
    }

    /// Who caused the event.
    pub fn sender(&self) -> Option<&Sender> {
        self.payload.sender.as_ref()
    }

    /// The event body.
    pub fn content(&self) -> Option<&Content> {
        self.payload.content.as_ref()
    }

    /// When the object of the event was last modified (`modified`).
    pub fn modified(&self) -> Option<&Timestamp> {
        self.payload.modified.as_ref()
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

    /// The whole typed view.
    pub fn payload(&self) -> &MediaSessionResponse {
        &self.payload
    }

    /// The wire JSON, compact.
    pub fn json(&self) -> &str {
        self.json.get()
    }

    /// The typed view, owned.
    pub fn into_payload(self) -> MediaSessionResponse {
        *self.payload
    }
}

impl PartialEq for MediaSessionEvent {
    fn eq(&self, other: &Self) -> bool {
        self.json.get() == other.json.get()
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
        self.json.serialize(serializer)
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
