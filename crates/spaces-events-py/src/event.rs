//! `decode` and the event classes. Events keep the Rust value; Python objects are made only for
//! what is read.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString, PyTuple};
use spaces_events::types::{self, Timestamp};
use spaces_events::{Category, MediaSessionEvent, decode as decode_event};

use crate::errors::decode_error;

/// Decodes one MEDIA_SESSION_RESPONSE payload (JSON, as `bytes` or `str`).
///
/// Raises `DecodeError` (a `SpacesError` and a `ValueError`) when the payload is not JSON, not
/// an object, has no string `category`, or a known field has the wrong type; its message says
/// what and where (`.path`, `.line`, `.column`). Unknown fields and categories are kept.
#[pyfunction]
pub(crate) fn decode(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Event> {
    let result = if let Ok(bytes) = data.cast::<PyBytes>() {
        decode_event(bytes.as_bytes())
    } else if let Ok(text) = data.cast::<PyString>() {
        decode_event(text.to_cow()?.as_ref())
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "decode() takes bytes or str",
        ));
    };
    result.map(Event::from).map_err(|e| decode_error(py, &e))
}

/// A timestamp as it arrived: `str` (ISO-8601) or `int` (epoch milliseconds).
fn timestamp<'py>(py: Python<'py>, t: Option<&Timestamp>) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(match t {
        None => None,
        Some(Timestamp::Iso(s)) => Some(PyString::new(py, s).into_any()),
        Some(Timestamp::EpochMillis(ms)) => Some(ms.into_pyobject(py)?.into_any()),
    })
}

/// `json.loads`.
fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOADS.import(py, "json", "loads")?.call1((text,))
}

/// A step into the payload's JSON.
enum Step {
    Key(&'static str),
    Index(usize),
}

/// The part of `event`'s payload at `path`, as a `dict`, unknown fields included.
fn subtree<'py>(
    py: Python<'py>,
    event: &MediaSessionEvent,
    path: &[Step],
) -> PyResult<Bound<'py, PyAny>> {
    let mut value = json_loads(py, event.json())?;
    for step in path {
        value = match step {
            Step::Key(key) => value.get_item(*key)?,
            Step::Index(i) => value.get_item(*i)?,
        };
    }
    Ok(value)
}

/// One MEDIA_SESSION_RESPONSE: immutable; equal when the wire JSON is.
#[pyclass(frozen, module = "spaces_events", name = "MediaSessionEvent")]
pub(crate) struct Event(pub(crate) Arc<MediaSessionEvent>);

impl From<MediaSessionEvent> for Event {
    fn from(event: MediaSessionEvent) -> Self {
        Event(Arc::new(event))
    }
}

#[pymethods]
impl Event {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        PyTuple::new(py, ["category", "topic_id", "content"])
    }

    /// Event id (`_id`).
    #[getter]
    fn id(&self) -> Option<&str> {
        self.0.id()
    }

    /// Id of the message the event is about (`messageId`).
    #[getter]
    fn message_id(&self) -> Option<&str> {
        self.0.message_id()
    }

    /// Id of the space (`topicId`).
    #[getter]
    fn topic_id(&self) -> Option<&str> {
        self.0.topic_id()
    }

    /// The category, a `Category` (`Category.UNKNOWN` for one the schema does not list).
    #[getter]
    fn category<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // The members, in the order of `Category::KNOWN`, then `UNKNOWN`: looked up once.
        static MEMBERS: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();
        let members = MEMBERS.get_or_try_init(py, || {
            let class = py.import("spaces_events._category")?.getattr("Category")?;
            Category::KNOWN
                .iter()
                .map(|c| class.call1((c.wire_name().unwrap_or_default(),)))
                .chain([class.getattr("UNKNOWN")])
                .map(|member| member.map(Bound::unbind))
                .collect::<PyResult<Vec<_>>>()
        })?;
        let category = self.0.category();
        let index = Category::KNOWN.iter().position(|&c| c == category);
        Ok(members[index.unwrap_or(Category::KNOWN.len())]
            .bind(py)
            .clone())
    }

    /// The category exactly as it arrived.
    #[getter]
    fn category_name(&self) -> &str {
        self.0.category_name()
    }

    /// Who caused the event.
    #[getter]
    fn sender(&self) -> Option<Party> {
        self.0.sender().map(|_| Party {
            event: self.0.clone(),
            at: At::Sender,
        })
    }

    /// The event body.
    #[getter]
    fn content(&self) -> Option<Content> {
        self.0.content().map(|_| Content(self.0.clone()))
    }

    /// When the object of the event was last modified: `str`, `int` or `None`.
    #[getter]
    fn modified<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        timestamp(py, self.0.modified())
    }

    /// The payload as a `dict`, equal to the JSON that arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(py, self.0.json())
    }

    /// The payload as compact JSON, as it arrived.
    fn to_json(&self) -> &str {
        self.0.json()
    }

    fn __repr__(&self) -> String {
        format!(
            "MediaSessionEvent(category={}, topic_id={}, id={})",
            repr(Some(self.0.category_name())),
            repr(self.0.topic_id()),
            repr(self.0.id())
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Event>()
            .is_ok_and(|o| o.get().0.json() == self.0.json())
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.0.json().hash(&mut h);
        h.finish()
    }
}

/// Python's `repr` of an optional string.
fn repr(value: Option<&str>) -> String {
    value.map_or_else(
        || "None".into(),
        |v| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")),
    )
}

/// A party: the sender, an attendee, or who started a recording. It reads from the event it
/// belongs to: making one copies nothing.
#[pyclass(frozen, module = "spaces_events", name = "Party")]
pub(crate) struct Party {
    event: Arc<MediaSessionEvent>,
    at: At,
}

/// Where a [`Party`] is in its event.
#[derive(Clone, Copy)]
enum At {
    Sender,
    /// `content.attendees[i]`.
    Attendee(usize),
    /// `content.attendee`.
    Joined,
    /// `content.recordings[i].startedBy`.
    StartedBy(usize),
}

/// The fields a party has, whichever type holds them.
struct Fields<'a> {
    id: Option<&'a str>,
    kind: Option<&'a str>,
    username: Option<&'a str>,
    displayname: Option<&'a str>,
    picture_url: Option<&'a str>,
    join_time: Option<&'a Timestamp>,
}

impl<'a> From<&'a types::Sender> for Fields<'a> {
    fn from(s: &'a types::Sender) -> Self {
        Fields {
            id: s.id.as_deref(),
            kind: s.type_.as_deref(),
            username: s.username.as_deref(),
            displayname: s.displayname.as_deref(),
            picture_url: s.picture_url.as_deref(),
            join_time: None,
        }
    }
}

impl<'a> From<&'a types::Attendee> for Fields<'a> {
    fn from(a: &'a types::Attendee) -> Self {
        Fields {
            id: a.id.as_deref(),
            kind: a.type_.as_deref(),
            username: a.username.as_deref(),
            displayname: a.displayname.as_deref(),
            picture_url: a.picture_url.as_deref(),
            join_time: a.join_time.as_ref(),
        }
    }
}

impl Party {
    fn fields(&self) -> Fields<'_> {
        let event = &*self.event;
        match self.at {
            At::Sender => event.sender().map(Fields::from),
            At::Attendee(i) => event.attendees().get(i).map(Fields::from),
            At::Joined => event.attendee().map(Fields::from),
            At::StartedBy(i) => event
                .recordings()
                .get(i)
                .and_then(|r| r.started_by.as_ref())
                .map(Fields::from),
        }
        .expect("a Party is made only where its event has one")
    }
}

#[pymethods]
impl Party {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        PyTuple::new(py, ["id", "displayname"])
    }

    /// The party as a `dict`, as it arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        use Step::{Index, Key};
        let path: &[Step] = match self.at {
            At::Sender => &[Key("sender")],
            At::Attendee(i) => &[Key("content"), Key("attendees"), Index(i)],
            At::Joined => &[Key("content"), Key("attendee")],
            At::StartedBy(i) => &[
                Key("content"),
                Key("recordings"),
                Index(i),
                Key("startedBy"),
            ],
        };
        subtree(py, &self.event, path)
    }

    /// Id (`_id`).
    #[getter]
    fn id(&self) -> Option<&str> {
        self.fields().id
    }

    /// Kind of party (`type`): `user`, `anonymous`, `phone`, `spaceserver`, ...
    #[getter]
    fn r#type(&self) -> Option<&str> {
        self.fields().kind
    }

    /// Login name.
    #[getter]
    fn username(&self) -> Option<&str> {
        self.fields().username
    }

    /// Name to display.
    #[getter]
    fn displayname(&self) -> Option<&str> {
        self.fields().displayname
    }

    /// Avatar URL.
    #[getter]
    fn picture_url(&self) -> Option<&str> {
        self.fields().picture_url
    }

    /// When an attendee joined (`joinTime`): `str`, `int` or `None`.
    #[getter]
    fn join_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        timestamp(py, self.fields().join_time)
    }

    fn __repr__(&self) -> String {
        let f = self.fields();
        format!(
            "Party(id={}, type={}, displayname={})",
            repr(f.id),
            repr(f.kind),
            repr(f.displayname)
        )
    }
}

/// The body of an event.
#[pyclass(frozen, module = "spaces_events", name = "Content")]
pub(crate) struct Content(Arc<MediaSessionEvent>);

impl Content {
    fn get(&self) -> &types::Content {
        self.0
            .content()
            .expect("a Content is made only for an event with content")
    }
}

#[pymethods]
impl Content {
    /// The content as a `dict`, as it arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        subtree(py, &self.0, &[Step::Key("content")])
    }

    /// When the meeting started (`startTime`): `str`, `int` or `None`.
    #[getter]
    fn start_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        timestamp(py, self.get().start_time.as_ref())
    }

    /// When it ended (`endTime`).
    #[getter]
    fn end_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        timestamp(py, self.get().end_time.as_ref())
    }

    /// `virtualEndTime`.
    #[getter]
    fn virtual_end_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        timestamp(py, self.get().virtual_end_time.as_ref())
    }

    /// `active` or `inactive` (`meetingStatus`).
    #[getter]
    fn meeting_status(&self) -> Option<&str> {
        self.get().meeting_status.as_deref()
    }

    /// `video` or `audio` (`mediaMode`).
    #[getter]
    fn media_mode(&self) -> Option<&str> {
        self.get().media_mode.as_deref()
    }

    /// Message text (`bodyText`).
    #[getter]
    fn body_text(&self) -> Option<&str> {
        self.get().body_text.as_deref()
    }

    /// The meeting's attendees (empty when absent).
    #[getter]
    fn attendees(&self) -> Vec<Party> {
        (0..self.get().attendees.len())
            .map(|i| Party {
                event: self.0.clone(),
                at: At::Attendee(i),
            })
            .collect()
    }

    /// Who joined or left, on attendee events.
    #[getter]
    fn attendee(&self) -> Option<Party> {
        self.get().attendee.as_ref().map(|_| Party {
            event: self.0.clone(),
            at: At::Joined,
        })
    }

    /// The meeting's recordings (empty when absent).
    #[getter]
    fn recordings(&self) -> Vec<Recording> {
        (0..self.get().recordings.len())
            .map(|i| Recording(self.0.clone(), i))
            .collect()
    }

    /// User-provided objects (`data`), as Python values.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(
            py,
            &serde_json::to_string(&self.get().data).unwrap_or_else(|_| "[]".into()),
        )
    }

    /// A participant's media state (`mediaSession`, on `tracksstatus`).
    #[getter]
    fn media_session(&self) -> Option<MediaSession> {
        self.get()
            .media_session
            .is_some()
            .then(|| MediaSession(self.0.clone()))
    }

    fn __repr__(&self) -> String {
        let c = self.get();
        format!(
            "Content(meeting_status={}, attendees={}, recordings={})",
            repr(c.meeting_status.as_deref()),
            c.attendees.len(),
            c.recordings.len()
        )
    }
}

/// A recording of a meeting: `content.recordings[.1]` of its event.
#[pyclass(frozen, module = "spaces_events", name = "Recording")]
pub(crate) struct Recording(Arc<MediaSessionEvent>, usize);

impl Recording {
    fn get(&self) -> &types::Recording {
        self.0
            .recordings()
            .get(self.1)
            .expect("a Recording is made only for a recording of its event")
    }
}

#[pymethods]
impl Recording {
    /// The recording as a `dict`, as it arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        use Step::{Index, Key};
        subtree(
            py,
            &self.0,
            &[Key("content"), Key("recordings"), Index(self.1)],
        )
    }

    /// Recording id (`_id`).
    #[getter]
    fn id(&self) -> Option<&str> {
        self.get().id.as_deref()
    }

    /// Who started it (`startedBy`).
    #[getter]
    fn started_by(&self) -> Option<Party> {
        self.get().started_by.as_ref().map(|_| Party {
            event: self.0.clone(),
            at: At::StartedBy(self.1),
        })
    }

    /// When it started.
    #[getter]
    fn start_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        timestamp(py, self.get().start_time.as_ref())
    }

    /// When it ended.
    #[getter]
    fn end_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        timestamp(py, self.get().end_time.as_ref())
    }

    fn __repr__(&self) -> String {
        format!("Recording(id={})", repr(self.get().id.as_deref()))
    }
}

/// A participant's media state.
#[pyclass(frozen, module = "spaces_events", name = "MediaSession")]
pub(crate) struct MediaSession(Arc<MediaSessionEvent>);

impl MediaSession {
    fn get(&self) -> &types::MediaSession {
        self.0
            .content()
            .and_then(|c| c.media_session.as_ref())
            .expect("a MediaSession is made only for an event with one")
    }
}

#[pymethods]
impl MediaSession {
    /// The media state as a `dict`, as it arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        subtree(
            py,
            &self.0,
            &[Step::Key("content"), Step::Key("mediaSession")],
        )
    }

    /// Microphone on.
    #[getter]
    fn audio(&self) -> Option<bool> {
        self.get().audio
    }

    /// Camera on.
    #[getter]
    fn video(&self) -> Option<bool> {
        self.get().video
    }

    /// Connected to the media server.
    #[getter]
    fn connected(&self) -> Option<bool> {
        self.get().connected
    }

    /// Sharing the screen.
    #[getter]
    fn screenshare(&self) -> Option<bool> {
        self.get().screenshare
    }

    /// Muted by the participant.
    #[getter]
    fn self_muted(&self) -> Option<bool> {
        self.get().self_muted
    }

    fn __repr__(&self) -> String {
        let flag = |b: Option<bool>| match b {
            Some(true) => "True",
            Some(false) => "False",
            None => "None",
        };
        let m = self.get();
        format!(
            "MediaSession(audio={}, video={}, screenshare={})",
            flag(m.audio),
            flag(m.video),
            flag(m.screenshare)
        )
    }
}
