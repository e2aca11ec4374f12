//! An object of an event's JSON as the Python classes read it: where it is, and the Python
//! values of its fields, each made once.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple};
use spaces_events::{MediaSessionEvent, raw};

use crate::json;

/// Python values made from an object's fields on first read, each once: `N` slots.
pub(crate) struct Cache<const N: usize>([PyOnceLock<Py<PyAny>>; N]);

impl<const N: usize> Cache<N> {
    pub(crate) fn new() -> Self {
        Cache(std::array::from_fn(|_| PyOnceLock::new()))
    }

    /// Slot `slot`'s value, made by `make` the first time.
    pub(crate) fn get<'py>(
        &self,
        py: Python<'py>,
        slot: usize,
        make: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = self.0[slot].get_or_try_init(py, || make().map(Bound::unbind))?;
        Ok(value.bind(py).clone())
    }
}

/// A Python class made of a [`Node`].
pub(crate) trait Class: pyo3::PyClass + Into<pyo3::PyClassInitializer<Self>> {}

impl<T: pyo3::PyClass + Into<pyo3::PyClassInitializer<T>>> Class for T {}

/// An object of an event's JSON: the event, and where the object starts in its text. Its fields
/// are read from the text (`spaces_events::raw`), never through the typed view, by a walk that
/// stops at the field. (Noting where the other fields are on the way, so that reading another
/// needs no walk, was measured slower — 4–10 % — even reading four fields of every attendee:
/// the objects are small and the walk is cheap.)
pub(crate) struct Node {
    pub(crate) event: Arc<MediaSessionEvent>,
    pub(crate) offset: usize,
}

impl Node {
    fn object(&self) -> raw::Object<'_> {
        self.event
            .raw_at(self.offset)
            .and_then(raw::Value::object)
            .unwrap_or(raw::Object::EMPTY)
    }

    /// Field `key`, when present and not `null`.
    pub(crate) fn get(&self, key: &str) -> Option<raw::Value<'_>> {
        self.object().get(key).filter(|v| *v != raw::Value::Null)
    }

    /// Field `key` as Python, in cache slot `slot`.
    pub(crate) fn field<'py, const N: usize>(
        &self,
        py: Python<'py>,
        cache: &Cache<N>,
        slot: usize,
        key: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        cache.get(py, slot, || json::field(py, self.get(key)))
    }

    /// The object at field `key`, as `make` wraps it (`None` when absent or `null`).
    pub(crate) fn child<'py, T: Class, const N: usize>(
        &self,
        py: Python<'py>,
        cache: &Cache<N>,
        slot: usize,
        key: &str,
        make: fn(Node) -> T,
    ) -> PyResult<Bound<'py, PyAny>> {
        cache.get(py, slot, || {
            match self.get(key).and_then(raw::Value::object) {
                Some(object) => Ok(Bound::new(py, make(self.at(object)))?.into_any()),
                None => Ok(py.None().into_bound(py)),
            }
        })
    }

    /// The objects of array field `key`, as `make` wraps them, as a new `list` (of objects made
    /// once, in cache slot `slot`).
    pub(crate) fn children<'py, T: Class, const N: usize>(
        &self,
        py: Python<'py>,
        cache: &Cache<N>,
        slot: usize,
        key: &str,
        make: fn(Node) -> T,
    ) -> PyResult<Bound<'py, PyList>> {
        let items = cache.get(py, slot, || {
            let items = self
                .get(key)
                .and_then(raw::Value::array)
                .into_iter()
                .flatten();
            let made = items
                .filter_map(raw::Value::object)
                .map(|object| Bound::new(py, make(self.at(object))))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyTuple::new(py, made)?.into_any())
        })?;
        PyList::new(py, items.cast_into::<PyTuple>()?.iter())
    }

    /// How many items array field `key` has.
    pub(crate) fn count(&self, key: &str) -> usize {
        self.get(key)
            .and_then(raw::Value::array)
            .map_or(0, |a| a.iter().count())
    }

    fn at(&self, object: raw::Object<'_>) -> Node {
        Node {
            event: self.event.clone(),
            offset: object.offset(),
        }
    }

    /// A string field for `__repr__`.
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(raw::Value::str)
            .map(|s| s.get().into_owned())
    }

    pub(crate) fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::value(py, raw::Value::Object(self.object()))
    }
}
