//! `decode` and the event classes. Events keep the Rust value; Python objects are made only for
//! what is read, from the JSON text where it lies (not through the typed view), each once.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use spaces_events::{Category, MediaSessionEvent, decode as decode_event, raw};

use crate::errors::decode_error;
use crate::json;
use crate::node::{Cache, Node};

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

/// One MEDIA_SESSION_RESPONSE: immutable; equal when the wire JSON is.
#[pyclass(frozen, module = "spaces_events", name = "MediaSessionEvent")]
pub(crate) struct Event {
    /// The event and its root object, found once.
    root: Node,
    /// `id`, `message_id`, `topic_id`, `sender`, `content`, `modified`.
    cache: Cache<6>,
}

impl From<MediaSessionEvent> for Event {
    fn from(event: MediaSessionEvent) -> Self {
        let offset = event.raw().offset();
        Event {
            root: Node {
                event: Arc::new(event),
                offset,
            },
            cache: Cache::new(),
        }
    }
}

impl Event {
    pub(crate) fn event(&self) -> &MediaSessionEvent {
        &self.root.event
    }

    /// A root string field the event found at decode: cached.
    fn root_str<'py>(
        &self,
        py: Python<'py>,
        slot: usize,
        read: fn(&MediaSessionEvent) -> Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.cache.get(py, slot, || {
            Ok(match read(self.event()) {
                Some(s) => PyString::new(py, s).into_any(),
                None => py.None().into_bound(py),
            })
        })
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
    fn id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.root_str(py, 0, MediaSessionEvent::id)
    }

    /// Id of the message the event is about (`messageId`).
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.root_str(py, 1, MediaSessionEvent::message_id)
    }

    /// Id of the space (`topicId`).
    #[getter]
    fn topic_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.root_str(py, 2, MediaSessionEvent::topic_id)
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
        let category = self.event().category();
        let index = Category::KNOWN.iter().position(|&c| c == category);
        Ok(members[index.unwrap_or(Category::KNOWN.len())]
            .bind(py)
            .clone())
    }

    /// The category exactly as it arrived.
    #[getter]
    fn category_name(&self) -> &str {
        self.event().category_name()
    }

    /// Who caused the event: a `Party` or `None`.
    #[getter]
    fn sender<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.root.child(py, &self.cache, 3, "sender", Party::new)
    }

    /// The event body: a `Content` or `None`.
    #[getter]
    fn content<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.root.child(py, &self.cache, 4, "content", Content::new)
    }

    /// When the object of the event was last modified: `str`, `int` or `None`.
    #[getter]
    fn modified<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.root.field(py, &self.cache, 5, "modified")
    }

    /// The payload as a `dict`, equal to the JSON that arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.root.to_dict(py)
    }

    /// The payload as compact JSON, as it arrived.
    fn to_json(&self) -> &str {
        self.event().json()
    }

    fn __repr__(&self) -> String {
        format!(
            "MediaSessionEvent(category={}, topic_id={}, id={})",
            repr(Some(self.event().category_name())),
            repr(self.event().topic_id()),
            repr(self.event().id())
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Event>()
            .is_ok_and(|o| o.get().event().json() == self.event().json())
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.event().json().hash(&mut h);
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

/// A party: the sender, an attendee, or who started a recording.
#[pyclass(frozen, module = "spaces_events", name = "Party")]
pub(crate) struct Party {
    node: Node,
    /// `_id`, `type`, `username`, `displayname`, `picture_url`, `joinTime`.
    cache: Cache<6>,
}

impl Party {
    fn new(node: Node) -> Self {
        Party {
            node,
            cache: Cache::new(),
        }
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
        self.node.to_dict(py)
    }

    /// Id (`_id`).
    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 0, "_id")
    }

    /// Kind of party (`type`): `user`, `anonymous`, `phone`, `spaceserver`, ...
    #[getter]
    fn r#type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 1, "type")
    }

    /// Login name.
    #[getter]
    fn username<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 2, "username")
    }

    /// Name to display.
    #[getter]
    fn displayname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 3, "displayname")
    }

    /// Avatar URL.
    #[getter]
    fn picture_url<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 4, "picture_url")
    }

    /// When an attendee joined (`joinTime`): `str`, `int` or `None`.
    #[getter]
    fn join_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 5, "joinTime")
    }

    fn __repr__(&self) -> String {
        let n = &self.node;
        format!(
            "Party(id={}, type={}, displayname={})",
            repr(n.text("_id").as_deref()),
            repr(n.text("type").as_deref()),
            repr(n.text("displayname").as_deref())
        )
    }
}

/// The body of an event.
#[pyclass(frozen, module = "spaces_events", name = "Content")]
pub(crate) struct Content {
    node: Node,
    /// `startTime`, `endTime`, `virtualEndTime`, `meetingStatus`, `mediaMode`, `bodyText`,
    /// `attendees`, `attendee`, `recordings`, `mediaSession`.
    cache: Cache<10>,
}

impl Content {
    fn new(node: Node) -> Self {
        Content {
            node,
            cache: Cache::new(),
        }
    }
}

#[pymethods]
impl Content {
    /// The content as a `dict`, as it arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.to_dict(py)
    }

    /// When the meeting started (`startTime`): `str`, `int` or `None`.
    #[getter]
    fn start_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 0, "startTime")
    }

    /// When it ended (`endTime`).
    #[getter]
    fn end_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 1, "endTime")
    }

    /// `virtualEndTime`.
    #[getter]
    fn virtual_end_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 2, "virtualEndTime")
    }

    /// `active` or `inactive` (`meetingStatus`).
    #[getter]
    fn meeting_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 3, "meetingStatus")
    }

    /// `video` or `audio` (`mediaMode`).
    #[getter]
    fn media_mode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 4, "mediaMode")
    }

    /// Message text (`bodyText`).
    #[getter]
    fn body_text<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 5, "bodyText")
    }

    /// The meeting's attendees (empty when absent).
    #[getter]
    fn attendees<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.node
            .children(py, &self.cache, 6, "attendees", Party::new)
    }

    /// Who joined or left, on attendee events.
    #[getter]
    fn attendee<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.child(py, &self.cache, 7, "attendee", Party::new)
    }

    /// The meeting's recordings (empty when absent).
    #[getter]
    fn recordings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.node
            .children(py, &self.cache, 8, "recordings", Recording::new)
    }

    /// User-provided objects (`data`), as Python values (a new list each time).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.node.get("data") {
            Some(data) => json::value(py, data),
            None => Ok(PyList::empty(py).into_any()),
        }
    }

    /// A participant's media state (`mediaSession`, on `tracksstatus`).
    #[getter]
    fn media_session<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node
            .child(py, &self.cache, 9, "mediaSession", MediaSession::new)
    }

    fn __repr__(&self) -> String {
        format!(
            "Content(meeting_status={}, attendees={}, recordings={})",
            repr(self.node.text("meetingStatus").as_deref()),
            self.node.count("attendees"),
            self.node.count("recordings")
        )
    }
}

/// A recording of a meeting: an item of `content.recordings`.
#[pyclass(frozen, module = "spaces_events", name = "Recording")]
pub(crate) struct Recording {
    node: Node,
    /// `_id`, `startedBy`, `startTime`, `endTime`.
    cache: Cache<4>,
}

impl Recording {
    fn new(node: Node) -> Self {
        Recording {
            node,
            cache: Cache::new(),
        }
    }
}

#[pymethods]
impl Recording {
    /// The recording as a `dict`, as it arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.to_dict(py)
    }

    /// Recording id (`_id`).
    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 0, "_id")
    }

    /// Who started it (`startedBy`).
    #[getter]
    fn started_by<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.child(py, &self.cache, 1, "startedBy", Party::new)
    }

    /// When it started.
    #[getter]
    fn start_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 2, "startTime")
    }

    /// When it ended.
    #[getter]
    fn end_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 3, "endTime")
    }

    fn __repr__(&self) -> String {
        format!("Recording(id={})", repr(self.node.text("_id").as_deref()))
    }
}

/// A participant's media state.
#[pyclass(frozen, module = "spaces_events", name = "MediaSession")]
pub(crate) struct MediaSession {
    node: Node,
    /// `audio`, `video`, `connected`, `screenshare`, `selfMuted`.
    cache: Cache<5>,
}

impl MediaSession {
    fn new(node: Node) -> Self {
        MediaSession {
            node,
            cache: Cache::new(),
        }
    }

    fn flag(&self, key: &str) -> &'static str {
        match self.node.get(key) {
            Some(raw::Value::Bool(true)) => "True",
            Some(raw::Value::Bool(false)) => "False",
            _ => "None",
        }
    }
}

#[pymethods]
impl MediaSession {
    /// The media state as a `dict`, as it arrived (unknown fields included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.to_dict(py)
    }

    /// Microphone on.
    #[getter]
    fn audio<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 0, "audio")
    }

    /// Camera on.
    #[getter]
    fn video<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 1, "video")
    }

    /// Connected to the media server.
    #[getter]
    fn connected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 2, "connected")
    }

    /// Sharing the screen.
    #[getter]
    fn screenshare<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 3, "screenshare")
    }

    /// Muted by the participant.
    #[getter]
    fn self_muted<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.node.field(py, &self.cache, 4, "selfMuted")
    }

    fn __repr__(&self) -> String {
        format!(
            "MediaSession(audio={}, video={}, screenshare={})",
            self.flag("audio"),
            self.flag("video"),
            self.flag("screenshare")
        )
    }
}
